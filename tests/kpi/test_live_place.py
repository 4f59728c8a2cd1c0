"""K12: the compiled keeping and placing of a measured session equal the tracker's Python ones.

After a catch-up measures a session, the tracker keeps what the walk found
for it (its K08 samples, K13 contact, stretches: ``kefu.kpi._live_c.take``
in C, ``_take`` the reference) and places it: its fixed units
into running counts, its volatile ones registered with a timer, its K08
samples and K13 contact counted, its buyer-day members filed. The compiled
feed's module does that in C (``kefu.kpi._live_c.place``); the tracker's
own ``_apply`` is the reference. Two trackers are fed the same random day
(switches, hand-overs, releases, ends, exclusions, ratings, repeats, in a
random order), one placing in C and one in Python, and after every query
their bookkeeping and their answers must be identical.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import random
from array import array
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import SH
from kpi_strategies import BASE, OFFSETS, WINDOWS, shop_day

from kefu.kpi import AgentStatus, Exclusion, LiveTracker, Message, Sender, Window, kernel
from kefu.kpi.live_service import LiveService
from kefu.kpi.results import DataQuality


@pytest.fixture(autouse=True, scope="module")
def _need_compiled() -> None:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")


def _books(t: LiveTracker) -> dict[str, Any]:
    """Everything a placing writes, in a form two trackers can be compared by."""
    sessions = {sid: (s.when, s.days, s.applied, s.shop_units, tuple(s.agent_units),
                      s.buyer, s.fate, s.waiting, s.samples, s.served, s.unanswered,
                      s.dropped, s.contact, s.stretches, s.quality)
                for sid, s in t._sessions.items()}
    return {
        "sessions": sessions, "session_counts": t._session_counts,
        "session_fates": t._session_fates, "agent_counts": t._agent_counts,
        "agents_changed": t._agents_changed, "buyer_counts": t._buyer_counts,
        "buyer_fates": t._buyer_fates, "volatile": t._volatile, "members": t._members,
        "volatile_days": t._volatile_days, "waiting": t._waiting, "quality": t._quality,
        "later": t._later, "future": t._future, "timers": sorted(t._timers),
        "served": t._served, "unanswered": t._unanswered, "dropped": t._dropped,
        "delta": t._delta, "unfolded": t._unfolded, "held_by": t._held_by,
        "by_buyer": t._by_buyer, "out": t._out, "service": _service(t._service),
    }


def _service(service: LiveService) -> dict[Any, Any]:
    """A LiveService's counts by breakdown key, as plain values."""
    return {part: (acc.contacts, acc.counts, acc.excluded_by, acc.delta,
                   [x for block in acc.waits._blocks for x in block],
                   [x for block in acc.abandons._blocks for x in block])
            for part, acc in service._parts.items()} | {"changed": service._changed}


def _answers(t: LiveTracker, as_of: float | None) -> tuple[Any, ...]:
    return (t.shop(as_of), t.shop(as_of, basis="any"), dict(t.agents(as_of)),
            t.response_times(as_of), t.service(as_of))


@given(shop_day(), WINDOWS, st.sampled_from(["exclude", "open"]),
       st.sampled_from([180.0, 60.0]), st.sampled_from([[], ["b0"], ["b1", "b0"]]),
       st.lists(st.builds(AgentStatus, st.sampled_from(["alice", "bob"]),
                          OFFSETS.map(lambda t: BASE + t), st.booleans(), st.integers(0, 1)),
                max_size=3),
       st.lists(st.sampled_from([0.0, 30.0, 150.0, 400.0]), min_size=1, max_size=4),
       st.randoms(use_true_random=False))
