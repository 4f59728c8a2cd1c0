"""Counted clocks: which waits count, from when, and how they stand (K00, K01, K02, K04, K07).

A *clock* is a wait's start as a rule sees it. For the shop it is the wait's
first buyer message, or the switch to human service if later (K02). For an
agent it is additionally not before the session entered their reception
list (K04). A clock counts when it starts inside the window of an asked day;
one that starts before a window counts, under the OPEN policy only, from the
window's opening if the wait is still unanswered (and still the agent's)
then (K01).

These passes run once per computation and feed every KPI (reply rates,
response times, conversion); they are the hot loop of :mod:`kefu.kpi`, so
the window lookup is inlined and statuses are small ints:
MET=0 < PENDING=1 < MISSED=2 (worse is larger), CUT=-1 for an agent's
stretch handed on unanswered before the threshold (no unit).
"""

from __future__ import annotations

import bisect

from kefu.kpi.options import Options
from kefu.kpi.timeline import INF, Session, Timeline
from kefu.kpi.window import BeforeWindow, Calendar

__all__ = [
    "CUT",
    "MET",
    "MISSED",
    "PENDING",
    "AgentClocks",
    "ShopClocks",
    "agent_clocks",
    "judge",
    "shop_clocks",
]

MET = 0
PENDING = 1
MISSED = 2
CUT = -1

Clock = tuple[int, float, float, int]
"""(window index, clock start, reply or inf, wait index k in the session)."""


def judge(c: float, r: float, end: float, as_of: float, threshold: float) -> int:
    """A clock's status at ``as_of`` (K00, K04, K07).

    MET when a reply came within the threshold (inclusive); CUT when the
    unit's stretch ended unanswered before the threshold passed (K04);
    MISSED once ``as_of`` is past the threshold; PENDING before.
    """
    if r - c <= threshold:
        return MET
    if end <= c + threshold:
        return CUT
    if as_of - c > threshold:
        return MISSED
    return PENDING


class ShopClocks:
    """Counted shop clocks of every session with an agent, plus K02's waiting sessions.

    ``sessions`` pairs each such session with its clocks, in time order;
    ``waiting`` pairs each session still without an agent with the start of
    its counted wait.
    """

    __slots__ = ("sessions", "waiting")

    def __init__(self) -> None:
        self.sessions: list[tuple[Session, list[Clock]]] = []
        self.waiting: list[tuple[Session, int, float]] = []


def shop_clocks(tl: Timeline, opts: Options, cal: Calendar) -> ShopClocks:
    """Every counted shop clock (K01, K02), computed once for all shop KPIs."""
    as_of = opts.as_of
    open_policy = opts.before_window is BeforeWindow.OPEN
    opens = cal.opens
    closes = cal.closes
    counted = cal.counted
    n_win = len(opens)
    bisect_right = bisect.bisect_right
    out = ShopClocks()
    sessions = out.sessions
    for s in tl.sessions.values():
        us = s.us
        if not us:
            continue
        h = s.human
        rs = s.rs
        waiting = s.reached == INF
        if waiting and s.with_bot:
            continue  # still talking to the bot: not waiting for a human
        clocks: list[Clock] = []
        for k in range(1 if waiting else len(us)):
            c = us[k]
            if c < h:
                c = h
            r = rs[k]
            i = bisect_right(opens, c) - 1
            if i < 0 or c >= closes[i]:
                if not open_policy:
                    continue
                i += 1
                if i >= n_win:
                    continue
                c = opens[i]
                if r < c or c > as_of:
                    continue
            if counted[i]:
                clocks.append((i, c, r, k))
        if clocks:
            if waiting:
                out.waiting.append((s, clocks[0][0], clocks[0][1]))
            else:
                sessions.append((s, clocks))
    return out


AgentStretch = tuple[Session, str, "str | None", float, list[Clock]]
"""(session, agent, group, stretch end, counted clocks in the stretch)."""


class AgentClocks:
    """Counted agent clocks, per stretch (K04)."""

    __slots__ = ("stretches",)

    def __init__(self) -> None:
        self.stretches: list[AgentStretch] = []


def agent_clocks(tl: Timeline, opts: Options, cal: Calendar) -> AgentClocks:
    """Every counted agent clock: for each stretch, the waits under way in it (K04)."""
    as_of = opts.as_of
    open_policy = opts.before_window is BeforeWindow.OPEN
    opens = cal.opens
    closes = cal.closes
    counted = cal.counted
    n_win = len(opens)
    bisect_left = bisect.bisect_left
    bisect_right = bisect.bisect_right
    out = AgentClocks()
    for s in tl.sessions.values():
        us = s.us
        if not us or not s.stretches:
            continue
        rs = s.rs
        h = s.human
        n = len(us)
        for agent, group, start, end in s.stretches:
            k = bisect_left(rs, start)  # the wait under way at the hand-over, or the next
            clocks: list[Clock] = []
            while k < n:
                c = us[k]
                if c >= end:
                    break
                if c < h:
                    c = h
                if c < start:
                    c = start
                if c >= end:
                    break
                r = rs[k]
                if r >= end:
                    r = INF  # answered after the stretch: not in it
                i = bisect_right(opens, c) - 1
                if i < 0 or c >= closes[i]:
                    if not open_policy or i + 1 >= n_win:
                        k += 1
                        continue
                    i += 1
                    c = opens[i]
                    if r < c or end <= c or c > as_of:
                        k += 1
                        continue
                if counted[i]:
                    clocks.append((i, c, r, k))
                k += 1
            if clocks:
                out.stretches.append((s, agent, group, end, clocks))
    return out
