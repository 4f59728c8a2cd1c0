"""Properties of the KPI functions over random small shop days (K03, K04, K06-K08, SPEC B).

The days come from ``kpi_strategies``: window openings, ties, bot and
unknown senders, switches, transfers and releases all occur.
"""

from __future__ import annotations

import random
from typing import Any

import attrs
from hypothesis import example, given
from hypothesis import strategies as st
from kpi_helpers import DAY
from kpi_strategies import BASE, OPTIONS, sessions, shop_day

from kefu import kpi
from kefu.kpi import Status
from kefu.kpi.results import NO_ISSUES


def compute(rec: dict[str, list[Any]], opts: dict[str, Any]) -> dict[str, Any]:
    common = {"requests": rec["requests"], "releases": rec["releases"], "day": DAY,
              "ends": rec["ends"],
              "as_of": opts["as_of"], "before_window": opts["before_window"],
              "excluded_buyers": opts.get("excluded", frozenset()), "detail": True}
    return {
        "shop": kpi.shop_reply_rate(rec["messages"], rec["handovers"], basis=opts["basis"],
                                    **common),
        "agents": kpi.agent_reply_rates(rec["messages"], rec["handovers"], **common),
        "times": kpi.response_times(
            rec["messages"], rec["handovers"], requests=rec["requests"],
            releases=rec["releases"], ends=rec["ends"], day=DAY, as_of=opts["as_of"],
            before_window=opts["before_window"]),
    }


def strip(result: dict[str, Any]) -> dict[str, Any]:
    """The figures without the data-quality counters (which do see duplicates)."""
    shop = result["shop"]
    return {
        "shop": attrs.evolve(shop, quality=NO_ISSUES,
                             per_session=attrs.evolve(shop.per_session, quality=NO_ISSUES)),
        "agents": {a: attrs.evolve(r, quality=NO_ISSUES) for a, r in result["agents"].items()},
        "times": attrs.evolve(result["times"], quality=NO_ISSUES),
    }


def all_units(result: dict[str, Any]) -> list[kpi.Unit]:
    shop = result["shop"]
    return [*shop.units, *shop.per_session.units,
            *(u for r in result["agents"].values() for u in r.units)]


@given(sessions(), OPTIONS, st.randoms(use_true_random=False))
def test_K03_K04_K08_permuting_or_duplicating_records_changes_nothing(
        rec: dict[str, list[Any]], opts: dict[str, Any], rnd: random.Random) -> None:
    before = compute(rec, opts)
    mixed: dict[str, list[Any]] = {}
    for kind, items in rec.items():
        copies = items + [x for x in items if rnd.random() < 0.3]
        rnd.shuffle(copies)
        mixed[kind] = copies
    after = compute(mixed, opts)
    assert strip(after) == strip(before)
    assert after["shop"].quality.duplicates >= before["shop"].quality.duplicates


@given(sessions(), OPTIONS)
def test_K03_K04_K08_permutation_changes_not_even_the_quality_figures(
        rec: dict[str, list[Any]], opts: dict[str, Any]) -> None:
    reversed_rec = {k: list(reversed(v)) for k, v in rec.items()}
    assert compute(reversed_rec, opts) == compute(rec, opts)


@given(sessions(), sessions(prefix="z", buyers=("zz",)), OPTIONS)
def test_K03_K04_another_buyers_records_never_change_this_buyers_outcome(
        rec: dict[str, list[Any]], stranger: dict[str, list[Any]], opts: dict[str, Any]) -> None:
    alone = compute(rec, opts)
    together = compute({k: rec[k] + stranger[k] for k in rec}, opts)
    mine = [u for u in all_units(together) if u.buyer_id != "zz"]
    assert sorted(mine, key=repr) == sorted(all_units(alone), key=repr)


@given(sessions(), OPTIONS, st.lists(st.integers(0, 2400), min_size=2, max_size=5))
def test_K07_as_of_growing_never_turns_missed_into_met_or_pending(
        rec: dict[str, list[Any]], opts: dict[str, Any], offsets: list[int]) -> None:
    history: dict[tuple[Any, ...], Status] = {}
    for as_of in [*(BASE + s for s in sorted(offsets)), None]:
        result = compute(rec, {**opts, "as_of": as_of})
        now = {(u.kind, u.day, u.buyer_id if u.kind == "buyer-day" else u.session_id,
                u.agent_id, u.start if u.kind == "stretch" else None): u.status
               for u in all_units(result)}
        for key, status in history.items():
            if status is Status.MISSED:
                assert now.get(key) is Status.MISSED, key
        history = now


@given(sessions(), OPTIONS, st.sampled_from([frozenset(), frozenset({"b0"})]))
def test_K06_K07_met_missed_pending_excluded_add_up_to_all_units(
        rec: dict[str, list[Any]], opts: dict[str, Any], excluded: frozenset[str]) -> None:
    result = compute(rec, {**opts, "excluded": excluded})
    rates = [result["shop"], result["shop"].per_session, *result["agents"].values()]
    for r in rates:
        assert r.met + r.missed + r.pending + r.excluded == r.total == len(r.units)
        assert sum(x.total for x in r.by_day.values()) == r.total
        if r.rate is not None:
            assert r.lower is not None and r.upper is not None
            assert r.lower <= r.rate <= r.upper
        if opts["as_of"] is None:
            assert r.pending == 0 and r.at_risk == 0
    for u in all_units(result):
        assert (u.status is Status.EXCLUDED) == (u.buyer_id in excluded)