def test_K12_compiled_placing_equals_the_python_placing(
        rec: dict[str, list[Any]], window: Window | None, policy: str, threshold: float,
        excluded: list[str], statuses: list[AgentStatus], ages: list[float],
        rnd: random.Random) -> None:
    records = [r for kind, rs in rec.items() if kind != "orders" for r in rs]
    records += [Exclusion(b) for b in excluded] + statuses
    records += [r for r in records if rnd.random() < 0.15]  # repeats
    rnd.shuffle(records)
    opts: dict[str, Any] = {"tz": SH, "window": window, "threshold": threshold,
                            "before_window": policy}
    compiled, python = LiveTracker(**opts), LiveTracker(**opts)
    compiled_module = importlib.import_module("kefu.kpi._live_c")
    _compiled_sessions(compiled, compiled_module)
    compiled._place = compiled_module.place
    compiled._take_c = functools.partial(compiled_module.take, compiled)
    compiled._refold_c = compiled_module.refold
    compiled._take_all_c = compiled_module.take_all
    compiled._fold_c = functools.partial(compiled_module.fold, compiled)
    python._place = python._take_c = None  # the tracker's own _take and _apply
    python._refold_c = python._fold_c = python._take_all_c = None  # and _refold, _fold
    stops = sorted(rnd.sample(range(len(records) + 1), min(len(ages), len(records) + 1)))
    fed = 0
    for stop, age in zip(stops, ages, strict=False):
        for r in records[fed:stop]:
            compiled.add(r)
            python.add(r)
        fed = stop
        as_of = None if compiled.last == float("-inf") else compiled.last + age
        assert _answers(compiled, as_of) == _answers(python, as_of)
        assert _books(compiled) == _books(python)



def _compiled_sessions(tracker: LiveTracker, compiled_module: Any) -> None:
    """Have a tracker made on the reference feed keep its sessions in the compiled class,
    as the compiled keeping and placing need (the compiled feed makes them already)."""
    if not isinstance(tracker._feed, compiled_module.Feed):
        tracker._new_session = compiled_module.Session
        tracker._feed._new_session = compiled_module.Session  # type: ignore[attr-defined]


_CONTACTS = st.tuples(
    st.sampled_from([dt.date(2024, 3, 1), dt.date(2024, 3, 2)]), st.integers(0, 2),
    st.sampled_from([None, "pre", "post"]), st.sampled_from([None, "alice", "bob"]),
    st.integers(0, 3), st.sampled_from([0.0, 5.0, 4.5, 60.0, 180.0, 181.0]),
    st.integers(0, 2), st.sampled_from([None, "staff", "test"]), st.just(BASE))


@given(st.lists(_CONTACTS, max_size=12), st.randoms(use_true_random=False))
def test_K12_K13_compiled_contact_count_equals_the_reference(
        contacts: list[Any], rnd: random.Random) -> None:
    """The compiled placing counts a session's K13 contact (``_live_c.count``) into every
    breakdown as :meth:`LiveService.count` does: contacts counted in, some counted
    out again, the same counts, durations and changed keys."""
    compiled_module = importlib.import_module("kefu.kpi._live_c")
    compiled_count = compiled_module.count
    python = LiveService(180.0, 5.0)
    compiled = LiveService(180.0, 5.0, compiled_module.Counts)  # its parts in C
    counted = []
    for contact in contacts:
        python.count(contact, 1)
        compiled_count(compiled, contact, 1)
        counted.append(contact)
        if rnd.random() < 0.4:
            out = counted.pop(rnd.randrange(len(counted)))
            python.count(out, -1)
            compiled_count(compiled, out, -1)
        assert _service(compiled) == _service(python)
    python.commit()
    compiled.commit()
    assert _service(compiled) == _service(python)
    assert all(type(acc) is compiled_module.Counts for acc in compiled._parts.values())
    assert python.report(DataQuality()) == compiled.report(DataQuality())


