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

from kefu.kpi.measure import Measure
from kefu.kpi.options import DayArg, ExclusionsArg, make_options
from kefu.kpi.records import Handover, HumanRequest, Message, Release, SessionEnd
from kefu.kpi.results import ResponseTimes
from kefu.kpi.timeline import build_timeline
from kefu.kpi.window import BeforeWindow, Window

__all__ = ["response_result", "response_times"]


def response_result(m: Measure) -> ResponseTimes:
    """K08 from a walk's samples: the shop's, and each agent's (ordered by agent id)."""
    return m.shop_samples.result(
        by_agent={a: m.agent_samples[a].result() for a in sorted(m.agent_samples)},
        unanswered=m.unanswered,
        excluded=m.dropped,
        quality=m.quality,
    )


def response_times(
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
    as_of: float | dt.datetime | None = None,
    before_window: BeforeWindow | str = BeforeWindow.EXCLUDE,
    excluded_buyers: ExclusionsArg = frozenset(),
) -> ResponseTimes:
    """First and average human response times (K08), for the shop and per agent.

    Each reply is timed from the first unanswered buyer message before it (or
    the switch to human service, K02). An agent's times run from when the
    session was theirs. count, mean, median and p90 come in calendar and in
    in-window seconds. ``threshold`` matters only for sessions a bot answered: the
    bot took one (its waits are not timed) if it wrote within the threshold (K02).
    """
    opts = make_options(
        day=day, tz=tz, window=window, threshold=threshold, as_of=as_of,
        before_window=before_window,
        excluded_buyers=excluded_buyers,
    )
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of, ends=ends,
                        threshold=opts.threshold)
    cal = opts.calendar(tl.first, tl.last)
    return response_result(Measure(tl, opts, cal, shop=False, agents=False))
