"""K12, K08: a session measured again changes only what differs in the tracker's books.

When a new record comes for a session the tracker already placed, the next
query takes the session's figures back and places what its new measurement
gives. The compiled taking (``kefu.kpi._live_c``: the walk's ``take_all`` and
the settling) keeps what each session had when taken back until it is placed
again, then changes only what differs: counts that are the same are left as
they are, and a response-time multiset whose values only grew at their end
(a new reply) is handed only the new values. The figures, and every book
but the uncommitted deltas, must be the reference's (the Python taking back,
which takes every figure out and puts every figure in), and a placing cut
short by an error must leave the books as the reference's taking back leaves
them: everything taken back.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from kpi_helpers import SH
from test_kpi_live import live, pure
from test_live_place import _books
from test_live_retract import _placing_in_c

from kefu.kpi import Handover, LiveTracker, Message, Sender, Window, kernel

BASE = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: 06:13 in Shanghai, inside a whole day


@pytest.fixture(autouse=True, scope="module")
def _need_compiled() -> None:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")


def _day() -> list[Any]:
    """Two sessions served by alice: s0 with one reply so far, s1 unanswered."""
    return [Message("s0", "b0", BASE, Sender.BUYER, "m0"),
            Handover("s0", "b0", "alice", BASE + 1.0),
            Message("s0", "b0", BASE + 30.0, Sender.AGENT, "m1", agent_id="alice"),
            Message("s0", "b0", BASE + 60.0, Sender.BUYER, "m2"),
            Message("s1", "b1", BASE + 70.0, Sender.BUYER, "m3"),
            Handover("s1", "b1", "alice", BASE + 71.0)]


def _committed(tracker: LiveTracker) -> list[dict[Any, tuple[list[float], list[float]]]]:
    """Record, at each flush, the K08 values added and taken back it commits."""
    seen: list[dict[Any, tuple[list[float], list[float]]]] = []
    commit = tracker._commit_samples

    def spy() -> None:
        seen.append({key: (sorted(adds), sorted(removes))
                     for key, (adds, removes) in tracker._delta.items()})
        commit()

    tracker._commit_samples = spy  # type: ignore[method-assign]
    return seen


def _then(trackers: tuple[LiveTracker, ...], records: list[Any], record: Any) -> None:
    """Feed each tracker ``records`` and query it (everything placed), then ``record``
    (appended to ``records``) and query it again (its session measured again)."""
    for t in trackers:
        t.extend(records)
        t.shop(t.last)
    records.append(record)
    for t in trackers:
        t.add(record)
        t.shop(t.last)


def _pair(**opts: Any) -> tuple[LiveTracker, LiveTracker]:
    """A tracker taking back and placing in C, and one taking back in Python (the
    reference loop) and placing in C, with the same options."""
    compiled, python = LiveTracker(**opts), LiveTracker(**opts)
    _placing_in_c(compiled, retract_in_c=True)
    _placing_in_c(python, retract_in_c=False)
    return compiled, python


def test_K08_a_new_reply_hands_the_multisets_only_its_value() -> None:
    """A session placed with one reply gets a second: the walk's taking hands the shop's
    and alice's multisets only the new response time (the reference hands them every
    value taken back and every value placed), and every figure and book is the
    reference's and the pure functions'."""
    opts: dict[str, Any] = {"tz": SH, "window": Window.whole_day()}
    compiled, python = _pair(**opts)
    seen = _committed(compiled)
    reference = _committed(python)
    records = _day()
    _then((compiled, python), records,
          Message("s0", "b0", BASE + 100.0, Sender.AGENT, "m4", agent_id="alice"))
    # The new reply: 40 s after the buyer's message at BASE + 60. The first: 30 s after the
    # buyer's first message for the shop, 29 s after the hand-over at BASE + 1 for alice.
    for owner, first in ((None, 30.0), ("alice", 29.0)):
        assert seen[-1][(owner, "replies", "cal")] == ([40.0], [])
        assert reference[-1][(owner, "replies", "cal")] == ([first, 40.0], [first])
    assert live(compiled, compiled.last) == live(python, python.last) == pure(
        records, compiled.last, opts)
    assert _books(compiled) == _books(python)


def test_K08_an_earlier_message_changes_the_old_values_as_the_reference() -> None:
    """A reply that comes late and belongs between two others changes the response time
    of the question before it (the values do not only grow at their end): the old
    values are taken back and the new ones added, and the figures are the
    reference's."""
    opts: dict[str, Any] = {"tz": SH, "window": Window.whole_day()}
    compiled, python = _pair(**opts)
    seen = _committed(compiled)
    records = [*_day(), Message("s0", "b0", BASE + 100.0, Sender.AGENT, "m4", agent_id="alice")]
    _then((compiled, python), records,  # a reply that comes late
          Message("s0", "b0", BASE + 80.0, Sender.AGENT, "m5", agent_id="alice"))
    # s0's replies for the shop: 30 s and 40 s, now 30 s and 20 s (the question at BASE + 60
    # answered at BASE + 80)
    assert seen[-1][(None, "replies", "cal")] == ([20.0, 30.0], [30.0, 40.0])
    assert live(compiled, compiled.last) == live(python, python.last) == pure(
        records, compiled.last, opts)
    assert _books(compiled) == _books(python)


