"""The report's passes over evaluations and orders (K05, K10) and its sums (K08, K13),
against plain restatements of their rules: each card's winner counted one call at a
time, orders kept by a dict and sorted by (buyer, time), every order of the group PK
checked one by one, math.fsum and numpy's ``add.at`` (each on both kernels).
"""

from __future__ import annotations

import bisect
import math
from array import array
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kpi_helpers import DAY, SH
from kpi_strategies import BASE, OFFSETS, shop_day

from kefu.kpi import Order, kernel
from kefu.kpi.conversion import _Orders, dedupe_orders, pk_result
from kefu.kpi.options import make_options
from kefu.kpi.ratings import card_count_key, card_winner, satisfaction_result
from kefu.kpi.results import Tally
from kefu.kpi.service import _sum_rows
from kefu.kpi.timeline import INF, build_timeline
from kefu.kpi.window import day_bounds

# --- K08: exact sums of many values -------------------------------------------------

_SPANS = st.sampled_from([0, 1, 20, 60, 64, 65, 66, 70, 200])


@settings(max_examples=60)
@given(st.lists(st.floats(0.0, 1e5) | st.sampled_from([0.0, -0.0, 1.5, 2.0**-60]),
                min_size=128, max_size=400),
       _SPANS, st.lists(st.booleans(), max_size=400),
       st.sampled_from([None, 5e-324, -2.0**-1070, math.inf, -math.inf, math.nan, 1e308]))
