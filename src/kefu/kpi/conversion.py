"""Peak operations (K10, source 002): inquiry conversion and group PK.

Inquiry conversion (询单转化率) is a rate over the shop's consultations: a
consultation is a buyer-day unit of K03 (a buyer who reached human service
in the window), started at its first counted clock; it is MET when the buyer
orders within ``attribution`` seconds after that, MISSED once the
attribution window has passed without an order, PENDING before.

Group PK credits each order of the day to the agent who last answered the
buyer (a human reply at or before the order, at most ``attribution``
seconds earlier) and sums orders and revenue per team.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from functools import partial
from itertools import compress, count, repeat
from operator import attrgetter, gt

import numpy as np

from kefu.kpi import kernel
from kefu.kpi.clocks import MET, MISSED, PENDING
from kefu.kpi.intake import checked
from kefu.kpi.measure import Measure
from kefu.kpi.options import DayArg, ExclusionsArg, Options, make_options, seconds
from kefu.kpi.records import Handover, HumanRequest, Message, Order, Release
from kefu.kpi.results import (
    EXCLUDED_CODE,
    NO_ISSUES,
    STATUSES,
    AgentScore,
    DataQuality,
    GroupPK,
    Key,
    Rate,
    Tally,
    TeamScore,
    Unit,
    status_of,
)
from kefu.kpi.timeline import INF, Timeline, build_timeline
from kefu.kpi.window import BeforeWindow, Window, day_bounds

__all__ = [
    "conversion_result", "dedupe_orders", "group_pk", "inquiry_conversion", "pk_result",
]


def dedupe_orders(orders: Iterable[Order], as_of: float) -> tuple[list[Order], DataQuality]:
    """Orders up to ``as_of``, one per id (on a conflict the earliest record wins), in
    order id order.

    Every order is checked first (:mod:`kefu.kpi.intake`): InvalidRecord for a bad one.
    Without repeated ids (the usual day) no record is compared with another: one set
    of the ids says so. O(n log n) for the sort by id.
    """
    seen = [o for o in checked(orders, Order) if o.at <= as_of]
    ids = list(map(_ORDER_ID, seen))
    if len(set(ids)) == len(ids):
        return sorted(seen, key=_ORDER_ID), NO_ISSUES
    by_id: dict[str, Order] = {}
    for o in seen:
        kept = by_id.get(o.order_id)
        if kept is None or (o.at, o.buyer_id, o.amount) < (kept.at, kept.buyer_id, kept.amount):
            by_id[o.order_id] = o
    # the kept record itself is no conflict: compared by identity first (attrs' ``!=``
    # compares every field, a Python call per record)
    conflicts = sum(1 for o, kept in zip(seen, map(by_id.__getitem__, ids), strict=True)
                    if kept is not o and kept != o)
    return sorted(by_id.values(), key=_ORDER_ID), DataQuality(
        duplicates=len(seen) - len(by_id), conflicts=conflicts)


_ORDER_ID = attrgetter("order_id")
_ORDER_AT = attrgetter("at")
_ORDER_BUYER = attrgetter("buyer_id")
_ORDER_AMOUNT = attrgetter("amount")


class _Orders:
    """Order times grouped by buyer in flat columns: buyer b's are ``at[lo[b]:hi[b]]``, sorted."""

    __slots__ = ("at", "hi", "lo")

    def __init__(self, orders: list[Order]) -> None:
        """Buyers numbered by first appearance (a dict of the distinct ids, at C speed),
        then one stable numpy sort by (buyer number, time): no Python step per order,
        and no comparison of id strings (a sort by (buyer id, time) spent most of its
        time there). Equal times of a buyer keep their order, each time the very object
        given. O(n log n) at C speed."""
        buyers = list(map(_ORDER_BUYER, orders))
        times = list(map(_ORDER_AT, orders))
        names = list(dict.fromkeys(buyers))
        number = dict(zip(names, count()))
        code = np.array(list(map(number.__getitem__, buyers)), dtype=np.int64)
        order = np.lexsort((np.array(times, dtype=np.float64), code)).tolist()
        self.at: list[float] = list(map(times.__getitem__, order))
        ends = np.cumsum(np.bincount(code, minlength=len(names))).tolist()
        self.hi: dict[str, int] = dict(zip(names, ends, strict=True))
        self.lo: dict[str, int] = dict(zip(names, [0, *ends][:-1], strict=True))

    def first_after(self, buyer: str, t: float) -> float:
        """The buyer's first order at or after ``t``, or inf."""
        lo = self.lo.get(buyer)
        if lo is None:
            return INF
        hi = self.hi[buyer]
        k = bisect.bisect_left(self.at, t, lo, hi)
        return self.at[k] if k < hi else INF