def test_K12_unchanged_counts_are_left_as_they_are() -> None:
    """An agent's follow-up in a session whose units are all fixed (a question answered)
    changes none of its counts: the compiled placing leaves them as they are, where
    the reference takes them out (a count taken to zero is dropped) and puts them
    back (added again, last); the counts are the same."""
    opts: dict[str, Any] = {"tz": SH, "window": Window.whole_day()}
    compiled, python = _pair(**opts)
    records = [*_day()[:3],  # s0: a question and alice's reply: MET, fixed
               Message("s8", "b8", BASE + 10.0, Sender.BUYER, "m8"),  # s8: another group's
               Handover("s8", "b8", "bob", BASE + 11.0, "presale"),
               Message("s8", "b8", BASE + 20.0, Sender.AGENT, "m9", agent_id="bob")]
    for t in (compiled, python):
        t.extend(records)
        t.shop(t.last)
    order = list(compiled._session_counts[0])
    assert len(order) == 2 and order == list(python._session_counts[0])  # s0's key, s8's
    follow_up = Message("s0", "b0", BASE + 40.0, Sender.AGENT, "m5", agent_id="alice")
    records.append(follow_up)
    for t in (compiled, python):
        t.add(follow_up)
        t.shop(t.last)
    assert list(compiled._session_counts[0]) == order
    assert list(python._session_counts[0]) == order[::-1]  # s0's key taken out, put back
    assert live(compiled, compiled.last) == live(python, python.last) == pure(
        records, compiled.last, opts)
    assert _books(compiled) == _books(python)


def _netted(tracker: LiveTracker) -> dict[Any, tuple[list[float], list[float]]]:
    """The uncommitted K08 deltas with what both sides hold taken out of both: what the
    multisets would get (a walk cut short commits nothing)."""
    out = {}
    for key, (adds, removes) in tracker._delta.items():
        added, removed = Counter(adds), Counter(removes)
        out[key] = (sorted((added - removed).elements()), sorted((removed - added).elements()))
    return {key: sides for key, sides in out.items() if sides != ([], [])}


@pytest.mark.parametrize("where", ["settle", "walk"])
def test_K12_a_placing_cut_short_leaves_everything_taken_back(where: str) -> None:
    """A session set by hand so that placing it again fails (its units, or its stretches,
    not what a walk makes) after it was taken back: the error is raised, what the
    compiled taking kept of it is taken back as the reference's taking back takes
    it (the same books), and the next query measures the day again, whole, equal
    to a fresh tracker's figures."""
    opts: dict[str, Any] = {"tz": SH, "window": Window.whole_day(), "threshold": 60.0}
    compiled, python = _pair(**opts)
    records = _day()
    for t in (compiled, python):
        t.extend(records)
        t.shop(t.last)
    if where == "settle":  # s1's unanswered wait becomes missed when a record is 60 s later
        more = Message("s2", "b2", BASE + 200.0, Sender.BUYER, "m7")
        for t in (compiled, python):
            assert t._sessions["s1"].when < more.at  # s1 settles at the next query
            t._sessions["s1"].shop_units = (1, 2)
    else:  # a walk measures s0 and s1 again, s1 last (in order of their ids)
        more = Message("s1", "b1", BASE + 80.0, Sender.BUYER, "m7")
        for t in (compiled, python):
            t.add(Message("s0", "b0", BASE + 75.0, Sender.BUYER, "m8"))
            t._sessions["s1"].stretches = 5
        records.append(Message("s0", "b0", BASE + 75.0, Sender.BUYER, "m8"))
    records.append(more)
    for t in (compiled, python):
        t.add(more)
        with pytest.raises(TypeError):
            t.shop(t.last)
    assert _netted(compiled) == _netted(python)
    assert {**_books(compiled), "delta": None} == {**_books(python), "delta": None}
    fresh = LiveTracker(**opts)
    fresh.extend(records)
    assert live(compiled, compiled.last) == live(fresh, compiled.last) == pure(
        records, compiled.last, opts)
