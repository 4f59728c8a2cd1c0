"""K12 with S05's care: the undo of an interrupted add, itself interrupted, and the
rare filing that moves a message.

tests/kpi/test_live_signals.py walks a signal over every opcode of each method
that files a record. Two windows it leaves are walked here: a repeated message
id whose new copy moves the message (to an earlier time, or to another
session, maybe a new one), whose undo puts the kept copy back in its place;
and the undo itself cut short by a second signal (it must be safe to run
again at the call after).
"""

from __future__ import annotations

from typing import Any

import pytest
from kpi_strategies import BASE
from test_live_interrupts import _day
from test_live_signals import _fed, _figures, _opcode_signal, filing_code

from kefu.kpi import LiveTracker, Message, Sender
from kefu.kpi.live_ratings import LiveRatings

# Copies of message m2 (kept: BASE + 40.0 in s1) that move it.
MOVES = {
    "earlier": Message("s1", "b1", BASE + 35.0, Sender.AGENT, "m2", agent_id="alice"),
    "other session": Message("s2", "b2", BASE + 39.0, Sender.AGENT, "m2", agent_id="bob"),
    "new session": Message("s9", "b9", BASE + 38.0, Sender.AGENT, "m2", agent_id="bob"),
}


@pytest.mark.parametrize("move", sorted(MOVES))
def test_S05_K12_a_signal_in_a_moving_copy_s_filing_loses_nothing(move: str) -> None:
    done, m = _day(), MOVES[move]
    neither = _figures(_fed(done))
    once = _figures(_fed([*done, m]))
    assert neither != once  # the copy does move the message
    # A fresh tracker's figures after the retry, by whether the interrupted add had
    # counted the copy (0 or 1 times more).
    retried = {complete: _figures(_fed([*done, m] + [m] * complete))
               for complete in (False, True)}
    landed = 0
    for n in range(1, 10_000):
        tracker = _fed(done)
        complete = _opcode_signal(LiveTracker._add_message.__code__, n,
                                  lambda t=tracker: t.add(m), tracker)
        if complete is None:
            break
        landed += 1
        assert _figures(tracker) in (neither, once), f"opcode {n}: diverged"
        tracker.add(m)
        assert _figures(tracker) == retried[complete], f"opcode {n}: retry"
    assert landed > 10


# (the method interrupted, the record's index in the day or a move, the undo's code)
UNDOS = [
    ("_add_other", 5, LiveTracker._unfile_other),
    ("_add_other", 10, LiveTracker._unfile_other),
    ("_add_message", "new session", LiveTracker._unfile_message),
    ("_add_message", "earlier", LiveTracker._unfile_message),
    ("_add_status", 4, LiveTracker._roll_back),
    ("_exclude", 11, LiveTracker._roll_back),
    ("ratings.add", 6, LiveRatings.roll_back),
    ("_add_message", 9, LiveTracker._roll_back),
]
FILERS: dict[str, Any] = {
    "_add_other": LiveTracker._add_other, "_add_status": LiveTracker._add_status,
    "_add_message": LiveTracker._add_message, "_exclude": LiveTracker._exclude,
    "ratings.add": LiveRatings.add,
}


@pytest.mark.parametrize(("name", "at", "undo"), UNDOS)
def test_S05_K12_an_undo_cut_short_is_done_again(name: str, at: Any, undo: Any) -> None:
    day = _day()
    if isinstance(at, str):
        done, rec = day, MOVES[at]
    else:
        done, rec = day[:at], day[at]
    expected = _figures(_fed([*done, rec]))
    code = filing_code(FILERS[name], rec)
    left = 0  # the last opcode of the filing at which a signal leaves its journal
    for n in range(1, 10_000):
        tracker = _fed(done)
        if _opcode_signal(code, n, lambda t=tracker: t.add(rec), tracker) is None:
            break
        if tracker._feed.undo is not None:
            left = n
    assert left, "no signal left a journal: nothing was tested"
    walked = 0
    for k in range(1, 10_000):  # the filing cut short there, its undo at opcode k
        again = _fed(done)
        _opcode_signal(code, left, lambda t=again: t.add(rec), again)
        if _opcode_signal(undo.__code__, k, lambda t=again: t.add(rec), again) is None:
            break
        walked += 1
        again.add(rec)
        assert _figures(again) == expected, f"filing opcode {left}, undo opcode {k}"
    assert walked > 3, "the undo was never cut short: nothing was tested"
