"""K08, K12: the live tracker's split walk, compiled against the reference.

The live tracker measures many sessions in one walk and keeps each
session's response-time samples and counts apart (``Measure(split=True)``).
Both KPI kernels walk that way; on random days (seq numbers, bot messages,
switches, hand-overs and releases, ends, windows closing mid-wait, days
across local midnight, both before-window policies, live ``as_of``,
excluded buyers) every count, unit and per-session sample of the compiled
walk equals the reference's, and each session's share adds up to the
whole-day walk's.
"""

from __future__ import annotations

import gc
import importlib
import weakref
from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import SH, tracker_on
from kpi_strategies import OPTIONS, WINDOWS, shop_day
from test_kpi_kernel import SHIFTS, _on, _shifted, _walked

from kefu.kpi import LiveTracker, Message, Sender, Window, kernel
from kefu.kpi.clocks import MET, MISSED
from kefu.kpi.live_measure import CompiledLiveMeasure, LiveMeasure, LiveUnit
from kefu.kpi.measure import Measure, Samples
from kefu.kpi.options import Options, make_options
from kefu.kpi.results import EXCLUDED_CODE, Status, Unit
from kefu.kpi.timeline import Timeline, build_timeline
from kefu.kpi.window import Calendar

_CODES = {Status.MET: MET, Status.MISSED: MISSED, Status.EXCLUDED: EXCLUDED_CODE}


@pytest.fixture(autouse=True, scope="module")
def _need_compiled() -> None:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")


def _plain(s: Samples) -> tuple[list[float], ...]:
    return tuple(getattr(s, name).tolist() for name in Samples.__slots__)


def _split(m: Measure) -> dict[int, tuple[object, ...]]:
    """Each session's samples and counts, as plain values."""
    assert m.split is not None
    return {j: (_plain(shop), {a: _plain(s) for a, s in agents.items()}, list(agents),
                unanswered, dropped)
            for j, (shop, agents, unanswered, dropped) in m.split.items()}


@given(shop_day(), OPTIONS, WINDOWS, SHIFTS, st.sampled_from([frozenset(), frozenset({"b1"})]))
def test_K08_K12_compiled_split_walk_equals_the_reference(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None, shift: float,
        excluded: frozenset[str]) -> None:
    rec = _shifted(rec, shift)
    as_of = None if opts["as_of"] is None else opts["as_of"] + shift
    options = make_options(day=None, tz=SH, window=window, as_of=as_of,
                           before_window=opts["before_window"], excluded_buyers=excluded,
                           detail=True)
    tl = build_timeline(rec["messages"], rec["handovers"], rec["releases"], rec["requests"],
                        options.as_of, ends=rec["ends"], threshold=options.threshold)
    cal = options.calendar(tl.first, tl.last)

    def walk(split: bool) -> Measure:
        return Measure(tl, options, cal, split=split)

    ran: list[object] = []  # what the compiled walk answered: True, it walked
    compiled = kernel.compiled

    def spy(name: str) -> Any:
        fn = compiled(name)
        return (lambda *args: ran.append(fn(*args)) or ran[-1]) if name == "walk" else fn

    kernel.compiled = spy  # type: ignore[assignment]
    try:
        split = {name: _on(name, lambda: walk(True)) for name in ("c", "py")}
    finally:
        kernel.compiled = compiled  # type: ignore[assignment]
    assert ran == [True]
    assert _split(split["c"]) == _split(split["py"])
    counts = {name: (_walked(m)[:4], m.unanswered, m.dropped, m.waiting)
              for name, m in split.items()}
    assert counts["c"] == counts["py"]
    # Each session's share: together, the whole walk's samples and counts.
    whole = _on("py", lambda: walk(False))
    parts = split["py"].split
    assert parts is not None
    assert sum(p[2] for p in parts.values()) == whole.unanswered
    assert sum(p[3] for p in parts.values()) == whole.dropped
    for name in Samples.__slots__:
        together = sorted(x for p in parts.values() for x in getattr(p[0], name))
        assert together == sorted(getattr(whole.shop_samples, name))


