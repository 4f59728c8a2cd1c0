"""Service figures (K13): service level, speed of answer, abandonment, transfers.

Worked examples are figured by hand; the property checks the library against
a small recomputation built on ``kpi_reference.Reference`` (which rebuilds
every session's waits, stretches and K02 facts the slow way).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import zoneinfo
from array import array
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import DAY, SH, agent, at, buyer, hand, other, switch
from kpi_reference import Reference
from kpi_strategies import BASE, OPTIONS, WINDOWS, sessions

from kefu import kpi
from kefu.events import Assigned, Closed, Opened
from kefu.kpi import (
    AgentStatus,
    ContactOutcome,
    Durations,
    InvalidThreshold,
    Ratio,
    Release,
    Sender,
    ServiceFigures,
    SessionEnd,
    Window,
    kernel,
)
from kefu.kpi.results import NO_ISSUES

INF = math.inf


def day_records() -> dict[str, list[Any]]:
    """The K13 worked example of docs/kpi.md plus a bot session and a switch (2026-11-11).

    s1 10:00, alice takes it at 10:00:30 (presale): answered, 30 s.
    s2 10:10, bob takes it at 10:14 (aftersale), transfers it to alice at 10:20: 240 s.
    s3 10:20, the buyer leaves at 10:20:03: abandoned after 3 s (short).
    s4 11:00, leaves at 11:02: abandoned after 120 s.
    s5 11:30: nobody, not ended: still waiting.
    s6 12:00, the bot answers at 12:00:05, no switch: not a contact.
    s7 12:30, the bot, switch at 12:31, carol takes it at 12:33: answered, 120 s.
    """
    return {
        "messages": [
            buyer(at(10), "s1", "b1"), agent(at(10, 1), "s1", "b1", "alice"),
            buyer(at(10, 10), "s2", "b2"), agent(at(10, 15), "s2", "b2", "bob"),
            buyer(at(10, 20), "s3", "b3"),
            buyer(at(11), "s4", "b4"),
            buyer(at(11, 30), "s5", "b5"),
            buyer(at(12), "s6", "b6"), other(at(12, 0, 5), Sender.BOT, "s6", "b6"),
            buyer(at(12, 30), "s7", "b7"), other(at(12, 30, 5), Sender.BOT, "s7", "b7"),
        ],
        "handovers": [
            hand(at(10, 0, 30), "alice", "s1", "b1", "presale"),
            hand(at(10, 14), "bob", "s2", "b2", "aftersale"),
            hand(at(10, 20), "alice", "s2", "b2", "aftersale"),
            hand(at(12, 33), "carol", "s7", "b7"),
        ],
        "requests": [switch(at(12, 31), "s7", "b7")],
        "ends": [SessionEnd("s3", at(10, 20, 3)), SessionEnd("s4", at(11, 2)),
                 SessionEnd("s1", at(10, 30))],
    }


def figures(rec: dict[str, list[Any]], **kw: Any) -> kpi.ServiceReport:
    return kpi.service_figures(rec["messages"], rec.get("handovers", ()),
                               requests=rec.get("requests", ()),
                               releases=rec.get("releases", ()), ends=rec.get("ends", ()),
                               **{"day": DAY, **kw})


def counts(f: ServiceFigures) -> tuple[int, int, int, int, int, int, int]:
    """(offered, answered, within, abandoned, short, waiting, transfers)."""
    return (f.offered, f.answered, f.answered_within, f.abandoned, f.short_abandoned,
            f.waiting, f.transfers)


def test_K13_worked_example_service_level_speed_of_answer_abandonment() -> None:
    r = figures(day_records())
    assert counts(r) == (6, 3, 2, 2, 1, 1, 1)
    assert r.service_level == Ratio(2, 6)
    assert r.service_level_excluding_short == Ratio(2, 5)
    assert r.service_level_excluding_short.value == 0.4
    assert r.abandonment == Ratio(2, 6)
    assert r.transfers_per_session == Ratio(1, 3)
    assert r.speed_of_answer == Durations(3, 130.0, 120.0, 240.0)  # 30, 120, 240 s
    assert r.time_to_abandon == Durations(2, 61.5, 61.5, 120.0)  # 3 and 120 s
    assert r.excluded == 0 and r.quality == NO_ISSUES


def test_K13_breakdowns_by_agent_group_hour_and_day() -> None:
    r = figures(day_records())
    # The agent who took the contact first: s2 is bob's although alice finished it.
    assert {a: counts(f) for a, f in r.by_agent.items()} == {
        "alice": (1, 1, 1, 0, 0, 0, 0),
        "bob": (1, 1, 0, 0, 0, 0, 1),
        "carol": (1, 1, 1, 0, 0, 0, 0),
    }
    assert r.by_agent["bob"].speed_of_answer.mean == 240.0
    # Unanswered contacts have no group here (no hand-over named one), nor agent.
    assert {g: counts(f) for g, f in r.by_group.items()} == {
        None: (4, 1, 1, 2, 1, 1, 0),
        "aftersale": (1, 1, 0, 0, 0, 0, 1),
        "presale": (1, 1, 1, 0, 0, 0, 0),
    }
    assert list(r.by_group) == [None, "aftersale", "presale"]
    assert {h: counts(f) for h, f in r.by_hour.items()} == {
        (DAY, 10): (3, 2, 1, 1, 1, 0, 1),
        (DAY, 11): (2, 0, 0, 1, 0, 1, 0),
        (DAY, 12): (1, 1, 1, 0, 0, 0, 0),
    }
    assert r.by_hour[(DAY, 11)].service_level.value == 0.0
    assert r.by_hour[(DAY, 11)].time_to_abandon.mean == 120.0
    assert {d: counts(f) for d, f in r.by_day.items()} == {DAY: counts(r)}
    # The parts add up to the whole.
    for parts in (r.by_group, r.by_hour):
        assert sum(f.offered for f in parts.values()) == r.offered
        assert sum(f.answered_within for f in parts.values()) == r.answered_within


def test_K13_live_figures_count_only_what_has_happened() -> None:
    rec = day_records()
    # 10:12: s1 answered; s2 waits for bob (he takes it at 10:14); the rest has not begun.
    r = figures(rec, as_of=at(10, 12))
    assert counts(r) == (2, 1, 1, 0, 0, 1, 0)
    assert r.service_level == Ratio(1, 2)
    # 10:20:01: s3 has not left yet (10:20:03): waiting; s2's transfer at 10:20 has happened.
    r = figures(rec, as_of=at(10, 20, 1))
    assert counts(r) == (3, 2, 1, 0, 0, 1, 1)
    r = figures(rec, as_of=at(10, 20, 3))
    assert counts(r) == (3, 2, 1, 1, 1, 0, 1)
    assert r.time_to_abandon.mean == 3.0


def test_K13_answer_target_and_short_abandon_limits() -> None:
    rec = day_records()
    r = figures(rec, answer_within=60)
    assert r.answer_within == 60.0 and r.service_level == Ratio(1, 6)  # only s1's 30 s
    assert figures(rec, answer_within=240).service_level == Ratio(3, 6)  # inclusive
    # The default target is the threshold.
    assert figures(rec, threshold=120).service_level == Ratio(2, 6)
    assert figures(rec, threshold=119).service_level == Ratio(1, 6)
    r = figures(rec, short_abandon=0)
    assert r.short_abandoned == 0 and r.service_level_excluding_short == Ratio(2, 6)
    r = figures(rec, short_abandon=120.5)
    assert r.short_abandoned == 2 and r.service_level_excluding_short == Ratio(2, 4)
    # "Under" the limit: a buyer who left after exactly 3 s is not short with a 3 s limit.
    assert figures(rec, short_abandon=3).short_abandoned == 0


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("answer_within", 0, "0"), ("answer_within", -1.0, "-1.0"), ("answer_within", "60", "'60'"),
    ("short_abandon", -1, "-1"), ("short_abandon", math.nan, "nan"),
    ("short_abandon", True, "True"),
])
def test_K13_bad_limits_are_refused(name: str, value: object, shown: str) -> None:
    with pytest.raises(InvalidThreshold) as err:
        figures(day_records(), **{name: value})
    assert str(err.value).startswith(f"{name} must be a finite number")
    assert str(err.value).endswith(f"(seconds), got {shown}")


def test_K13_excluded_buyers_are_left_out_and_counted() -> None:
    r = figures(day_records(), excluded_buyers={"b3": "malicious", "b2": "test"})
    assert counts(r) == (4, 2, 2, 1, 0, 1, 0)
    assert r.excluded == 2 and r.excluded_by == {"malicious": 1, "test": 1}
    assert r.service_level == Ratio(2, 4)
    assert r.speed_of_answer == Durations(2, 75.0, 75.0, 120.0)
    assert r.by_agent["bob"].excluded == 1 and r.by_agent["bob"].offered == 0


def test_K13_window_edges_and_the_before_window_policy() -> None:
    rec = {
        "messages": [
            buyer(at(7, 59), "early", "e1"),  # waits past the opening; bob at 08:02
            buyer(at(7, 58), "gone", "e2"),  # left at 07:59, before the opening
            buyer(at(7, 59), "quick", "e3"),  # taken at 07:59:30, before the opening
            buyer(at(7, 59), "sharp", "e6"),  # taken at 08:00:00 sharp: a 0 s wait
            buyer(at(22, 59, 59), "late", "e4"),  # the last second of the window
            buyer(at(23), "closed", "e5"),  # 23:00:00 is out
        ],
        "handovers": [hand(at(8, 2), "bob", "early", "e1"),
                      hand(at(7, 59, 30), "bob", "quick", "e3"),
                      hand(at(8), "bob", "sharp", "e6"),
                      hand(at(23, 1), "bob", "late", "e4"),
                      hand(at(23, 1), "bob", "closed", "e5")],
        "ends": [SessionEnd("gone", at(7, 59))],
    }
    r = figures(rec)
    assert counts(r) == (1, 1, 1, 0, 0, 0, 0)
    assert list(r.by_hour) == [(DAY, 22)] and r.speed_of_answer.mean == 61.0
    r = figures(rec, before_window="open", detail=True)
    assert counts(r) == (3, 3, 3, 0, 0, 0, 0)
    assert [(c.session_id, c.start, c.hour, c.wait) for c in r.contacts[:2]] == [
        ("early", at(8), 8, 120.0), ("sharp", at(8), 8, 0.0)]
    assert list(r.by_hour) == [(DAY, 8), (DAY, 22)]
    # Under OPEN the clock starts at the opening only once it has happened.
    assert figures(rec, before_window="open", as_of=at(7, 59, 59)).offered == 0


def test_K13_hours_are_local_on_a_daylight_saving_day() -> None:
    ny = zoneinfo.ZoneInfo("America/New_York")
    day = dt.date(2026, 11, 1)  # 25 hours: 01:00-02:00 happens twice
    first_130 = dt.datetime(2026, 11, 1, 1, 30, tzinfo=ny).timestamp()
    second_130 = first_130 + 3600
    late = dt.datetime(2026, 11, 1, 23, 30, tzinfo=ny).timestamp()
    assert dt.datetime.fromtimestamp(second_130, ny).hour == 1
    rec = {"messages": [buyer(first_130, "a", "x1"), buyer(second_130, "b", "x2"),
                        buyer(late, "c", "x3")],
           "ends": [SessionEnd("a", first_130 + 10), SessionEnd("c", late + 60)]}
    r = figures(rec, day=day, tz=ny, window=Window.whole_day())
    assert {h: counts(f) for h, f in r.by_hour.items()} == {
        (day, 1): (2, 0, 0, 1, 0, 1, 0),
        (day, 23): (1, 0, 0, 1, 0, 0, 0),
    }
    assert r.time_to_abandon == Durations(2, 35.0, 35.0, 60.0)


def test_K13_the_bot_and_the_switch_decide_who_is_in_human_service() -> None:
    rec = {
        "messages": [
            buyer(at(9), "bot", "c1"), other(at(9, 0, 30), Sender.BOT, "bot", "c1"),
            buyer(at(9), "slowbot", "c2"), other(at(9, 3, 1), Sender.BOT, "slowbot", "c2"),
            buyer(at(9), "botagent", "c3"), other(at(9, 0, 10), Sender.BOT, "botagent", "c3"),
            buyer(at(9), "tiebot", "c4"), other(at(9, 3), Sender.BOT, "tiebot", "c4"),
        ],
        "handovers": [hand(at(9, 5), "dan", "botagent", "c3")],
        "ends": [SessionEnd("bot", at(9, 10)), SessionEnd("slowbot", at(9, 10))],
    }
    r = figures(rec, detail=True)
    # The bot took "bot" and "tiebot" (wrote within 180 s, inclusive; no agent): no
    # contact. It was too slow for "slowbot": the buyer was waiting for a human and gave
    # up after 600 s. "botagent" reached an agent: a contact clocked from the buyer's message.
    assert [(c.session_id, c.outcome, c.wait) for c in r.contacts] == [
        ("botagent", ContactOutcome.ANSWERED, 300.0),
        ("slowbot", ContactOutcome.ABANDONED, 600.0),
    ]


def test_K13_transfers_are_hand_overs_while_held_to_another_agent() -> None:
    rec = {
        "messages": [buyer(at(9), "t", "b1"), agent(at(9, 1), "t", "b1", "ann")],
        "handovers": [
            hand(at(9, 0, 30), "ann", "t"),
            hand(at(9, 2), "ben", "t"),  # a transfer
            hand(at(9, 3), "ben", "t"),  # to the agent who holds it: nothing moves
            hand(at(9, 6), "cid", "t"),  # requeued at 09:05 first: not held, no transfer
            hand(at(9, 7), "dee", "t"),  # a reassignment
        ],
        "releases": [Release("t", "ben", at(9, 5))],
    }
    r = figures(rec)
    assert r.transfers == 2 and r.transfers_per_session == Ratio(2, 1)
    assert list(r.by_agent) == ["ann"]


def test_K13_contacts_in_detail_and_ratios_over_nothing() -> None:
    r = figures(day_records(), detail=True)
    assert [(c.session_id, c.outcome.value, c.wait, c.agent_id) for c in r.contacts] == [
        ("s1", "answered", 30.0, "alice"), ("s2", "answered", 240.0, "bob"),
        ("s3", "abandoned", 3.0, None), ("s4", "abandoned", 120.0, None),
        ("s5", "waiting", None, None), ("s7", "answered", 120.0, "carol"),
    ]
    empty = kpi.service_figures([], day=DAY)
    assert empty.offered == 0 and empty.service_level.value is None
    assert empty.abandonment == Ratio(0, 0) and empty.speed_of_answer == Durations()
    assert Ratio(0, 3).value == 0.0


def test_K13_daily_report_carries_the_service_figures() -> None:
    rec = day_records()
    report = kpi.daily_report(rec["messages"], rec["handovers"], requests=rec["requests"],
                              ends=rec["ends"], day=DAY, threshold=120)
    assert report.service == figures(rec, threshold=120)
    assert report.service.answer_within == 120.0 and report.service.short_abandon == 5.0
    # Old constructions (without ``service``) still work.
    old = attrs.evolve(report)
    fields = {f.name: getattr(old, f.name) for f in attrs.fields(kpi.DailyReport)
              if f.name != "service"}
    assert kpi.DailyReport(**fields).service.offered == 0


# The property: against a recomputation from kpi_reference ------------------------------


def reference_figures(rec: dict[str, list[Any]], opts: dict[str, Any],
                      window: Window | None) -> dict[Any, tuple[Any, ...]]:
    """Figures per key (None: the shop; ("agent", a), ("group", g), ("hour", h)),
    recomputed contact by contact from the reference's sessions."""
    ref = Reference(rec["messages"], rec["handovers"], rec["releases"], rec["requests"],
                    ends=rec["ends"], day=DAY, tz=SH, window=window or Window.default(),
                    threshold=180.0, as_of=opts["as_of"], warn_after=100.0,
                    before_window=opts["before_window"], excluded=frozenset({"b1"}))
    out: dict[Any, list[Any]] = {}
    for s in ref.sessions.values():
        if not s["waits"]:
            continue
        c = max(s["waits"][0][0], s["human"])
        if s["reached"] == INF and s["bot_at"] - c <= 180.0:
            continue
        placed = None
        for o, close, counted in ref.windows:
            if o <= c < close:
                placed = c if counted else None
                break
        else:
            if ref.open_policy:
                o, _close, counted = next(w for w in ref.windows if w[0] > c)
                if counted and s["reached"] >= o and s["ended"] >= o and o <= ref.A:
                    placed = o
        if placed is None:
            continue
        c = placed
        stretches = s["stretches"]
        who = None
        if s["reached"] != INF and s["reached"] <= s["ended"]:
            who = stretches[0][0] if stretches else (
                s["waits"][0][2] if s["waits"][0][1] != INF else None)
        moved = 0 if who is None else sum(1 for a, b in itertools.pairwise(stretches)
                                          if a[3] == b[2] and a[0] != b[0])
        keys = [None, ("group", stretches[0][1] if stretches else None),
                ("hour", dt.datetime.fromtimestamp(c, SH).hour)]
        if who is not None:
            keys.append(("agent", who))
        for key in keys:
            f = out.setdefault(key, [0, 0, 0, 0, 0, 0, 0, 0, [], []])
            if s["buyer"] == "b1":
                f[7] += 1
            elif s["reached"] != INF and s["reached"] <= s["ended"]:
                wait = max(0.0, s["reached"] - c)
                f[0] += 1
                f[1] += 1
                f[2] += wait <= 180.0
                f[8].append(wait)
                f[6] += moved
            elif s["ended"] != INF:
                gave_up = max(0.0, s["ended"] - c)
                f[0] += 1
                f[3] += 1
                f[4] += gave_up < 5.0
                f[9].append(gave_up)
            else:
                f[0] += 1
                f[5] += 1
    return {k: (*v[:8], Durations.of(v[8]), Durations.of(v[9])) for k, v in out.items()}


