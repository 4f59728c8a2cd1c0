"""From raw records to per-session timelines: the one pass every KPI shares.

Theory of operation. Records come in any order, possibly repeated, and
records after ``as_of`` are dropped (they have not happened yet). Messages
are put in one global order, (at, seq, sender, message_id) with a buyer's
message first on a tie, so a reply stamped with the same instant answers it.
Sorting by time alone and then re-sorting only the runs of equal times gives
that order for a fraction of the cost of a tuple key.

Copies of a message (same ``message_id``) are then next to each other and
are skipped during the scan; if the id count says some copies were not
adjacent (they differ, e.g. in time), the exact path keeps, per id, the
smallest record by (at, seq, sender, ids), so the choice never depends on
input order, and scans again.

One scan turns the messages into each session's *waits*: a wait starts at
the first buyer message after the last human reply and ends at the next
human reply (AGENT only: bot, system and unknown senders never answer).
Hand-overs and releases become *stretches* (agent, group, start, end).
Everything downstream - shop units, agent units, response times, conversion
- is arithmetic on these lists.

Invariants of a :class:`Session`: ``us`` is strictly increasing, ``rs`` is
non-decreasing with ``us[k] <= rs[k] <= us[k + 1]`` (``inf`` = no reply yet,
only possible for the last wait), and stretches are sorted and disjoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from itertools import compress, islice
from operator import attrgetter, eq
from typing import TypeVar

from kefu.kpi.records import Handover, HumanRequest, Message, Release, Sender
from kefu.kpi.results import DataQuality

__all__ = ["INF", "Session", "Stretch", "Timeline", "build_timeline", "dedupe"]

INF = math.inf

T = TypeVar("T")

_AT = attrgetter("at")
_MID = attrgetter("message_id")
_SEQ = attrgetter("seq")
_SID = attrgetter("session_id")
_SENDER = attrgetter("sender")
_ORDER = attrgetter("at", "seq", "sender", "message_id")
_BUYER = Sender.BUYER
_AGENT = Sender.AGENT
_BOT = Sender.BOT
_UNKNOWN = Sender.UNKNOWN

Stretch = tuple[str, "str | None", float, float]
"""(agent_id, group, start, end): the session sat in the agent's reception list
over [start, end); end is ``inf`` while it still does."""


class Session:
    """What the KPIs need to know about one session (see the module docstring)."""

    __slots__ = (
        "buyer_id",
        "group",
        "human",
        "pending",
        "ragents",
        "reached",
        "rs",
        "session_id",
        "stretches",
        "us",
        "with_bot",
    )

    def __init__(self, session_id: str, buyer_id: str) -> None:
        self.session_id = session_id
        self.buyer_id = buyer_id
        self.group: str | None = None
        self.us: list[float] = []  # start of each wait: first unanswered buyer message
        self.rs: list[float] = []  # the human reply that ended it, or INF
        self.ragents: list[str | None] = []  # agent_id on that reply message
        self.human: float = INF  # when human service began (K02); INF = never
        self.reached: float = INF  # first hand-over or human reply; INF = not yet
        self.with_bot = False  # bot messages and no HumanRequest: still with the bot
        self.stretches: list[Stretch] = []
        self.pending = INF  # scan state: first buyer message not yet answered

    def serving(self, t: float) -> Stretch | None:
        """The stretch holding the session at instant ``t``, if any."""
        for st in self.stretches:
            if st[2] <= t < st[3]:
                return st
        return None


class Timeline:
    """Every session (by id), plus what was wrong with the input and the time span seen."""

    __slots__ = ("first", "last", "quality", "sessions")

    def __init__(self, sessions: dict[str, Session], quality: DataQuality,
                 first: float, last: float) -> None:
        self.sessions = sessions
        self.quality = quality
        self.first = first
        self.last = last

    def ordered(self) -> list[Session]:
        """Sessions in id order (results must not depend on input order)."""
        return [self.sessions[k] for k in sorted(self.sessions)]


_SENDER_RANK = {sender: n for n, sender in enumerate(Sender)}


def _message_key(m: Message) -> tuple[float, int, int, str, str, str, str]:
    """A total order on messages: decides which of two conflicting copies is kept."""
    return (m.at, m.seq, _SENDER_RANK[m.sender], m.message_id, m.session_id, m.buyer_id,
            m.agent_id or "")


def dedupe_messages(msgs: list[Message]) -> tuple[list[Message], int, int]:
    """One message per id, the smallest by :func:`_message_key`, in that order.

    Returns (messages, duplicates dropped, conflicting ones among them).
    """
    by_id: dict[str, Message] = {}
    for m in msgs:
        kept = by_id.get(m.message_id)
        if kept is None or _message_key(m) < _message_key(kept):
            by_id[m.message_id] = m
    conflicts = sum(1 for m in msgs if _message_key(by_id[m.message_id]) != _message_key(m))
    return sorted(by_id.values(), key=_message_key), len(msgs) - len(by_id), conflicts


def dedupe(records: Iterable[T], as_of: float, at: Callable[[T], float]) -> tuple[list[T], int]:
    """Distinct records not after ``as_of``, and how many repeats were dropped."""
    seen = [r for r in records if at(r) <= as_of]
    unique = list(dict.fromkeys(seen))
    return unique, len(seen) - len(unique)


class _Conflict(Exception):
    """Two different messages share an id: take the slow, exact path."""


def build_timeline(
    messages: Iterable[Message],
    handovers: Iterable[Handover] = (),
    releases: Iterable[Release] = (),
    requests: Iterable[HumanRequest] = (),
    as_of: float = INF,
) -> Timeline:
    """Sessions' waits and stretches from raw records, as known at ``as_of``."""
    msgs, ats = _in_order(messages if as_of == INF else (m for m in messages if m.at <= as_of))
    mids = list(map(_MID, msgs))
    repeats = len(msgs) - len(set(mids))
    duplicates = conflicts = 0
    sessions: dict[str, Session] = {}
    try:
        unknown, adjacent = _scan(msgs, mids, ats, sessions)
        if adjacent != repeats:  # some copies are not next to each other
            raise _Conflict
        duplicates = adjacent
    except _Conflict:
        msgs, duplicates, conflicts = dedupe_messages(msgs)
        sessions = {}
        unknown, _ = _scan(msgs, list(map(_MID, msgs)), list(map(_AT, msgs)), sessions)
    out_of_order = _disorder(msgs) if any(map(_SEQ, msgs)) else 0
    first = msgs[0].at if msgs else INF
    last = msgs[-1].at if msgs else -INF

    hand, d1 = dedupe(handovers, as_of, _AT)
    rel, d2 = dedupe(releases, as_of, _AT)
    req, d3 = dedupe(requests, as_of, _AT)
    duplicates += d1 + d2 + d3
    _route(sessions, hand, rel)
    switched: dict[str, HumanRequest] = {}
    for r in req:
        seen = switched.get(r.session_id)
        if seen is None or r.at < seen.at:
            switched[r.session_id] = r
    for sid, r in switched.items():
        sw = sessions.get(sid)
        if sw is None:
            sw = sessions[sid] = Session(sid, r.buyer_id)
        sw.human = r.at  # a switched session is human from the switch (K02)
        sw.with_bot = False
    negative = 0
    for s in sessions.values():
        negative += _settle(s)
    quality = DataQuality(duplicates, conflicts, unknown, out_of_order, negative)
    return Timeline(sessions, quality, first, last)