def conversion_result(m: Measure, orders: list[Order], attribution: float,
                      quality: DataQuality = NO_ISSUES) -> Rate:
    """K10 inquiry conversion of K03's buyer-days (FIRST) and deduplicated orders."""
    bought = _Orders(orders)
    tally = Tally(m.opts.detail)
    if kernel.ACTIVE == "c":
        kernel.compiled("consults")(m, bought.at, bought.lo, bought.hi, attribution, tally.counts,
                                    MET, MISSED, PENDING, EXCLUDED_CODE, tally.units, Unit,
                                    STATUSES)
    else:
        _consults(m, bought, attribution, tally)
    if tally.units is not None:
        tally.units.sort(key=_INQUIRY_ORDER)  # (day, buyer): both always set
    return tally.build(Rate, quality=m.quality + quality)


_INQUIRY_ORDER = attrgetter("day", "buyer_id")


def _consults(m: Measure, bought: _Orders, attribution: float, tally: Tally) -> None:
    """K10's buyer-days counted into ``tally`` (and its units, with detail), in slot
    order: the reference of the compiled ``consults``. O(buyer-days x (log orders +
    stretches))."""
    tl, opts = m.tl, m.opts
    as_of = opts.as_of
    excluded = opts.excluded
    days = m.cal.days
    counts = tally.counts
    for buyer, i, c, sid in m.consults():
        o = bought.first_after(buyer, c)
        if o - c > attribution:
            o = INF
        reason = excluded.get(buyer) if excluded else None
        if reason is not None:
            code = EXCLUDED_CODE
        elif o != INF:
            code = MET
        elif as_of - c > attribution:
            code = MISSED
        else:
            code = PENDING
        # The agent holding the session at the consultation, or the next one to get it.
        j = tl.index[sid]
        x = tl.serving_or_next(j, c)
        agent, group = (tl.agents[x], tl.sgroups[x]) if x >= 0 else (None, tl.groups[j])
        key: Key = (days[i], group, agent, code, False, reason, None)
        counts[key] = counts.get(key, 0) + 1
        if tally.units is not None:
            tally.units.append(Unit("inquiry", status_of(code), days[i], buyer, sid, agent,
                                    group, c, None if o == INF else o, reason))


def _last_answer(tl: Timeline, sessions: list[int], t: float
                 ) -> tuple[float, str, str, str | None] | None:
    """(reply, session, agent, group) of the last human reply to these sessions at or
    before ``t`` that an agent can be credited with (ties: the larger session id).
    The reference of the compiled ``last_answers``. O(sessions x (log waits + stretches))."""
    rs, wlo = tl.rs, tl.wlo
    last: tuple[float, str, str, str | None] | None = None
    for j in sessions:
        k = bisect.bisect_right(rs, t, wlo[j], wlo[j + 1]) - 1  # the last reply by then
        if k < wlo[j]:
            continue
        r = rs[k]
        sid = tl.ids[j]
        if last is not None and (r, sid) <= last[:2]:
            continue
        x = tl.serving(j, r)
        if x >= 0:
            last = (r, sid, tl.agents[x], tl.sgroups[x])
        else:
            name = tl.ragent(k)
            if name is not None:
                last = (r, sid, name, tl.groups[j])
    return last


def _in_days(opts: Options, times: list[float]) -> list[bool]:
    """Whether each instant falls on one of the asked local days (all, if none asked):
    one vectorized search of the days' bounds, no Python step per instant. O(n log days)."""
    if opts.days is None:
        return [True] * len(times)
    bounds = sorted(day_bounds(d, opts.tz) for d in opts.days)
    starts = np.array([a for a, _b in bounds], dtype=np.float64)
    ends = np.array([b for _a, b in bounds], dtype=np.float64)
    t = np.array(times, dtype=np.float64)  # times below 2**32: exact as doubles
    i = np.searchsorted(starts, t, side="right") - 1
    inside: list[bool] = ((i >= 0) & (t < ends[np.maximum(i, 0)])).tolist()
    return inside


def _sessions_by_buyer(tl: Timeline, buyers: set[str]) -> dict[str, list[int]]:
    """The sessions with waits of each of ``buyers``, in session order. O(sessions)."""
    wlo = tl.wlo
    by_buyer: dict[str, list[int]] = {}
    tl_buyers = tl.buyers
    for j in compress(count(), map(buyers.__contains__, tl_buyers)):
        if wlo[j] < wlo[j + 1]:
            b = tl_buyers[j]
            js = by_buyer.get(b)
            if js is None:
                by_buyer[b] = [j]
            else:
                js.append(j)
    return by_buyer


_NO_SESSIONS: list[int] = []


