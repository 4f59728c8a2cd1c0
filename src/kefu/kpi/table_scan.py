"""The message pass over a :class:`MessageTable`: the MessageScan the records would give.

What :func:`kefu.kpi.timeline.scan_messages_py` does record by record, done
column by column with numpy, with no object per message:

1. Rows after ``as_of`` are dropped. Copies of a message id are resolved as
   the record path resolves them (:func:`kefu.kpi.timeline.dedupe_messages`):
   per id the smallest row by ``message_key``, the first in row order among
   equal ones; the others are counted as repeats, and those whose key differs
   from the kept row's as conflicts. Only the rows of repeated ids are looked
   at one by one (none, on clean input).
2. Rows are ordered by (at, seq, sender rank, message_id) with one
   ``np.lexsort``; message ids are ranked (a Python sort of strings) only
   for the rows that tie on the first three keys.
3. Sessions are numbered by first appearance; rows are grouped by session
   (a stable sort), and each session's buyer and agent messages give its
   waits: a buyer message starts a wait when the one before it (of the two
   kinds) in its session was not a buyer's, and an agent message ends one
   when it was. The waits' reply order, the agent named on each reply, the
   first unanswering agent message and the bot's first message per session,
   and the data-quality counts follow from the same arrays.

This is the reference pass for a table, and the pure-Python kernel's; the
compiled kernel reads the columns into the same sort and walk it runs for
records (``_kernel_c.scan_columns``) and hands to this pass what it cannot
decide identically (conflicting or scattered copies, seq beyond 64 bits).
Cost: O(n log n) in numpy, plus O(n) C-speed dict lookups to
number message and session ids, plus O(ties log ties) Python string
comparisons.
"""

from __future__ import annotations

import math
from array import array
from itertools import count
from typing import Any

import numpy as np
import numpy.typing as npt

from kefu.kpi.records import Sender
from kefu.kpi.table import SENDER_CODES, MessageTable

__all__ = ["scan_table"]

INF = math.inf
_BUYER = SENDER_CODES[Sender.BUYER]
_AGENT = SENDER_CODES[Sender.AGENT]
_BOT = SENDER_CODES[Sender.BOT]
_UNKNOWN = SENDER_CODES[Sender.UNKNOWN]

IntArray = npt.NDArray[np.int64]


def scan_table(table: MessageTable, as_of: float) -> tuple[Any, ...]:
    """The fields of the MessageScan of ``table``'s messages as known at ``as_of``, in the
    order ``MessageScan`` takes them; identical to what its rows as records give."""
    rows: IntArray = (np.arange(len(table), dtype=np.int64) if as_of == INF
                      else np.flatnonzero(table.at <= as_of))
    repeats = conflicts = 0
    cand = _repeated(table.message_id[rows].tolist())
    if len(cand):
        cmids = table.message_id[rows[cand]].tolist()
        repeats = len(cmids) - len(set(cmids))
        if repeats:
            rows, conflicts = _dedupe(table, rows, cand)
    if not len(rows):
        return ([], [], [], [], array("d"), array("d"), [0], [], array("q"), repeats,
                conflicts, 0, 0, INF, -INF)
    rows = rows[_order(table, rows)]
    at = table.at[rows]
    sender = table.sender[rows]
    seq = _seq_keys(table.seq)[rows]

    # Sessions by first appearance: sess[i] is row i's session number.
    n = len(rows)
    sids = table.session_id[rows].tolist()
    number = dict(zip(dict.fromkeys(sids), count()))
    ids = list(number)
    sess = np.fromiter(map(number.__getitem__, sids), np.int64, n)
    del sids, number
    # Session j first appears where the running maximum of the numbers reaches j.
    firsts = np.flatnonzero(np.concatenate(([True], sess[1:] > np.maximum.accumulate(sess)[:-1])))
    nsess = len(firsts)

    g = np.argsort(sess, kind="stable")  # grouped by session, in order within one
    sg, ag, snd = sess[g], at[g], sender[g]
    same = np.empty(n, dtype=bool)  # row i is of the same session as row i - 1
    same[0] = False
    np.equal(sg[1:], sg[:-1], out=same[1:])
    out_of_order = int(np.count_nonzero(same[1:] & (seq[g][1:] < seq[g][:-1])))

    # Buyer and agent messages: who starts and who ends a wait.
    ba = np.flatnonzero((snd == _BUYER) | (snd == _AGENT))
    s1 = sg[ba]
    buyer = snd[ba] == _BUYER
    pending = np.zeros(len(ba), dtype=bool)  # a wait is open before this message
    if len(ba):
        pending[1:] = buyer[:-1] & (s1[1:] == s1[:-1])
    starts = buyer & ~pending
    replies = ~buyer & pending
    early = _firsts(nsess, sg, ag, ba[~buyer & ~pending])
    bot_at = _firsts(nsess, sg, ag, np.flatnonzero(snd == _BOT))

    # Waits grouped by session; within a session a wait's reply is the next event.
    ev = ba[starts | replies]
    is_start = starts[starts | replies]
    w = np.flatnonzero(is_start)
    nxt = np.minimum(w + 1, len(ev) - 1) if len(ev) else w
    answered = (w + 1 < len(ev)) & ~is_start[nxt] if len(ev) else np.zeros(0, dtype=bool)
    us = ag[ev[w]]
    rs = np.where(answered, ag[ev[nxt]], INF) if len(ev) else us.copy()
    per_session = np.bincount(sg[ev[w]], minlength=nsess)
    wlo = [0, *np.cumsum(per_session).tolist()]

    # Scan order: answered waits by their reply's place in time, then the rest by session.
    reply_at = g[ev[nxt[answered]]]  # the replies' places in time order
    is_reply = np.zeros(n, dtype=bool)
    is_reply[reply_at] = True
    rorder = np.empty(len(w), dtype=np.int64)
    rorder[answered] = (np.cumsum(is_reply) - 1)[reply_at]
    rorder[~answered] = len(reply_at) + np.arange(len(w) - len(reply_at))
    agents = table.agent_id[rows[is_reply]].tolist()
    agents += [None] * (len(w) - len(reply_at))

    buyers = table.buyer_id[rows[firsts]].tolist()
    unknown = int(np.count_nonzero(sender == _UNKNOWN))
    return (ids, buyers, early, bot_at, _doubles(us), _doubles(rs), wlo, agents,
            array("q", rorder.tobytes()), repeats, conflicts, unknown, out_of_order,
            float(at[0]), float(at[-1]))


