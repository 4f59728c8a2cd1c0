"""K12: the compiled taking back of a placed session equals the tracker's Python one.

Before a session is measured again (a catch-up's walk, a sequenced session's
walk of its own) or settled (its volatile units became fixed as time went
on), the tracker takes its figures back out of its books: its fixed counts,
K08 samples (the removed side of each uncommitted delta), K13 contact,
volatile units, wait, data quality and buyer-day members
(``kefu.kpi._live_c.retract`` in C, also inside ``take_all`` and ``settle``;
``LiveTracker._retract`` the reference). Two trackers placing in C are fed
the same random day, one taking back in C and one in Python; after every
query, and after taking random sessions back by hand between queries, their
books must be identical and their figures those of the pure functions.
Books a user set by hand are refused with an error, never read past their
end.
"""

from __future__ import annotations

import functools
import importlib
import random
from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import SH
from kpi_strategies import BASE, OFFSETS, WINDOWS, sessions, shop_day
from test_kpi_live import live, pure
from test_live_place import _books, _compiled_sessions

from kefu.kpi import (
    AgentStatus,
    Exclusion,
    Handover,
    LiveTracker,
    Message,
    Sender,
    Window,
    kernel,
)


@pytest.fixture(autouse=True, scope="module")
def _need_compiled() -> None:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")


def _module() -> Any:
    return importlib.import_module("kefu.kpi._live_c")


def _placing_in_c(tracker: LiveTracker, *, retract_in_c: bool) -> None:
    """Have ``tracker`` keep and place in C (whatever the active kernel), and take
    sessions back in C (``retract_in_c``) or with its own ``_retract``."""
    module = _module()
    _compiled_sessions(tracker, module)
    tracker._place = module.place
    tracker._take_c = functools.partial(module.take, tracker)
    tracker._refold_c = module.refold
    tracker._fold_c = functools.partial(module.fold, tracker)
    if retract_in_c:
        tracker._take_all_c = module.take_all
        tracker._retract_c = functools.partial(module.retract, tracker)
        tracker._settle_c = module.settle
    else:  # the walk's taking is then the reference loop, with the Python retract
        tracker._take_all_c = tracker._retract_c = tracker._settle_c = None


def _retract_by_hand(compiled: LiveTracker, python: LiveTracker, rnd: random.Random) -> None:
    """Take a few placed sessions back in both trackers, compare the books (the removed
    side of the K08 deltas, the contacts to count out, the buyer-days to fold again
    are only seen before a flush commits them), and mark them changed: the next
    query measures and places them again, as after a catch-up cut short."""
    placed = sorted(sid for sid, s in compiled._sessions.items() if s.applied is not None)
    for sid in rnd.sample(placed, min(len(placed), rnd.randint(1, 3))):
        _module().retract(compiled, sid, compiled._sessions[sid])
        python._retract(sid, python._sessions[sid])
        compiled._dirty.add(sid)
        python._dirty.add(sid)
    assert _books(compiled) == _books(python)


@given(shop_day(), sessions(prefix="t", buyers=("b0", "b2")), WINDOWS,
       st.sampled_from(["exclude", "open"]), st.sampled_from([180.0, 60.0]),
       st.sampled_from([[], ["b0"], ["b2", "b0"]]),
       st.lists(st.builds(AgentStatus, st.sampled_from(["alice", "bob"]),
                          OFFSETS.map(lambda t: BASE + t), st.booleans(), st.integers(0, 1)),
                max_size=3),
       st.sampled_from([0.1, 0.4]), st.booleans(), st.randoms(use_true_random=False))
def test_K12_compiled_taking_back_equals_the_python_taking_back(
        rec: dict[str, list[Any]], more: dict[str, list[Any]], window: Any, policy: str,
        threshold: float, excluded: list[str], statuses: list[AgentStatus], often: float,
        in_order: bool, rnd: random.Random) -> None:
    records = [r for kind, rs in (*rec.items(), *more.items()) if kind != "orders"
               for r in rs]
    records += [Exclusion(b) for b in excluded] + statuses
    records += [r for r in records if rnd.random() < 0.15]  # repeats
    rnd.shuffle(records)
    if in_order:  # a live feed: volatile units settle as the records' time goes on
        records.sort(key=lambda r: getattr(r, "at", BASE))
    opts: dict[str, Any] = {"tz": SH, "window": window, "threshold": threshold,
                            "before_window": policy}
    compiled, python = LiveTracker(**opts), LiveTracker(**opts)
    _placing_in_c(compiled, retract_in_c=True)
    _placing_in_c(python, retract_in_c=False)
    for fed, r in enumerate(records, 1):
        compiled.add(r)
        python.add(r)
        if rnd.random() >= often or compiled.last == float("-inf"):
            continue
        as_of = compiled.last + rnd.choice([0.0, 30.0, 150.0, 400.0])
        answers = live(compiled, as_of)
        assert answers == live(python, as_of)
        assert answers == pure(records[:fed], as_of, opts)
        assert _books(compiled) == _books(python)
        if rnd.random() < 0.3:
            _retract_by_hand(compiled, python, rnd)
    assert live(compiled, None) == live(python, None) == pure(records, None, opts)
    assert _books(compiled) == _books(python)


