"""3-minute reply rates: the shop's (K03) and each agent's (K04).

Units are formed from counted clocks (:mod:`kefu.kpi.clocks`):

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
from typing import Any

from kefu.kpi.bulk import bulk
from kefu.kpi.clocks import (
    CUT,
    PENDING,
    AgentClocks,
    ShopClocks,
    agent_clocks,
    judge,
    shop_clocks,
)
from kefu.kpi.options import DayArg, ExclusionsArg, Options, make_options
from kefu.kpi.records import Handover, HumanRequest, Message, Release
from kefu.kpi.results import (
    EXCLUDED_CODE,
    Rate,
    ShopReplyRate,
    Tally,
    Unit,
    status_of,
)
from kefu.kpi.timeline import INF, Timeline, build_timeline
from kefu.kpi.window import Basis, BeforeWindow, Calendar, Window

__all__ = [
    "Consults",
    "agent_rates",
    "agent_reply_rates",
    "agent_tallies",
    "shop_reply_rate",
    "shop_result",
]

# A unit being assembled: [day index, first clock, session id, group, code, start, end, risk].
# ``first``/session/group name the unit; code/start/end are its deciding clock's.
_Acc = list[Any]


class _Emitter:
    """Counts units into a Tally, applying exclusions (K06) and at-risk (K07)."""

    __slots__ = ("cal", "excluded", "kind", "tally")

    def __init__(self, tally: Tally, cal: Calendar, opts: Options, kind: str) -> None:
        self.tally = tally
        self.cal = cal
        self.excluded = opts.excluded
        self.kind = kind

    def emit(self, i: int, buyer: str, session: str | None, agent: str | None,
             group: str | None, code: int, start: float, end: float, risk: bool) -> None:
        day = self.cal.days[i]
        reason = self.excluded.get(buyer)
        if reason is not None:
            code = EXCLUDED_CODE
        risk = risk and code == PENDING
        self.tally.add(day, group, agent, code, risk, reason)
        if self.tally.units is not None:
            self.tally.unit(Unit(self.kind, status_of(code), day, buyer, session, agent, group,
                                 start, None if end == INF else end, reason))


Consults = dict[tuple[str, int], _Acc]
"""Buyer-day units by (buyer, window index); item 1 is the first clock, item 2 its session."""


def shop_result(tl: Timeline, sc: ShopClocks, opts: Options, cal: Calendar,
                basis: Basis, consults: Consults | None = None) -> ShopReplyRate:
    """K03 per buyer-day and per session-day, with K02's waiting buyers.

    ``consults``, if given, receives the buyer-day units (K10 reuses them).
    """
    T = opts.threshold
    as_of = opts.as_of
    warn = opts.warn_after
    first_basis = basis is Basis.FIRST
    per_session = Tally(opts.detail)
    emit_session = _Emitter(per_session, cal, opts, "session-day").emit
    buyers: Consults = {} if consults is None else consults

    def fold(buyer: str, u: _Acc) -> None:
        key = (buyer, u[0])
        b = buyers.get(key)
        if b is None:
            buyers[key] = u
        elif first_basis:
            if (u[1], u[2]) < (b[1], b[2]):
                buyers[key] = u
        else:
            if (u[1], u[2]) < (b[1], b[2]):
                b[1], b[2], b[3] = u[1], u[2], u[3]
            if u[7]:
                b[7] = True
            if u[4] > b[4] or (u[4] == b[4] and u[5] < b[5]):
                b[4], b[5], b[6] = u[4], u[5], u[6]

    for s, clocks in sc.sessions:
        buyer = s.buyer_id
        sid = s.session_id
        group = s.group
        unit: _Acc | None = None
        if first_basis and clocks[0][0] == clocks[-1][0]:
            clocks = clocks[:1]  # one day: under FIRST only its first clock matters
        for i, c, r, _k in clocks:
            code = 0 if r - c <= T else (2 if as_of - c > T else 1)
            risk = code == 1 and as_of - c > warn
            if unit is None or unit[0] != i:
                if unit is not None:
                    emit_session(unit[0], buyer, sid, None, group, unit[4], unit[5], unit[6],
                                 unit[7])
                    fold(buyer, unit)
                unit = [i, c, sid, group, code, c, r, risk]
            elif not first_basis:
                if risk:
                    unit[7] = True
                if code > unit[4]:
                    unit[4], unit[5], unit[6] = code, c, r
        if unit is not None:
            emit_session(unit[0], buyer, sid, None, group, unit[4], unit[5], unit[6], unit[7])
            fold(buyer, unit)

    per_buyer = Tally(opts.detail)
    emit_buyer = _Emitter(per_buyer, cal, opts, "buyer-day").emit
    for (buyer, i), u in buyers.items():
        emit_buyer(i, buyer, u[2], None, u[3], u[4], u[5], u[6], u[7])
    _sort_units(per_session)
    _sort_units(per_buyer)
    waiting_buyers = {s.buyer_id for s, _i, _c in sc.waiting}
    oldest = min((c for _s, _i, c in sc.waiting), default=INF)
    return per_buyer.build(
        ShopReplyRate,
        quality=tl.quality,
        agents=False,
        basis=basis.value,
        per_session=per_session.build(Rate, quality=tl.quality, agents=False),
        waiting=len(waiting_buyers),
        waiting_sessions=len(sc.waiting),
        longest_wait=None if oldest == INF or as_of == INF else as_of - oldest,
    )


def _sort_units(tally: Tally) -> None:
    if tally.units is not None:
        tally.units.sort(key=lambda u: (u.day, u.buyer_id, u.session_id or "", u.start,
                                        u.agent_id or ""))


def agent_tallies(ac: AgentClocks, opts: Options, cal: Calendar) -> dict[str, Tally]:
    """K04 units of every agent: one per stretch and day, from its first counted clock."""
    T = opts.threshold
    as_of = opts.as_of
    warn = opts.warn_after
    tallies: dict[str, Tally] = {}
    emitters: dict[str, _Emitter] = {}
    for s, agent, group, end, clocks in ac.stretches:
        last_day = -1
        for i, c, r, _k in clocks:
            if i == last_day:
                continue
            code = judge(c, r, end, as_of, T)
            if code == CUT:  # handed on unanswered before the threshold (K04)
                break
            last_day = i
            em = emitters.get(agent)
            if em is None:
                tallies[agent] = Tally(opts.detail)
                em = emitters[agent] = _Emitter(tallies[agent], cal, opts, "stretch")
            em.emit(i, s.buyer_id, s.session_id, agent, group, code, c, r,
                    code == PENDING and as_of - c > warn)
    for t in tallies.values():
        _sort_units(t)
    return tallies


def agent_rates(tallies: dict[str, Tally], tl: Timeline) -> dict[str, Rate]:
    """Each agent's K04 Rate, keyed and ordered by agent id."""
    return {
        a: tallies[a].build(Rate, quality=tl.quality, agents=False) for a in sorted(tallies)
    }


@bulk
def shop_reply_rate(
    messages: Iterable[Message],
    handovers: Iterable[Handover] = (),
    *,
    requests: Iterable[HumanRequest] = (),
    releases: Iterable[Release] = (),
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
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of)
    cal = opts.calendar(tl.first, tl.last)
    return shop_result(tl, shop_clocks(tl, opts, cal), opts, cal, b)


@bulk
def agent_reply_rates(
    messages: Iterable[Message],
    handovers: Iterable[Handover],
    *,
    requests: Iterable[HumanRequest] = (),
    releases: Iterable[Release] = (),
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
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of)
    cal = opts.calendar(tl.first, tl.last)
    return agent_rates(agent_tallies(agent_clocks(tl, opts, cal), opts, cal), tl)
