"""``daily_report``: every KPI of a day (or days) from one pass over the records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

from kefu.kpi.conversion import conversion_result, dedupe_orders, pk_result
from kefu.kpi.intake import checked
from kefu.kpi.measure import Measure
from kefu.kpi.occupancy import status_records
from kefu.kpi.options import DayArg, ExclusionsArg, make_options, seconds
from kefu.kpi.ratings import satisfaction_result
from kefu.kpi.records import (
    AgentStatus,
    Evaluation,
    Handover,
    HumanRequest,
    Message,
    Order,
    Release,
    SessionEnd,
)
from kefu.kpi.reply import agent_rates, shop_result
from kefu.kpi.response import response_result
from kefu.kpi.results import (
    DataQuality,
    GroupPK,
    Rate,
    ResponseTimes,
    Satisfaction,
    ShopReplyRate,
    Tally,
    hour_rates,
)
from kefu.kpi.service import ServiceReport, service_result
from kefu.kpi.timeline import build_timeline
from kefu.kpi.window import Basis, BeforeWindow, Window

__all__ = ["DailyReport", "daily_report"]


@attrs.frozen(kw_only=True)
class DailyReport:
    """Every KPI over the same records and parameters (K03-K10).

    ``shop`` uses the chosen basis; ``shop_by_basis`` has both. ``agents``
    is K04 per agent, ``agents_total`` all agents' units together.
    ``quality`` sums what was wrong with every kind of record. ``service``
    holds the service figures (K13) with the reply threshold as their
    answer target and 5 s short abandons (occupancy from ``statuses``).

    ``shop_by_hour`` is ``shop`` by the hour its buyers first wrote (the
    first clock of their day, under either basis): whole hours elapsed since
    the local midnight of the unit's day, not the wall clock's hour: 0 to 23
    on a 24-hour day, one fewer or more per hour the clocks go forward or back
    that day (Antarctica/Troll's two-hour change back gives up to 25),
    summed over the report's days. A planner reads each hour's reply rate
    from it; it costs no unit detail.
    """

    shop: ShopReplyRate
    shop_by_basis: Mapping[str, ShopReplyRate]
    agents: Mapping[str, Rate]
    agents_total: Rate
    satisfaction: Satisfaction
    response_times: ResponseTimes
    conversion: Rate
    pk: GroupPK
    quality: DataQuality
    service: ServiceReport = attrs.field(factory=ServiceReport)
    shop_by_hour: Mapping[int, Rate] = attrs.field(factory=dict, repr=False)


def daily_report(
    messages: Iterable[Message],
    handovers: Iterable[Handover] = (),
    evaluations: Iterable[Evaluation] = (),
    orders: Iterable[Order] = (),
    *,
    requests: Iterable[HumanRequest] = (),
    releases: Iterable[Release] = (),
    ends: Iterable[SessionEnd] = (),
    day: DayArg = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    window: Window | None = None,
    threshold: float = 180.0,
    basis: Basis | str = Basis.FIRST,
    as_of: float | dt.datetime | None = None,
    warn_after: float = 100.0,
    before_window: BeforeWindow | str = BeforeWindow.EXCLUDE,
    excluded_buyers: ExclusionsArg = frozenset(),
    attribution: float = 86400.0,
    teams: Mapping[str, str] | None = None,
    detail: bool = False,
    statuses: Iterable[AgentStatus] = (),
) -> DailyReport:
    """All KPIs for ``day`` (K03-K10, K13); the parameters mean what they mean in each function."""
    chosen = Basis.coerce(basis)
    opts = make_options(
        day=day, tz=tz, window=window, threshold=threshold, as_of=as_of,
        warn_after=warn_after, before_window=before_window,
        excluded_buyers=excluded_buyers, detail=detail,
    )
    window_s = seconds("attribution", attribution)
    evs = checked(evaluations, Evaluation)
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of, ends=ends,
                        threshold=opts.threshold)
    ords, order_quality = dedupe_orders(orders, opts.as_of)
    online, status_repeats = status_records(statuses, opts.as_of)
    first = min([tl.first, *(e.sent_at for e in evs), *(r.at for r in online)])
    last = max([tl.last, *(e.sent_at for e in evs), *(r.at for r in online)])
    cal = opts.calendar(first, last)
    m = Measure(tl, opts, cal)
    by_basis = {b.value: shop_result(m, b) for b in (Basis.FIRST, Basis.ANY)}
    agents = agent_rates(m)
    total = Tally(opts.detail)
    for a in sorted(m.agent_tallies):
        t = m.agent_tallies[a]
        for key, n in t.counts.items():
            total.counts[key] = total.counts.get(key, 0) + n
        if total.units is not None and t.units is not None:
            total.units.extend(t.units)
    sat = satisfaction_result(evs, tl, opts, cal)
    conv = conversion_result(m, ords, window_s, order_quality)
    pk = pk_result(tl, ords, opts, window_s, teams, order_quality)
    quality = sat.quality + order_quality + DataQuality(duplicates=status_repeats)
    return DailyReport(
        shop=by_basis[chosen.value],
        shop_by_basis=by_basis,
        agents=agents,
        agents_total=total.build(Rate, quality=tl.quality),
        satisfaction=sat,
        response_times=response_result(m),
        conversion=conv,
        pk=pk,
        quality=quality,
        service=service_result(tl, opts, cal, answer_within=opts.threshold, short_abandon=5.0,
                               statuses=online, status_repeats=status_repeats),
        shop_by_hour=hour_rates(m.buyer_hours(chosen is Basis.FIRST)),
    )
