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
from operator import attrgetter

from kefu.kpi.bulk import bulk
from kefu.kpi.clocks import MET, MISSED, PENDING, shop_clocks
from kefu.kpi.options import DayArg, ExclusionsArg, Options, make_options, seconds
from kefu.kpi.records import Handover, HumanRequest, Message, Order, Release
from kefu.kpi.reply import Consults, shop_result
from kefu.kpi.results import (
    EXCLUDED_CODE,
    NO_ISSUES,
    AgentScore,
    DataQuality,
    GroupPK,
    Rate,
    Tally,
    TeamScore,
    Unit,
    status_of,
)
from kefu.kpi.timeline import INF, Session, Timeline, build_timeline
from kefu.kpi.window import Basis, BeforeWindow, Calendar, Window, local_date

__all__ = [
    "conversion_result", "dedupe_orders", "group_pk", "inquiry_conversion", "pk_result",
]

_AT = attrgetter("at")


def dedupe_orders(orders: Iterable[Order], as_of: float) -> tuple[list[Order], DataQuality]:
    """Orders up to ``as_of``, one per id (on a conflict the earliest record wins)."""
    seen = [o for o in orders if o.at <= as_of]
    by_id: dict[str, Order] = {}
    for o in seen:
        kept = by_id.get(o.order_id)
        if kept is None or (o.at, o.buyer_id, o.amount) < (kept.at, kept.buyer_id, kept.amount):
            by_id[o.order_id] = o
    conflicts = sum(1 for o in seen if by_id[o.order_id] != o)
    return sorted(by_id.values(), key=lambda o: o.order_id), DataQuality(
        duplicates=len(seen) - len(by_id), conflicts=conflicts)


def _serving_agent(s: Session, t: float) -> tuple[str | None, str | None]:
    """(agent, group) holding ``s`` at ``t``, else of its next stretch, else (None, group)."""
    for agent, group, _start, end in s.stretches:
        if t < end:
            return agent, group
    return None, s.group


def conversion_result(tl: Timeline, consults: Consults, orders: list[Order], opts: Options,
                      cal: Calendar, attribution: float,
                      quality: DataQuality = NO_ISSUES) -> Rate:
    """K10 inquiry conversion of K03's buyer-days (FIRST) and deduplicated orders."""
    as_of = opts.as_of
    bought: dict[str, list[float]] = {}
    for order in orders:
        bought.setdefault(order.buyer_id, []).append(order.at)
    for times in bought.values():
        times.sort()
    tally = Tally(opts.detail)
    for (buyer, i), unit in consults.items():
        c, sid = unit[1], unit[2]
        times = bought.get(buyer, [])
        j = bisect.bisect_left(times, c)
        o = times[j] if j < len(times) and times[j] - c <= attribution else INF
        reason = opts.excluded.get(buyer)
        if reason is not None:
            code = EXCLUDED_CODE
        elif o != INF:
            code = MET
        elif as_of - c > attribution:
            code = MISSED
        else:
            code = PENDING
        agent, group = _serving_agent(tl.sessions[sid], c)
        day = cal.days[i]
        tally.add(day, group, agent, code, False, reason)
        if tally.units is not None:
            tally.unit(Unit("inquiry", status_of(code), day, buyer, sid, agent, group, c,
                            None if o == INF else o, reason))
    if tally.units is not None:
        tally.units.sort(key=lambda u: (u.day, u.buyer_id))
    return tally.build(Rate, quality=tl.quality + quality)


def pk_result(tl: Timeline, orders: list[Order], opts: Options, attribution: float,
              teams: Mapping[str, str] | None, quality: DataQuality = NO_ISSUES
              ) -> GroupPK:
    """K10 group PK over a prepared timeline and deduplicated orders."""
    by_buyer: dict[str, list[Session]] = {}
    buyers = {o.buyer_id for o in orders}
    for s in tl.sessions.values():
        if s.buyer_id in buyers and s.rs:
            by_buyer.setdefault(s.buyer_id, []).append(s)
    scores: dict[str | None, dict[str, list[float]]] = {}
    loose: list[float] = []
    excluded = 0
    for o in orders:
        if opts.days is not None and local_date(o.at, opts.tz) not in opts.days:
            continue
        if o.buyer_id in opts.excluded:
            excluded += 1
            continue
        last: tuple[float, str, str, str | None] | None = None
        for s in by_buyer.get(o.buyer_id, ()):
            k = bisect.bisect_right(s.rs, o.at) - 1  # the session's last reply by then
            if k < 0:
                continue
            r = s.rs[k]
            if last is not None and (r, s.session_id) <= last[:2]:
                continue
            st = s.serving(r)
            agent = st[0] if st is not None else s.ragents[k]
            if agent is not None:
                last = (r, s.session_id, agent, st[1] if st is not None else s.group)
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


@bulk
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
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of)
    ords, q = dedupe_orders(orders, opts.as_of)
    cal = opts.calendar(tl.first, tl.last)
    consults: Consults = {}
    shop_result(tl, shop_clocks(tl, opts, cal), opts, cal, Basis.FIRST, consults)
    return conversion_result(tl, consults, ords, opts, cal, window_s, q)


@bulk
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
    tl = build_timeline(messages, handovers, releases, (), opts.as_of)
    ords, q = dedupe_orders(orders, opts.as_of)
    return pk_result(tl, ords, opts, window_s, teams, q)