def test_K12_K13_the_compiled_count_of_a_service_with_python_parts_is_the_references() -> None:
    """A service whose breakdown keys are counted in the reference's objects (a tracker
    placing in Python) is counted by the reference when the compiled count is asked."""
    compiled_count = importlib.import_module("kefu.kpi._live_c").count
    python, other = LiveService(180.0, 5.0), LiveService(180.0, 5.0)
    contact = (dt.date(2024, 3, 1), 9, "pre", "alice", 0, 4.5, 1, None, BASE)
    later = (dt.date(2024, 3, 1), 10, "pre", "bob", 1, 2.0, 0, None, BASE + 3600.0)
    python.count(contact, 1)
    python.count(later, 1)
    other.count(contact, 1)  # keys the reference made (shop, day, group) ...
    compiled_count(other, later, 1)  # ... counted again, and new ones (hour, agent) made
    assert _service(other) == _service(python)
    assert all(type(acc) is type(python._parts[part]) for part, acc in other._parts.items())


@pytest.mark.parametrize("delta", [((), (), (), ()), ([],), None])
def test_K12_K13_a_compiled_count_refuses_a_delta_set_by_hand_and_reads_nothing_past_it(
        delta: Any) -> None:
    """A breakdown key's delta (its durations since the last commit) is four lists, or
    the shared empty one. One set by hand to anything else (an equal but other empty
    tuple, too short a tuple, None) is refused with a TypeError when a duration is
    counted: never an append into a tuple or a read past its end."""
    compiled_module = importlib.import_module("kefu.kpi._live_c")
    service = LiveService(180.0, 5.0, compiled_module.Counts)
    contact = (dt.date(2024, 3, 1), 9, "pre", "alice", 0, 4.5, 1, None, BASE)
    compiled_module.count(service, contact, 1)
    service.commit()
    acc = service._parts[("shop", None)]
    acc.delta = delta
    with pytest.raises(TypeError):
        compiled_module.count(service, contact, 1)


def test_K12_compiled_take_all_checks_every_session_before_it_keeps_any() -> None:
    """``take_all`` is handed compiled sessions only; a list with another kind of object
    in it is refused before any session is kept again (none is left half taken)."""
    compiled_module = importlib.import_module("kefu.kpi._live_c")
    t = LiveTracker(tz=SH)
    for k in range(3):
        t.add(Message(f"s{k}", f"b{k}", BASE + k, Sender.BUYER, f"m{k}"))
        t.add(Message(f"s{k}", f"b{k}", BASE + 30.0 + k, Sender.AGENT, f"r{k}",
                      agent_id="alice"))
    t.shop(t.last)
    sids = sorted(t._sessions)
    before = _books(t)
    # A walk that found nothing of them: keeping the sessions would change their books.
    walk = SimpleNamespace(by_session={}, split=None)
    timeline = SimpleNamespace(index={}, negatives={}, buyers=[], agents=[], starts=[],
                               ends=[])
    bad = [*(t._sessions[sid] for sid in sids[:-1]), object()]
    with pytest.raises(TypeError):
        compiled_module.take_all(t, sids, bad, timeline, walk)
    assert _books(t) == before


def test_K08_K12_a_dropped_trackers_agents_are_not_kept_by_the_compiled_placing() -> None:
    """The compiled keeping shares each agent's multiset keys between its sessions; once
    the tracker is gone, nothing of it stays (an embedding process may run many
    trackers, one per shop, over years of agents): not even an agent's id."""
    import gc
    import sys

    from kefu.kpi import Handover, Message
    from kefu.kpi.records import Sender

    agent = "".join(["agent-", str(random.random())])  # an object no one else holds
    before = sys.getrefcount(agent)
    tracker = LiveTracker(tz=SH, window=None, threshold=180.0, before_window="exclude")
    compiled_module = importlib.import_module("kefu.kpi._live_c")
    _compiled_sessions(tracker, compiled_module)
    tracker._place = compiled_module.place  # the compiled keeping and placing
    tracker._take_c = functools.partial(compiled_module.take, tracker)
    for n in range(30):  # answered sessions of the one agent
        sid, t = f"s{n}", BASE + 7.0 * n
        tracker.add(Message(sid, "b1", t, Sender.BUYER, f"{sid}.q"))
        tracker.add(Handover(sid, "b1", agent, t + 1.0))
        tracker.add(Message(sid, "b1", t + 30.0, Sender.AGENT, f"{sid}.a", agent_id=agent))
    assert tracker.response_times().by_agent[agent].first.calendar.count > 0
    del tracker
    gc.collect()
    assert sys.getrefcount(agent) == before


