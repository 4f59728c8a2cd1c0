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
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import compress, count
from operator import attrgetter

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
    """Orders up to ``as_of``, one per id (on a conflict the earliest record wins).

    Every order is checked first (:mod:`kefu.kpi.intake`): InvalidRecord for a bad one.
    """
    seen = [o for o in checked(orders, Order) if o.at <= as_of]
    by_id: dict[str, Order] = {}
    for o in seen:
        kept = by_id.get(o.order_id)
        if kept is None or (o.at, o.buyer_id, o.amount) < (kept.at, kept.buyer_id, kept.amount):
            by_id[o.order_id] = o
    conflicts = sum(1 for o in seen if by_id[o.order_id] != o)
    return sorted(by_id.values(), key=lambda o: o.order_id), DataQuality(
        duplicates=len(seen) - len(by_id), conflicts=conflicts)


class _Orders:
    """Order times grouped by buyer in flat columns: buyer b's are ``at[lo[b]:hi[b]]``, sorted."""

    __slots__ = ("at", "hi", "lo")

    def __init__(self, orders: list[Order]) -> None:
        ordered = sorted(orders, key=lambda o: (o.buyer_id, o.at))
        buyers = [o.buyer_id for o in ordered]
        self.at = [o.at for o in ordered]
        self.lo: dict[str, int] = {}
        for n, b in zip(count(), buyers):
            self.lo.setdefault(b, n)
        self.hi = dict(zip(buyers, count(1)))  # the last one per buyer wins

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


def _in_days(opts: Options) -> Callable[[float], bool]:
    """Whether an instant falls on one of the asked local days (all days if none asked)."""
    if opts.days is None:
        return lambda t: True
    bounds = sorted(day_bounds(d, opts.tz) for d in opts.days)
    starts = [a for a, _b in bounds]
    ends = [b for _a, b in bounds]

    def inside(t: float) -> bool:
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and t < ends[i]

    return inside


def pk_result(tl: Timeline, orders: list[Order], opts: Options, attribution: float,
              teams: Mapping[str, str] | None, quality: DataQuality = NO_ISSUES
              ) -> GroupPK:
    """K10 group PK over a prepared timeline and deduplicated orders."""
    buyers = {o.buyer_id for o in orders}
    by_buyer: dict[str, list[int]] = {}
    wlo, tl_buyers = tl.wlo, tl.buyers
    for j in compress(count(), map(buyers.__contains__, tl_buyers)):
        if wlo[j] < wlo[j + 1]:
            by_buyer.setdefault(tl_buyers[j], []).append(j)
    in_days = _in_days(opts)
    scores: dict[str | None, dict[str, list[float]]] = {}
    loose: list[float] = []
    excluded = 0
    todo: list[Order] = []
    for o in orders:
        if not in_days(o.at):
            continue
        if o.buyer_id in opts.excluded:
            excluded += 1
            continue
        todo.append(o)
    sessions = [by_buyer.get(o.buyer_id, []) for o in todo]
    times = [o.at for o in todo]
    if kernel.ACTIVE == "c":
        lasts: list[tuple[float, str, str, str | None] | None] = kernel.compiled(
            "last_answers")(tl, sessions, times)  # type: ignore[assignment]
    else:
        lasts = list(map(partial(_last_answer, tl), sessions, times))
    for o, last in zip(todo, lasts, strict=True):
        if last is None or o.at - last[0] > attribution:
            loose.append(o.amount)
            continue
        _r, _sid, agent, group = last
        team = teams.get(agent) if teams is not None else group
        scores.setdefault(team, {}).setdefault(agent, []).append(o.amount)
    out: dict[str | None, TeamScore] = {}
    for team in sorted(scores, key=lambda t: (t is not None, str(t))):
        agents = {a: AgentScore(len(v), math.fsum(v)) for a, v in sorted(scores[team].items())}
        out[team] = TeamScore(
            orders=sum(a.orders for a in agents.values()),
            revenue=math.fsum(x for v in scores[team].values() for x in v),
            agents=agents,
        )
    ranking = tuple(sorted(out, key=lambda t: (-out[t].revenue, -out[t].orders, str(t))))
    return GroupPK(teams=out, ranking=ranking, unattributed=AgentScore(len(loose),
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