def library_figures(r: kpi.ServiceReport) -> dict[Any, tuple[Any, ...]]:
    def row(f: ServiceFigures) -> tuple[Any, ...]:
        return (*counts(f)[:1], f.answered, f.answered_within, f.abandoned, f.short_abandoned,
                f.waiting, f.transfers, f.excluded, f.speed_of_answer, f.time_to_abandon)
    out: dict[Any, tuple[Any, ...]] = {None: row(r)} if r.offered + r.excluded else {}
    out.update({("agent", a): row(f) for a, f in r.by_agent.items()})
    out.update({("group", g): row(f) for g, f in r.by_group.items()})
    out.update({("hour", h): row(f) for (_d, h), f in r.by_hour.items()})
    return out


@given(sessions(), OPTIONS, WINDOWS)
def test_K13_figures_match_a_recomputation_contact_by_contact(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None) -> None:
    r = figures(rec, window=window, as_of=opts["as_of"], before_window=opts["before_window"],
                excluded_buyers={"b1"})
    assert library_figures(r) == reference_figures(rec, opts, window)
    assert r.offered == r.answered + r.abandoned + r.waiting
    assert set(r.by_day) <= {DAY}


@given(sessions(), OPTIONS, st.randoms(use_true_random=False))
def test_K13_permuting_or_duplicating_records_changes_nothing(
        rec: dict[str, list[Any]], opts: dict[str, Any], rnd: random.Random) -> None:
    kw = {"as_of": opts["as_of"], "before_window": opts["before_window"], "detail": True}
    before = figures(rec, **kw)
    mixed: dict[str, list[Any]] = {}
    for name, items in rec.items():
        items = items + rnd.sample(items, k=rnd.randint(0, len(items)))
        rnd.shuffle(items)
        mixed[name] = items
    after = figures(mixed, **kw)
    assert attrs.evolve(after, quality=NO_ISSUES) == attrs.evolve(before, quality=NO_ISSUES)


