"""Response times (K08): first and every human response, shop-wide and per agent.

A sample is a counted clock (the same clocks as the reply rates, so window
and before-window policy mean the same) that a human reply ended; it is
timed in calendar seconds (reply - clock) and in in-window seconds (the part
of [clock, reply] inside assessment windows, so a 22:59 wait answered at
08:01 next morning takes 120 in-window seconds under 08:00-23:00).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from kefu.kpi.bulk import bulk
from kefu.kpi.clocks import AgentClocks, ShopClocks, agent_clocks, shop_clocks
from kefu.kpi.options import DayArg, ExclusionsArg, Options, make_options
from kefu.kpi.records import Handover, HumanRequest, Message, Release
from kefu.kpi.results import Durations, ResponseStats, ResponseTimes
from kefu.kpi.timeline import INF, Timeline, build_timeline
from kefu.kpi.window import BeforeWindow, Calendar, Window

__all__ = ["response_result", "response_times"]


class _Samples:
    """Durations collected for one agent (or the shop)."""

    __slots__ = ("crossed", "first_cal", "first_win", "rep_cal", "rep_win")

    def __init__(self) -> None:
        self.first_cal: list[float] = []
        self.first_win: list[float] = []
        self.rep_cal: list[float] = []
        self.rep_win: list[float] = []
        self.crossed = False  # some wait ran past its window's close: in-window != calendar

    def add(self, cal: float, win: float, first: bool) -> None:
        self.rep_cal.append(cal)
        self.rep_win.append(win)
        if first:
            self.first_cal.append(cal)
            self.first_win.append(win)

    def result(self, **fields: object) -> ResponseTimes:
        return ResponseTimes(
            first=self._stats(self.first_cal, self.first_win),
            replies=self._stats(self.rep_cal, self.rep_win),
            **fields,  # type: ignore[arg-type]
        )

    def _stats(self, cal: list[float], win: list[float]) -> ResponseStats:
        calendar = Durations.of(cal)
        # Sorting is most of the cost here; skip the copy when nothing crossed a close.
        return ResponseStats(calendar, Durations.of(win) if self.crossed else calendar)


def _samples(table: dict[str, _Samples], key: str) -> _Samples:
    s = table.get(key)
    if s is None:
        s = table[key] = _Samples()
    return s


def response_result(tl: Timeline, sc: ShopClocks, ac: AgentClocks, opts: Options,
                    cal: Calendar) -> ResponseTimes:
    """K08 from the counted shop and agent clocks."""
    closes = cal.closes
    in_window = cal.in_window
    excluded = opts.excluded
    shop = _Samples()
    # Bound appends: this loop runs once per answered wait of the day.
    rep_cal, rep_win = shop.rep_cal.append, shop.rep_win.append
    first_cal, first_win = shop.first_cal.append, shop.first_win.append
    by_agent: dict[str, _Samples] = {}
    unanswered = dropped = 0
    for s, clocks in sc.sessions:
        if s.buyer_id in excluded:
            dropped += len(clocks)
            continue
        fallback = not s.stretches
        last_day = -1
        for i, c, r, k in clocks:
            first = i != last_day
            last_day = i
            if r == INF:
                unanswered += 1
                continue
            cal_s = r - c
            # The clock is inside window i; the reply usually is too (fast path).
            if r <= closes[i]:
                win_s = cal_s
            else:
                win_s = in_window(c, r)
                shop.crossed = True
            rep_cal(cal_s)
            rep_win(win_s)
            if first:
                first_cal(cal_s)
                first_win(win_s)
            if fallback:  # no hand-overs: credit the agent named on the reply
                name = s.ragents[k]
                if name is not None:
                    fb = _samples(by_agent, name)
                    fb.add(cal_s, win_s, first)
                    fb.crossed = fb.crossed or win_s != cal_s
    for s, agent, _group, _end, clocks in ac.stretches:
        if s.buyer_id in excluded:
            continue
        samples = _samples(by_agent, agent)
        a_cal, a_win = samples.rep_cal.append, samples.rep_win.append
        last_day = -1
        for i, c, r, _k in clocks:
            first = i != last_day
            last_day = i
            if r != INF:
                cal_s = r - c
                if r <= closes[i]:
                    win_s = cal_s
                else:
                    win_s = in_window(c, r)
                    samples.crossed = True
                a_cal(cal_s)
                a_win(win_s)
                if first:
                    samples.first_cal.append(cal_s)
                    samples.first_win.append(win_s)
    return shop.result(
        by_agent={a: by_agent[a].result() for a in sorted(by_agent)},
        unanswered=unanswered,
        excluded=dropped,
        quality=tl.quality,
    )


@bulk
def response_times(
    messages: Iterable[Message],
    handovers: Iterable[Handover] = (),
    *,
    requests: Iterable[HumanRequest] = (),
    releases: Iterable[Release] = (),
    day: DayArg = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    window: Window | None = None,
    as_of: float | dt.datetime | None = None,
    before_window: BeforeWindow | str = BeforeWindow.EXCLUDE,
    excluded_buyers: ExclusionsArg = frozenset(),
) -> ResponseTimes:
    """First and average human response times (K08), for the shop and per agent.

    Each reply is timed from the first unanswered buyer message before it (or
    the switch to human service, K02). An agent's times run from when the
    session was theirs. count, mean, median and p90 come in calendar and in
    in-window seconds.
    """
    opts = make_options(
        day=day, tz=tz, window=window, as_of=as_of, before_window=before_window,
        excluded_buyers=excluded_buyers,
    )
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of)
    cal = opts.calendar(tl.first, tl.last)
    return response_result(tl, shop_clocks(tl, opts, cal), agent_clocks(tl, opts, cal), opts,
                           cal)