def report(rec: dict[str, list[Any]], opts: dict[str, Any]) -> kpi.DailyReport:
    return kpi.daily_report(rec["messages"], rec["handovers"], rec["evaluations"],
                            rec["orders"], requests=rec["requests"], releases=rec["releases"],
                            day=DAY, as_of=opts["as_of"], basis=opts["basis"],
                            before_window=opts["before_window"], detail=True,
                            excluded_buyers=opts.get("excluded", frozenset()))


def _figures(rep: kpi.DailyReport) -> kpi.DailyReport:
    """The report with every quality figure blanked (they do see duplicates)."""
    def clean(r: Any) -> Any:
        return attrs.evolve(r, quality=NO_ISSUES)
    return attrs.evolve(
        rep, quality=NO_ISSUES, shop=clean(attrs.evolve(rep.shop,
                                                        per_session=clean(rep.shop.per_session))),
        shop_by_basis={b: clean(attrs.evolve(r, per_session=clean(r.per_session)))
                       for b, r in rep.shop_by_basis.items()},
        agents={a: clean(r) for a, r in rep.agents.items()}, agents_total=clean(rep.agents_total),
        satisfaction=clean(rep.satisfaction), response_times=clean(rep.response_times),
        conversion=clean(rep.conversion), pk=clean(rep.pk), service=clean(rep.service))


@given(shop_day(), OPTIONS, st.randoms(use_true_random=False),
       st.sampled_from([frozenset(), frozenset({"b1"})]))
def test_K05_K10_daily_report_ignores_order_and_repeats_and_its_counts_add_up(
        rec: dict[str, list[Any]], opts: dict[str, Any], rnd: random.Random,
        excluded: frozenset[str]) -> None:
    opts = {**opts, "excluded": excluded}
    before = report(rec, opts)
    mixed = {kind: rnd.sample(items, len(items)) + [x for x in items if rnd.random() < 0.3]
             for kind, items in rec.items()}
    after = report(mixed, opts)
    assert _figures(after) == _figures(before)
    assert after.quality.duplicates >= before.quality.duplicates
    for r in (before.satisfaction, before.conversion, before.agents_total):
        assert r.met + r.missed + r.pending + r.excluded == r.total == len(r.units)
    s = before.satisfaction
    assert s.met + s.normal + s.disappointed == s.denominator
    known = [o for o in rec["orders"] if opts["as_of"] is None or o.at <= opts["as_of"]]
    assert before.pk.excluded == sum(1 for o in known if o.buyer_id in excluded)


MOMENT = st.none() | st.sampled_from([0, 50, 100, 180, 181, 250, 300, 310, 400])
"""Seconds after the buyer's message, or never: both sides of a 180 s threshold."""


@example(100, 50, 300, 310, [299, 320])  # the bot in time, an agent before the switch
@example(100, 250, 300, 310, [260, 320])
@example(None, None, 200, 210, [190, 220])  # nobody for T, then a switch
@given(MOMENT, MOMENT, MOMENT, MOMENT,
       st.lists(st.sampled_from([0, 100, 180, 181, 260, 299, 305, 320, 600]), min_size=2,
                max_size=6))
def test_K02_K07_a_switch_bot_or_hand_over_never_turns_missed_back_into_met(
        bot: int | None, handed: int | None, switched: int | None, reply: int | None,
        ages: list[int]) -> None:
    """One buyer, and every order of the things that decide when their human service
    began (the bot writing, an agent taking the session, a switch to a human) and of
    the agent's reply: once their unit reads MISSED at some ``as_of``, it reads MISSED
    at every later one (shop and agent units)."""
    s = kpi.Sender
    t0 = BASE + 300  # inside the window
    msgs = [kpi.Message("s1", "b1", t0, s.BUYER, "m0")]
    if bot is not None:
        msgs.append(kpi.Message("s1", "b1", t0 + bot, s.BOT, "m1"))
    if reply is not None:
        msgs.append(kpi.Message("s1", "b1", t0 + reply, s.AGENT, "m2", agent_id="alice"))
    hands = [] if handed is None else [kpi.Handover("s1", "b1", "alice", t0 + handed)]
    reqs = [] if switched is None else [kpi.HumanRequest("s1", "b1", t0 + switched)]
    missed: set[str] = set()
    for age in [*sorted(ages), None]:
        as_of = None if age is None else t0 + age
        shop = kpi.shop_reply_rate(msgs, hands, requests=reqs, as_of=as_of)
        agents = kpi.agent_reply_rates(msgs, hands, requests=reqs, as_of=as_of)
        now = {"shop": shop.missed, "alice": agents["alice"].missed if "alice" in agents else 0}
        for who in missed:
            assert now[who] == 1, (who, as_of)
        missed |= {who for who, n in now.items() if n}