@given(sessions(), st.integers(0, 1800))
def test_K13_live_counts_only_grow_into_later_outcomes(rec: dict[str, list[Any]],
                                                       step: int) -> None:
    """A contact answered or abandoned at as_of stays so later; offered never shrinks.

    Without switches and bot messages: K02 lets those decide afterwards that a
    session was not in human service yet (a switch moves its clock, a bot that
    writes before the threshold passes takes it).
    """
    rec = {**rec, "requests": [],
           "messages": [m for m in rec["messages"] if m.sender is not Sender.BOT]}
    early = figures(rec, as_of=BASE + step, detail=True)
    late = figures(rec, as_of=BASE + step + 60, detail=True)
    assert late.offered >= early.offered
    settled = {c.session_id: c.outcome for c in early.contacts
               if c.outcome is not ContactOutcome.WAITING}
    assert {c.session_id: c.outcome for c in late.contacts
            if c.session_id in settled} == settled


# A simulated day ------------------------------------------------------------------------


def test_K13_on_a_simulated_day_abandonment_matches_the_simulator() -> None:
    from kefu.sim import Dist, ShopPlan, SimConfig, Workload, simulate
    from kefu.sim.workload import Profile

    minutes = 90
    cfg = SimConfig(
        workload=Workload(profile=Profile("k13", (0.0,) * 600 + (5.0,) * minutes),
                          patience=Dist.exp(90), bot_share=0.3, agent_close=1.0,
                          groups=(("pre", 0.5), ("post", 0.5))),
        shop=ShopPlan(agents=3, cap=5, auto_close=300.0), seed=13)
    result = simulate(cfg, engine="py")
    recs = kpi.from_events(result.events, result.messages)
    r = kpi.service_figures(recs.messages, recs.handovers, requests=result.requests,
                            releases=recs.releases, ends=recs.ends, tz=cfg.tz,
                            window=Window.whole_day())
    assert r.offered == r.answered + r.abandoned + r.waiting
    assert result.abandoned > 20 and r.answered > 100  # both outcomes well represented
    assert r.abandoned == result.abandoned
    assert r.offered == result.sessions  # every session the Assigner saw reached human service
    assert r.waiting == result.unserved
    # The simulator's own pool waits of the buyers who were served.
    waits = sorted(w for w, gave_up in zip(result.log.wait, result.log.abandoned, strict=True)
                   if w == w and not gave_up)
    assert r.speed_of_answer.count == len(waits)
    assert r.speed_of_answer.mean == pytest.approx(sum(waits) / len(waits))
    # A group is known from a hand-over, or for buyers nobody took from their session's
    # end (K13: abandonment per group), recounted here from the Assigner's events.
    group_of: dict[str, str | None] = {}
    taken: set[str] = set()
    gave_up: dict[str | None, int] = {}
    for ev in result.events:
        if isinstance(ev, Opened):
            group_of[ev.session_id] = ev.group
        elif isinstance(ev, Assigned):
            taken.add(ev.session_id)
        elif isinstance(ev, Closed) and ev.session_id not in taken:
            group = group_of[ev.session_id]
            gave_up[group] = gave_up.get(group, 0) + 1
    assert set(gave_up) == {"pre", "post"}
    assert {g: r.by_group[g].abandoned for g in gave_up} == gave_up
    assert r.by_group["pre"].answered + r.by_group["post"].answered == r.answered
    assert r.by_group.get(None, ServiceFigures()).abandoned == 0


