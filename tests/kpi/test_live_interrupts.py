"""K12 with S05's care: an interrupt landing anywhere in a tracker's call never leaves it stuck.

An exception that is not a kefu error (a signal handler's KeyboardInterrupt)
can land between any two steps of Python code. Here a trace function raises
one as the k-th Python function of a call is entered (or returns), for every
k until the call completes. Whatever k, the tracker is never left holding
its turn (a later call from this thread or another one is answered, not
refused as nested nor kept waiting), and it goes on either equal to a fresh
tracker fed the same records (the interrupted record counted or not, never
half) or refusing with a clear kefu error.
"""

from __future__ import annotations

import dis
import itertools
import sys
import threading
import types
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest
from kpi_helpers import SH, agent, at, buyer, hand, switch
from kpi_strategies import BASE
from test_kpi_live import live

from interrupting import Interrupted, interrupt_at, tracing
from kefu.errors import KefuError
from kefu.kpi import (
    AgentStatus,
    EvalSource,
    Evaluation,
    Exclusion,
    Handover,
    LiveTracker,
    Message,
    Rating,
    Release,
    Sender,
    SessionEnd,
    multiset,
)


def _day() -> list[Any]:
    """A small day touching every kind of record (and a repeat)."""
    return [
        Message("s1", "b1", BASE + 10.0, Sender.BUYER, "m1"),
        Handover("s1", "b1", "alice", BASE + 11.0),
        Message("s1", "b1", BASE + 40.0, Sender.AGENT, "m2", agent_id="alice"),
        Message("s2", "b2", BASE + 50.0, Sender.BUYER, "m3"),
        AgentStatus("bob", BASE + 5.0, True, 0),
        Handover("s2", "b2", "bob", BASE + 52.0),
        Evaluation("s1", "b1", "alice", BASE + 60.0, Rating.SATISFIED, EvalSource.BUYER),
        Release("s2", "b2", BASE + 300.0),
        Message("s2", "b2", BASE + 301.0, Sender.BUYER, "m4"),
        Message("s1", "b1", BASE + 40.0, Sender.AGENT, "m2", agent_id="alice"),
        SessionEnd("s1", BASE + 400.0),
        Exclusion("b3", "test"),
        Message("s3", "b3", BASE + 410.0, Sender.BUYER, "m5"),
    ]


def _fed(records: list[Any]) -> LiveTracker:
    tracker = LiveTracker()
    tracker.extend(records)
    return tracker


def _answered_elsewhere(tracker: LiveTracker) -> bool:
    """Whether another thread's query is answered (a turn left taken would keep it
    waiting for good)."""
    done = threading.Event()

    def ask() -> None:
        tracker.shop()
        done.set()

    threading.Thread(target=ask, daemon=True).start()
    return done.wait(10.0)


def _figures(tracker: LiveTracker) -> dict[str, Any] | KefuError:
    try:
        return live(tracker, tracker.last + 90.0) | {"over": live(tracker, None),
                                                     "last": tracker.last}
    except KefuError as exc:
        return exc


CALLS: dict[str, Callable[[LiveTracker, Any], object]] = {
    "add": lambda t, r: t.add(r),
    "extend": lambda t, r: t.extend([r]),
    "shop": lambda t, r: t.shop(),
    "agents": lambda t, r: t.agents(),
    "response_times": lambda t, r: t.response_times(),
    "service": lambda t, r: t.service(),
    "satisfaction": lambda t, r: t.satisfaction(),
}


def _events(call: Callable[[], object], when: str) -> int:
    """How many Python functions ``call()`` enters (or returns from)."""
    seen = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal seen
        seen += event == when
        return trace if when == "return" and event == "call" else None

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return seen


# The record each feed is interrupted taking (one of each kind, a repeat, a new
# session's first message); a query is interrupted after the whole day.
CASES = [(name, at) for name in ("add", "extend") for at in (1, 4, 6, 7, 9, 10, 11, 12)] + [
    (name, 12) for name in sorted(CALLS) if name not in ("add", "extend")]


@pytest.mark.parametrize("when", ["call", "return"])
@pytest.mark.parametrize(("name", "at"), CASES)
def test_S05_K12_an_interrupt_anywhere_in_a_call_never_leaves_the_tracker_stuck(
        name: str, at: int, when: str) -> None:
    """``at``: the records acknowledged before the interrupted call; a feed is
    interrupted as it takes record ``at``, a query just after it. Every point of
    the call's first and last 60, and every 5th between (a query's measuring,
    whose interrupts all end the same way: measured again at the next query)."""
    day = _day()
    done, rest = day[:at], day[at + 1:]
    call = CALLS[name]
    fed = name in ("add", "extend")
    # What a tracker equals after the call: the record taken or not (a feed), or
    # every record acknowledged (a query).
    taken = [done, day[:at + 1]] if fed else [day[:at + 1]]
    expected = [_figures(_fed(records)) for records in taken]
    finals = [_figures(_fed(records + rest)) for records in taken]
    before = done if fed else day[:at + 1]
    counted = _fed(before)
    total = _events(lambda: call(counted, day[at]), when)
    assert total > 1, "the call made no Python call at all: nothing was tested"
    ends = {*range(1, 60), *range(max(total - 60, 1), total + 1)}
    for k in sorted(ends | set(range(60, total - 60, 5))):
        tracker = _fed(before)
        if not interrupt_at(k, lambda t=tracker: call(t, day[at]), when):
            continue  # the call ended first (an event counted was the caller's own)
        assert _answered_elsewhere(tracker), f"{when} {k}: the turn was left taken"
        now = _figures(tracker)
        if isinstance(now, KefuError):
            assert "NestedCall" not in type(now).__name__, f"{when} {k}: {now!r}"
            continue
        assert now in expected, f"{when} {k}: the tracker diverged"
        # And it goes on: the rest of the day gives the fresh tracker's figures.
        tracker.extend(rest)
        assert _figures(tracker) in [final for final, figures in zip(finals, expected, strict=True)
                                     if figures == now], f"{when} {k}"


