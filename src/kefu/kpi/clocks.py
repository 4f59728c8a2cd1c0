"""Counted clocks: which waits count, from when, and how they stand (K00, K01, K02, K04, K07).

A *clock* is a wait's start as a rule sees it. For the shop it is the wait's
first buyer message, or the switch to human service if later (K02). For an
agent it is additionally not before the session entered their reception
list (K04). A clock counts when it starts inside the window of an asked day;
one that starts before a window counts, under the OPEN policy only, from the
window's opening if the wait is still unanswered (and still the agent's)
then (K01).

Clocks come in *runs*: ``(i, ka, kb, c)`` is waits ``ka .. kb-1`` (flat
indices into the timeline's columns), all counted in window ``i``, the first
clocked at ``c`` and every other one at its own start ``us[k]``. Only a run's
first clock can differ from its wait's start (a switch, a hand-over or a
window opening falls inside at most the first wait of a run, see
:mod:`kefu.kpi.timeline`), and a run is a session-day (or stretch-day):
the unit of K03/K04. Most sessions' waits all start inside one window and
make one run, found with two lookups (:func:`one_run`); the rest are
classified clock by clock (:func:`runs`).

Statuses are small ints, MET=0 < PENDING=1 < MISSED=2 (worse is larger);
CUT=-1 marks an agent's stretch handed on unanswered before the threshold
(no unit).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from kefu.kpi.timeline import INF, Timeline
from kefu.kpi.window import Calendar

__all__ = ["CUT", "MET", "MISSED", "PENDING", "Run", "human_clock", "judge", "one_run", "runs"]

MET = 0
PENDING = 1
MISSED = 2
CUT = -1

Run = tuple[int, int, int, float]
"""(window index i, first wait ka, end kb, clock of wait ka)."""


def human_clock(tl: Timeline, j: int, threshold: float) -> float:
    """The shop clock of session ``j``'s first wait, or ``inf`` when it forms no unit (K02).

    The clock is the wait's first buyer message, or the switch to human
    service if that came later. There is none when the session has no wait,
    or when the bot took it (wrote within ``threshold`` of that clock, with no
    switch) and no agent has reached it. The reply rates and the service
    figures both start from it. O(1).
    """
    lo = tl.wlo[j]
    if lo == tl.wlo[j + 1]:
        return INF
    c = tl.us[lo]
    h = tl.human[j]
    if c < h:
        c = h  # only a session's first wait can start before human service
    if tl.reached[j] == INF and tl.bot_at[j] - c <= threshold:
        return INF
    return c


def judge(c: float, r: float, end: float, as_of: float, threshold: float) -> int:
    """A clock's status at ``as_of`` (K00, K04, K07).

    MET when a reply came within the threshold (inclusive); CUT when the
    unit's stretch ended unanswered (``r`` is inf, or after ``end``) before
    the threshold passed (K04);
    MISSED once ``as_of`` is past the threshold; PENDING before.
    """
    if r - c <= threshold:
        return MET
    if end <= c + threshold:
        return CUT
    if as_of - c > threshold:
        return MISSED
    return PENDING


def one_run(cal: Calendar, c_first: float, c_last: float) -> int:
    """The window holding both ``c_first`` and ``c_last`` if it is counted, else -1.

    Clocks between them then all lie in it: the waits make one run.
    """
    i = bisect_right(cal.opens, c_first) - 1
    if i >= 0 and c_last < cal.closes[i] and cal.counted[i]:
        return i
    return -1


def runs(cal: Calendar, us: Sequence[float], rs: Sequence[float], ka: int, kb: int, c1: float,
         end: float, as_of: float, open_policy: bool) -> list[Run]:
    """Counted clocks of waits ``ka .. kb-1`` (the first clocked at ``c1``), as runs.

    ``end`` is when the waits stop being the unit's (an agent's stretch
    ending; ``inf`` for the shop): a reply after it is no reply, one at the
    same instant still is (K04). A
    clock before a window counts only under the OPEN policy, from the
    opening, if the wait is unanswered then, still the unit's, and the
    opening is not after ``as_of`` (K01).
    """
    opens, closes, counted = cal.opens, cal.closes, cal.counted
    n_win = len(opens)
    out: list[Run] = []
    for k in range(ka, kb):
        c = c1 if k == ka else us[k]
        i = bisect_right(opens, c) - 1
        if i < 0 or c >= closes[i]:
            if not open_policy or i + 1 >= n_win:
                continue
            i += 1
            c = opens[i]
            r = rs[k]
            if r > end:
                r = INF
            if r < c or end <= c or c > as_of:
                continue
        if not counted[i]:
            continue
        if out and out[-1][0] == i and out[-1][2] == k:
            out[-1] = (i, out[-1][1], k + 1, out[-1][3])
        else:
            out.append((i, k, k + 1, c))
    return out