# Occupancy and concurrency (part of K13) ------------------------------------------------


def on(t: float, name: str, online: bool = True) -> AgentStatus:
    return AgentStatus(name, t, online)


def load_records() -> dict[str, list[Any]]:
    """alice on line 09:00-10:00 holds s1 09:10-09:30 and s2 09:20-09:40; bob comes on
    line at 07:30 and stays, takes s3 at 22:50 and never lets go; carol on line
    09:00-09:10 holds s4 09:05-09:20; dan holds s5 but sends no status."""
    return {
        "messages": [buyer(at(9, 10), "s1", "b1"), buyer(at(9, 20), "s2", "b2"),
                     buyer(at(22, 50), "s3", "b3"), buyer(at(9, 5), "s4", "b4"),
                     buyer(at(9), "s5", "b5")],
        "handovers": [hand(at(9, 10), "alice", "s1", "b1"), hand(at(9, 20), "alice", "s2", "b2"),
                      hand(at(22, 50), "bob", "s3", "b3"), hand(at(9, 5), "carol", "s4", "b4"),
                      hand(at(9), "dan", "s5", "b5")],
        "releases": [Release("s1", "alice", at(9, 30)), Release("s2", "alice", at(9, 40)),
                     Release("s4", "carol", at(9, 20))],
        "statuses": [on(at(9), "alice"), on(at(10), "alice", False), on(at(7, 30), "bob"),
                     on(at(9), "carol"), on(at(9, 10), "carol", False)],
    }


