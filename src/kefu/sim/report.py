"""Measure a simulated day with :mod:`kefu.kpi` and present it as a table or JSON.

The figures a platform judges (3-minute reply rates, satisfaction, response
times) come from ``kpi.daily_report``, the same code a live backend runs, over
the day's records: the messages as a :class:`~kefu.kpi.MessageTable`, and the
records the Assigner's events mean, made by the driver as the events came
by the rules of ``kpi.from_events`` (as ``kpi.Recorder`` does for a live
shop; a test holds the two equal). Queue figures (lengths, pool waits, peak
concurrency, give-ups) come from the driver's own bookkeeping of the
Assigner's events, per minute and per hour.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

import kefu
from kefu import kpi
from kefu.kpi import SENDER_CODES, DailyReport, Durations, MessageTable, Sender
from kefu.kpi.window import resolve_tz, window_bounds
from kefu.sim.config import SimConfig
from kefu.sim.driver import SimResult

__all__ = ["AgentRow", "HourRow", "Report", "day_records", "format_report", "measure",
           "reply_rate"]


@attrs.frozen(kw_only=True)
class HourRow:
    """One hour of the day from local midnight; in JSON, hour 24 and later hold the sessions
    still open after midnight (the table folds them into one row, "after midnight")."""

    hour: int
    arrivals: int
    sessions: int
    max_concurrent: int
    max_queue: int
    mean_queue: float
    mean_wait: float | None  # pool wait of sessions opened this hour, seconds
    abandoned: int
    met: int  # buyers judged for the shop's reply rate whose clock started this hour
    missed: int

    @property
    def reply_rate(self) -> float | None:
        decided = self.met + self.missed
        return self.met / decided if decided else None


@attrs.frozen(kw_only=True)
class AgentRow:
    """One agent's own reply rate (clock from taking the chat) and what they handled."""

    agent_id: str
    rate: float | None
    met: int
    missed: int
    handled: int
    first_response_median: float | None


@attrs.frozen(kw_only=True)
class Report:
    """A simulated day, measured. :meth:`to_json` is the ``--json`` output."""

    config: SimConfig
    engine: str
    arrivals: int
    sessions: int
    bot_only: int
    abandoned: int
    unserved: int
    agent_closed: int
    auto_closed: int
    peak_concurrent: int
    peak_at: float  # seconds after the day's 00:00
    max_queue: int
    p_wait: float | None  # share of sessions that waited in a pool
    mean_queue_wait: float | None  # over every session, 0 for those never queued
    mean_wait_if_queued: float | None
    p90_wait_if_queued: float | None
    daily: DailyReport = attrs.field(repr=False)
    agents: tuple[AgentRow, ...]
    hours: tuple[HourRow, ...]
    sim_seconds: float
    kpi_seconds: float
    in_window: int = 0  # sessions whose clock started inside the day's assessment window
    abandoned_in_window: int = 0  # of them, buyers who gave up before an agent took them
    abandoned_judged: int = 0  # buyers who gave up and are judged (as missed) in the reply rate

    @property
    def shop_reply_rate(self) -> float | None:
        return self.daily.shop.rate

    def to_json(self) -> dict[str, Any]:
        """Plain data: every figure, the config it came from, and the wall times."""
        d = self.daily
        shop = d.shop
        return {
            "kefu": kefu.__version__,
            "engine": self.engine,
            "config": config_json(self.config),
            "arrivals": self.arrivals,
            "sessions": self.sessions,
            "bot_only": self.bot_only,
            "abandoned": self.abandoned,
            "unserved": self.unserved,
            "agent_closed": self.agent_closed,
            "auto_closed": self.auto_closed,
            "peak_concurrent": self.peak_concurrent,
            "peak_concurrent_at": _clock(self.peak_at),
            "max_queue": self.max_queue,
            "p_wait": self.p_wait,
            "mean_queue_wait": self.mean_queue_wait,
            "mean_wait_if_queued": self.mean_wait_if_queued,
            "p90_wait_if_queued": self.p90_wait_if_queued,
            "shop_reply_rate": shop.rate,
            "shop_reply": {
                "met": shop.met,
                "missed": shop.missed,
                "never_reached_agent": shop.unreached,
                "per_session_rate": shop.per_session.rate,
                "any_basis_rate": d.shop_by_basis["any"].rate,
            },
            "in_window": self.in_window,
            "abandoned_in_window": self.abandoned_in_window,
            "abandoned_judged": self.abandoned_judged,
            "agents_reply_rate": d.agents_total.rate,
            "agent_reply_rates": {a.agent_id: a.rate for a in self.agents},
            "agent_stats": {
                a.agent_id: {"rate": a.rate, "met": a.met, "missed": a.missed,
                             "handled": a.handled,
                             "first_response_median": a.first_response_median}
                for a in self.agents
            },
            "satisfaction": d.satisfaction.rate,
            "ratings": d.satisfaction.met + d.satisfaction.missed,
            "response_times": {
                "first": _durations(d.response_times.first.calendar),
                "replies": _durations(d.response_times.replies.calendar),
            },
            "hours": [
                {"hour": h.hour, "arrivals": h.arrivals, "sessions": h.sessions,
                 "max_concurrent": h.max_concurrent, "max_queue": h.max_queue,
                 "mean_queue": h.mean_queue, "mean_wait": h.mean_wait,
                 "abandoned": h.abandoned, "reply_rate": h.reply_rate,
                 "met": h.met, "missed": h.missed}
                for h in self.hours
            ],
            "timing": {"simulate_s": round(self.sim_seconds, 3),
                       "kpi_s": round(self.kpi_seconds, 3)},
        }


