"""Record builders for the KPI tests: a shop day in Asia/Shanghai, times by wall clock."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

from kefu.kpi import Handover, HumanRequest, LiveTracker, Message, Release, Sender, kernel

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 11, 11)
_ids = itertools.count()


def at(h: int, m: int = 0, s: float = 0.0, day: dt.date = DAY,
       tz: dt.tzinfo = SH) -> float:
    """POSIX seconds of local wall time h:m:s on ``day``."""
    whole = int(s)
    micro = round((s - whole) * 1_000_000)
    return dt.datetime.combine(day, dt.time(h, m, whole, micro), tz).timestamp()


def buyer(t: float, session: str = "s1", who: str = "b1", mid: str | None = None,
          seq: int = 0) -> Message:
    return Message(session, who, t, Sender.BUYER, mid or f"m{next(_ids)}", seq=seq)


def agent(t: float, session: str = "s1", who: str = "b1", name: str | None = "alice",
          mid: str | None = None) -> Message:
    return Message(session, who, t, Sender.AGENT, mid or f"m{next(_ids)}", agent_id=name)


def other(t: float, sender: Sender, session: str = "s1", who: str = "b1") -> Message:
    return Message(session, who, t, sender, f"m{next(_ids)}")


def hand(t: float, name: str = "alice", session: str = "s1", who: str = "b1",
         group: str | None = None) -> Handover:
    return Handover(session, who, name, t, group)


def release(t: float, name: str = "alice", session: str = "s1") -> Release:
    return Release(session, name, t)


def switch(t: float, session: str = "s1", who: str = "b1") -> HumanRequest:
    return HumanRequest(session, who, t)


def tracker_on(feed: str) -> LiveTracker:
    """A tracker on the compiled feed and sessions ("c") or the reference ones ("py"),
    whichever kernel is active (they are chosen as the tracker is made)."""
    saved = kernel.ACTIVE
    kernel.ACTIVE = feed
    try:
        return LiveTracker(tz="Asia/Shanghai")
    finally:
        kernel.ACTIVE = saved