def loads(r: kpi.ServiceReport) -> dict[str | None, tuple[Any, Any]]:
    out: dict[str | None, tuple[Any, Any]] = {None: (r.occupancy, r.mean_concurrency)}
    out.update({a: (f.occupancy, f.mean_concurrency) for a, f in r.by_agent.items()})
    return out


def test_K13_occupancy_and_mean_concurrency_over_on_line_time() -> None:
    rec = load_records()
    r = figures(rec, statuses=rec["statuses"])
    assert loads(r) == {
        # 09:10-09:40 busy of 1 h on line; 2 x 20 min held.
        "alice": (Ratio(1800.0, 3600.0), Ratio(2400.0, 3600.0)),
        # On line from the 08:00 opening to the 23:00 close; s3 held 22:50-23:00.
        "bob": (Ratio(600.0, 54000.0), Ratio(600.0, 54000.0)),
        # Off line at 09:10: only 09:05-09:10 of s4 is on-line time.
        "carol": (Ratio(300.0, 600.0), Ratio(300.0, 600.0)),
        "dan": (None, None),  # no status records
        None: (Ratio(2700.0, 58200.0), Ratio(3300.0, 58200.0)),
    }
    assert r.by_agent["alice"].mean_concurrency.value == pytest.approx(2 / 3)  # type: ignore[union-attr]