def config_json(cfg: SimConfig) -> dict[str, Any]:
    """The run's parameters as plain data (echoed in every JSON report)."""
    wl, shop = cfg.workload, cfg.shop
    return {
        "seed": cfg.seed,
        "day": cfg.day.isoformat(),
        "tz": cfg.tz,
        "window": f"{cfg.window.start:%H:%M}-{cfg.window.end:%H:%M}",
        "threshold": cfg.threshold,
        "agents": shop.agents,
        "cap": shop.cap,
        "strategy": shop.strategy.value,
        "offline_diversion": shop.offline_diversion,
        "auto_close": shop.auto_close,
        "first_response_timeout": shop.first_response_timeout,
        "shifts": ",".join(str(s) for s in shop.shifts),
        "handoff": shop.handoff,
        "profile": wl.profile.name,
        "peak": wl.profile.peak_buyers,
        "expected_arrivals": round(wl.profile.expected_arrivals, 1),
        "groups": {g: s for g, s in wl.groups},
        "rounds": str(wl.rounds),
        "buyer_gap": str(wl.buyer_gap),
        "reply_delay": str(wl.reply_delay),
        "load_slowdown": wl.load_slowdown,
        "patience": None if wl.patience is None else str(wl.patience),
        "bot_share": wl.bot_share,
        "bot_time": str(wl.bot_time),
        "bot_resolve": wl.bot_resolve,
        "agent_close": wl.agent_close,
        "close_delay": str(wl.close_delay),
        "rate_share": wl.rate_share,
    }


def _durations(d: Durations) -> dict[str, float | int | None]:
    return {"count": d.count, "mean": d.mean, "median": d.median, "p90": d.p90}