def test_R23_K08_exact_sum_of_many_values_is_fsum(values: list[float], span: int,
                                                  negate: list[bool],
                                                  odd: float | None) -> None:
    """From 128 values on, the compiled sum adds mantissas into counters per exponent:
    still math.fsum's float bit for bit, across spans of exponents at and past what 128
    bits hold (65 binades for 128 values), with signs mixed, zeros of both signs, and a
    subnormal, an infinity, a NaN or a huge value among them (the partials then)."""
    spread = [v * 2.0 ** -(k % (span + 1)) for k, v in enumerate(values)]
    spread = [-v if neg else v for v, neg in zip(spread, negate + [False] * len(spread),
                                                 strict=False)]
    if odd is not None:
        spread[len(spread) // 2] = odd
    compiled = kernel.compiled("exact_sum") if "c" in kernel.AVAILABLE else math.fsum
    try:
        want = math.fsum(spread)
    except (OverflowError, ValueError) as e:
        with pytest.raises(type(e)):
            compiled(array("d", spread))
        return
    got = compiled(array("d", spread))
    assert got.hex() == want.hex() or (math.isnan(got) and math.isnan(want))


def test_R23_K08_exact_sum_edges_of_the_counters() -> None:
    """127 and 128 values (partials, then counters), only zeros, a span of exactly 65
    binades and one of 66 (the counters give way to the partials), the largest values
    the counters take: math.fsum's floats."""
    if "c" not in kernel.AVAILABLE:
        pytest.skip("no compiled kernel")
    compiled = kernel.compiled("exact_sum")
    cases = [[0.1] * 127, [0.1] * 128, [0.0, -0.0] * 64, [-0.0] * 200,
             [1.0] * 127 + [2.0**-65], [1.0] * 127 + [2.0**-66],
             [2.0**900] * 130 + [-(2.0**900)] * 129, [1e-290] * 128 + [1e-300],
             [3.0, -3.0] * 100]
    for values in cases:
        assert compiled(array("d", values)).hex() == math.fsum(values).hex()


# --- K10: orders --------------------------------------------------------------------

def _dedupe_orders_ref(orders: list[Order], as_of: float) -> tuple[list[Order], int, int]:
    seen = [o for o in orders if o.at <= as_of]
    by_id: dict[str, Order] = {}
    for o in seen:
        kept = by_id.get(o.order_id)
        if kept is None or (o.at, o.buyer_id, o.amount) < (kept.at, kept.buyer_id, kept.amount):
            by_id[o.order_id] = o
    conflicts = sum(1 for o in seen if by_id[o.order_id] != o)
    return sorted(by_id.values(), key=lambda o: o.order_id), len(seen) - len(by_id), conflicts


_ORDERS = st.lists(st.builds(
    Order, st.sampled_from(["o1", "o2", "o3", "o4"]), st.sampled_from(["b0", "b1", "b2"]),
    OFFSETS.map(lambda t: BASE + t) | st.sampled_from([BASE, float(BASE)]),
    st.sampled_from([1.0, 2.5, 9.0])), max_size=12)


@given(_ORDERS, st.sampled_from([INF, BASE + 600.0]))
def test_R23_K10_orders_kept_once_per_id(orders: list[Order], as_of: float) -> None:
    """One order per id, the earliest record kept, repeats and conflicts counted, in id
    order: as a dict over every record gives, with or without repeated ids."""
    got, quality = dedupe_orders(orders, as_of)
    want, duplicates, conflicts = _dedupe_orders_ref(orders, as_of)
    assert [id(o) for o in got] == [id(o) for o in want]
    assert (quality.duplicates, quality.conflicts) == (duplicates, conflicts)


@given(_ORDERS, OFFSETS.map(lambda t: BASE + t))
def test_R23_K10_orders_by_buyer_find_the_first_at_or_after(orders: list[Order],
                                                            t: float) -> None:
    """Each buyer's order times in time order (equal times in their input order, an int
    time kept as the very object given), found as a sort by (buyer, time) finds them."""
    grouped = _Orders(orders)
    ordered = sorted(orders, key=lambda o: (o.buyer_id, o.at))
    for b in {o.buyer_id for o in orders}:
        mine = [o.at for o in ordered if o.buyer_id == b]
        lo, hi = grouped.lo[b], grouped.hi[b]
        assert [id(x) for x in grouped.at[lo:hi]] == [id(x) for x in mine]
        k = bisect.bisect_left(mine, t)
        assert grouped.first_after(b, t) == (mine[k] if k < len(mine) else INF)
    assert grouped.first_after("nobody", t) == INF


def _pk_ref(tl: Any, orders: list[Order], opts: Any, attribution: float,
            teams: dict[str, str] | None) -> tuple[Any, ...]:
    """Group PK checked order by order: its day, its buyer's exclusion, the last
    creditable reply (kefu.kpi.conversion._last_answer, the reference)."""
    from kefu.kpi.conversion import _last_answer
    bounds = sorted(day_bounds(d, opts.tz) for d in opts.days)
    scores: dict[Any, dict[str, list[float]]] = {}
    loose: list[float] = []
    excluded = 0
    for o in orders:
        if not any(a <= o.at < b for a, b in bounds):
            continue
        if o.buyer_id in opts.excluded:
            excluded += 1
            continue
        sessions = [j for j in range(len(tl.ids))
                    if tl.buyers[j] == o.buyer_id and tl.wlo[j] < tl.wlo[j + 1]]
        last = _last_answer(tl, sessions, o.at)
        if last is None or o.at - last[0] > attribution:
            loose.append(o.amount)
            continue
        team = teams.get(last[2]) if teams is not None else last[3]
        scores.setdefault(team, {}).setdefault(last[2], []).append(o.amount)
    summary = {team: {a: (len(v), math.fsum(v)) for a, v in agents.items()}
               for team, agents in scores.items()}
    return summary, (len(loose), math.fsum(loose)), excluded


@settings(max_examples=80)
@given(shop_day(), st.sampled_from([frozenset(), frozenset({"b1"})]),
       st.sampled_from([None, {"alice": "red", "bob": "blue"}]),
       st.sampled_from([60.0, 86400.0]))
def test_R23_K10_group_pk_counts_each_order_by_its_rules(
        day: dict[str, list[Any]], excluded: frozenset[str],
        teams: dict[str, str] | None, attribution: float) -> None:
    """Every order of an asked day, not of an excluded buyer, goes to the agent who last
    answered its buyer within the attribution window (their team, or the session's
    group), else to nobody: on either kernel, as checking each order apart says."""
    opts = make_options(day=DAY, tz=SH, excluded_buyers=excluded)
    tl = build_timeline(day["messages"], day["handovers"], day["releases"], day["requests"],
                        opts.as_of, threshold=opts.threshold)
    orders, _ = dedupe_orders(day["orders"], opts.as_of)
    got = pk_result(tl, orders, opts, attribution, teams)
    summary, loose, n_excluded = _pk_ref(tl, orders, opts, attribution, teams)
    assert {team: {a: (s.orders, s.revenue) for a, s in score.agents.items()}
            for team, score in got.teams.items()} == summary
    assert (got.unattributed.orders, got.unattributed.revenue) == loose
    assert got.excluded == n_excluded


# --- K05: cards ---------------------------------------------------------------------

@settings(max_examples=80)
@given(shop_day(), st.sampled_from([frozenset(), frozenset({"b0"})]),
       st.sampled_from([None, BASE + 900.0]), st.booleans())
def test_R23_K05_each_card_counted_as_its_winner_says(
        day: dict[str, list[Any]], excluded: frozenset[str],
        as_of: float | None, detail: bool) -> None:
    """Each card's winning rating (card_winner) counted under the key card_count_key
    gives it (the agent holding the session when it was sent, its day, its exclusion):
    the counts a one-card-at-a-time loop makes, the same replaced and bot counts."""
    opts = make_options(day=DAY, tz=SH, excluded_buyers=excluded, as_of=as_of,
                        detail=detail)
    tl = build_timeline(day["messages"], day["handovers"], day["releases"], day["requests"],
                        opts.as_of, threshold=opts.threshold)
    evs = day["evaluations"] + day["evaluations"][:1]  # a repeat too
    sent = [e.sent_at for e in evs]
    cal = opts.calendar(min([tl.first, *sent]), max([tl.last, *sent]))
    got = satisfaction_result(evs, tl, opts, cal)
    cards: dict[object, list[Any]] = {}
    bot = 0
    for e in dict.fromkeys(evs):  # identical records once
        rated = max(e.rated_at if e.rated_at is not None else e.sent_at, e.sent_at)
        if e.sent_at > opts.as_of or rated > opts.as_of:
            continue
        if e.by_bot:
            bot += 1
            continue
        cards.setdefault(e.card_id if e.card_id is not None else id(e), []).append(e)
    want = Tally(detail)
    replaced = 0
    for ratings in cards.values():
        e, n, _conflicts = card_winner(ratings)
        replaced += n
        key = card_count_key(e, tl, opts, cal)
        if key is not None:
            want.add(*key)
    assert got.bot_service == bot and got.replaced == replaced
    assert (got.met, got.missed, got.excluded) == (
        sum(n for k, n in want.counts.items() if k[3] == 0),
        sum(n for k, n in want.counts.items() if k[3] == 2),
        sum(n for k, n in want.counts.items() if k[3] == 3))
    assert {a: (r.met, r.missed, r.excluded) for a, r in got.by_agent.items()} == {
        a: (r.met, r.missed, r.excluded)
        for a, r in want.build(type(got), part=type(got)).by_agent.items()}
    if detail:
        assert len(got.units) == sum(want.counts.values())


# --- K13: the service breakdowns' sums ----------------------------------------------

@given(st.lists(st.tuples(st.integers(-1, 4), st.lists(st.integers(0, 10**6), min_size=7,
                                                       max_size=7)), max_size=40))
def test_R23_K13_rows_summed_by_part_as_add_at_sums_them(rows: list[Any]) -> None:
    """The service breakdowns sum each part's counts (and those in no part apart) as
    ``np.add.at`` would, exactly."""
    parts = 5
    part = np.array([p for p, _ in rows], dtype=np.int64)
    counts = np.array([c for _, c in rows], dtype=np.int64).reshape(len(rows), 7)
    want = np.zeros((parts + 1, 7), dtype=np.int64)
    np.add.at(want, part, counts)
    got = _sum_rows(counts, part, parts)
    assert got.dtype == np.int64 and got.tolist() == want.tolist()