def _in_order(messages: Iterable[Message]) -> tuple[list[Message], list[float]]:
    """Messages sorted by :data:`_ORDER` (time, seq, sender, id), and their times.

    Sorting by time alone is several times cheaper (float keys, no tuples);
    the few runs of equal times are then sorted by the full key in place,
    which yields exactly the full-key order.
    """
    msgs = sorted(messages, key=_AT)
    ats = list(map(_AT, msgs))
    ties = list(compress(range(len(ats) - 1), map(eq, ats, islice(ats, 1, None))))
    k = 0
    while k < len(ties):
        start = ties[k]
        while k + 1 < len(ties) and ties[k + 1] == ties[k] + 1:
            k += 1
        stop = ties[k] + 2
        msgs[start:stop] = sorted(msgs[start:stop], key=_ORDER)  # equal times: ats holds
        k += 1
    return msgs, ats


def _scan(msgs: list[Message], mids: list[str], ats: list[float],
          sessions: dict[str, Session]) -> tuple[int, int]:
    """Fill ``sessions``' waits from messages in :data:`_ORDER` (the hot loop).

    Returns (unknown senders, adjacent copies skipped). Raises _Conflict when
    two adjacent messages share an id but differ. Columns are pulled out at C
    speed first, so the loop touches no message attribute except on replies.
    """
    unknown = copies = 0
    prev: Message | None = None
    prev_id = ""
    get = sessions.get
    for m, mid, sid, sender, at in zip(msgs, mids, map(_SID, msgs), map(_SENDER, msgs), ats,
                                       strict=True):
        if mid == prev_id:
            if m != prev:
                raise _Conflict
            copies += 1
            continue
        prev_id = mid
        prev = m
        s = get(sid)
        if s is None:
            s = sessions[sid] = Session(sid, m.buyer_id)
        if sender is _BUYER:
            if s.pending == INF:
                s.pending = at
                if s.human == INF:
                    s.human = at  # human from the first buyer message unless switched (K02)
        elif sender is _AGENT:
            if s.reached == INF:
                s.reached = at
            if s.pending != INF:
                s.us.append(s.pending)
                s.rs.append(at)
                s.ragents.append(m.agent_id)
                s.pending = INF
        elif sender is _BOT:
            s.with_bot = True
        elif sender is _UNKNOWN:
            unknown += 1
    for s in sessions.values():
        if s.pending != INF:
            s.us.append(s.pending)
            s.rs.append(INF)
            s.ragents.append(None)
            s.pending = INF
    return unknown, copies


