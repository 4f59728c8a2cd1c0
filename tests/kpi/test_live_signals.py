"""K12 with S05's care: a signal landing at any bytecode of a record's filing loses nothing.

A signal handler's KeyboardInterrupt runs at the next bytecode boundary, so it
can land between two C operations of the code that files a record (after
``bucket.add(rec)`` and before its session is marked changed, say): not only
as a Python function is entered or returns, which tests/kpi/test_live_interrupts.py
walks. Here a trace function raises one at the n-th opcode of each method
that files a record, for every n, on both kernels. Whatever n, the tracker
then equals a fresh tracker fed the records acknowledged (the interrupted one
counted or not, never half), and a retry of the interrupted ``add`` makes it
equal a fresh tracker fed the record once: the retry is not taken for a
duplicate of a record the interrupted call half filed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, cast

import pytest
from test_kpi_live import live
from test_live_interrupts import _day

from interrupting import Interrupted
from kefu.errors import KefuError
from kefu.kpi import Handover, HumanRequest, LiveTracker, Release, SessionEnd, live_feed
from kefu.kpi.live_ratings import LiveRatings


def _fed(records: list[Any]) -> LiveTracker:
    tracker = LiveTracker()
    tracker.extend(records)
    return tracker


def _figures(tracker: LiveTracker) -> dict[str, Any] | str:
    try:
        return live(tracker, tracker.last + 90.0) | {"over": live(tracker, None),
                                                     "last": tracker.last}
    except KefuError as exc:  # before any record: no as_of is valid
        return repr(exc)


def _opcode_signal(code: CodeType | None, n: int, call: Callable[[], object],
                   tracker: LiveTracker) -> bool | None:
    """Run ``call()``, raising Interrupted (as a signal's handler would) at the n-th
    opcode run in ``code`` (counted over every frame of it; None: of any code). None: the call ended
    first; else whether the filing was complete when it landed (its journal
    written and cleared again: the ``add`` had done all its work)."""
    seen = 0
    journaled = False
    feed = tracker._feed

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal seen, journaled
        journaled = journaled or feed.undo is not None
        if code is not None and frame.f_code is not code:
            return trace
        frame.f_trace_opcodes = True
        if event == "opcode":
            seen += 1
            if seen == n:
                raise Interrupted(f"signal at opcode {n}")
        return trace

    sys.settrace(trace)
    try:
        call()
    except Interrupted:
        return journaled and feed.undo is None
    finally:
        sys.settrace(None)
    return None


# The methods that file a record, by the indices of the day's records they file.
METHODS: dict[str, tuple[Callable[..., Any], tuple[int, ...]]] = {
    "_add_other": (LiveTracker._add_other, (1, 5, 7, 10)),
    "_add_status": (LiveTracker._add_status, (4,)),
    "_add_message": (LiveTracker._add_message, (9,)),
    "_exclude": (LiveTracker._exclude, (11,)),
    "ratings.add": (LiveRatings.add, (6,)),
    "_add_record": (LiveTracker._add_record, (1, 4, 6, 9, 11)),
    # The reference feed's filing of a new message (the compiled one's is C); its
    # turn's code is walked by the signal test of test_live_interrupts.py.
    "feed.file": (live_feed.Feed.file, (0, 3, 12)),
}
CASES = [(name, at) for name, (_f, ats) in METHODS.items() for at in ats]
_EVENTS = (Handover, Release, HumanRequest, SessionEnd)


def filing_code(method: Callable[..., Any], rec: object) -> CodeType | None:
    """The code a signal is walked over to interrupt ``method``'s filing of ``rec``: its
    own, or None (every Python frame the ``add`` runs: the lambda calling it, the
    record's own hash, a new session's constructor) for an agent event the compiled
    feed files in C, where the tracker's methods do not run."""
    compiled = not isinstance(_fed([])._feed, live_feed.Feed)
    if (compiled and type(rec) in _EVENTS
            and method in (LiveTracker._add_other, LiveTracker._add_record)):
        return None
    return cast(CodeType, method.__code__)


@pytest.mark.parametrize(("name", "at"), CASES)
def test_S05_K12_a_signal_at_any_opcode_of_an_add_loses_nothing(name: str, at: int) -> None:
    day = _day()
    done, rest = day[:at], day[at + 1:]
    code = filing_code(METHODS[name][0], day[at])
    if name.startswith("feed.") and not isinstance(_fed([])._feed, live_feed.Feed):
        pytest.skip("the compiled feed files a new message in C (no bytecode)")
    neither = _figures(_fed(done))
    once = _figures(_fed(day[:at + 1]))
    # A fresh tracker's figures after the retry, and after the rest of the day, by how
    # many times the interrupted add had counted the record (0 or 1).
    fresh = {complete: (_figures(_fed(day[:at + 1] + [day[at]] * complete)),
                        _figures(_fed(day[:at + 1] + [day[at]] * complete + rest)))
             for complete in (False, True)}
    landed = 0
    for n in range(1, 10_000):
        tracker = _fed(done)
        complete = _opcode_signal(code, n, lambda t=tracker: t.add(day[at]), tracker)
        if complete is None:
            break
        landed += 1
        # Left alone, it counts the record or not; retried, it counts it once (or
        # twice, if the interrupted ``add`` had done all its work: the caller cannot
        # tell that from an interrupt landing as the call returned).
        assert _figures(tracker) in (neither, once), f"{name} opcode {n}: diverged"
        tracker.add(day[at])
        retried, finished = fresh[complete]
        assert _figures(tracker) == retried, f"{name} opcode {n}: retry"
        tracker.extend(rest)
        assert _figures(tracker) == finished, f"{name} opcode {n}"
    assert landed > 3, "the record never went through the method: nothing was tested"
