"""A failed allocation inside a manual assign of a session on a ladder (R24).

The compiled engine once ended the session's ladder (and recorded the hand-over)
before leaving its line, which can fail; the session then stayed waiting with no
ladder state and ``check`` failed. Now every step that allocates (its kinds line,
its escalated lists) comes first and is whole, so a failure changes nothing.
The sweep in ``memory_faults.py`` checks the same command against the pure engine.
"""

from __future__ import annotations

import functools
import traceback
from typing import Any

import pytest

from conftest import require_engine


@pytest.mark.parametrize(("command", "args", "fault_points"), [
    ("assign", ("s11", "A"), 3),
    ("close_session", ("s11",), 2),
])
def test_r24_a_failed_command_on_a_laddered_session_changes_nothing(
        command: str, args: tuple[str, ...], fault_points: int) -> None:
    """``fault_points``: the allocations inside the command that must have failed."""
    pytest.importorskip("_testcapi")
    require_engine("c")
    import memory_faults as m

    failed = 0
    for k in range(60):
        shop = m.build("c")
        before = m.state(shop)
        outcome, _ = m.fail_allocation(k, functools.partial(getattr(shop, command), *args))
        if outcome == "ok":
            break
        failed += 1
        shop.check()
        assert m.state(shop) == before, k
    assert failed >= fault_points  # it did fail allocations inside the command


def _escalated_shop() -> Any:
    """Sessions waiting at every step of a three-step ladder (and of a second one), several
    to an escalated list, with kinds: a failure can come in the middle of the lists."""
    from kefu import Assigner, Cap, LadderStep, ManualClock

    shop = Assigner(ManualClock(0.0), engine="c", first_response_timeout=5.0,
                    ladders={"z": [LadderStep(1.0, ["x"]), LadderStep(2.0, ["y"]),
                                   LadderStep(3.0, None)],
                             "w": [LadderStep(1.0, ["y"]), LadderStep(2.5, ["x", "q"])]},
                    session_kinds={"big": 2})
    for agent, groups in (("B", ["x"]), ("C", ["y"]), ("A", None), ("E", ["z", "w"])):
        shop.add_agent(agent, Cap.limit(1), groups=groups, online=True)
    for i, group in enumerate(["x", "y", None, "z"]):
        shop.open_session(f"f{i}", group=group)  # every agent full
    for i in range(14):
        shop.open_session(f"s{i}", group=["z", "w"][i % 2], priority=i % 3,
                          kind="big" if i % 4 == 0 else None)
        shop.clock.advance(0.4)  # type: ignore[attr-defined]
    shop.tick()
    return shop


@pytest.mark.parametrize("command", ["assign", "close"])
def test_r24_failure_inside_the_escalated_lists_changes_nothing(command: str) -> None:
    pytest.importorskip("_testcapi")
    require_engine("c")
    import memory_faults as m

    steps = {sid: _escalated_shop().session(sid).step for sid in ("s0", "s1", "s9", "s12")}
    assert steps == {"s0": 3, "s1": 2, "s9": 1, "s12": 0}
    inside = 0
    for sid in steps:
        for k in range(80):
            shop = _escalated_shop()
            before = m.state(shop)
            call = (functools.partial(shop.assign, sid, "A") if command == "assign"
                    else functools.partial(shop.close_session, sid))
            outcome, exc = m.fail_allocation(k, call)
            if outcome == "ok":
                break
            names = [frame.name for frame in traceback.extract_tb(exc.__traceback__)]
            inside += "_end_ladder" in " ".join(names) and "remove" in names
            shop.check()
            assert m.state(shop) == before, (sid, k, names)
    assert inside >= 3  # failures in the middle of leaving the escalated lists