def test_K08_K12_a_live_samples_column_never_made_is_kept_as_an_empty_one() -> None:
    """The compiled keeping reads a session's ``LiveSamples`` as they are: a column the
    walk never made (here the in-window seconds of waits past a close) is an empty
    one, as the reference keeping (``live._samples_of``) reads it, not an error."""
    from kefu.kpi import Handover, Message, live_measure
    from kefu.kpi.records import Sender

    if kernel.ACTIVE != "c":
        pytest.skip("only the compiled walk makes LiveSamples")
    live_samples = importlib.import_module("kefu.kpi._live_c").LiveSamples

    def odd() -> Any:
        x = live_samples()
        x.first_xc.append(5.0)  # its first_xw never made
        return x

    kept = []
    for keeping in ("c", "py"):  # the tracker's keeping; the walk is the compiled one
        kernel.ACTIVE = keeping
        try:
            t = LiveTracker(tz=SH)
        finally:
            kernel.ACTIVE = "c"
        assert (t._take_c is None) == (keeping == "py")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(live_measure.LiveMeasure, "_samples_cls", staticmethod(odd))
            t.add(Message("s1", "b1", BASE, Sender.BUYER, "m1"))
            t.add(Handover("s1", "b1", "alice", BASE + 1.0))
            t.add(Message("s1", "b1", BASE + 30.0, Sender.AGENT, "m2", agent_id="alice"))
            t.response_times()
        kept.append(t._sessions["s1"].samples)
    assert kept[0] == kept[1]
    assert kept[0]


def test_K12_the_compiled_session_starts_as_the_reference_session() -> None:
    """The compiled feed's sessions (``kefu.kpi._live_c.Session``, made in C with no
    Python constructor) have every field of the tracker's ``_Session``, each with the
    same first value: the reference's code (its ``_apply``, ``_retract``, an undo)
    reads and writes either alike."""
    from kefu.kpi import live

    compiled_module = importlib.import_module("kefu.kpi._live_c")
    reference, compiled = live._Session(), compiled_module.Session()
    for name in live._Session.__slots__:
        assert getattr(compiled, name) == getattr(reference, name), name
        assert type(getattr(compiled, name)) is type(getattr(reference, name)), name
    assert compiled.messages is not compiled_module.Session().messages


def test_K12_K13_a_compiled_catch_up_makes_no_multiset_nothing_reads() -> None:
    """A key's times to abandon (K13) are kept in a multiset made on first use: after a
    catch-up of answered sessions only, each breakdown key holds its waits' multiset
    and none for abandons (a tracker holds a key per agent, hour and group, and each
    object it keeps the garbage collector visits at its every full pass), and the
    figures are those of the pure function. Each of those multisets, and each of the
    K08 ones, is the compiled one made on first need: no reference multiset is made
    until a query reads their values."""
    import gc

    from kefu.kpi import Handover, Message, service_figures
    from kefu.kpi.multiset import Multiset
    from kefu.kpi.records import Sender

    if kernel.ACTIVE != "c":
        pytest.skip("the compiled placing keeps the counts in its C twin")
    tracker = LiveTracker(tz=SH, window=None, threshold=180.0, before_window="exclude")
    records: list[Any] = []
    for n in range(40):  # answered sessions of four agents
        sid, agent, t = f"s{n}", f"a{n % 4}", BASE + 7.0 * n
        records += [Message(sid, "b1", t, Sender.BUYER, f"{sid}.q"),
                    Handover(sid, "b1", agent, t + 1.0),
                    Message(sid, "b1", t + 30.0, Sender.AGENT, f"{sid}.a", agent_id=agent)]
    tracker.extend(records)
    tracker.shop()
    gc.collect()  # what earlier tests left in cycles
    lazy = importlib.import_module("kefu.kpi._live_c").LazyMultiset
    assert sum(type(o) is Multiset for o in gc.get_objects()) == 0
    held = sum(type(o) is lazy for o in gc.get_objects())
    assert held == len(tracker._samples) + len(tracker._service._parts)
    messages = [r for r in records if type(r) is Message]
    handovers = [r for r in records if type(r) is Handover]
    pure = service_figures(messages, handovers, tz=SH, window=None, day=None)
    assert tracker.service() == pure