def _placed(**fields: Any) -> tuple[LiveTracker, Any, Any]:
    """A tracker placing and taking back in C with two sessions placed (one answered by
    an agent, one still to answer), its session "s0" with ``fields`` set by hand."""
    t = LiveTracker(tz=SH, window=Window.whole_day())
    _placing_in_c(t, retract_in_c=True)
    t.add(Message("s0", "b0", BASE, Sender.BUYER, "m0"))
    t.add(Handover("s0", "b0", "alice", BASE + 1.0))
    t.add(Message("s0", "b0", BASE + 30.0, Sender.AGENT, "m1", agent_id="alice"))
    t.add(Message("s1", "b1", BASE + 40.0, Sender.BUYER, "m2"))
    t.shop(t.last)
    s = t._sessions["s0"]
    assert s.applied and s.days and s.samples  # placed, with something to take back
    for name, value in fields.items():
        setattr(s, name, value)
    return t, _module(), s


# (field, value set by hand, the error the compiled taking back raises, whether the
# reference refuses it too: it reads any sequence alike, a unit of seven fields as one
# of eight, and adds too long a quality in part before it fails)
_HOSTILE_SESSIONS = [
    ("applied", [0, "k"], TypeError, False),  # not a tuple
    ("applied", 12345678901234567890, TypeError, True),
    ("applied", (0,), ValueError, True),  # odd: the reference's strict pairing refuses it
    ("applied", (0, "k", 1), ValueError, True),
    ("applied", (99, "k"), IndexError, True),  # no such table, as the reference finds
    ("applied", ("nobody", "k"), KeyError, True),  # no such agent, as the reference finds
    ("agent_units", (1, 2), TypeError, True),
    ("agent_units", ((0.0,) * 7,), TypeError, False),
    ("agent_units", ("ab",), TypeError, True),
    ("days", 5, TypeError, True),
    ("days", (("nobody", "day"),), KeyError, True),
    ("quality", (1,) * 50, TypeError, True),  # longer than the sums
    ("quality", 5, TypeError, True),
    ("quality", [0, 0], TypeError, False),
    ("samples", (("k", None),), TypeError, True),
    ("samples", (("k",),), ValueError, True),
]


@pytest.mark.parametrize(("field", "value", "error", "refused"), _HOSTILE_SESSIONS)
def test_K12_compiled_taking_back_refuses_a_session_set_by_hand(
        field: str, value: Any, error: type[Exception], refused: bool) -> None:
    """A session's placed counts, units, buyer-days, data quality or samples set by hand
    to something the placing never makes are refused with an error (a TypeError, or
    the reference's own), never read past their end or as another object."""
    t, module, s = _placed(**{field: value})
    with pytest.raises(error):
        module.retract(t, "s0", s)
    if refused:
        reference, _module_again, s_ref = _placed(**{field: value})
        with pytest.raises(Exception):  # noqa: B017 (whichever the reference raises)
            reference._retract("s0", s_ref)


@pytest.mark.parametrize("out", [False, True])
def test_K12_a_compiled_placing_or_taking_back_refuses_too_long_a_quality_untouched(
        out: bool) -> None:
    """A session's data quality set by hand to more counts than the tracker sums is
    refused with a TypeError by the placing and by the taking back before any sum
    changes: never a read or write past the end of the sums."""
    t, module, s = _placed()
    if not out:
        module.retract(t, "s0", s)
    before = list(t._quality)
    s.quality = (1,) * 50
    with pytest.raises(TypeError):
        (module.retract if out else module.place)(t, "s0", s)
    assert t._quality == before


@pytest.mark.parametrize("folded", [(4,), (4, "k", 5)])
def test_K12_compiled_folding_refuses_a_buyer_days_counts_of_odd_length(folded: Any) -> None:
    """A fixed buyer-day's counts (flat: table, key, ...) set by hand to a tuple of odd
    length are refused with the ValueError of the reference's strict pairing when
    the day is folded again, before any count changes: never a read past the end."""
    t, module, s = _placed()
    day = s.days[0]
    assert day in t._folded  # the answered session's day is fixed: folded once
    t._folded[day] = folded
    t._unfolded.add(day)
    before = [dict(table) for table in t._tables]
    with pytest.raises(ValueError, match="pairs"):
        module.refold(t)
    assert [dict(table) for table in t._tables] == before


