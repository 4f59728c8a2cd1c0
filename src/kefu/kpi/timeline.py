"""From raw records to a columnar timeline: the one pass every KPI shares.

Theory of operation. Records come in any order, possibly repeated, and
records after ``as_of`` are dropped (they have not happened yet). Messages
are put in one global order, (at, seq, sender, message_id) with a buyer's
message first on a tie, so a reply stamped with the same instant answers it.
Sorting by time alone and then re-sorting only the runs of equal times gives
that order for a fraction of the cost of a tuple key. Copies of a message
(same ``message_id``) are then next to each other and the scan skips them;
if the id count says some copies were not adjacent (they differ, e.g. in
time), the exact path keeps, per id, the smallest record by (at, seq,
sender, ids), so the choice never depends on input order.

One scan over the ordered messages turns them into *waits*: a wait starts
at the first buyer message after the last human reply and ends at the next
human reply (AGENT only: bot, system and unknown senders never answer).
Hand-overs and releases become *stretches* (agent, group, start, end).
Everything downstream - shop units, agent units, response times,
conversion - is arithmetic on these lists.

Layout. A day of a big shop has millions of messages and about a million
waits, so nothing here is an object per message or per wait: the timeline
is a handful of flat columns. Sessions are numbered ``j = 0 .. n-1`` in the
order they first appear (messages in the global order, then sessions known
only from hand-overs or switches, by id); the waits of session ``j`` are
``us[wlo[j]:wlo[j + 1]]`` (starts) and ``rs[...]`` (the human replies that
ended them, ``inf`` = none yet), its stretches are
``agents/sgroups/starts/ends[s_lo[j]:s_hi[j]]``. Wait times live in
``array('d')`` columns: compact (the scan's output is regrouped by session,
and gathering from a packed array is far cheaper than from floats scattered
over the messages' memory) and free of per-element objects, so Python's
cyclic garbage collector has next to nothing to scan (a tuple or list per
wait would be a million of them).

Invariants: within a session ``us`` is strictly increasing and ``rs`` non-
decreasing with ``us[k] <= rs[k] <= us[k + 1]`` (only the last wait may be
unanswered); stretches are sorted and disjoint; no wait ends before the
session's human service begins (``human``), so only a session's first wait
can start before it (K02).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import accumulate, compress, count, islice, repeat
from operator import attrgetter, eq, is_not, itemgetter
from typing import TypeVar

import attrs
import numpy as np

from kefu.kpi import kernel
from kefu.kpi.intake import checked
from kefu.kpi.records import Handover, HumanRequest, Message, Release, Sender, SessionEnd
from kefu.kpi.results import DataQuality
from kefu.kpi.table import MessageTable, recheck
from kefu.kpi.table_scan import scan_table

__all__ = [
    "INF",
    "MessageScan",
    "Timeline",
    "build_timeline",
    "dedupe",
    "fields_of",
    "message_key",
    "scan_columns",
    "scan_messages",
    "scan_messages_py",
]

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


class Timeline:
    """Sessions' waits and stretches as columns (see the module docstring), plus data quality.

    Per session ``j``: ``ids[j]``, ``buyers[j]`` (the buyer of its first
    message), ``groups[j]`` (the group it entered with: its first
    hand-over's; without one, the group its first SessionEnd naming one
    names), ``human[j]`` (when human service began, K02; ``inf`` = no
    buyer message), ``reached[j]`` (first hand-over or human reply; ``inf`` =
    not yet), ``bot_at[j]`` (the bot's first message, when there is no switch to
    a human; ``inf`` = none).
    ``ended[j]`` is when the session ended (its earliest SessionEnd; ``inf`` =
    not ended). ``first``/``last`` span the messages, hand-overs and switches
    seen (every instant a clock can start at). ``negatives[j]`` counts the
    waits of session ``j`` answered before its switch to human service (not
    timed: ``quality.negative_durations`` is their sum over the sessions).
    """

    __slots__ = (
        "_ragents", "_rorder", "agents", "bot_at", "buyers", "ended", "ends", "first", "groups",
        "human", "ids", "index", "last", "negatives", "quality", "reached", "rs", "s_hi", "s_lo",
        "sgroups", "starts", "us", "wlo",
    )

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.buyers: list[str] = []
        self.groups: list[str | None] = []
        self.human: list[float] = []
        self.reached: list[float] = []
        self.bot_at: list[float] = []
        self.ended: list[float] = []
        self.wlo: list[int] = [0]
        self.us = array("d")
        self.rs = array("d")
        self._ragents: list[str | None] = []  # agent_id on each reply, in scan order ...
        self._rorder = array("q")  # ... and where wait k's reply is in that order
        self.s_lo: list[int] = []
        self.s_hi: list[int] = []
        self.agents: list[str] = []
        self.sgroups: list[str | None] = []
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.quality = DataQuality()
        self.negatives: dict[int, int] = {}  # session j -> its waits dropped by its switch
        self.first = INF
        self.last = -INF

    def ragent(self, k: int) -> str | None:
        """The ``agent_id`` on the reply that ended wait ``k`` (None: unanswered or unnamed)."""
        return self._ragents[self._rorder[k]]

    def serving(self, j: int, t: float) -> int:
        """The stretch of session ``j`` holding it at instant ``t``, or -1."""
        for x in range(self.s_lo[j], self.s_hi[j]):
            if self.starts[x] <= t < self.ends[x]:
                return x
        return -1

    def serving_or_next(self, j: int, t: float) -> int:
        """The stretch of session ``j`` holding it at ``t``, else its next one, else -1."""
        for x in range(self.s_lo[j], self.s_hi[j]):
            if t < self.ends[x]:
                return x
        return -1


def dedupe(records: Iterable[T], as_of: float, at: Callable[[T], float],
           fields: Callable[[T], object]) -> tuple[list[T], int]:
    """Distinct records not after ``as_of``, and how many repeats were dropped.

    ``fields`` gives a record's field values: two records are the same when
    those are (what attrs' ``==`` compares). Equal records have equal times,
    so only records sharing their time with another are compared: the times
    go into one float column, sorted at C speed, and the field tuples are made
    and hashed for the tied rows alone (none, in a day of distinct instants).
    Of equal records the first one's place is kept, holding the last one (as a
    dict keyed by the fields keeps them), so the result is what one ``dict``
    over every record's fields gives. Records must be checked (finite times).
    O(n log n) at C speed, plus O(t) Python steps for t tied rows.
    """
    seen = list(records) if as_of == INF else [r for r in records if at(r) <= as_of]
    if len(seen) < 2:
        return seen, 0
    times = np.frombuffer(array("d", map(at, seen)), dtype=np.float64)  # (fromiter: slower)
    order = np.argsort(times)
    times = times[order]
    tie = times[1:] == times[:-1]
    if not tie.any():
        return seen, 0
    tied = np.zeros(len(seen), dtype=bool)
    tied[order[1:][tie]] = True
    tied[order[:-1][tie]] = True
    rows = np.flatnonzero(tied).tolist()  # in input order
    kept: dict[object, int] = {}  # fields -> the first row holding them
    drop = []
    for row in rows:
        first = kept.setdefault(fields(seen[row]), row)
        if first != row:
            seen[first] = seen[row]  # the place of the first, the record of the last
            drop.append(row)
    if not drop:
        return seen, 0
    keep = np.ones(len(seen), dtype=bool)
    keep[drop] = False
    return list(compress(seen, keep.tolist())), len(drop)


def fields_of(cls: type) -> Callable[[object], tuple[object, ...]]:
    """A getter of every attrs field of ``cls``, as a tuple (for :func:`dedupe`)."""
    return attrgetter(*(f.name for f in attrs.fields(cls)))


_HANDOVER = fields_of(Handover)
_RELEASE = fields_of(Release)
_REQUEST = fields_of(HumanRequest)
_END = fields_of(SessionEnd)


SENDER_RANK = {sender: n for n, sender in enumerate(Sender)}


def message_key(m: Message) -> tuple[float, int, int, str, str, str, str]:
    """A total order on messages: decides which of two conflicting copies is kept."""
    return (m.at, m.seq, SENDER_RANK[m.sender], m.message_id, m.session_id, m.buyer_id,
            m.agent_id or "")


def dedupe_messages(msgs: list[Message]) -> tuple[list[Message], int, int]:
    """One message per id, the smallest by :func:`message_key`, in that order.

    Returns (messages, duplicates dropped, conflicting ones among them).
    """
    by_id: dict[str, Message] = {}
    for m in msgs:
        kept = by_id.get(m.message_id)
        if kept is None or message_key(m) < message_key(kept):
            by_id[m.message_id] = m
    conflicts = sum(1 for m in msgs if message_key(by_id[m.message_id]) != message_key(m))
    return sorted(by_id.values(), key=message_key), len(msgs) - len(by_id), conflicts


def build_timeline(
    messages: Iterable[Message],
    handovers: Iterable[Handover] = (),
    releases: Iterable[Release] = (),
    requests: Iterable[HumanRequest] = (),
    as_of: float = INF,
    *,
    ends: Iterable[SessionEnd] = (),
    threshold: float,
) -> Timeline:
    """Sessions' waits and stretches from raw records, as known at ``as_of``.

    A SessionEnd of a session no other record mentions is ignored. A switch to
    human service more than ``threshold`` after the buyer's first message is
    late when the bot had not written within ``threshold`` of that message,
    or an agent had reached the session before the switch: the buyer was in
    human service (and missed) already, and the switch changes nothing (K02,
    K07).

    Every record is checked first (:mod:`kefu.kpi.intake`): InvalidRecord for a bad one.
    """
    # Hand-overs first: sorting them makes a tuple per record, so any garbage
    # collection that triggers runs before the big message columns exist (a
    # collection looks into every young container, and those would be young).
    hand, d1 = dedupe(checked(handovers, Handover), as_of, _AT, _HANDOVER)
    rel, d2 = dedupe(checked(releases, Release), as_of, _AT, _RELEASE)
    req, d3 = dedupe(checked(requests, HumanRequest), as_of, _AT, _REQUEST)
    fin, d4 = dedupe(checked(ends, SessionEnd), as_of, _AT, _END)
    routes = _Routes(hand, rel)
    switched: dict[str, HumanRequest] = {}
    for q in req:
        seen = switched.get(q.session_id)
        if seen is None or q.at < seen.at:
            switched[q.session_id] = q

    ms = scan_messages(messages, as_of)
    tl = Timeline()
    # The span covers every instant a clock can start at (K02 switches, K04 hand-overs
    # too), so a clock a day after a session's last message still finds its window.
    starts = [r.at for r in hand] + [q.at for q in req]
    tl.first = min(ms.first, min(starts, default=INF))
    tl.last = max(ms.last, max(starts, default=-INF))
    # Sessions known only from hand-overs or switches come after those with messages.
    ids, buyers = ms.ids, ms.buyers
    with_messages = len(ids)
    index = dict(zip(ids, range(len(ids)), strict=True))
    js: list[int | None] = list(map(index.get, routes.sids))  # None: no messages
    new = ({sid: k for k, (sid, j) in enumerate(zip(routes.sids, js, strict=True))
            if j is None} if None in js else {})
    new.update((sid, -1) for sid in switched.keys() - index.keys() - new.keys())
    for sid in sorted(new):
        k = new[sid]
        index[sid] = len(ids)
        ids.append(sid)
        buyers.append(routes.buyers[k] if k >= 0 else switched[sid].buyer_id)
        if k >= 0:
            js[k] = index[sid]
    tl.index, tl.ids, tl.buyers = index, ids, buyers
    tl.us, tl.rs, tl._ragents, tl._rorder = ms.us, ms.rs, ms.ragents, ms.rorder
    tl.wlo = ms.wlo + [ms.wlo[-1]] * (len(ids) - with_messages)
    _place_stretches(tl, routes, js)  # type: ignore[arg-type]
    negative = _settle(tl, ms, switched, threshold)
    ended = [INF] * len(ids)
    named: dict[int, tuple[float, int, str]] = {}  # the first end naming a group
    for e in fin:
        j = index.get(e.session_id, -1)
        if j < 0:
            continue
        if e.at < ended[j]:
            ended[j] = e.at
        if e.group is not None and tl.s_lo[j] == tl.s_hi[j]:
            key = (e.at, e.seq, e.group)
            if j not in named or key < named[j]:
                named[j] = key
    for j, (_at, _seq, group) in named.items():
        tl.groups[j] = group  # no hand-over names its group: its end does (K13)
    tl.ended = ended
    if kernel.ACTIVE == "c":  # see _kernel_c.untrack_atoms: no cycle runs through these
        kernel.compiled("untrack_atoms")(tl.wlo, tl.s_lo, tl.s_hi, tl.groups, tl.bot_at,
                                         tl.ended, tl.ids, tl.buyers)
    tl.quality = DataQuality(ms.repeats + d1 + d2 + d3 + d4, ms.conflicts, ms.unknown,
                             ms.out_of_order, negative)
    return tl


class MessageScan:
    """What the messages alone say (the hot pass): sessions, their waits, data quality.

    Sessions ``j = 0 .. len(ids) - 1`` in the order they first appear, with
    ``buyers[j]`` (its first message's buyer), ``early[j]`` (its first AGENT
    message that answered nothing, ``inf`` = none) and ``bot_at[j]`` (its first
    BOT message, ``inf`` = none). Waits are grouped by session (``us``/``rs`` over
    ``wlo[j]:wlo[j + 1]``, time order within one); ``ragents[rorder[k]]`` is
    the agent named on wait ``k``'s reply. ``repeats`` copies were dropped,
    ``conflicts`` of them differed from the kept one; ``unknown`` messages
    had no known sender, ``out_of_order`` a seq below their session's
    previous one. ``first``/``last`` span the messages (``inf``/``-inf``: none).

    Two kernels make it, with identical results: :func:`scan_messages_py`
    and the compiled ``kefu.kpi._kernel_c`` (see :func:`scan_messages`).
    """

    __slots__ = ("bot_at", "buyers", "conflicts", "early", "first", "ids", "last",
                 "out_of_order", "ragents", "repeats", "rorder", "rs", "unknown", "us", "wlo")

    def __init__(self, ids: list[str], buyers: list[str], early: list[float], bot_at: list[float],
                 us: array[float], rs: array[float], wlo: list[int], ragents: list[str | None],
                 rorder: array[int], repeats: int, conflicts: int, unknown: int,
                 out_of_order: int, first: float, last: float) -> None:
        self.ids, self.buyers, self.early, self.bot_at = ids, buyers, early, bot_at
        self.us, self.rs, self.wlo, self.ragents, self.rorder = us, rs, wlo, ragents, rorder
        self.repeats, self.conflicts, self.unknown = repeats, conflicts, unknown
        self.out_of_order, self.first, self.last = out_of_order, first, last

    def fields(self) -> tuple[object, ...]:
        """Every field, as plain values (for comparing the two kernels)."""
        return tuple(getattr(self, name) for name in sorted(self.__slots__))


def scan_messages(messages: Iterable[Message], as_of: float = INF) -> MessageScan:
    """The message pass, by the active kernel (:mod:`kefu.kpi.kernel`). Both give
    identical results, and refuse the same records with the same error: the
    compiled one hands every input it has not checked, or cannot decide
    identically, to the reference. A :class:`MessageTable` (checked when it
    was made) is scanned by columns, with the result its rows as records
    would give (:func:`scan_columns`). Raises InvalidRecord for a bad
    record."""
    if type(messages) is MessageTable:  # columns: no record per row
        return scan_columns(messages, as_of)
    msgs = list(messages)  # read the input once, whichever kernel runs
    if kernel.ACTIVE == "c":
        fields = kernel.compiled("scan")(msgs, as_of)
        if fields is not None:
            return MessageScan(*fields)  # type: ignore[misc]
    return scan_messages_py(msgs, as_of)


def scan_columns(table: MessageTable, as_of: float = INF) -> MessageScan:
    """The message pass over a table's columns, by the active kernel: the compiled one
    (the same sort and walk as for records) takes int64 seq and input it can decide;
    the rest goes to the numpy pass (:mod:`kefu.kpi.table_scan`), the reference.
    Raises InvalidRecord if the table was changed after it was made (:func:`recheck`)."""
    recheck(table, ids=False)
    if kernel.ACTIVE == "c" and table.seq.dtype == np.int64:
        fields = kernel.compiled("scan_columns")(
            table.at, table.session_id, table.buyer_id, table.sender, table.message_id,
            table.agent_id, table.seq, as_of)
        if fields is not None:
            return MessageScan(*fields)  # type: ignore[misc]
    recheck(table, ids=True)  # the compiled kernel found a non-str, or did not run
    return MessageScan(*scan_table(table, as_of))


def scan_messages_py(messages: Iterable[Message], as_of: float = INF) -> MessageScan:
    """The pure-Python kernel of the message pass (the reference for the compiled one).

    Raises InvalidRecord for a record that is not a valid Message
    (:func:`kefu.kpi.intake.checked`)."""
    msgs = checked(messages, Message)
    msgs, ats = _in_order(msgs if as_of == INF else [m for m in msgs if m.at <= as_of])
    # Copies of a message (same id) sort next to each other and the scan skips
    # them; if the id count says some copies were elsewhere (they differ, e.g. in
    # time), or two adjacent ones differ, the exact path decides which to keep.
    mids = list(map(_MID, msgs))
    repeats = len(mids) - len(set(mids))
    conflicts = 0
    try:
        scan = _Scan(msgs, ats, mids)
        if scan.copies != repeats:
            raise _Conflict
    except _Conflict:
        msgs, _, conflicts = dedupe_messages(msgs)
        ats = array("d", map(_AT, msgs))
        scan = _Scan(msgs, ats, list(map(_MID, msgs)))
    del mids
    out_of_order = _disorder(msgs) if any(map(_SEQ, msgs)) else 0
    first, last = (ats[0], ats[-1]) if msgs else (INF, -INF)
    us, rs, rorder, wlo = _group_waits(scan)
    return MessageScan(scan.ids, scan.buyers, scan.early, scan.bot_at, us, rs, wlo, scan.ragents,
                       rorder, repeats, conflicts, scan.unknown, out_of_order, first, last)


class _Conflict(Exception):
    """Two messages share an id but differ: take the exact path."""


def _in_order(messages: Iterable[Message]) -> tuple[list[Message], array[float]]:
    """Messages sorted by :data:`_ORDER` (time, seq, sender, id), and their times.

    Sorting by time alone is several times cheaper (float keys, no tuples);
    the few runs of equal times are then sorted by the full key in place,
    which yields exactly the full-key order. The times are copied into a
    packed array once: the messages' own float objects may lie anywhere in
    memory, and every later pass reads the times again.
    """
    msgs = sorted(messages, key=_AT)
    ats = array("d", map(_AT, msgs))
    ties = list(compress(range(len(ats) - 1), map(eq, ats, islice(ats, 1, None))))
    k = 0
    while k < len(ties):
        start = ties[k]
        while k + 1 < len(ties) and ties[k + 1] == ties[k] + 1:
            k += 1
        stop = ties[k] + 2
        msgs[start:stop] = sorted(msgs[start:stop], key=_ORDER)
        # equal times, not always the same float: -0.0 == 0.0, each message keeps its own
        ats[start:stop] = array("d", map(_AT, msgs[start:stop]))
        k += 1
    return msgs, ats


class _Scan:
    """The waits of every session, found by one scan over the ordered messages (the hot loop).

    A session is keyed by the position of its first message: one
    ``dict.setdefault`` mapped over the session ids (at C speed) gives every
    message that key, so the state machine below indexes plain lists by int
    instead of hashing a string per message. Sessions thus come in the order
    they first appear, and each one's buyer is that of its first message.
    Waits come out in the order of their replies (unanswered ones last), as
    parallel columns: session key, start, reply, agent on the reply. A copy of
    the previous message (same id) is skipped and counted; raises _Conflict if
    it differs from it.
    """

    __slots__ = ("bot_at", "buyers", "copies", "early", "firsts", "ids", "keys", "ragents",
                 "rs", "unknown", "us")

    def __init__(self, msgs: list[Message], ats: array[float], mids: list[str]) -> None:
        first_of: dict[str, int] = {}
        keys = list(map(first_of.setdefault, map(_SID, msgs), count()))
        pending: list[float | None] = [None] * len(msgs)  # by key: start of the open wait
        early: dict[int, float] = {}  # by key: first AGENT message that answered nothing
        bot: dict[int, float] = {}  # by key: the bot's first message
        wkeys: list[int] = []
        us = array("d")
        rs = array("d")
        ragents: list[str | None] = []
        unknown = copies = 0
        prev: Message | None = None
        prev_mid = None
        for m, sender, key, at, mid in zip(msgs, map(_SENDER, msgs), keys, ats, mids,
                                           strict=True):
            if mid == prev_mid:
                if m != prev:
                    raise _Conflict
                copies += 1
                continue
            prev, prev_mid = m, mid
            if sender is _BUYER:
                if pending[key] is None:
                    pending[key] = at
            elif sender is _AGENT:
                u = pending[key]
                if u is None:
                    if key not in early:
                        early[key] = at
                else:
                    pending[key] = None
                    wkeys.append(key)
                    us.append(u)
                    rs.append(at)
                    ragents.append(m.agent_id)
            elif sender is _BOT:
                if key not in bot:
                    bot[key] = at
            elif sender is _UNKNOWN:
                unknown += 1
        for key in compress(count(), map(is_not, pending, repeat(None))):
            wkeys.append(key)
            us.append(pending[key])  # type: ignore[arg-type]
            rs.append(INF)
            ragents.append(None)
        firsts = list(first_of.values())
        self.ids = list(first_of)
        self.firsts = firsts
        self.buyers: list[str] = [msgs[f].buyer_id for f in firsts]
        self.early = list(map(early.get, firsts, repeat(INF)))
        self.bot_at = list(map(bot.get, firsts, repeat(INF)))
        self.keys, self.us, self.rs, self.ragents = wkeys, us, rs, ragents
        self.unknown, self.copies = unknown, copies


def _group_waits(scan: _Scan) -> tuple[array[float], array[float], array[int], list[int]]:
    """The scan's waits reordered by session (stable: time order within one): starts,
    replies, where each one's reply is in scan order, and the sessions' offsets."""
    keys = scan.keys
    order = sorted(range(len(keys)), key=keys.__getitem__)
    us, rs = array("d"), array("d")
    if order:
        pick = itemgetter(*order)
        us = array("d", [pick(scan.us)] if len(order) == 1 else pick(scan.us))
        rs = array("d", [pick(scan.rs)] if len(order) == 1 else pick(scan.rs))
    # Sessions' keys increase in their (first-appearance) order, so the offsets
    # are running totals of each session's count of waits.
    per_session = Counter(keys)
    wlo = [0, *accumulate(map(per_session.get, scan.firsts, repeat(0)))]
    return us, rs, array("q", order), wlo


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


class _Routes:
    """Hand-overs and releases as stretches (K04), sorted by session id then time.

    The stretch columns are ``agents``/``groups``/``starts``/``ends``; the
    handed-over sessions are columns too, one entry each in session id order:
    ``sids``, ``lo`` (where the session's stretches begin: they end where the
    next session's begin, the last at ``len(agents)``), ``buyers`` and
    ``entry_groups`` (its buyer and the group it entered with: its first
    hand-over's). Columns, not dicts keyed by session: a dict insert per session
    and field cost more than the rest of the pass. The compiled kernel's
    ``routes`` makes the same fields (its sort in C), this the reference.
    O(r log r) for r records.
    """

    __slots__ = ("agents", "buyers", "ends", "entry_groups", "groups", "lo", "sids", "starts")
    agents: list[str]
    groups: list[str | None]
    starts: list[float]
    ends: list[float]
    sids: list[str]
    lo: array[int]
    buyers: list[str]
    entry_groups: list[str | None]

    def __init__(self, hand: list[Handover], rel: list[Release]) -> None:
        if kernel.ACTIVE == "c":
            fields = kernel.compiled("routes")(hand, rel)
            if fields is not None:
                (self.agents, self.groups, self.starts, self.ends, self.sids, self.lo,
                 self.buyers, self.entry_groups) = fields  # type: ignore[misc]
                return
        # (session, at, seq, kind, agent, group or "", n): a release (kind 0) sorts
        # before a hand-over (1) of the same instant, so the old stretch ends first;
        # n points back to the record and keeps the sort off the remaining fields.
        events = [(h.session_id, h.at, h.seq, 1, h.agent_id, h.group or "", n)
                  for n, h in enumerate(hand)]
        events += [(r.session_id, r.at, r.seq, 0, r.agent_id, "", n) for n, r in enumerate(rel)]
        events.sort()
        agents: list[str] = []
        groups: list[str | None] = []
        starts: list[float] = []
        ends: list[float] = []
        sids: list[str] = []
        lo = array("q")
        buyers: list[str] = []
        entry_groups: list[str | None] = []
        sid = ""
        agent: str | None = None
        group: str | None = None
        start = INF
        for ev_sid, at, _seq, kind, who, _gkey, n in events:
            if ev_sid != sid:
                if agent is not None:  # the previous session's last stretch is still open
                    agents.append(agent)
                    groups.append(group)
                    starts.append(start)
                    ends.append(INF)
                sid, agent = ev_sid, None
            if kind == 1:
                h = hand[n]
                if agent is not None:
                    agents.append(agent)
                    groups.append(group)
                    starts.append(start)
                    ends.append(at)
                group = h.group  # read once, then the buyer: as the compiled pass reads them
                if agent is None and (not sids or sids[-1] != sid):  # its first hand-over
                    sids.append(sid)
                    lo.append(len(agents))
                    buyers.append(h.buyer_id)
                    entry_groups.append(group)
                agent, start = who, at
            elif agent == who:
                agents.append(agent)
                groups.append(group)
                starts.append(start)
                ends.append(at)
                agent = None
        if agent is not None:
            agents.append(agent)
            groups.append(group)
            starts.append(start)
            ends.append(INF)
        self.agents, self.groups, self.starts, self.ends = agents, groups, starts, ends
        self.sids, self.lo, self.buyers, self.entry_groups = sids, lo, buyers, entry_groups


def _place_stretches(tl: Timeline, routes: _Routes, js: list[int]) -> None:
    """Give each session its range of stretches (``s_lo``/``s_hi``) and its group.

    ``js[k]`` is the session number of ``routes.sids[k]``. A handed-over
    session's stretches end where the next one's begin. O(handed-over
    sessions) at C speed: numpy's scatter fills the columns, no bytecode nor
    call per session.
    """
    n = len(tl.ids)
    at = np.asarray(js, dtype=np.intp)
    lo = np.frombuffer(routes.lo, dtype=np.int64) if len(routes.lo) else np.zeros(0, np.int64)
    s_lo = np.zeros(n, dtype=np.int64)
    s_hi = np.zeros(n, dtype=np.int64)
    groups = np.full(n, None, dtype=object)
    s_lo[at] = lo
    s_hi[at[:-1]] = lo[1:]
    if len(at):
        s_hi[at[-1]] = len(routes.agents)
    groups[at] = routes.entry_groups
    tl.s_lo, tl.s_hi, tl.groups = s_lo.tolist(), s_hi.tolist(), groups.tolist()
    tl.agents, tl.sgroups = routes.agents, routes.groups
    tl.starts, tl.ends = routes.starts, routes.ends


def human_reached(tl: Timeline, early: list[float]) -> tuple[list[float], list[float]]:
    """Per session, by the active kernel: when human service began unless a switch says
    otherwise (its first wait; ``inf``: none) and when an agent first reached it (the
    earliest of ``early[j]``, its first reply and its first hand-over). O(sessions)."""
    if kernel.ACTIVE == "c":
        found = kernel.compiled("human_reached")(tl, early)
        if found is not None:
            return found  # type: ignore[return-value]
    return human_reached_py(tl, early)


def human_reached_py(tl: Timeline, early: list[float]) -> tuple[list[float], list[float]]:
    """The pure-Python kernel of :func:`human_reached` (the reference)."""
    us, rs, wlo, s_lo, s_hi, starts = tl.us, tl.rs, tl.wlo, tl.s_lo, tl.s_hi, tl.starts
    human: list[float] = []
    reached: list[float] = []
    for j in range(len(tl.ids)):
        lo = wlo[j]
        reach = early[j]
        if lo < wlo[j + 1]:
            if rs[lo] < reach:
                reach = rs[lo]
            human.append(us[lo])  # human from the first buyer message, unless switched
        else:
            human.append(INF)
        if s_lo[j] < s_hi[j] and starts[s_lo[j]] < reach:
            reach = starts[s_lo[j]]
        reached.append(reach)
    return human, reached


def _settle(tl: Timeline, scan: MessageScan, switched: dict[str, HumanRequest],
            threshold: float) -> int:
    """Per-session K02 facts; drop waits answered before human service began.

    A late switch (see :func:`build_timeline`) is ignored, so that a buyer
    who read MISSED before it never reads MET after it (K07): one more than
    ``threshold`` after the buyer's first message, when by then the buyer
    had been missed without it, as the bot had not written within
    ``threshold`` or an agent had reached the session before the switch.
    Returns how many waits were dropped (negative durations).
    """
    us, rs, wlo = tl.us, tl.rs, tl.wlo
    n = len(tl.ids)
    bot = scan.bot_at + [INF] * (n - len(scan.bot_at))
    human, reached = human_reached(tl, scan.early + [INF] * (n - len(scan.early)))
    drop: list[tuple[int, int]] = []
    negatives: dict[int, int] = {}
    for sid, q in switched.items():
        j = tl.index[sid]
        lo, hi = wlo[j], wlo[j + 1]
        if lo < hi and q.at - us[lo] > threshold and (
                bot[j] - us[lo] > threshold or reached[j] < q.at):
            continue  # a late switch: human from the first message already
        human[j] = q.at  # a switched session is human from the switch
        bot[j] = INF
        if lo < hi and rs[lo] < q.at:
            stop = bisect_left(rs, q.at, lo, hi)
            drop.append((lo, stop))
            negatives[j] = stop - lo
    tl.human, tl.reached, tl.bot_at, tl.negatives = human, reached, bot, negatives
    if not drop:
        return 0
    drop.sort()
    keep = [True] * len(us)
    for lo, stop in drop:
        keep[lo:stop] = repeat(False, stop - lo)
    tl.us = array("d", compress(us, keep))
    tl.rs = array("d", compress(rs, keep))
    tl._rorder = array("q", compress(tl._rorder, keep))
    gone = 0
    new_lo = [0] * (n + 1)
    d = 0
    for j in range(n):
        while d < len(drop) and drop[d][0] < wlo[j + 1]:
            gone += drop[d][1] - drop[d][0]
            d += 1
        new_lo[j + 1] = wlo[j + 1] - gone
    tl.wlo = new_lo
    return gone