def _cycle_free(x: object) -> bool:
    """Whether ``x`` can be in no reference cycle, as the garbage collector's own rule
    for untracking a tuple has it: an atomic value, or a tuple out of its sight."""
    import gc

    if type(x) is tuple:
        return not gc.is_tracked(x)
    return type(x) in (str, int, float, bool, bytes, dt.date, type(None))


def _feed_a_few(tracker: LiveTracker) -> None:
    """Answered sessions and some still waiting, then a query (the catch-up)."""
    from kefu.kpi import Handover, Message
    from kefu.kpi.records import Sender

    for n in range(12):  # answered sessions, and some still waiting
        sid, agent, t = f"s{n}", f"a{n % 3}", BASE + 40.0 * n
        tracker.add(Message(sid, f"b{n % 5}", t, Sender.BUYER, f"{sid}.q", seq=n % 2))
        tracker.add(Handover(sid, f"b{n % 5}", agent, t + 1.0))
        if n % 3:
            tracker.add(Message(sid, f"b{n % 5}", t + 30.0, Sender.AGENT, f"{sid}.a",
                                agent_id=agent))
    tracker.shop()


def _out_of_sight(tracker: LiveTracker) -> dict[str, int]:
    """How many sessions keep each of their tuples out of the garbage collector's sight,
    each checked to hold nothing tracked but tuples out of its sight too."""
    import gc

    seen: dict[str, int] = {}
    for s in tracker._sessions.values():
        for name in ("order", "samples", "served", "stretches", "shop_units", "quality",
                     "days", "contact"):
            value = getattr(s, name)
            if type(value) is not tuple or not value:
                continue
            stack = [value]
            while stack:  # an untracked tuple holds nothing tracked but untracked tuples
                t = stack.pop()
                if not gc.is_tracked(t):
                    assert all(_cycle_free(x) for x in t), (name, t)
                    stack += [x for x in t if type(x) is tuple]
            if not gc.is_tracked(value):
                seen[name] = seen.get(name, 0) + 1
    return seen


def test_K12_a_sessions_tuples_out_of_the_collectors_sight_hold_no_container() -> None:
    """The compiled keeping puts the tuples a session keeps (its first message's order,
    samples, agents served, stretches, units, data quality) out of the garbage
    collector's sight as it makes them: only those holding nothing that could be in
    a reference cycle (else the collector could never free such a cycle), and
    those it promises are out of sight are."""
    import gc

    if kernel.ACTIVE != "c":
        pytest.skip("the compiled keeping untracks them as it makes them")
    tracker = LiveTracker(tz=SH, window=None, threshold=180.0, before_window="open")
    enabled = gc.isenabled()
    gc.disable()  # its own passes untrack tuples too: only the keeping's count here
    try:
        _feed_a_few(tracker)
        seen = _out_of_sight(tracker)
    finally:
        if enabled:
            gc.enable()
    for name in ("order", "samples", "served", "stretches", "quality"):
        assert seen.get(name), name


def _lazy_multiset() -> Any:
    """A new compiled multiset made on first need (``_live_c.LazyMultiset``), or a skip
    where the compiled modules are not built."""
    try:
        module = importlib.import_module("kefu.kpi._live_c")
    except ImportError:
        pytest.skip("the compiled live module is not built")
    return module.LazyMultiset()


_SAMPLE_VALUES = st.one_of(st.integers(0, 400).map(float), st.just(0.1),
                           st.floats(0, 1e6, allow_nan=False, allow_infinity=False))


