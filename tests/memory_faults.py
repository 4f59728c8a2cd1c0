"""Fail one allocation inside one Assigner command, for each allocation in turn.

Run as a script in a child process (``python tests/memory_faults.py ENGINE NAME...``),
so that a crash (a segfault) is the parent test's failure and not a dead test runner.
``_testcapi.set_nomemory(k, k + 1)`` makes exactly the k-th allocation after it fail;
:func:`fail_allocation` runs one call under it and always removes the hook.

For every command named, on a shop in a busy state (agents on and off line,
sessions held, waiting in several groups, timers, sticky buyers, a queue limit
with an overflow, a ladder, kinds) and for each k until the command runs through
untouched, :func:`sweep` checks:

(a) the command returned, or raised MemoryError or a kefu error
    (``BatchAborted`` for a batch, the rows before the failing one kept);
(b) the shop's invariants hold (``Assigner.check``);
(c) the state (snapshot) is that of the pure engine given the same commands: the
    command's (or, for a batch, the rows before the failure) or nothing;
(d) later commands (closing everything, opening again, time passing) give the pure
    engine's events and state.

It prints one line per command: how many allocations failed the command cleanly.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from kefu import Assigner, Cap, Command, LadderStep, ManualClock, QueueLimit
from kefu.errors import BatchAborted, KefuError

Call = Callable[[Assigner], Any]
CONSTRUCT: Callable[[], Any] = list


def fail_allocation(k: int, call: Callable[[], Any]) -> tuple[str, Any]:
    """Run ``call()`` with its k-th allocation failing: ("ok", result) or ("raised", exc)."""
    import _testcapi

    _testcapi.set_nomemory(k, k + 1)
    try:
        result = call()
    except BaseException as exc:  # every exception is judged by the caller
        _testcapi.remove_mem_hooks()
        return "raised", exc
    _testcapi.remove_mem_hooks()
    return "ok", result


def build(engine: str) -> Assigner:
    """A busy shop: the same on every engine."""
    shop = Assigner(ManualClock(0.0), engine=engine, first_response_timeout=5.0,  # type: ignore[arg-type]
                    auto_close_after=8.0, sticky_window=30.0,
                    queue_limits={"x": QueueLimit(max_waiting=2, overflow="y"),
                                  "y": QueueLimit(max_waiting=3)},
                    ladders={"z": [LadderStep(2.0, ["x"])]},
                    session_kinds={"big": 2})
    shop.add_agent("A", Cap.limit(3), online=True)
    shop.add_agent("B", Cap.limit(2), groups=["x"], online=True)
    shop.add_agent("C", Cap.limit(2), groups=["y", "z"], online=True)
    shop.add_agent("D", Cap.limit(1))
    for i in range(12):
        group = [None, "x", "y", "z"][i % 4]
        shop.open_session(f"s{i}", buyer=f"b{i % 5}", group=group, priority=i % 3,
                          kind="big" if i == 5 else None)
    shop.agent_message("s0")
    shop.close_session("s4")  # b4 sticks to its agent
    shop.clock.advance(1.0)  # type: ignore[attr-defined]
    shop.buyer_message("s1")
    return shop


def columns(shop: Assigner) -> Any:
    sessions = ("s1", "s2", "n1", "n2", "s9")
    return shop.apply_columns(
        np.array([Command.CLOSE_SESSION, Command.OPEN_SESSION, Command.BUYER_MESSAGE,
                  Command.AUTO_MESSAGE, Command.OPEN_SESSION, Command.CLOSE_SESSION], np.int8),
        np.array([0, 2, 2, 2, 3, 4], np.int64),
        sessions=sessions, buyers=("b4", "b9"), groups=("x", "y"),
        buyer=np.array([-1, 0, -1, -1, 1, -1], np.int64),
        group=np.array([-1, 0, -1, -1, 1, -1], np.int64),
        priority=np.array([0, 1, 0, 0, 2, 0], np.int64))


def construct(shop: Assigner) -> Any:
    """A new Assigner with every keyword, as ``Assigner.restore`` makes one (its arguments
    read before the allocations start failing)."""
    config = shop.config
    kwargs = {"strategy": config.strategy, "offline_diversion": config.offline_diversion,
              "auto_close_after": config.auto_close_after,
              "first_response_timeout": config.first_response_timeout,
              "sticky_window": config.sticky_window,
              "queue_limits": dict(config.queue_limits), "engine": shop.engine,
              "ladders": dict(config.ladders), "session_kinds": dict(config.session_kinds)}
    clock = shop.clock
    # three in a row: the freed blocks of one failure are the next one's garbage
    return lambda: [Assigner(clock, **kwargs) for _ in range(3)]


def later(shop: Assigner) -> list[Any]:
    """Commands after the faulty one: events and states to compare across engines."""
    out: list[Any] = []
    for sid in shop.session_ids()[::2]:
        out.append(shop.close_session(sid))
    for i in range(6):
        out.append(shop.open_session(f"m{i}", buyer=f"b{i}", group=[None, "x", "z"][i % 3]))
    shop.clock.advance(6.0)  # type: ignore[attr-defined]
    out.append(shop.tick())
    out.append(shop.apply([("agent_online", "D"), ("close_session", "m0"),
                           ("open_session", "m9", "b9", "y", 1)]))
    out.append(state(shop))
    return out


def state(shop: Assigner) -> Any:
    data = shop.snapshot()
    shop.check()
    return data["state"]


COMMANDS: dict[str, Call] = {
    "open_assigned": lambda s: s.open_session("n1", buyer="b9"),
    "open_sticky": lambda s: s.open_session("n1", buyer="b4"),
    "open_queued": lambda s: s.open_session("n1", buyer="b9", group="z", kind="big"),
    "open_overflow": lambda s: s.open_session("n1", buyer="b9", group="x", priority=2),
    "close_held": lambda s: s.close_session("s1"),
    "close_waiting": lambda s: s.close_session("s11"),
    "buyer_message": lambda s: s.buyer_message("s0"),
    "agent_message": lambda s: s.agent_message("s1", agent_id="B"),
    "auto_message": lambda s: s.agent_message("s2", auto=True),
    "assign": lambda s: s.assign("s11", "A"),
    "transfer": lambda s: s.transfer("s1", "C"),
    "add_agent": lambda s: s.add_agent("E", Cap.limit(4), groups=["x", "y", "z"], online=True),
    "remove_agent": lambda s: s.remove_agent("A"),
    "agent_online": lambda s: s.agent_online("D"),
    "agent_away": lambda s: s.agent_away("A"),
    "agent_offline": lambda s: s.agent_offline("C", requeue=True),
    "agent_offline_grace": lambda s: s.agent_offline("A", requeue=False, grace=2.0),
    "set_cap": lambda s: s.set_cap("C", 4),
    "set_weight": lambda s: s.set_weight("B", 3),
    "tick": lambda s: (s.clock.advance(9.0), s.tick())[1],  # type: ignore[attr-defined]
    "snapshot": lambda s: s.snapshot(),
    "restore": lambda s: Assigner.restore(s.snapshot(), s.clock, engine=s.engine),  # type: ignore[arg-type]
    "apply": lambda s: s.apply([("close_session", "s1"), ("open_session", "n1", "b4"),
                                ("buyer_message", "n1"), ("agent_online", "D"),
                                ("open_session", "n2", "b9", "x", 1),
                                ("agent_message", "s2", True), ("close_session", "s9")]),
    "apply_columns": columns,
    # last: the sweeps before it are what left the heap as the restore sweep crashed on
    "construct": lambda s: CONSTRUCT(),
}


def reference(name: str, outcome: str, exc: BaseException | None) -> Assigner:
    """The pure engine shop in the state the faulty shop must be in."""
    shop = build("py")
    if outcome == "ok":
        COMMANDS[name](shop)
    elif name == "tick":
        shop.clock.advance(9.0)  # type: ignore[attr-defined]
    elif isinstance(exc, BatchAborted):
        rows = exc.index
        if name == "apply":
            batch = _batch(shop)
            shop.apply(batch[:rows])
        else:  # the first rows of the columns: run them one by one on the pure engine
            for command in _batch_of_columns()[:rows]:
                shop.apply([command])
    return shop


def _batch(shop: Assigner) -> list[tuple[Any, ...]]:
    got: list[Any] = []

    class Recorder:
        def apply(self, commands: list[Any]) -> None:
            got.extend(commands)

    COMMANDS["apply"](Recorder())  # type: ignore[arg-type]
    return got


def _batch_of_columns() -> list[tuple[Any, ...]]:
    return [("close_session", "s1"), ("open_session", "n1", "b4", "x", 1),
            ("buyer_message", "n1"), ("agent_message", "n1", True),
            ("open_session", "n2", "b9", "y", 2), ("close_session", "s9")]


def allowed(exc: BaseException) -> bool:
    """MemoryError, a kefu error, or a batch aborted by either. numpy's own code may
    report a failed allocation as SystemError (a ufunc "returned NULL without setting
    an exception"): that is numpy's, raised while the columns are read, before the
    engine sees them."""
    if isinstance(exc, BatchAborted):
        return isinstance(exc.__cause__, (MemoryError, KefuError))
    if isinstance(exc, SystemError) and "numpy" in (str(exc) + _last_file(exc)):
        return True
    if isinstance(exc, RuntimeError) and str(exc) == "can't allocate lock":
        return True  # how CPython's threading reports a lock it had no memory for
    return isinstance(exc, (MemoryError, KefuError))


def _last_code(exc: BaseException) -> Any:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return None if tb is None else tb.tb_frame.f_code


def _last_file(exc: BaseException) -> str:
    code = _last_code(exc)
    return "" if code is None else str(code.co_filename)


def failed_in(exc: BaseException) -> str:
    """The name of the function an exception was raised in ("" if none)."""
    code = _last_code(exc)
    return "" if code is None else str(code.co_name)


#: The commands checked only for surviving (no crash; later calls answer), by engine.
#: A command that changes several things in turn (a close and the drain after it, a
#: placement pass, a tick's timers) cannot take back the steps before a failed
#: allocation; the pure engine can fail in any bytecode, in sortedcontainers too.
_MANY_STEPS = frozenset({"close_held", "transfer", "add_agent",
                         "remove_agent", "agent_online", "agent_offline",
                         "agent_offline_grace", "set_cap", "tick", "apply", "apply_columns"})
SURVIVE_ONLY: dict[str, frozenset[str]] = {
    # a manual assign is one step (R24: a laddered session's ladder ends with it)
    "c": _MANY_STEPS,
    "py": _MANY_STEPS | {"assign", "close_waiting", "open_assigned", "open_sticky", "open_queued",
                         "open_overflow", "buyer_message", "agent_message", "set_weight"},
}


def sweep(engine: str, name: str, limit: int = 400) -> int:
    """Fail each allocation of command ``name`` in turn; returns how many failed it."""
    failed = 0
    clean = 0
    whole = name not in SURVIVE_ONLY[engine]
    for k in range(limit):
        shop = build(engine)
        # The keyword names of a call go in a new tuple: with none of that size left to
        # reuse (CPython keeps freed ones), making it is an allocation that can fail.
        held = [tuple(range(i, i + 8)) for i in range(2500)] if name == "construct" else []
        global CONSTRUCT
        CONSTRUCT = construct(shop)
        outcome, result = fail_allocation(k, functools.partial(COMMANDS[name], shop))
        del held
        where = f"{engine} {name} k={k}"
        if outcome == "raised":
            if not allowed(result):
                raise AssertionError(f"{where}: raised {result!r}") from result
            failed += 1
            clean = 0
        else:
            clean += 1
            if clean >= 12:
                break
        if not whole:
            survive(shop)
            continue
        try:
            got = state(shop)
        except AssertionError as exc:
            raise AssertionError(f"{where} ({outcome} {result!r}): {exc}") from exc
        ref = reference(name, outcome, result if outcome == "raised" else None)
        want = state(ref)
        if got != want:
            raise AssertionError(f"{where} ({outcome} {result!r}): state differs\n"
                                 f"{got}\n{want}")
        if later(shop) != later(ref):
            raise AssertionError(f"{where} ({outcome} {result!r}): later commands differ")
    return failed


def survive(shop: Assigner) -> None:
    """Later calls on a shop a failed allocation may have left unsound: each answers
    (an error is an answer; a crash is what this process dies of)."""
    for call in (shop.check, lambda: later(shop), shop.snapshot,
                 lambda: [shop.close_session(sid) for sid in shop.session_ids()]):
        with contextlib.suppress(AssertionError, KefuError, KeyError, ValueError, IndexError):
            call()


def main(argv: list[str]) -> int:
    """Sweep each named command (all by default); one line each, "FAIL" for a failure."""
    engine, *names = argv
    failures = 0
    for name in names or list(COMMANDS):
        try:
            print(name, sweep(engine, name), flush=True)
        except AssertionError as exc:
            failures += 1
            print("FAIL", name, str(exc)[:1500], flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