def _day_over(rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None,
              excluded: frozenset[str]) -> tuple[Timeline, Options, Calendar]:
    """A drawn day's timeline, options and calendar, measured as if the day were over
    (as the tracker does)."""
    options = make_options(day=None, tz=SH, window=window,
                           before_window=opts["before_window"], excluded_buyers=excluded,
                           detail=True)
    tl = build_timeline(rec["messages"], rec["handovers"], rec["releases"], rec["requests"],
                        options.as_of, ends=rec["ends"], threshold=options.threshold)
    return tl, options, options.calendar(tl.first, tl.last)


def _as_live(u: Unit) -> LiveUnit:
    """A pure walk's Unit as the tracker keeps it (``live_measure.LiveUnit``)."""
    code = _CODES[u.status]
    return (u.start, code, code == MISSED and u.end is None, u.day, u.group, u.agent_id,
            u.reason, u.buyer_id)


@given(shop_day(), OPTIONS, WINDOWS, st.sampled_from([frozenset(), frozenset({"b1"})]))
def test_K12_the_trackers_walk_keeps_the_units_of_the_pure_walk(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None,
        excluded: frozenset[str]) -> None:
    """The tracker's walk (LiveMeasure) keeps, per session, each unit the pure walk makes,
    with the same values, in the same order: FIRST and ANY per session-day, then the
    agent units, on both kernels, the day measured as if over (as the tracker does)."""
    tl, options, cal = _day_over(rec, opts, window, excluded)
    pure = Measure(tl, options, cal, split=True)
    first, anyb = pure.session_tallies
    expected: dict[str, tuple[list[LiveUnit], list[LiveUnit]]] = {}
    for f, a in zip(first.units or (), anyb.units or (), strict=True):
        expected.setdefault(f.session_id, ([], []))[0].extend((_as_live(f), _as_live(a)))
    for agent in sorted(pure.agent_tallies):  # a session's agent units, agent by agent
        for u in pure.agent_tallies[agent].units or ():
            expected.setdefault(u.session_id, ([], []))[1].append(_as_live(u))
    for name in ("c", "py"):
        live = _on(name, lambda: LiveMeasure(tl, options, cal, split=True))
        got = {sid: (shop, sorted(agents, key=lambda u: u[5] or ""))
               for sid, (shop, agents) in live.by_session.items()}
        assert got == {sid: (shop, sorted(agents, key=lambda u: u[5] or ""))
                       for sid, (shop, agents) in expected.items()}
        assert _split(live) == _split(pure)


def test_K08_K12_the_live_walks_samples_take_values_as_samples_do() -> None:
    """The compiled walk keeps a live session's samples in ``_live_c.LiveSamples`` (its
    columns made on first use): never asked for, each column reads empty; filled
    through the same methods, the same values as ``measure.Samples``, column by
    column, including the ones past a window's close."""
    live_samples = importlib.import_module("kefu.kpi._live_c").LiveSamples
    assert _plain(live_samples()) == _plain(Samples())
    live, ref = live_samples(), Samples()
    for s in (live, ref):
        s.add_run(array("d", [3.0, 4.0, 5.0]), 1, [2.0, 1.0])
        s.add_run(array("d", [9.0]), 0, [8.5])
        s.add_one(7.0, None, True)
        s.add_one(8.0, 6.0, False)
        s.rep.append(1.5)
    assert _plain(live) == _plain(ref)
    assert live.rep is live.rep  # made once, then the same column


def _typed(by_session: dict[str, tuple[list[LiveUnit], list[LiveUnit]]]) -> list[Any]:
    """A walk's units by session, in order, each value with its type, and whether each
    session-day's ANY unit is its FIRST unit itself (the tracker shares it)."""
    def unit(u: LiveUnit) -> tuple[Any, ...]:
        return tuple((type(v), v) for v in u)

    return [(sid, [unit(u) for u in shop], [shop[k + 1] is shop[k]
                                            for k in range(0, len(shop), 2)],
             [unit(u) for u in agents]) for sid, (shop, agents) in by_session.items()]