@given(st.lists(st.tuples(st.lists(_SAMPLE_VALUES, max_size=300), st.integers(0, 300),
                          st.booleans()), max_size=8),
       st.randoms(use_true_random=False))
def test_K08_K12_a_multiset_made_on_first_need_equals_the_reference(
        changes: list[tuple[list[float], int, bool]], rnd: random.Random) -> None:
    """The compiled placing's multisets (K08 samples, K13 waits) keep bulk changes until
    something reads them, then hand them to the reference multiset: every change
    says what the reference's says (a value given back changes nothing), and the
    figures and values read at any point are the reference's, whether they held a
    block's worth of values or not (past that, the reference is made)."""
    from kefu.kpi.multiset import Multiset

    lazy, reference = _lazy_multiset(), Multiset()
    present: list[float] = []
    for adds, n_out, read in changes:
        removes = [present.pop(rnd.randrange(len(present)))
                   for _ in range(min(n_out, len(present)))]
        if rnd.random() < 0.2:
            adds = list(removes)  # a session measured again, unchanged
        present += adds
        assert lazy.change(list(adds), list(removes)) == reference.change(adds, removes)
        if read:
            assert lazy.durations() == reference.durations()
    assert lazy.count == reference.count == len(present)
    assert lazy.durations() == reference.durations()
    assert lazy._blocks == reference._blocks


def test_K12_a_multiset_made_on_first_need_nobody_reads_keeps_a_block_at_most() -> None:
    """Changes nobody reads are kept until they hold more than a block of values; then
    the reference multiset is made and keeps to its own bound (no more than its
    values waiting), so a tracker never asked for response times does not grow
    with its catch-ups."""
    from kefu.kpi.multiset import BLOCK

    lazy = _lazy_multiset()
    lazy.change([1.0, 2.0], [])
    assert not lazy.is_made
    for k in range(BLOCK):
        lazy.change([float(k + 3)], [float(k + 2) if k else 2.0])
    assert lazy.is_made
    assert lazy._held <= 2 * lazy.count + BLOCK
    assert lazy.count == 2


