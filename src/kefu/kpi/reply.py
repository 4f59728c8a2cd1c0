"""3-minute reply rates: the shop's (K03) and each agent's (K04).

Units are formed by :class:`kefu.kpi.measure.Measure` from counted clocks
(:mod:`kefu.kpi.clocks`):

- shop, per session-day: the session's counted clocks of one local day;
- shop, per buyer-day: all of a buyer's session-days of that day;
- agent, per stretch-day: the first counted clock of a stretch on a day.

Under basis FIRST a shop unit is what its first clock is; under ANY it is
its worst clock (missed > pending > met). An agent's unit is MET by a human
reply within the threshold in the stretch, cut (no unit) when the stretch
ends unanswered before the threshold, else MISSED or PENDING (K04, K07).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from operator import attrgetter

from kefu.kpi.measure import NEVER_REACHED, STILL_WAITING, Measure
from kefu.kpi.options import DayArg, ExclusionsArg, make_options
from kefu.kpi.records import Handover, HumanRequest, Message, Release, SessionEnd
from kefu.kpi.results import Rate, ShopReplyRate, Tally
from kefu.kpi.timeline import INF, build_timeline
from kefu.kpi.window import Basis, BeforeWindow, Window

__all__ = ["agent_rates", "agent_reply_rates", "shop_reply_rate", "shop_result"]


def shop_result(m: Measure, basis: Basis) -> ShopReplyRate:
    """K03 per buyer-day and per session-day, with K02's waiting buyers."""
    first_basis = basis is Basis.FIRST
    per_session = m.session_tallies[0 if first_basis else 1]
    per_buyer = m.buyer_days(first_basis)
    which = 0 if first_basis else 1
    _sort_units(per_session)
    _sort_units(per_buyer)
    as_of = m.opts.as_of
    oldest = min((c for _b, c in m.waiting), default=INF)
    return per_buyer.build(
        ShopReplyRate,
        quality=m.quality,
        agents=False,
        basis=basis.value,
        per_session=per_session.build(Rate, quality=m.quality, agents=False),
        waiting=len({b for b, _c in m.waiting}),
        waiting_sessions=len(m.waiting),
        longest_wait=None if oldest == INF or as_of == INF else as_of - oldest,
        still_waiting=m.buyer_fates[which].get(STILL_WAITING, 0),
        never_reached=m.buyer_fates[which].get(NEVER_REACHED, 0),
        still_waiting_sessions=m.session_fates[which].get(STILL_WAITING, 0),
        never_reached_sessions=m.session_fates[which].get(NEVER_REACHED, 0),
    )


def _sort_units(tally: Tally) -> None:
    """Units by (day, buyer, session, start, agent), None as "" (an id is a str).

    When no session is None and the agents are all None or none is, the
    fields themselves give that order (a column all None orders nothing), and
    a C-made key replaces a Python call per unit. O(u log u)."""
    units = tally.units
    if units is None:
        return
    agents = list(map(_AGENT, units))
    n_none = agents.count(None)
    if None in map(_SESSION, units) or 0 < n_none < len(units):
        units.sort(key=lambda u: (u.day, u.buyer_id, u.session_id or "", u.start,
                                  u.agent_id or ""))
    else:
        units.sort(key=_SHOP_ORDER if n_none else _AGENT_ORDER)


_AGENT = attrgetter("agent_id")
_SESSION = attrgetter("session_id")
_SHOP_ORDER = attrgetter("day", "buyer_id", "session_id", "start")
_AGENT_ORDER = attrgetter("day", "buyer_id", "session_id", "start", "agent_id")


def agent_rates(m: Measure) -> dict[str, Rate]:
    """Each agent's K04 Rate, keyed and ordered by agent id."""
    out: dict[str, Rate] = {}
    for agent in sorted(m.agent_tallies):
        tally = m.agent_tallies[agent]
        _sort_units(tally)
        out[agent] = tally.build(Rate, quality=m.quality, agents=False)
    return out


def shop_reply_rate(
    messages: Iterable[Message],
    handovers: Iterable[Handover] = (),
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
    detail: bool = False,
) -> ShopReplyRate:
    """The shop's 3-minute reply rate (K03), per buyer-day and (``.per_session``) per session-day.

    A buyer counts once per local day on which they reached human service in
    the window (K01, K02); with basis FIRST their first counted wait decides,
    with ANY every wait must be answered within ``threshold``. ``detail=True``
    keeps every unit in ``.units``.
    """
    b = Basis.coerce(basis)
    opts = make_options(
        day=day, tz=tz, window=window, threshold=threshold, as_of=as_of,
        warn_after=warn_after, before_window=before_window,
        excluded_buyers=excluded_buyers, detail=detail,
    )
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of, ends=ends,
                        threshold=opts.threshold)
    cal = opts.calendar(tl.first, tl.last)
    return shop_result(Measure(tl, opts, cal, agents=False, times=False), b)


def agent_reply_rates(
    messages: Iterable[Message],
    handovers: Iterable[Handover],
    *,
    requests: Iterable[HumanRequest] = (),
    releases: Iterable[Release] = (),
    ends: Iterable[SessionEnd] = (),
    day: DayArg = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    window: Window | None = None,
    threshold: float = 180.0,
    as_of: float | dt.datetime | None = None,
    warn_after: float = 100.0,
    before_window: BeforeWindow | str = BeforeWindow.EXCLUDE,
    excluded_buyers: ExclusionsArg = frozenset(),
    detail: bool = False,
) -> Mapping[str, Rate]:
    """Each agent's 3-minute reply rate (K04): {agent_id: Rate}, by day and group inside.

    The clock starts when the session entered the agent's reception list, or
    at the first buyer message left unanswered after that; pool time is not
    the agent's. A stretch handed on unanswered before the threshold is no
    unit for that agent.
    """
    opts = make_options(
        day=day, tz=tz, window=window, threshold=threshold, as_of=as_of,
        warn_after=warn_after, before_window=before_window,
        excluded_buyers=excluded_buyers, detail=detail,
    )
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of, ends=ends,
                        threshold=opts.threshold)
    cal = opts.calendar(tl.first, tl.last)
    return agent_rates(Measure(tl, opts, cal, shop=False, times=False))