def _disorder(msgs: list[Message]) -> int:
    """Messages whose seq is lower than that of the session's previous message in time."""
    last: dict[str, int] = {}
    count = 0
    for m in msgs:
        p = last.get(m.session_id)
        if p is not None and m.seq < p:
            count += 1
        last[m.session_id] = m.seq
    return count


def _route(sessions: dict[str, Session], hand: list[Handover], rel: list[Release]) -> None:
    """Turn hand-overs and releases into each session's stretches (K04)."""
    events: dict[str, list[tuple[float, int, int, str, str | None, str]]] = {}
    for h in hand:
        events.setdefault(h.session_id, []).append(
            (h.at, h.seq, 1, h.agent_id, h.group, h.buyer_id))
    for r in rel:
        # A release sorts before a hand-over of the same instant: the old stretch
        # ends, then the new one begins.
        events.setdefault(r.session_id, []).append((r.at, r.seq, 0, r.agent_id, None, ""))
    for sid, evs in events.items():
        evs.sort(key=_route_key)
        found = sessions.get(sid)
        if found is not None:
            s = found
        else:
            buyer = next((e[5] for e in evs if e[2] == 1), None)
            if buyer is None:
                continue  # only releases: nothing to measure
            s = sessions[sid] = Session(sid, buyer)
        stretches: list[Stretch] = []
        agent: str | None = None
        group: str | None = None
        start = INF
        for at, _seq, kind, who, grp, _buyer in evs:
            if kind == 1:
                if agent is not None:
                    stretches.append((agent, group, start, at))
                elif not stretches:
                    s.group = grp  # the group the session entered with
                agent, group, start = who, grp, at
            elif agent == who:
                stretches.append((agent, group, start, at))
                agent = None
        if agent is not None:
            stretches.append((agent, group, start, INF))
        s.stretches = stretches
        if stretches and stretches[0][2] < s.reached:
            s.reached = stretches[0][2]


def _route_key(e: tuple[float, int, int, str, str | None, str]) -> tuple[float, int, int, str,
                                                                           str]:
    return (e[0], e[1], e[2], e[3], e[4] or "")


def _settle(s: Session) -> int:
    """Drop waits answered before human service began (K02); return how many (negative)."""
    h = s.human
    if not s.rs or h == INF or s.rs[0] >= h:
        return 0
    keep = [k for k, r in enumerate(s.rs) if r >= h]
    dropped = len(s.rs) - len(keep)
    s.us = [s.us[k] for k in keep]
    s.rs = [s.rs[k] for k in keep]
    s.ragents = [s.ragents[k] for k in keep]
    return dropped