def test_K12_an_interrupted_making_of_a_multiset_loses_no_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while the reference multiset is made from the changes kept (an
    interrupt, MemoryError) keeps them all: the next read makes it again, whole."""
    from kefu.kpi.multiset import Multiset

    lazy, reference = _lazy_multiset(), Multiset()
    for adds, removes in (([3.0, 1.0], []), ([2.0], [1.0]), ([5.0], [])):
        lazy.change(adds, removes)
        reference.change(adds, removes)
    real = Multiset.change
    calls = 0

    def failing(self: Multiset, adds: Any, removes: Any) -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return real(self, adds, removes)

    monkeypatch.setattr(Multiset, "change", failing)
    with pytest.raises(KeyboardInterrupt):
        lazy.durations()
    assert not lazy.is_made
    monkeypatch.setattr(Multiset, "change", real)
    assert lazy.durations() == reference.durations()
    assert lazy._blocks == reference._blocks == [[2.0, 3.0, 5.0]]


@pytest.mark.parametrize("stretches", [(12345678901234567890,), ("ab",), (None,)])
def test_K12_a_compiled_keeping_refuses_stretches_set_by_hand_and_reads_nothing_past_them(
        stretches: tuple[Any, ...]) -> None:
    """A session's stretches (who held it when) set by hand to something other than
    (agent, start, end) tuples are refused with a TypeError when the session is
    kept again (its agents read from them as from any sequence): never a read of
    another object as a tuple. The tracker then measures the day again, whole."""
    from kefu.kpi import Handover

    t = LiveTracker(tz=SH)
    t.add(Message("s0", "b0", BASE, Sender.BUYER, "m0"))
    t.add(Handover("s0", "b0", "alice", BASE + 1.0))
    t.shop(t.last)
    t._sessions["s0"].stretches = stretches
    t.add(Message("s0", "b0", BASE + 5.0, Sender.AGENT, "m1", agent_id="alice"))
    if stretches == ("ab",):  # a str is a sequence: its first letter is no agent held
        with pytest.raises(KeyError):
            t.shop(t.last)
    else:
        with pytest.raises(TypeError):
            t.shop(t.last)
    fresh = LiveTracker(tz=SH)
    fresh.extend([Message("s0", "b0", BASE, Sender.BUYER, "m0"),
                  Handover("s0", "b0", "alice", BASE + 1.0),
                  Message("s0", "b0", BASE + 5.0, Sender.AGENT, "m1", agent_id="alice")])
    assert _answers(t, t.last) == _answers(fresh, t.last)


def _placed_by_hand(**fields: Any) -> tuple[LiveTracker, Any, Any]:
    """A tracker with one session measured, the compiled module and a new compiled
    session with ``fields`` set by hand (skipped where the module is not built)."""
    try:
        module = importlib.import_module("kefu.kpi._live_c")
    except ImportError:
        pytest.skip("the compiled live module is not built")
    t = LiveTracker(tz=SH)
    t.add(Message("s0", "b0", BASE, Sender.BUYER, "m0"))
    t.shop(t.last)
    s = module.Session()
    for name, value in fields.items():
        setattr(s, name, value)
    return t, module, s


_NO_UNITS = [(1, 2), (12345678901234567890, "ab"), ((1.0,), (1.0,)), ("ab", "cd"),
             ((0.0,) * 7, (0.0,) * 7)]


@pytest.mark.parametrize("units", _NO_UNITS)
@pytest.mark.parametrize("side", ["shop_units", "agent_units"])
def test_K12_a_compiled_placing_refuses_units_set_by_hand_and_reads_nothing_past_them(
        side: str, units: tuple[Any, ...]) -> None:
    """A session's measured units set by hand to something other than tuples of their
    eight fields (an int, a str, a shorter tuple) are refused with a TypeError when
    the session is placed: never a read of another object as a tuple, or past a
    tuple's end."""
    t, module, s = _placed_by_hand(**{side: units})
    with pytest.raises(TypeError):
        module.place(t, "sx", s)


@pytest.mark.parametrize("delta", [[1, 2], 12345678901234567890, (), (1, 2), "ab"])
def test_K08_a_compiled_placing_refuses_a_delta_set_by_hand_and_writes_nothing_past_it(
        delta: Any) -> None:
    """A K08 sample's uncommitted delta set by hand to something other than a pair of
    arrays is refused with a TypeError when a session adds its samples to it: never
    a write into another object as if it were an array."""
    t, module, s = _placed_by_hand(samples=(("k", b"\0" * 8),))
    t._delta["k"] = delta
    with pytest.raises(TypeError):
        module.place(t, "sx", s)
    assert t._delta["k"] == delta


@pytest.mark.parametrize("size", [1, 7, 12])
def test_K08_a_compiled_placing_refuses_sample_bytes_that_are_not_whole_doubles(size: int
                                                                               ) -> None:
    """A session's K08 samples set by hand to bytes that are not whole doubles are refused
    with the ValueError the reference's ``array.frombytes`` raises, and nothing is added
    to the delta (the compiled copy once dropped the odd bytes without a word)."""
    values = b"\0" * size
    with pytest.raises(ValueError) as reference:
        array("d").frombytes(values)
    t, module, s = _placed_by_hand(samples=(("k", values),))
    with pytest.raises(ValueError) as compiled:
        module.place(t, "sx", s)
    assert str(compiled.value) == str(reference.value)
    assert all(len(side) == 0 for side in t._delta.get("k", ((), ())))


def test_K08_a_compiled_placing_refuses_samples_that_are_not_bytes() -> None:
    """A session's K08 samples set by hand with None for their bytes are refused with a
    TypeError, never read as bytes."""
    t, module, s = _placed_by_hand(samples=(("k", None),))
    with pytest.raises(TypeError):
        module.place(t, "sx", s)