def _clock(seconds: float) -> str:
    m = int(seconds // 60)
    day, m = divmod(m, 1440)
    text = f"{m // 60:02d}:{m % 60:02d}"
    return text if not day else f"{text} (+{day}d)"


def _kpi_kwargs(cfg: SimConfig) -> dict[str, Any]:
    return {"day": cfg.day, "tz": cfg.tz, "window": cfg.window, "threshold": cfg.threshold}


def day_records(result: SimResult) -> tuple[MessageTable, kpi.Records]:
    """The day's KPI records: what ``kpi.from_events(result.events, result.messages)``
    returns, with its messages as one :class:`~kefu.kpi.MessageTable`.

    The driver turned each command's events into records as they came
    (``result.records`` and ``result.openings``, as a live backend does with
    :class:`kefu.kpi.Recorder`), by the rules of ``from_events``, which a test
    holds them equal to. The people's messages come first, as the driver's
    columns, without a record per message, then the openings (``from_events``'
    row order); the records' ``messages`` stays empty. Cost: one table
    made from the columns, O(messages), mostly at C speed (the times and
    sender codes as numpy arrays, so only the ids are checked one by one).
    """
    cols, opening = result.message_columns, result.openings
    n = len(opening["at"])
    table = MessageTable(
        at=np.concatenate((cols["at"], np.array(opening["at"], dtype=np.float64))),
        session_id=[*cols["session_id"], *opening["session_id"]],
        buyer_id=[*cols["buyer_id"], *opening["buyer_id"]],
        sender=np.concatenate((cols["sender"],
                               np.full(n, SENDER_CODES[Sender.BUYER], dtype=np.int8))),
        message_id=[*cols["message_id"], *opening["message_id"]],
        agent_id=[*cols["agent_id"], *[None] * n],
    )
    return table, result.records


def reply_rate(result: SimResult) -> float | None:
    """The shop's reply rate of a run (share of buyers answered by a person within the
    threshold, per buyer and day, in the assessment window): what ``staff`` optimises."""
    messages, recs = day_records(result)
    shop = kpi.shop_reply_rate(messages, recs.handovers, requests=result.requests,
                               **_kpi_kwargs(result.config))
    return shop.rate


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, as kefu.kpi.Durations computes p90."""
    if not values:
        return None
    values.sort()
    return values[max(0, math.ceil(q * len(values)) - 1)]


def measure(result: SimResult) -> Report:
    """Run the KPIs over a simulated day and gather the driver's queue figures."""
    started = time.perf_counter()
    cfg = result.config
    messages, recs = day_records(result)
    daily = kpi.daily_report(
        messages, recs.handovers, result.evaluations, requests=result.requests,
        releases=recs.releases, ends=recs.ends, **_kpi_kwargs(cfg),
    )
    log = result.log
    waits = [w for w in log.wait if w == w]
    queued_waits = [w for w, q in zip(log.wait, log.queued, strict=True) if q and w == w]
    n = len(log.opened)
    agents = tuple(
        AgentRow(
            agent_id=a,
            rate=daily.agents[a].rate if a in daily.agents else None,
            met=daily.agents[a].met if a in daily.agents else 0,
            missed=daily.agents[a].missed if a in daily.agents else 0,
            handled=result.handled.get(a, 0),
            first_response_median=(
                daily.response_times.by_agent[a].first.calendar.median
                if a in daily.response_times.by_agent else None
            ),
        )
        for a in result.agents
    )
    hours = _hours(result, daily)
    lo, hi = window_bounds(cfg.day, cfg.window, resolve_tz(cfg.tz))
    inside = [i for i, t in enumerate(log.opened) if lo <= t < hi]
    return Report(
        config=cfg,
        engine=result.engine,
        arrivals=result.arrivals,
        sessions=result.sessions,
        bot_only=result.bot_only,
        abandoned=result.abandoned,
        unserved=result.unserved,
        agent_closed=result.agent_closed,
        auto_closed=result.auto_closed,
        peak_concurrent=result.peak_concurrent,
        peak_at=result.peak_at - result.t0,
        max_queue=result.max_queue,
        p_wait=sum(log.queued) / n if n else None,
        mean_queue_wait=math.fsum(waits) / len(waits) if waits else None,
        mean_wait_if_queued=math.fsum(queued_waits) / len(queued_waits) if queued_waits else None,
        p90_wait_if_queued=_percentile(queued_waits, 0.9),
        daily=daily,
        agents=agents,
        hours=hours,
        sim_seconds=result.wall_seconds,
        kpi_seconds=time.perf_counter() - started,
        in_window=len(inside),
        abandoned_in_window=sum(log.abandoned[i] for i in inside),
        abandoned_judged=daily.shop.never_reached,
    )


def _hours(result: SimResult, daily: DailyReport) -> tuple[HourRow, ...]:
    s = result.series
    last_minute = min(len(s.arrivals) - 1, int((result.end - result.t0) // 60))
    n_hours = last_minute // 60 + 1
    met = [0] * n_hours
    missed = [0] * n_hours
    for hour, rate in daily.shop_by_hour.items():  # hours from the day's local midnight
        h = min(n_hours - 1, max(0, hour))
        met[h] += rate.met
        missed[h] += rate.missed
    rows = []
    for h in range(n_hours):
        lo, hi = 60 * h, min(60 * h + 60, len(s.arrivals))
        opened = sum(s.opened[lo:hi])
        rows.append(HourRow(
            hour=h,
            arrivals=sum(s.arrivals[lo:hi]),
            sessions=opened,
            max_concurrent=max(s.max_concurrent[lo:hi]),
            max_queue=max(s.max_queue[lo:hi]),
            mean_queue=math.fsum(s.queue_area[lo:hi]) / 3600.0,
            mean_wait=math.fsum(s.waits[lo:hi]) / opened if opened else None,
            abandoned=sum(s.abandoned[lo:hi]),
            met=met[h],
            missed=missed[h],
        ))
    return tuple(rows)


# -- the human-readable table ----------------------------------------------------


def within(threshold: float) -> str:
    """The threshold as a manager says it: "3 minutes", "90 seconds"."""
    if threshold % 60 == 0:
        m = int(threshold // 60)
        return "1 minute" if m == 1 else f"{m} minutes"
    return f"{threshold:g} seconds"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _sec(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 600:
        return f"{x:.0f} s"
    return f"{x / 60:.1f} min"


def _n(x: int) -> str:
    return f"{x:,}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [indent + "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += [indent + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))
              for r in rows]
    return lines


def describe_config(cfg: SimConfig, *, agents: bool = True) -> list[str]:
    """Three lines saying which shop and which day were simulated."""
    shop, wl = cfg.shop, cfg.workload
    cap = "unlimited" if shop.cap is None else str(shop.cap)
    auto = "off" if shop.auto_close is None else f"{shop.auto_close:g} s"
    frt = "off" if shop.first_response_timeout is None else f"{shop.first_response_timeout:g} s"
    groups = ", ".join(f"{g} {s:g}" for g, s in wl.groups) or "none"
    shifts = ",".join(str(s) for s in shop.shifts)
    peak = "" if wl.profile.peak_buyers is None else f", peak {wl.profile.peak_buyers:g} buyers"
    patience = ("none (buyers wait as long as it takes)" if wl.patience is None else
                f"{wl.patience} (mean {_sec(wl.patience.mean)} before giving up)")
    return [
        f"shop:     {f'{shop.agents} agents, ' if agents else ''}up to {cap} chats each, "
        f"{shop.strategy.value}, groups {groups}, "
        f"offline diversion {'on' if shop.offline_diversion else 'off'}",
        f"          auto close {auto}, first-response timeout {frt}, shifts {shifts} "
        f"(at shift end: {shop.handoff})",
        f"workload: profile {wl.profile.name}{peak}, ~{wl.profile.expected_arrivals:,.0f} "
        f"buyers expected; {100 * wl.bot_share:g} % talk to the bot first; patience "
        f"{patience}",
    ]


def format_report(r: Report, *, agent_rows: int = 40) -> str:
    """The daily report as a shop manager reads it (what ``simulate`` prints without --json)."""
    cfg = r.config
    d = r.daily
    shop = d.shop
    rt = d.response_times
    limit = within(cfg.threshold)
    window = f"{cfg.window.start:%H:%M}-{cfg.window.end:%H:%M}"
    judged = shop.met + shop.missed
    out = [
        f"kefu simulate: {cfg.day} ({cfg.tz}), seed {cfg.seed}, engine {r.engine}; "
        f"simulated in {r.sim_seconds:.1f} s, measured in {r.kpi_seconds:.1f} s",
        *describe_config(cfg),
        "",
        "Buyers",
        *_buyer_lines(r, window, judged),
        "",
        "Service",
        f"  answered by a person within {limit}: {_pct(shop.rate)} of buyers "
        f"({_n(shop.met)} of {_n(judged)})",
        f"    counting every chat of a buyer:         {_pct(shop.per_session.rate)}",
        f"    only if every message of the buyer was: {_pct(d.shop_by_basis['any'].rate)}",
        f"    per agent: chats they answered within {limit} of taking them: "
        f"{_pct(d.agents_total.rate)}",
        *_time_lines("first response", rt.first.calendar, "chats"),
        *_time_lines("every reply", rt.replies.calendar, "replies"),
        f"  most buyers open at once: {_n(r.peak_concurrent)} at {_clock(r.peak_at)}",
        f"  waiting for an agent: most at once {_n(r.max_queue)}; {_pct(r.p_wait)} of chats "
        f"waited; mean wait {_sec(r.mean_queue_wait)} over all chats",
        f"    of those who waited: mean {_sec(r.mean_wait_if_queued)}, 90th percentile "
        f"{_sec(r.p90_wait_if_queued)}",
        f"  chats ended: {_n(r.agent_closed)} closed by the agent, {_n(r.auto_closed)} closed "
        f"automatically, {_n(r.abandoned)} buyers gave up waiting, {_n(r.unserved)} never "
        "answered",
        f"  satisfaction: {_pct(d.satisfaction.rate)} good ratings of "
        f"{_n(d.satisfaction.met + d.satisfaction.missed)}; the simulator draws ratings from an",
        "    assumed model (more waiting, fewer good ratings), so this is not a measured figure",
        "",
        f"By hour (answered: share of the buyers who first wrote in that hour answered by a "
        f"person within {limit})",
        *_hour_lines(r),
        "",
        f"Agents (chats each answered within {limit} of taking them; time in the queue "
        "is not theirs)",
        *_agent_lines(r, agent_rows),
    ]
    return "\n".join(out)


def _buyer_lines(r: Report, window: str, judged: int) -> list[str]:
    """Who arrived, and why fewer buyers are judged for the reply rate than arrive."""
    cfg = r.config
    queued_share = r.abandoned / r.sessions if r.sessions else None
    rows = [
        ("arrived", r.arrivals, ""),
        ("served by the bot alone", r.bot_only, "never asked for a person: not judged"),
        ("reached the queue for an agent", r.sessions, ""),
        ("  gave up waiting before an agent took their chat", r.abandoned,
         f"{_pct(queued_share)} of them"),
        (f"  opened outside {window} or after midnight", r.sessions - r.in_window,
         "outside the assessment hours: not judged"),
        (f"judged for the reply rate on {cfg.day}", judged,
         f"each buyer once a day, from their first message to a person in {window}"),
    ]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"  {name:<{width}}  {_n(n):>9}  {why}".rstrip() for name, n, why in rows]
    if r.abandoned_judged:
        lines.append(f"  {_n(r.abandoned_judged)} of the buyers who gave up waiting are judged, "
                     "as not answered in time.")
    left_out = r.abandoned_in_window - r.abandoned_judged
    if left_out > 0:
        lines.append(f"  {_n(left_out)} more gave up in {window} on a later chat of the day: "
                     "a buyer is judged once a day, on their first chat.")
    return lines


def _time_lines(name: str, x: Durations, what: str) -> list[str]:
    return [f"  {name}: mean {_sec(x.mean)}, median {_sec(x.median)}, 90th percentile "
            f"{_sec(x.p90)} ({_n(x.count)} {what})"]


def _hour_lines(r: Report) -> list[str]:
    """One row per hour of the day; the hours after midnight folded into one last row."""
    day = [h for h in r.hours if h.hour < 24]
    late = [h for h in r.hours if h.hour >= 24]
    rows = [
        [f"{h.hour:02d}:00", _n(h.arrivals), _n(h.max_concurrent), _n(h.max_queue),
         f"{h.mean_queue:.1f}", _sec(h.mean_wait), _n(h.abandoned), _pct(h.reply_rate)]
        for h in day if h.arrivals or h.max_concurrent
    ]
    if late and any(h.max_concurrent for h in late):
        rows.append(["after 24:00", _n(sum(h.arrivals for h in late)),
                     _n(max(h.max_concurrent for h in late)), _n(max(h.max_queue for h in late)),
                     "-", "-", _n(sum(h.abandoned for h in late)), "-"])
    lines = _table(["hour", "arrived", "most open chats", "most waiting", "mean waiting",
                    "mean wait", "gave up", "answered"], rows)
    if late:
        lines.append("  after 24:00: the day's last chats closing after midnight; buyers who "
                     "write then belong to the next day")
    return lines


def _agent_lines(r: Report, agent_rows: int) -> list[str]:
    ranked = sorted(r.agents, key=lambda a: (a.rate if a.rate is not None else -1, a.agent_id))
    shown = ranked if len(ranked) <= agent_rows else ranked[:agent_rows]
    arows = [[a.agent_id, _pct(a.rate), _n(a.met + a.missed), _n(a.handled),
              _sec(a.first_response_median)] for a in sorted(shown, key=lambda a: a.agent_id)]
    lines = _table(["agent", "answered in time", "chats judged", "chats taken",
                    "median first response"], arows)
    if len(ranked) > len(shown):
        rates = [a.rate for a in ranked if a.rate is not None]
        spread = f" (from {_pct(min(rates))} to {_pct(max(rates))})" if rates else ""
        lines.append(f"  ... the {len(shown)} lowest of {len(ranked)} agents shown{spread}; "
                     "--json has them all")
    return lines