@pytest.mark.parametrize("table", [[], None, ()])
def test_K12_compiled_taking_back_refuses_a_count_table_that_is_not_a_dict(
        table: Any) -> None:
    """The count tables a session's counts name, set by hand to something other than a
    dict, are refused with a TypeError, never written to as a dict."""
    t, module, s = _placed()
    t._tables = (table,) * len(t._tables)
    with pytest.raises(TypeError):
        module.retract(t, "s0", s)


@pytest.mark.parametrize("found", [[], 0, (), (array("d"),), (array("d"), [1.0]), "ab"])
def test_K08_compiled_taking_back_refuses_a_delta_set_by_hand(found: Any) -> None:
    """A K08 uncommitted delta set by hand to something other than a pair of arrays is
    refused with a TypeError when a session's samples are taken back into its removed
    side: never a write into another object as if it were an array."""
    t, module, s = _placed()
    for key, _values in s.samples:
        t._delta[key] = found
    with pytest.raises(TypeError):
        module.retract(t, "s0", s)


@pytest.mark.parametrize("members", [[], None, ("s0",)])
def test_K12_compiled_taking_back_refuses_a_buyer_days_members_set_by_hand(
        members: Any) -> None:
    """A buyer-day's members set by hand to something other than a dict are refused with
    a TypeError, never deleted from as a dict."""
    t, module, s = _placed()
    for day in s.days:
        t._members[day] = members
    with pytest.raises(TypeError):
        module.retract(t, "s0", s)


def test_K12_compiled_settling_refuses_a_session_that_is_not_compiled() -> None:
    """The compiled settling takes back and places compiled sessions only: another object
    in the tracker's sessions is refused with a TypeError, an unknown id with a
    KeyError, as the reference's lookup does."""
    t, module, _s = _placed()
    t._sessions["sx"] = object()
    with pytest.raises(TypeError):
        module.settle(t, ["sx"])
    with pytest.raises(KeyError):
        module.settle(t, ["nosuch"])


@pytest.mark.parametrize(("field", "value", "error"), [
    ("applied", (0,), ValueError), ("quality", (1,) * 50, TypeError),
    ("days", (("nobody", "day"),), KeyError)])
def test_K12_a_query_after_a_session_set_by_hand_measures_the_day_again(
        field: str, value: Any, error: type[Exception]) -> None:
    """A session set by hand makes the query that takes it back fail with that error;
    the tracker then measures the day again from its records, whole, at the next
    query, equal to a fresh tracker fed the same records."""
    t, _module_again, _s = _placed(**{field: value})
    t.add(Message("s0", "b0", BASE + 50.0, Sender.BUYER, "m3"))
    with pytest.raises(error):
        t.shop(t.last)
    fresh = LiveTracker(tz=SH, window=Window.whole_day())
    fresh.extend([Message("s0", "b0", BASE, Sender.BUYER, "m0"),
                  Handover("s0", "b0", "alice", BASE + 1.0),
                  Message("s0", "b0", BASE + 30.0, Sender.AGENT, "m1", agent_id="alice"),
                  Message("s1", "b1", BASE + 40.0, Sender.BUYER, "m2"),
                  Message("s0", "b0", BASE + 50.0, Sender.BUYER, "m3")])
    assert live(t, t.last) == live(fresh, t.last)


@pytest.mark.parametrize("out", [False, True])
def test_K08_compiled_placing_or_taking_back_refuses_served_counts_set_to_none(
        out: bool) -> None:
    """The tracker's K08 served counts set by hand to None are refused with a TypeError
    by the placing and by the taking back: never a C dict lookup on None (a
    SystemError)."""
    t, module, s = _placed()
    if not out:
        module.retract(t, "s0", s)
    t._served = None
    with pytest.raises(TypeError):
        (module.retract if out else module.place)(t, "s0", s)


@pytest.mark.parametrize("contact", [(), (1,), [0] * 9, 5])
def test_K13_compiled_placing_again_refuses_a_contact_set_by_hand(contact: Any) -> None:
    """A session's K13 contact set by hand to anything but a tuple of nine fields is
    refused with a TypeError when the session is placed again (by the compiled
    settling, or after it was taken back): never read past its end."""
    t, module, s = _placed()
    module.retract(t, "s0", s)
    s.contact = contact
    with pytest.raises(TypeError):
        module.place(t, "s0", s)
    s.applied = None
    with pytest.raises(TypeError):
        module.settle(t, ["s0"])


@pytest.mark.parametrize("field", ["unanswered", "dropped"])
def test_K12_compiled_taking_back_adds_a_count_set_by_hand_as_the_reference(
        field: str) -> None:
    """A session's count set by hand to a float zero is taken back as the reference's
    ``+= n * count`` does (the tracker's count becomes a float), not skipped."""
    done = []
    for in_c in (True, False):
        t, module, s = _placed(**{field: -0.0})
        (module.retract(t, "s0", s) if in_c else t._retract("s0", s))
        done.append(repr(getattr(t, "_" + field)))
    assert done[0] == done[1]