@given(shop_day(), OPTIONS, WINDOWS, st.sampled_from([frozenset(), frozenset({"b1"})]))
def test_K12_the_compiled_unit_hooks_make_the_units_of_the_reference_hooks(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None,
        excluded: frozenset[str]) -> None:
    """The tracker's compiled walk (CompiledLiveMeasure: its unit hooks in C) makes the
    very units of the reference hooks, in the same order, values of the same types,
    on both kernels' walks."""
    tl, options, cal = _day_over(rec, opts, window, excluded)
    assert CompiledLiveMeasure._session_unit is not LiveMeasure._session_unit
    for name in ("c", "py"):
        ref = _on(name, lambda: LiveMeasure(tl, options, cal, split=True))
        mine = _on(name, lambda: CompiledLiveMeasure(tl, options, cal, split=True))
        assert _typed(mine.by_session) == _typed(ref.by_session)
        assert _split(mine) == _split(ref)


def test_K12_a_walks_message_list_is_kept_from_the_collector_only_when_all_messages() -> None:
    """A walk's list of its sessions' messages is out of the garbage collector's sight
    (no cycle can pass through messages) when every item is an exact Message, and
    left to it otherwise; the tracker's figures are those of a tracker that walks
    with the list tracked."""
    untrack = importlib.import_module("kefu.kpi._live_c").untrack_messages
    base = 1_794_355_200.0  # 2026-11-11, Asia/Shanghai
    msgs = [Message("s1", "b1", base + k, Sender.BUYER if k % 2 else Sender.AGENT, f"m{k}",
                    agent_id=None if k % 2 else "a1") for k in range(6)]
    mine = list(msgs)
    assert gc.is_tracked(mine) and untrack(mine) is True and not gc.is_tracked(mine)
    mixed = [*msgs, {"not": "a message"}]
    assert untrack(mixed) is False and gc.is_tracked(mixed)
    assert untrack([]) is True  # nothing in it

    tracked = LiveTracker(tz="Asia/Shanghai")
    tracked._untrack_messages = None  # the walk's list left to the collector
    untracked = LiveTracker(tz="Asia/Shanghai")
    for m in msgs:
        tracked.add(m)
        untracked.add(m)
    gc.collect()
    assert tracked.shop(base + 600) == untracked.shop(base + 600)
    assert dict(tracked.agents(base + 600)) == dict(untracked.agents(base + 600))


def test_K12_a_compiled_sessions_message_list_is_kept_from_the_collector() -> None:
    """A compiled session's list of its messages is out of the garbage collector's sight
    from the start (the feed puts only exact, checked messages in it), yet holds them
    as any list does: a message the caller let go of stays, the figures are those of
    the reference tracker (its session's list tracked), after a full collection."""
    base = 1_794_355_200.0  # 2026-11-11, Asia/Shanghai
    reference, compiled = tracker_on("py"), tracker_on("c")
    kept = []
    for k in range(6):
        m = Message("s1", "b1", base + 40 * k, Sender.AGENT if k % 2 else Sender.BUYER,
                    f"m{k}", agent_id="a1" if k % 2 else None)
        compiled.add(m)
        reference.add(m)
        kept.append(weakref.ref(m))
    del m
    session = compiled._sessions["s1"]
    assert type(session) is importlib.import_module("kefu.kpi._live_c").Session
    assert not gc.is_tracked(session.messages)
    assert gc.is_tracked(reference._sessions["s1"].messages)
    gc.collect()
    assert all(r() is not None for r in kept)  # held by the untracked list
    assert [m.message_id for m in session.messages] == [f"m{k}" for k in range(6)]
    assert compiled.shop(base + 600) == reference.shop(base + 600)
    assert dict(compiled.agents(base + 600)) == dict(reference.agents(base + 600))