def test_K13_occupancy_live_and_without_status_records() -> None:
    rec = load_records()
    r = figures(rec, statuses=rec["statuses"], as_of=at(9, 25))
    assert loads(r) == {
        "alice": (Ratio(900.0, 1500.0), Ratio(1200.0, 1500.0)),  # s1 15 min, s2 5 min
        "bob": (Ratio(0.0, 5100.0), Ratio(0.0, 5100.0)),  # on line 08:00-09:25, idle
        "carol": (Ratio(300.0, 600.0), Ratio(300.0, 600.0)),
        "dan": (None, None),
        None: (Ratio(1200.0, 7200.0), Ratio(1500.0, 7200.0)),
    }
    assert set(loads(figures(rec)).values()) == {(None, None)}


def test_K13_occupancy_edges_of_status_records() -> None:
    rec = {"messages": [buyer(at(9), "s1", "b1")], "handovers": [hand(at(9), "eve", "s1", "b1")],
           "releases": [Release("s1", "eve", at(9, 30))]}
    statuses = [
        on(at(8, 40), "eve", False),  # off line before ever being on: nothing
        on(at(8, 50), "eve"), on(at(8, 55), "eve"),  # on twice: on since 08:50
        on(at(9, 10), "eve"), on(at(9, 10), "eve", False),  # off and on at one instant: on
        on(at(9, 20), "eve", False), on(at(9, 20), "eve", False),  # a repeat is one record
    ]
    r = figures(rec, statuses=statuses, day=DAY)
    assert loads(r)["eve"] == (Ratio(1200.0, 1800.0), Ratio(1200.0, 1800.0))
    assert r.quality.duplicates == 1
    # Only time inside the window counts: on line 07:00-08:30 is 30 min on line.
    r = figures({"messages": []}, statuses=[on(at(7), "fay"), on(at(8, 30), "fay", False)],
                day=DAY)
    assert r.occupancy == Ratio(0.0, 1800.0) and r.offered == 0
    # An excluded buyer's session is not held time (K06).
    r = figures(rec, statuses=[on(at(9), "eve")], excluded_buyers={"b1"})
    assert r.occupancy == Ratio(0.0, 50400.0)


def test_K13_daily_report_takes_status_records() -> None:
    rec = load_records()
    report = kpi.daily_report(rec["messages"], rec["handovers"], releases=rec["releases"],
                              statuses=rec["statuses"], day=DAY)
    assert report.service == figures(rec, statuses=rec["statuses"])


@pytest.mark.parametrize(("make", "message"), [
    (lambda: AgentStatus("a", 1.0, 1), "AgentStatus.online must be a bool, got 1"),
    (lambda: AgentStatus(7, 1.0, True), "AgentStatus.agent_id must be a str, got 7"),
    (lambda: AgentStatus("a", -1.0, True), "AgentStatus.at must be POSIX seconds"),
    (lambda: AgentStatus("a", 1.0, True, seq=1.5), "AgentStatus.seq must be an int, got 1.5"),
])
def test_K13_bad_status_records_are_refused(make: Any, message: str) -> None:
    with pytest.raises(kpi.InvalidRecord) as err:
        make()
    assert str(err.value).startswith(message)