def _firsts(nsess: int, sg: IntArray, ag: npt.NDArray[np.float64],
            picked: IntArray) -> list[float]:
    """Per session, the time of the first of the ``picked`` (grouped) rows; inf = none."""
    out = np.full(nsess, INF)
    s = sg[picked]
    lead = np.ones(len(picked), dtype=bool)
    if len(picked):
        lead[1:] = s[1:] != s[:-1]
    out[s[lead]] = ag[picked[lead]]
    return out.tolist()


def _doubles(values: npt.NDArray[np.float64]) -> array[float]:
    out = array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def _seq_keys(seq: npt.NDArray[Any]) -> IntArray:
    """``seq`` as int64 sort keys: itself, or its dense ranks when it holds huge ints."""
    if seq.dtype == np.int64:
        return seq
    values = seq.tolist()
    rank = {v: n for n, v in enumerate(sorted(set(values)))}
    return np.fromiter(map(rank.__getitem__, values), np.int64, len(values))


def _order(table: MessageTable, rows: IntArray) -> IntArray:
    """The permutation of ``rows`` into (at, seq, sender, message_id) order."""
    at = table.at[rows]
    seq = _seq_keys(table.seq)[rows]
    sender = table.sender[rows]
    order = np.lexsort((sender, seq, at))
    a, q, s = at[order], seq[order], sender[order]
    tie = (a[1:] == a[:-1]) & (q[1:] == q[:-1]) & (s[1:] == s[:-1])
    if not tie.any():
        return order
    # Rows in a run of ties: re-sort each run by message id (unique after dedupe).
    member = np.zeros(len(order), dtype=bool)
    member[1:] |= tie
    member[:-1] |= tie
    at_run = np.flatnonzero(member)
    run = np.cumsum(~np.concatenate(([False], tie)))[at_run]  # run number of each
    mids = table.message_id[rows[order[at_run]]].tolist()
    rank = {m: n for n, m in enumerate(sorted(mids))}
    mid_rank = np.fromiter(map(rank.__getitem__, mids), np.int64, len(mids))
    order[at_run] = order[at_run][np.lexsort((mid_rank, run))]
    return order


def _repeated(mids: list[str]) -> IntArray:
    """Positions (ascending) of the ids whose hash some other id shares: every copy of a
    repeated id, plus the rare distinct ids whose hashes collide. One hash per id (each
    ``str`` caches its own) and a numpy sort, instead of a dict of every id; the
    caller tells copies from collisions by comparing the few ids found."""
    h = np.fromiter(map(hash, mids), np.int64, len(mids))
    hs = np.sort(h)
    shared = hs[1:][hs[1:] == hs[:-1]]
    if not len(shared):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.isin(h, shared))


def _dedupe(table: MessageTable, rows: IntArray, cand: IntArray) -> tuple[IntArray, int]:
    """``rows`` with one row per message id (as the record path keeps), and the conflicts.

    ``cand`` (ascending positions in ``rows``) holds every row whose id is repeated."""
    picked = rows[cand]
    keys = list(zip(table.at[picked].tolist(), table.seq[picked].tolist(),
                    table.sender[picked].tolist(), table.message_id[picked].tolist(),
                    table.session_id[picked].tolist(), table.buyer_id[picked].tolist(),
                    [a or "" for a in table.agent_id[picked].tolist()], strict=True))
    kept: dict[str, int] = {}  # id -> index into keys of the kept copy
    for k, key in enumerate(keys):  # row order: the first of equal keys is kept
        mid = key[3]
        if mid not in kept or key < keys[kept[mid]]:
            kept[mid] = k
    conflicts = sum(1 for key in keys if key != keys[kept[key[3]]])
    drop = np.ones(len(cand), dtype=bool)
    drop[list(kept.values())] = False
    keep = np.ones(len(rows), dtype=bool)
    keep[cand[drop]] = False
    return rows[keep], conflicts
