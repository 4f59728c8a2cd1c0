"""Hostile commands in a compiled-engine batch: the prefix's events are never lost (R22).

``Assigner.apply`` on the compiled engine runs the hot commands itself and
sends anything else through the shared checks. Whatever a command raises
while it is checked (a typed :class:`~kefu.errors.KefuError`, or whatever a
hostile argument throws: an iterable that raises, a name whose ``==``
raises), the batch must stop with :class:`BatchAborted` carrying the events
of the commands before it. Those commands happened (sessions were assigned);
losing their events would leave the caller's view of the shop wrong.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, Cap, ManualClock
from kefu.errors import BatchAborted

Command = tuple[Any, ...]


class _RaisingIterable:
    """A ``groups`` value whose iteration raises."""

    def __iter__(self) -> Any:
        raise RuntimeError("no iterating me")


class _RaisingEq:
    """A command name whose comparison raises."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing me")

    __hash__ = object.__hash__


HOSTILE: list[tuple[str, Command]] = [
    ("groups_iteration_raises", ("add_agent", "zed", Cap.UNLIMITED, _RaisingIterable())),
    ("name_comparison_raises", (_RaisingEq(), "s0")),
    # R26: a session kind that is no str (the checked path, never its methods)
    ("kind_comparison_raises", ("open_session", "k0", None, None, 0, _RaisingEq())),
]


def _shop() -> Assigner:
    return Assigner(ManualClock(0.0), engine=require_engine("c"), auto_close_after=60.0)


def _prefix(opens: int, closes: int) -> list[Command]:
    """Two agents of cap 2 (so some sessions wait), ``opens`` sessions, ``closes`` closed."""
    commands: list[Command] = [("add_agent", "a", 2, None, 1, True),
                               ("add_agent", "b", 2, None, 1, True), ("at", 1.0)]
    commands += [("open_session", f"s{i}", f"buyer{i}") for i in range(opens)]
    commands += [("agent_message", f"s{i}") for i in range(min(opens, 4))]
    commands += [("at", 2.0)] + [("close_session", f"s{i}") for i in range(closes)]
    return commands


@pytest.mark.c_extension
@pytest.mark.parametrize("command", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
@given(opens=st.integers(0, 8), closes=st.integers(0, 8))
def test_R22_hostile_command_aborts_the_batch_with_the_prefix_events(
    command: Command, opens: int, closes: int
) -> None:
    prefix = _prefix(opens, min(opens, closes))
    after: list[Command] = [("open_session", "late")]
    shop = _shop()
    with pytest.raises(BatchAborted) as info:
        shop.apply([*prefix, command, *after])
    exc = info.value
    twin = _shop()
    expected = twin.apply(prefix)

    assert exc.index == len(prefix) and exc.command is command
    assert exc.__cause__ is exc.cause and isinstance(exc.cause, Exception)
    assert exc.events == expected, "the events of the commands before it"
    assert exc.at == (2.0 if prefix else 0.0)
    assert shop.snapshot() == twin.snapshot(), "the failing command changed something"
    shop.check()
    # The shop goes on normally, at the batch's time.
    assert shop.apply(after) == twin.apply(after)
    assert shop.snapshot() == twin.snapshot()