def test_K13_status_records_are_checked_when_read() -> None:
    bad = AgentStatus("a", at(9), True)
    object.__setattr__(bad, "online", "yes")
    with pytest.raises(kpi.InvalidRecord, match=r"^AgentStatus\.online must be a bool, got 'yes'"):
        kpi.service_figures([], statuses=[bad], day=DAY)
    with pytest.raises(kpi.InvalidRecord, match=r"expected a kefu\.kpi\.AgentStatus record"):
        kpi.service_figures([], statuses=[on(at(9), "a"), "online"], day=DAY)  # type: ignore[list-item]


def test_K13_a_buyer_who_gave_up_counts_in_the_group_their_session_end_names() -> None:
    """No hand-over names the group of a session nobody took; its SessionEnd may. A
    session an agent took keeps its hand-over's group whatever its end says."""
    t0 = at(10)
    msgs = [buyer(t0), buyer(t0 + 5, "s2", "b2"), agent(t0 + 20, "s2", "b2"),
            buyer(t0 + 9, "s3", "b3")]
    hands = [hand(t0 + 10, session="s2", who="b2", group="post")]
    ends = [SessionEnd("s1", t0 + 60, group="pre"), SessionEnd("s2", t0 + 90, group="pre"),
            SessionEnd("s3", t0 + 30)]
    r = kpi.service_figures(msgs, hands, ends=ends)
    assert (r.by_group["pre"].abandoned, r.by_group["pre"].answered) == (1, 0)
    assert (r.by_group["post"].answered, r.by_group["post"].abandoned) == (1, 0)
    assert r.by_group[None].abandoned == 1  # its end names no group
    shop = kpi.shop_reply_rate(msgs, hands, ends=ends)
    assert shop.by_group["pre"].missed == 1  # the same buyer's reply-rate unit
    with pytest.raises(kpi.InvalidRecord, match=r"SessionEnd\.group must be a str or None"):
        SessionEnd("s1", t0, group=5)  # type: ignore[arg-type]


def test_K11_K13_R28_a_refused_buyer_never_reached_an_agent_in_the_group_that_refused() -> None:
    """from_events reads the queue limits' events: an overflow moves a session to its new
    group, a refusal ends it at once (a short abandon, and missed once T has passed)."""
    from kefu import Assigner, ManualClock, QueueLimit

    t0 = at(10)
    clock = ManualClock(t0)
    shop = Assigner(clock, queue_limits={"pre": QueueLimit(max_waiting=0, overflow="post"),
                                         "post": QueueLimit(max_waiting=1)})
    shop.add_agent("alice", cap=1, online=True)
    events = [*shop.open_session("s1", "b1", "pre"),  # alice takes it
              *shop.open_session("s2", "b2", "pre"),  # overflows to post, waits there
              *shop.open_session("s3", "b3", "pre")]  # overflows, and post refuses it
    assert [type(e).__name__ for e in events].count("Rejected") == 1
    clock.advance(60)
    events += shop.close_session("s2")  # b2 gives up after a minute
    recs = kpi.from_events(events)
    assert {e.session_id: e.group for e in recs.ends} == {"s2": "post", "s3": "post"}
    r = kpi.service_figures(recs.messages, recs.handovers, ends=recs.ends)
    assert (r.offered, r.answered, r.abandoned, r.short_abandoned) == (3, 1, 2, 1)
    assert (r.by_group["post"].abandoned, r.by_group["pre"].answered) == (2, 1)
    shop_rate = kpi.shop_reply_rate(recs.messages, recs.handovers, ends=recs.ends)
    assert (shop_rate.missed, shop_rate.never_reached) == (3, 2)  # alice never wrote either


_DAYS = (dt.date(2026, 1, 1), dt.date(2026, 1, 2))
_DIMS = ((lambda k: 0, False), (lambda k: k[3], True), (lambda k: _DAYS[k[0]], False),
         (lambda k: (_DAYS[k[0]], k[1]), False), (lambda k: k[2], False))
_CONTACT = st.tuples(
    st.tuples(st.integers(0, 1), st.integers(0, 3), st.sampled_from([None, "g1", "g2"]),
              st.sampled_from([None, "a", "b"]), st.sampled_from([None, None, "vip"])),
    st.integers(0, 2),  # answered, abandoned, waiting
    st.sampled_from([0.0, -0.0, 0.5, 3.0, 180.0, 1e-9]) | st.floats(0, 1e4),
    st.integers(0, 2))


@given(st.lists(_CONTACT, max_size=60), st.booleans())
def test_K13_breakdowns_sorted_once_are_each_parts_own(contacts: list[Any],
                                                       with_int: bool) -> None:
    """The service breakdowns (shop, agent, day, hour, group) from one sort of every
    duration are what joining and sorting each part's own give: the same counts,
    exclusions and summaries, to the bit (a zero's sign in a median too); a duration
    that is an int sends every part to its own sort (an int median stays an int)."""
    from kefu.kpi.service import _Acc, _breakdowns, _parts

    accs: dict[Any, Any] = {}
    for key, code, wait, moved in contacts:
        acc = accs.setdefault(key, _Acc())
        acc.count(code, wait, moved, key[4], 180.0, 5.0)
    if with_int and accs:
        next(iter(accs.values())).waits.append(7)
    want = [_parts(accs, dim, drop) for dim, drop in _DIMS]
    got = _breakdowns(accs, _DIMS)  # the compiled kernel's breakdowns, or numpy's
    if (with_int and accs) or not accs:
        assert got is None
        return
    assert got is not None
    assert repr(got) == repr(want)


