"""Occupancy and mean concurrency per agent (K13): how busy agents were while on line.

An agent's *on-line time* comes from their :class:`AgentStatus` records: on
line from an ``online=True`` record to the next ``online=False`` one, off
line before their first record, and still on line at ``as_of`` after an
``online=True`` last record. Only on-line time inside the counted windows
(the asked days) and not after ``as_of`` counts. An agent *holds* a session
over each of their stretches (hand-over to hand-over or release; an open one
lasts until ``as_of``); sessions of excluded buyers are left out (K06).

- occupancy = on-line seconds holding at least one session / on-line seconds;
- mean concurrency = session-seconds held while on line / on-line seconds.

Records of one instant apply in ``seq`` order, an off-line one first on a
tie. Cost: O(r log r + s log s) for r status records and s stretches.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from operator import attrgetter

from kefu.kpi.intake import checked
from kefu.kpi.options import Options
from kefu.kpi.records import AgentStatus
from kefu.kpi.timeline import INF, Timeline, dedupe, fields_of
from kefu.kpi.window import Calendar

__all__ = ["AgentLoad", "Span", "agent_loads", "loads_of", "status_records"]

AgentLoad = tuple[float, float, float]
"""(seconds on line, of them holding a session, session-seconds held on line)."""

Span = tuple[float, float]

_ORDER = attrgetter("at", "seq", "online")
_AT = attrgetter("at")
_FIELDS = fields_of(AgentStatus)


def status_records(statuses: Iterable[AgentStatus], as_of: float) -> tuple[list[AgentStatus], int]:
    """Checked, distinct status records not after ``as_of``, and how many repeats were
    dropped. Raises InvalidRecord for a bad record. O(r log r) at C speed (a sort of
    the times), plus Python steps for records sharing a time."""
    return dedupe(checked(statuses, AgentStatus), as_of, _AT, _FIELDS)


def _online(records: list[AgentStatus], as_of: float) -> list[Span]:
    """An agent's on-line intervals, sorted and disjoint, from their records in order."""
    spans: list[Span] = []
    start: float | None = None
    for r in records:
        if r.online and start is None:
            start = r.at
        elif not r.online and start is not None:
            if r.at > start:
                spans.append((start, r.at))
            start = None
    if start is not None and start < as_of:
        spans.append((start, as_of))
    return spans


def _windows(cal: Calendar) -> list[Span]:
    """The counted windows. O(days)."""
    return [(o, c) for o, c, counted in zip(cal.opens, cal.closes, cal.counted, strict=True)
            if counted]


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    """The intersection of two sorted lists of disjoint intervals. O(len(a) + len(b))."""
    out: list[Span] = []
    i = k = 0
    while i < len(a) and k < len(b):
        lo = max(a[i][0], b[k][0])
        hi = min(a[i][1], b[k][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[k][1]:
            i += 1
        else:
            k += 1
    return out


def _levels(held: list[Span]) -> tuple[list[float], list[int]]:
    """How many sessions are held: ``counts[k]`` from ``times[k]`` to the next time."""
    events = sorted([(s, 1) for s, _e in held] + [(e, -1) for _s, e in held if e != INF])
    times: list[float] = []
    counts: list[int] = []
    level = 0
    for t, delta in events:
        level += delta
        if times and times[-1] == t:
            counts[-1] = level
        else:
            times.append(t)
            counts.append(level)
    return times, counts


def _integrate(spans: list[Span], times: list[float], counts: list[int]) -> AgentLoad:
    """(seconds, busy seconds, session-seconds) over ``spans`` of the level function."""
    online = busy = load = 0.0
    n = len(times)
    for a, b in spans:
        online += b - a
        x = bisect_right(times, a)
        level = counts[x - 1] if x else 0
        t = a
        while x < n and times[x] < b:
            if level:
                busy += times[x] - t
                load += level * (times[x] - t)
            t, level = times[x], counts[x]
            x += 1
        if level:
            busy += b - t
            load += level * (b - t)
    return online, busy, load


def agent_loads(tl: Timeline, statuses: list[AgentStatus], opts: Options,
                cal: Calendar) -> dict[str, AgentLoad]:
    """Each agent with status records: their on-line, busy and session-seconds (K13).

    ``statuses`` are distinct, checked records not after ``as_of``. Ordered by agent id.
    """
    as_of = opts.as_of
    excluded = opts.excluded
    held: dict[str, list[Span]] = {r.agent_id: [] for r in statuses}
    for j in range(len(tl.ids)):
        if excluded and tl.buyers[j] in excluded:
            continue
        for x in range(tl.s_lo[j], tl.s_hi[j]):
            spans = held.get(tl.agents[x])
            if spans is not None:
                spans.append((tl.starts[x], tl.ends[x]))
    return loads_of(statuses, held, as_of, cal)


def loads_of(statuses: Iterable[AgentStatus], held: dict[str, list[Span]], as_of: float,
             cal: Calendar) -> dict[str, AgentLoad]:
    """:func:`agent_loads` from the agents' status records and the (start, end) spans
    each holds a session over (an end after ``as_of`` is taken as ``as_of``); shared
    with the live tracker. O(r log r + s log s)."""
    by_agent: dict[str, list[AgentStatus]] = {}
    for r in sorted(statuses, key=_ORDER):
        by_agent.setdefault(r.agent_id, []).append(r)
    windows = _windows(cal)
    return {a: _integrate(_intersect(_online(by_agent[a], as_of), windows),
                          *_levels([(s, e if e < as_of else as_of) for s, e in held.get(a, ())]))
            for a in sorted(by_agent)}
