"""A tiny, deliberately naive recomputation of K02-K04, K06-K08 for cross-checking.

It follows SPEC part B clock by clock, per session, with plain lists and
no shortcuts, so that the library's fast paths (columnar timeline, runs of
clocks, folded buyer-days) can be checked against it on random days. Only
the figures are recomputed: counts of units per status and day, and the
response-time samples.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from kefu.kpi import Handover, HumanRequest, Message, Release, Sender, SessionEnd, Window
from kefu.kpi.window import window_bounds

INF = math.inf
MET, PENDING, MISSED = "met", "pending", "missed"
WORSE = {MET: 0, PENDING: 1, MISSED: 2}
RANK = {s: n for n, s in enumerate(Sender)}


def _status(c: float, r: float, as_of: float, threshold: float) -> str:
    if r - c <= threshold:
        return MET
    return MISSED if as_of - c > threshold else PENDING


class Reference:
    """Units and samples of one set of records, recomputed the slow way."""

    def __init__(self, messages: Sequence[Message], handovers: Sequence[Handover],
                 releases: Sequence[Release], requests: Sequence[HumanRequest], *,
                 day: dt.date, tz: dt.tzinfo, window: Window, threshold: float,
                 as_of: float | None, warn_after: float, before_window: str,
                 excluded: frozenset[str], ends: Sequence[SessionEnd] = ()) -> None:
        self.T = threshold
        self.A = INF if as_of is None else as_of
        self.warn = warn_after
        self.open_policy = before_window == "open"
        self.excluded = excluded
        self.day = day
        # Windows of the asked day and its neighbours: (open, close, counted?).
        self.windows = []
        for n in (-1, 0, 1):
            d = day + dt.timedelta(days=n)
            o, c = window_bounds(d, window, tz)
            self.windows.append((o, c, d == day))
        A = self.A
        # Records known at as_of; one message per id (the smallest copy).
        best: dict[str, Message] = {}
        for m in messages:
            if m.at <= A:
                key = (m.at, m.seq, RANK[m.sender], m.message_id, m.session_id, m.buyer_id,
                       m.agent_id or "")
                kept = best.get(m.message_id)
                if kept is None or key < (kept.at, kept.seq, RANK[kept.sender], kept.message_id,
                                          kept.session_id, kept.buyer_id, kept.agent_id or ""):
                    best[m.message_id] = m
        self.sessions: dict[str, dict[str, Any]] = {}
        for m in sorted(best.values(), key=lambda m: (m.at, m.seq, RANK[m.sender],
                                                       m.message_id)):
            s = self._session(m.session_id, m.buyer_id)
            s["messages"].append(m)
        for h in {h for h in handovers if h.at <= A}:
            self._session(h.session_id, h.buyer_id)["events"].append(
                (h.at, h.seq, 1, h.agent_id, h.group or "", h.group))
        for r in {r for r in releases if r.at <= A}:
            if r.session_id in self.sessions:
                self.sessions[r.session_id]["events"].append(
                    (r.at, r.seq, 0, r.agent_id, "", None))
        for q in (q for q in requests if q.at <= A):
            s = self._session(q.session_id, q.buyer_id)
            s["switch"] = min(s["switch"], q.at)
        for s in self.sessions.values():
            s["ended"] = min((e.at for e in ends if e.session_id == s["id"] and e.at <= A),
                             default=INF)
            self._waits(s)
            self._stretches(s)
            self._human(s)

    def _session(self, sid: str, buyer: str) -> dict[str, Any]:
        if sid not in self.sessions:
            self.sessions[sid] = {"id": sid, "buyer": buyer, "messages": [], "events": [],
                                  "switch": INF}
        return self.sessions[sid]

    def _waits(self, s: dict[str, Any]) -> None:
        waits: list[list[Any]] = []
        first_buyer = first_agent = INF
        bot = INF
        for m in s["messages"]:
            if m.sender is Sender.BUYER:
                first_buyer = min(first_buyer, m.at)
                if not waits or waits[-1][1] != INF:
                    waits.append([m.at, INF, None])
            elif m.sender is Sender.AGENT:
                first_agent = min(first_agent, m.at)
                if waits and waits[-1][1] == INF:
                    waits[-1][1] = m.at
                    waits[-1][2] = m.agent_id
            elif m.sender is Sender.BOT:
                bot = min(bot, m.at)
        s["all_waits"], s["first_buyer"], s["bot"] = waits, first_buyer, bot
        s["first_agent"] = first_agent

    def _human(self, s: dict[str, Any]) -> None:
        """K02: when human service began; the switch is late (ignored) when the buyer had
        been missed without it: T passed first, and the bot had not written in time or
        an agent reached the session before the switch (K07)."""
        switch, first_buyer, bot = s["switch"], s["first_buyer"], s["bot"]
        if switch - first_buyer > self.T and (bot - first_buyer > self.T
                                              or s["reached"] < switch):
            switch = INF
        human = switch if switch != INF else first_buyer
        s["human"] = human
        s["bot_at"] = bot if switch == INF else INF
        # replies before human service: dropped
        s["waits"] = [w for w in s["all_waits"] if w[1] >= human]

    def _stretches(self, s: dict[str, Any]) -> None:
        stretches = []
        agent = None
        group = start = None
        for at, _seq, kind, who, _gkey, grp in sorted(s["events"], key=lambda e: e[:5]):
            if kind == 1:
                if agent is not None:
                    stretches.append((agent, group, start, at))
                agent, group, start = who, grp, at
            elif who == agent:
                stretches.append((agent, group, start, at))
                agent = None
        if agent is not None:
            stretches.append((agent, group, start, INF))
        s["stretches"] = stretches
        s["reached"] = min([s["first_agent"]] + [st[2] for st in stretches])

    def place(self, c: float, r: float, end: float) -> tuple[int, float] | None:
        """(window number, clock) of a clock that counts (K01), else None."""
        for n, (o, close, counted) in enumerate(self.windows):
            if o <= c < close:
                return (n, c) if counted else None
        if not self.open_policy:
            return None
        for n, (o, _close, counted) in enumerate(self.windows):
            if o > c:
                if r > end:  # a reply at the instant the stretch ends is its own (K04)
                    r = INF
                if r < o or end <= o or o > self.A or not counted:
                    return None
                return n, o
        return None

    @staticmethod
    def took_before(s: dict[str, Any], x: int, u: float, r: float) -> bool:
        """Whether a wait (``u``, ``r``) belongs to the stretch before stretch ``x``: it
        began before and was answered at the instant that stretch ended and this one
        began (K04)."""
        stretches = s["stretches"]
        return x > 0 and stretches[x - 1][3] == stretches[x][2] == r and u < r

    def shop_clocks(self, s: dict[str, Any]) -> list[tuple[int, float, float]]:
        out = []
        for u, r, _agent in s["waits"]:
            placed = self.place(max(u, s["human"]), r, INF)
            if placed is not None:
                out.append((placed[0], placed[1], r))
        return out

    def in_window(self, a: float, b: float) -> float:
        total = 0.0
        for o, c, _counted in self.windows:
            total += max(0.0, min(b, c) - max(a, o))
        return total

    # The figures ----------------------------------------------------------------------

    def fate(self, s: dict[str, Any]) -> str | None:
        """K02: None when the session reached an agent, else "still_waiting" or
        "never_reached" (it ended first)."""
        if s["reached"] != INF:
            return None
        return "still_waiting" if s["ended"] == INF else "never_reached"

    def shop(self, basis: str) -> tuple[dict[str, int], dict[str, int]]:
        """(per buyer-day, per session-day) counts by status, at_risk included, and of
        counted units that had not reached an agent, by fate."""
        per_session = {MET: 0, MISSED: 0, PENDING: 0, "excluded": 0, "at_risk": 0,
                       "still_waiting": 0, "never_reached": 0}
        per_buyer = dict(per_session)
        buyer_days: dict[tuple[str, int], list[tuple[float, str, str, bool, bool]]] = {}
        for s in self.sessions.values():
            # K02 (revised): a buyer in human service is a unit whether or not an agent
            # ever took the session; only a session the bot took (no switch, and the bot
            # wrote before the buyer's threshold passed) is not, until it reaches one.
            if not s["waits"] or (s["reached"] == INF and s["bot_at"] - max(
                    s["waits"][0][0], s["human"]) <= self.T):
                continue
            days: dict[int, list[tuple[float, float]]] = {}
            for n, c, r in self.shop_clocks(s):
                days.setdefault(n, []).append((c, r))
            for n, clocks in days.items():
                statuses = [_status(c, r, self.A, self.T) for c, r in clocks]
                if basis == "first":
                    status = statuses[0]
                    risk = status == PENDING and self.A - clocks[0][0] > self.warn
                else:
                    status = max(statuses, key=WORSE.__getitem__)
                    risk = any(st == PENDING and self.A - c > self.warn
                               for st, (c, _r) in zip(statuses, clocks, strict=True))
                fate = self.fate(s)
                self._count(per_session, s["buyer"], status, risk, fate)
                # ANY's deciding session: the worst status, then the earliest deciding clock.
                worst = next(c for (c, r), st in zip(clocks, statuses, strict=True)
                             if st == status) if basis == "any" else clocks[0][0]
                buyer_days.setdefault((s["buyer"], n), []).append(
                    (clocks[0][0], s["id"], status, risk, worst, fate))
        for (buyer, _n), units in buyer_days.items():
            if basis == "first":
                _c, _sid, status, risk, _, fate = min(units)
            else:
                status = max((u[2] for u in units), key=WORSE.__getitem__)
                risk = any(u[3] for u in units)
                fate = min((u for u in units if u[2] == status), key=lambda u: u[4])[5]
            self._count(per_buyer, buyer, status, risk, fate)
        return per_buyer, per_session

    def _count(self, counts: dict[str, int], buyer: str, status: str, risk: bool,
               fate: str | None = None) -> None:
        if buyer in self.excluded:
            counts["excluded"] += 1
            return
        counts[status] += 1
        if fate is not None:
            counts[fate] += 1
        if status == PENDING and risk:
            counts["at_risk"] += 1

    def agents(self) -> dict[str, dict[str, int]]:
        """K04 counts per agent."""
        out: dict[str, dict[str, int]] = {}
        for s in self.sessions.values():
            for x, (agent, _group, start, end) in enumerate(s["stretches"]):
                seen: set[int] = set()
                for u, r, _a in s["waits"]:
                    if r < start or u >= end or self.took_before(s, x, u, r):
                        continue
                    c = max(u, s["human"], start)
                    if c >= end:
                        continue
                    rr = r if r <= end else INF
                    placed = self.place(c, rr, end)
                    if placed is None or placed[0] in seen:
                        continue
                    n, c = placed
                    seen.add(n)
                    if rr - c <= self.T:
                        status = MET
                    elif end <= c + self.T:
                        break  # handed on before the threshold: no unit, and none after
                    else:
                        status = _status(c, rr, self.A, self.T)
                    counts = out.setdefault(agent, {MET: 0, MISSED: 0, PENDING: 0,
                                                    "excluded": 0, "at_risk": 0})
                    self._count(counts, s["buyer"], status, self.A - c > self.warn)
        return out

    def samples(self) -> dict[str | None, dict[str, list[float]]]:
        """K08 samples: key None is the shop, else an agent; calendar and in-window."""
        out: dict[str | None, dict[str, list[float]]] = {}

        def add(key: str | None, c: float, r: float, first: bool) -> None:
            d = out.setdefault(key, {"cal": [], "win": [], "first_cal": [], "first_win": []})
            d["cal"].append(r - c)
            d["win"].append(self.in_window(c, r))
            if first:
                d["first_cal"].append(r - c)
                d["first_win"].append(self.in_window(c, r))

        for s in self.sessions.values():
            if s["buyer"] in self.excluded:
                continue
            last = None
            for u, r, name in s["waits"]:
                placed = self.place(max(u, s["human"]), r, INF)
                if placed is None:
                    continue
                n, c = placed
                first, last = n != last, n
                if r != INF:
                    add(None, c, r, first)
                    if not s["stretches"] and name is not None:
                        add(name, c, r, first)
            for x, (agent, _group, start, end) in enumerate(s["stretches"]):
                last = None
                for u, r, _a in s["waits"]:
                    if r < start or u >= end or self.took_before(s, x, u, r):
                        continue
                    c = max(u, s["human"], start)
                    if c >= end:
                        continue
                    rr = r if r <= end else INF
                    placed = self.place(c, rr, end)
                    if placed is None:
                        continue
                    n, c = placed
                    first, last = n != last, n
                    out.setdefault(agent, {"cal": [], "win": [], "first_cal": [],
                                           "first_win": []})
                    if rr != INF:
                        add(agent, c, rr, first)
        return out