@pytest.mark.skipif("c" not in kernel.AVAILABLE, reason="the compiled kernel is not built")
def test_K13_compiled_breakdowns_refuse_what_they_cannot_read() -> None:
    """The compiled breakdowns give None (the reference then decides) for an int count or
    duration, and refuse parts that do not fit the accumulators; the accumulators are
    left as they were."""
    from kefu.kpi.service import _Acc

    breakdowns = kernel.compiled("breakdowns")
    acc = _Acc()
    acc.count(0, 2.0, 0, None, 180.0, 5.0)
    acc.count(1, 1.0, 0, None, 180.0, 5.0)
    got = breakdowns([acc], [[0], [-1]], [1, 1])
    assert repr(got) == repr([([[1, 1, 1, 1, 0, 0, 0]], [array("d", [2.0])],
                               [array("d", [1.0])]),
                              ([[0, 0, 0, 0, 0, 0, 0]], [array("d")], [array("d")])])
    before = (list(acc.counts), list(acc.waits), list(acc.abandons))
    acc.abandons.append(3)  # an int duration (times given as ints)
    assert breakdowns([acc], [[0]], [1]) is None
    acc.abandons.pop()
    acc.counts[0] = 1.0  # not an int count
    assert breakdowns([acc], [[0]], [1]) is None
    acc.counts[0] = 1
    for parts, sizes in (([[1]], [1]), ([[-2]], [1]), ([[0, 0]], [1]), ([[0]], [])):
        with pytest.raises(ValueError, match="breakdowns"):
            breakdowns([acc], parts, sizes)
    assert (acc.counts, acc.waits, acc.abandons) == before


@pytest.mark.skipif("c" not in kernel.AVAILABLE, reason="the compiled kernel is not built")
def test_K13_compiled_breakdowns_survive_hostile_sizes_and_lists() -> None:
    """Numbers of parts that are negative or too large for memory are a ValueError or a
    MemoryError (not a C++ error ending the process); a part whose ``__index__``, or an
    accumulator whose attribute, empties the list being read cannot make the kernel
    read past its end; a NaN duration goes to the reference (no order for a sort)."""
    from kefu.kpi.service import _Acc

    breakdowns = kernel.compiled("breakdowns")
    acc = _Acc()
    acc.count(0, 2.0, 0, None, 180.0, 5.0)
    with pytest.raises(ValueError, match="breakdowns"):
        breakdowns([], [[]], [-1])
    for size in (2**58, 2**62):
        with pytest.raises(ValueError, match="breakdowns"):
            breakdowns([acc], [[-1]], [size])
    with pytest.raises(MemoryError):
        breakdowns([acc], [[-1]], [2**52])

    row: list[Any] = []

    class Shrinks:
        def __index__(self) -> int:
            row.clear()
            return 0

    row.extend([Shrinks()] + [0] * 999)
    got = breakdowns([acc] * 1000, [row], [1])
    assert got is not None and got[0][0] == [[1000, 1000, 0, 0, 0, 0, 0]]

    vals: list[Any] = []

    class Empties:
        def __init__(self) -> None:
            self.waits: list[float] = []
            self.abandons: list[float] = []

        @property
        def counts(self) -> list[int]:
            vals.clear()
            return [1] * 7

    vals.extend(Empties() for _ in range(1000))
    got = breakdowns(vals, [[0] * 1000], [1])
    assert got is not None and got[0][0] == [[1000] * 7]

    acc.waits.append(math.nan)
    assert breakdowns([acc], [[0]], [1]) is None


def test_K13_breakdowns_of_counts_past_64_bits_are_exact() -> None:
    """Counts whose sums pass 64 bits are summed as Python ints (the reference), not
    wrapped: the compiled kernel hands them over rather than overflow. (The numpy path,
    without the compiled kernel, sums as float64: exact below 2**53 only.)"""
    from kefu.kpi.service import _Acc, _breakdowns, _parts

    if kernel.ACTIVE != "c":
        pytest.skip("the numpy path sums counts as float64")

    accs: dict[Any, Any] = {}
    for hour in range(2):
        acc = accs[(0, hour, None, "a", None)] = _Acc()
        acc.count(0, 1.0 + hour, 0, None, 180.0, 5.0)
        acc.counts[0] = 2**62
    got = _breakdowns(accs, _DIMS) or [_parts(accs, dim, drop) for dim, drop in _DIMS]
    assert got[0][0][0][0] == 2**63
    assert repr(got) == repr([_parts(accs, dim, drop) for dim, drop in _DIMS])