def _after_calls(code: Any) -> list[int]:
    """The offsets in ``code`` where a signal's KeyboardInterrupt lands as a C function
    called there returns (CPython checks for pending signals as a CALL ends): the
    instruction after each CALL in the same exception-handling range as the CALL."""
    bytecode = dis.Bytecode(code)
    entries = bytecode.exception_entries

    def handler(offset: int) -> int | None:
        for e in entries:
            if e.start <= offset < e.end:
                return int(e.target)
        return None

    ops = list(bytecode)
    return [b.offset for a, b in itertools.pairwise(ops)
            if a.opname in ("CALL", "CALL_FUNCTION_EX") and handler(a.offset) == handler(b.offset)]


def _signal_at(code: Any, offset: int, call: Callable[[], object]) -> bool:
    """Run ``call()``, raising Interrupted (as a signal's handler would) as ``code``
    reaches ``offset``. Whether it landed."""

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code is not code:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode" and frame.f_lasti == offset:
            raise Interrupted(f"signal at {offset}")
        return trace

    sys.settrace(trace)
    try:
        call()
    except Interrupted:
        return True
    finally:
        sys.settrace(None)
    return False


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception tables: CPython 3.11+")
@pytest.mark.parametrize("name", ["add", "shop", "agents"])
def test_S05_K12_a_signal_as_the_turn_is_taken_never_leaves_it_taken(name: str) -> None:
    """A KeyboardInterrupt from a signal lands as a C call returns, not only as a Python
    function is entered: one landing just as the lock's take returned (before the
    ``try`` that gives the turn back) kept every later call waiting, or refused
    as nested. Each such point of the turn's code, on either kernel."""
    day = _day()
    tracker = _fed(day)
    feed = tracker._feed
    turn = type(feed).add if name == "add" else getattr(LiveTracker, name)
    if not isinstance(turn, types.FunctionType):
        pytest.skip("the compiled feed takes a record's turn in C")
    code = turn.__code__
    offsets = _after_calls(code)
    assert offsets
    for offset in offsets:
        tracker = _fed(day[:-1])
        if not _signal_at(code, offset, lambda t=tracker: CALLS[name](t, day[-1])):
            continue
        assert _answered_elsewhere(tracker), f"{name} at {offset}: the turn was left taken"
        tracker.shop()  # and this thread's next call is not refused as nested


def _served_day() -> list[Any]:
    """Three sessions handed over and answered, two of them answered again later, one
    also earlier than first seen (a late record: its wait and response time change)."""
    t0 = at(10)
    return [buyer(t0), switch(t0 + 1), hand(t0 + 3), agent(t0 + 30),
            buyer(t0 + 2, "s2", "b2"), switch(t0 + 2, "s2", "b2"),
            hand(t0 + 9, "bob", "s2", "b2"), agent(t0 + 15, "s2", "b2", "bob"),
            agent(t0 + 20), buyer(t0 + 60), agent(t0 + 75), buyer(t0 + 100, "s2", "b2"),
            agent(t0 + 140, "s2", "b2", "bob"), buyer(t0 + 200, "s3", "b3"),
            switch(t0 + 201, "s3", "b3"), hand(t0 + 260, "carol", "s3", "b3"),
            agent(t0 + 300, "s3", "b3", "carol")]


def _fed_sh(records: list[Any]) -> LiveTracker:
    tracker = LiveTracker(tz=SH)
    tracker.extend(records)
    return tracker


def _waiting(records: list[Any]) -> LiveTracker:
    """A tracker fed ``records`` in two parts, each caught up by a reply-rate query: its
    response times and waits are left waiting to be put in (added and taken back)."""
    tracker = _fed_sh(records[:8])
    tracker.shop()
    tracker.extend(records[8:])
    tracker.shop()
    assert any(ms._pending and ms._pending[-1][1] for ms in tracker._samples.values())
    assert tracker._service._parts[("shop", None)].waits._pending
    return tracker


@pytest.mark.parametrize("name", ["response_times", "service"])
def test_S05_K08_K13_an_interrupt_while_a_query_puts_in_waiting_values(name: str) -> None:
    """The first query that reads the response times (or service durations) after the
    catch-ups puts in the values they left waiting; an interrupt at a bytecode
    step of that (of the multiset's code: the first 150, then every 13th) leaves the tracker giving,
    at the next query, the figures of a fresh tracker fed the same day."""
    day = _served_day()
    want = _figures(_fed_sh(day))
    steps = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal steps
        if frame.f_code.co_filename != multiset.__file__:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode":
            steps += 1
            if steps == k:
                raise Interrupted(f"opcode {k}")
        return trace

    landed = 0
    k = 0
    with tracing(trace):
        CALLS[name](_waiting(day), None)
    total = steps
    for k in sorted({*range(1, 150), *range(150, total + 1, 13), total}):
        tracker = _waiting(day)
        steps = 0
        try:
            with tracing(trace):
                CALLS[name](tracker, None)
        except Interrupted:
            landed += 1
        else:
            break
        assert _answered_elsewhere(tracker), f"opcode {k}: the turn was left taken"
        assert _figures(tracker) == want, f"opcode {k}: the tracker diverged"
    assert landed > 20, "no waiting value was put in: nothing was tested"