def pk_result(tl: Timeline, orders: list[Order], opts: Options, attribution: float,
              teams: Mapping[str, str] | None, quality: DataQuality = NO_ISSUES
              ) -> GroupPK:
    """K10 group PK over a prepared timeline and deduplicated orders. The orders' fields
    are read once as columns and those outside the asked days or of excluded buyers
    left out by C-speed passes; one Python step per counted order. O(sessions +
    orders x (sessions of the buyer x (log waits + stretches)))."""
    buyer_of = list(map(_ORDER_BUYER, orders))
    at_of = list(map(_ORDER_AT, orders))
    keep = _in_days(opts, at_of)
    excluded = 0
    if opts.excluded:
        out = list(map(opts.excluded.__contains__, buyer_of))
        excluded = sum(compress(out, keep))
        keep = list(map(gt, keep, out))  # in the days and not excluded
    todo_buyers = list(compress(buyer_of, keep))
    times = list(compress(at_of, keep))
    amounts = list(compress(map(_ORDER_AMOUNT, orders), keep))
    by_buyer = _sessions_by_buyer(tl, set(todo_buyers))
    sessions = list(map(by_buyer.get, todo_buyers, repeat(_NO_SESSIONS, len(todo_buyers))))
    if kernel.ACTIVE == "c":
        lasts: list[tuple[float, str, str, str | None] | None] = kernel.compiled(
            "last_answers")(tl, sessions, times)  # type: ignore[assignment]
    else:
        lasts = list(map(partial(_last_answer, tl), sessions, times))
    scores: dict[str | None, dict[str, list[float]]] = {}
    loose: list[float] = []
    for t, amount, last in zip(times, amounts, lasts, strict=True):
        if last is None or t - last[0] > attribution:
            loose.append(amount)
            continue
        agent = last[2]
        team = teams.get(agent) if teams is not None else last[3]
        by_agent = scores.get(team)
        if by_agent is None:
            by_agent = scores[team] = {}
        got = by_agent.get(agent)
        if got is None:
            by_agent[agent] = [amount]
        else:
            got.append(amount)
    out_teams: dict[str | None, TeamScore] = {}
    for team in sorted(scores, key=lambda t: (t is not None, str(t))):
        agents = {a: AgentScore(len(v), math.fsum(v)) for a, v in sorted(scores[team].items())}
        out_teams[team] = TeamScore(
            orders=sum(a.orders for a in agents.values()),
            revenue=math.fsum(x for v in scores[team].values() for x in v),
            agents=agents,
        )
    ranking = tuple(sorted(out_teams, key=lambda t: (-out_teams[t].revenue,
                                                     -out_teams[t].orders, str(t))))
    return GroupPK(teams=out_teams, ranking=ranking, unattributed=AgentScore(len(loose),
                   math.fsum(loose)), excluded=excluded, quality=tl.quality + quality)


def inquiry_conversion(
    messages: Iterable[Message],
    handovers: Iterable[Handover],
    orders: Iterable[Order],
    *,
    requests: Iterable[HumanRequest] = (),
    releases: Iterable[Release] = (),
    day: DayArg = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    window: Window | None = None,
    attribution: float = 86400.0,
    as_of: float | dt.datetime | None = None,
    before_window: BeforeWindow | str = BeforeWindow.EXCLUDE,
    excluded_buyers: ExclusionsArg = frozenset(),
    detail: bool = False,
) -> Rate:
    """Inquiry conversion rate (询单转化率, K10): consulting buyers who ordered within
    ``attribution`` seconds / consulting buyers, per buyer-day; by day, group and agent."""
    opts = make_options(day=day, tz=tz, window=window, as_of=as_of, before_window=before_window,
                        excluded_buyers=excluded_buyers, detail=detail)
    window_s = seconds("attribution", attribution)
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of,
                        threshold=opts.threshold)
    ords, q = dedupe_orders(orders, opts.as_of)
    cal = opts.calendar(tl.first, tl.last)
    return conversion_result(Measure(tl, opts, cal, agents=False, times=False), ords, window_s, q)


def group_pk(
    messages: Iterable[Message],
    handovers: Iterable[Handover],
    orders: Iterable[Order],
    *,
    teams: Mapping[str, str] | None = None,
    releases: Iterable[Release] = (),
    day: DayArg = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    attribution: float = 86400.0,
    as_of: float | dt.datetime | None = None,
    excluded_buyers: ExclusionsArg = frozenset(),
) -> GroupPK:
    """Group PK (K10, source 002): orders and revenue per team and agent.

    ``teams`` maps agent -> team; without it an agent's order goes to the
    group of the session in which they answered the buyer.
    """
    opts = make_options(day=day, tz=tz, as_of=as_of, excluded_buyers=excluded_buyers)
    window_s = seconds("attribution", attribution)
    tl = build_timeline(messages, handovers, releases, (), opts.as_of, threshold=opts.threshold)
    ords, q = dedupe_orders(orders, opts.as_of)
    return pk_result(tl, ords, opts, window_s, teams, q)
