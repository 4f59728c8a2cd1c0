"""The pure-Python engine: the reference implementation of docs/semantics.md.

Theory of operation
-------------------
Agents. Each agent has a registration number ``reg`` (never reused). An
agent that is *available* (not suspended, below its cap, weight > 0 under
WEIGHTED) sits in a few ``SortedList`` indexes, one per (online?, slot),
keyed by the strategy's order:

    LEAST_LOAD  (load, last_auto, reg)
    ROUND_ROBIN (reg,)
    WEIGHTED    (pass, reg)

The slots are ``_ANY`` (every agent: choices for sessions without a group)
plus ``_ALL`` for an agent that serves every group, or each group name the
agent serves. A session of group g picks the best head of index[side, g] and
index[side, _ALL]; a session without a group the head of index[side, _ANY].
So a selection costs O(log n) plus the agents skipped because they timed out
on that session (R18), and an agent's update costs O(g log n). Keys end in
``reg``, which maps back to the agent. An index that empties is dropped, and
so is a group's online count when it falls to zero: the tables hold the
groups agents serve now, not every group ever named.

Waiting sessions sit in one ``SortedList`` per group, keyed by the R07 key
(-priority, arrival); only non-empty queues are kept. A group with an R28
oldest-wait limit also keeps its waiting arrivals in a ``SortedList``: its
longest-waiting session (the first to arrive) in O(1), kept in O(log w). An agent who gains
room compares the heads of the queues it serves that hold sessions and takes
the best: O(g + log w) per session handed out. A SortedList also ranks: a
session's place in its group's line (R25) is one bisection, O(log w). Each
line keeps its latest hand-over times in a bounded deque, dropped when its
group is forgotten (no agent names it, no open session has it: ``_refs``).

A waiting session past a step of its group's escalation ladder (R24) is also
filed, by its R07 key, in one ``SortedList`` per group the step added (or
one for a step that reached every agent): a step costs O(log w) per group
added, and a drain compares those lists' heads for the agent's groups too.

Timers live in one heap of (deadline, seq, kind, session); a session holds
its current (deadline, seq) per kind, and a heap entry that no longer
matches is stale and skipped (lazy deletion). The heap is rebuilt when stale
entries outnumber live ones, so memory follows live timers, not history.

Capacity weights (R26). An agent's ``load`` is the sum of its sessions'
weights, kept as a number. With kinds heavier than 1 configured (``k``
distinct weights), an available agent is also filed, under the same key, in
``_windex[side, slot, w]`` for every heavy weight ``w`` it has room for, and
each waiting session also sits in ``_wqueues[group, weight]``. A session of
weight ``w`` picks from the ``w`` indexes, so a selection stays O(log n); an
agent with less room than the heaviest weight compares the heads of the
lines of the weights it has room for: O(g k + log w) per session handed out.
An agent's update costs O(k g log n). Without heavy kinds none of this
exists and the hot paths are as before.

Invariants (checked from scratch by ``check()``): each open session is in
exactly one agent's ``sessions`` or exactly one queue; an agent is indexed
iff available, under its current key, in exactly its slots on its side;
R06: no waiting session has an eligible agent.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable
from typing import Any, Final

from sortedcontainers import SortedList

from kefu._batch import run_batch
from kefu._columns import ColumnBatch, run_rows
from kefu._handovers import MAX_SAMPLE, estimate
from kefu._ladder import reached_all, reached_groups, table
from kefu._snapshot import StateData, parse_state
from kefu.errors import (
    AgentOffline,
    DuplicateAgent,
    DuplicateSession,
    InvalidAssign,
    InvalidTransfer,
    KefuError,
    NotHolder,
    SessionWaiting,
    UnknownAgent,
    UnknownKind,
    UnknownSession,
)
from kefu.events import (
    Assigned,
    AssignReason,
    Closed,
    CloseReason,
    Escalated,
    Event,
    Opened,
    Overflowed,
    Pool,
    Queued,
    Reassigned,
    Rejected,
    Requeued,
    RequeueReason,
    ResponseTimedOut,
    Transferred,
)
from kefu.model import AgentView, Cap, Config, QueueLimit, SessionState, SessionView, Strategy

__all__ = ["STRIDE_BASE", "Engine"]

#: lcm(1..20): WEIGHTED strides are exact for weights up to 20.
STRIDE_BASE: Final = 232792560

# Index slots besides group names (strings), so they can never clash with one.
_ANY: Final = 0
_ALL: Final = 1
_AUTO_CLOSE: Final = 0
_FIRST_RESPONSE: Final = 1
_GRACE: Final = 2  # R27: an offline agent's grace deadline (the entry's owner is the agent)
_ESCALATE: Final = 3  # R24: a waiting session's next ladder step

Key = tuple[int, ...]
Slot = str | int


class _Agent:
    __slots__ = (
        "away", "cap", "grace", "groups", "id", "key", "key_online", "last_auto", "limit",
        "load", "online", "pass_", "reg", "sessions", "slots", "weight", "wfit", "wkey",
        "wside",
    )

    def __init__(self, agent_id: str, reg: int, cap: Cap, groups: frozenset[str] | None,
                 weight: int, online: bool) -> None:
        self.id = agent_id
        self.reg = reg
        self.cap = cap
        self.limit = cap.room_limit
        self.groups = groups
        self.slots: tuple[Slot, ...] = (
            (_ANY, _ALL) if groups is None else (_ANY, *sorted(groups))
        )
        self.weight = weight
        self.online = online
        self.last_auto = 0
        self.pass_ = 0
        self.sessions: dict[str, _Session] = {}
        self.load = 0  # R26: the sum of its sessions' weights
        # R26: the key, side and number of heavy weights it is filed under in _windex.
        self.wkey: Key | None = None
        self.wside = online
        self.wfit = 0
        self.key: Key | None = None  # the key it is indexed under; None = not available
        self.key_online = online  # the side it is indexed on
        self.away = False  # R27: online, but no automatic assignment
        self.grace: tuple[float, int] | None = None  # R27: offline grace timer


class _Session:
    __slots__ = (
        "agent", "arrival", "auto_close", "buyer", "esc", "first_response", "first_unanswered",
        "group", "id", "key", "kind", "last_buyer", "opened_at", "pool", "priority", "since",
        "step", "timed_out", "weight",
    )

    def __init__(self, session_id: str, buyer: str | None, group: str | None, priority: int,
                 arrival: int, now: float, kind: str | None = None, weight: int = 1) -> None:
        self.id = session_id
        self.kind = kind  # R26
        self.weight = weight
        self.buyer = buyer
        self.group = group
        self.priority = priority
        self.arrival = arrival
        self.key: tuple[int, int] = (-priority, arrival)  # R07
        self.opened_at = now
        self.agent: _Agent | None = None
        self.pool: Pool | None = None
        self.first_unanswered: float | None = now
        self.last_buyer = now
        self.timed_out: set[str] = set()
        self.auto_close: tuple[float, int] | None = None
        self.first_response: tuple[float, int] | None = None
        # R24, while waiting in a group with a ladder: when the wait began, the steps
        # reached, and the next step's timer (None once the last is reached).
        self.since: float | None = None
        self.step = 0
        self.esc: tuple[float, int] | None = None


class Engine:
    """Reference engine: SortedList indexes, per-group queues, a lazy timer heap."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._strategy = config.strategy
        self._agents: dict[str, _Agent] = {}
        self._by_reg: dict[int, _Agent] = {}
        self._sessions: dict[str, _Session] = {}  # insertion order = arrival order
        self._index: dict[tuple[bool, Slot], SortedList] = {}
        self._queues: dict[str | None, SortedList] = {}  # only non-empty queues
        self._waiting: dict[int, _Session] = {}  # arrival -> waiting session
        self._limits: dict[str, QueueLimit] = dict(config.queue_limits)  # R28
        # R28: the groups with an oldest-wait limit, and their waiting arrivals (non-empty).
        self._wait_limited = frozenset(g for g, lim in config.queue_limits
                                       if lim.max_wait is not None)
        self._oldest: dict[str, SortedList] = {}
        # R24: each group's ladder, and the waiting sessions past a step, by the R07 key,
        # filed under every group their reached steps add (None: a step that reached every
        # agent); only non-empty lists are kept.
        self._ladders = table(config)
        self._esc: dict[tuple[str | None, int], SortedList] = {}  # keyed (slot, weight)
        # R26: kind -> weight; the distinct weights (1 always); the heavy ones (> 1), and
        # while there are any, the agents by heavy weight and the lines by weight.
        self._kinds: dict[str, int] = dict(config.session_kinds)
        self._weights: tuple[int, ...] = tuple(sorted({1, *self._kinds.values()}))
        self._heavy: tuple[int, ...] = self._weights[1:]
        self._windex: dict[tuple[bool, Slot, int], SortedList] = {}
        self._wqueues: dict[tuple[str | None, int], SortedList] = {}
        if self._heavy:
            self._update = self._update_weighted  # type: ignore[method-assign]
        # R25: each line's latest hand-over times (non-decreasing), kept while its group is
        # named by an agent or an open session (``_refs``); the line of no group always.
        self._handovers: dict[str | None, deque[float]] = {}
        self._refs: Counter[str] = Counter()
        self._online_groups: Counter[str] = Counter()  # online agents naming each group
        self._online_all = 0  # online agents serving every group
        self._online_total = 0
        self._timers: list[tuple[float, int, int, _Session | _Agent]] = []
        self._live_timers = 0
        self._sticky: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._next_reg = 0
        self._arrival = 0
        self._auto = 0
        self._timer_seq = 0
        self._rr = 0
        self._vt = 0

    # -- lookups -----------------------------------------------------------

    def _get_agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return agent

    def _get_session(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise UnknownSession(session_id)
        return session

    # -- the words of docs/semantics.md -----------------------------------

    def _available(self, a: _Agent) -> bool:
        if a.away:
            return False
        limit = a.limit
        if limit is not None and a.load >= limit:
            return False  # also SUSPENDED: limit 0
        return a.weight > 0 or self._strategy is not Strategy.WEIGHTED

    def _online_for(self, group: str | None) -> bool:
        if group is None:
            return self._online_total > 0
        return self._online_all > 0 or self._online_groups[group] > 0

    def _side_ok(self, a: _Agent, group: str | None) -> bool:
        """Online, or offline under diversion with nobody online for the group (R09)."""
        if a.online:
            return True
        return self._config.offline_diversion and not self._online_for(group)

    def _eligible(self, a: _Agent, s: _Session) -> bool:
        return (
            a.key is not None
            and (a.limit is None or a.load + s.weight <= a.limit)  # R26: it fits
            and a.id not in s.timed_out
            and (((a.groups is None or s.group is None or s.group in a.groups)
                  and self._side_ok(a, s.group))
                 or (a.online and s.step > 0 and self._reaches(a, s)))
        )

    def _reaches(self, a: _Agent, s: _Session) -> bool:
        """R24: a ladder step ``s`` reached brings ``a`` in. O(groups reached)."""
        rungs = self._ladders[s.group]  # type: ignore[index]
        if reached_all(rungs, s.step) or a.groups is None:
            return True
        return bool(a.groups & reached_groups(rungs, s.step))

    def _esc_slots(self, s: _Session) -> list[str | None]:
        """R24: the lists of escalated sessions ``s`` is filed in (its reached steps)."""
        rungs = self._ladders[s.group]  # type: ignore[index]
        return [None if rung.groups is None else g
                for rung in rungs[:s.step] for g in (rung.groups or (None,))]

    def _key(self, a: _Agent) -> Key:
        if self._strategy is Strategy.LEAST_LOAD:
            return (a.load, a.last_auto, a.reg)
        if self._strategy is Strategy.ROUND_ROBIN:
            return (a.reg,)
        return (a.pass_, a.reg)

    def _normalise(self, a: _Agent) -> None:
        """WEIGHTED: an agent (re)joining cannot claim a burst of owed sessions."""
        if self._strategy is Strategy.WEIGHTED and a.weight > 0:
            a.pass_ = max(a.pass_, self._vt + STRIDE_BASE // a.weight)

    # -- agent index ---------------------------------------------------------

    def _unindex(self, a: _Agent) -> None:
        """Take ``a`` out of its indexes; an index left empty is dropped. O(g log n)."""
        if a.key is not None:
            for slot in a.slots:
                index = self._index[(a.key_online, slot)]
                index.remove(a.key)
                if not index:
                    del self._index[(a.key_online, slot)]
            a.key = None

    def _update(self, a: _Agent) -> None:
        """Re-file an agent after its load, cap, weight, side or order changed. O(g log n).

        An agent staying on its side is re-keyed in place, so an index it is
        alone in is not dropped and rebuilt on every hand-over.
        """
        if not self._available(a):
            self._unindex(a)
            return
        key = self._key(a) if a.key is not None else None
        if key is not None and a.key_online == a.online:
            if key != a.key:
                for slot in a.slots:
                    index = self._index[(a.online, slot)]
                    index.remove(a.key)
                    index.add(key)
                a.key = key
            return
        was_available = a.key is not None
        self._unindex(a)
        if not was_available:
            self._normalise(a)
        key = self._key(a)
        for slot in a.slots:
            index = self._index.get((a.online, slot))
            if index is None:
                index = self._index[(a.online, slot)] = SortedList()
            index.add(key)
        a.key = key
        a.key_online = a.online

    def _update_weighted(self, a: _Agent) -> None:
        """``_update``, then ``a`` re-filed in the heavy-weight indexes (R26). O(k g log n)."""
        Engine._update(self, a)
        heavy = self._heavy
        fit = 0
        if a.key is not None:
            fit = len(heavy) if a.limit is None else bisect_right(heavy, a.limit - a.load)
        self._file_heavy(a, fit)

    def _file_heavy(self, a: _Agent, fit: int) -> None:
        """File ``a`` under its key in the indexes of the ``fit`` lightest heavy weights
        (R26), out of those it was in. O(k g log n)."""
        heavy = self._heavy
        if fit == a.wfit and (not fit or (a.wkey == a.key and a.wside == a.key_online)):
            return
        windex = self._windex
        for w in heavy[:a.wfit]:
            for slot in a.slots:
                index = windex[(a.wside, slot, w)]
                index.remove(a.wkey)
                if not index:
                    del windex[(a.wside, slot, w)]
        for w in heavy[:fit]:
            for slot in a.slots:
                index = windex.get((a.key_online, slot, w))
                if index is None:
                    index = windex[(a.key_online, slot, w)] = SortedList()
                index.add(a.key)
        a.wkey, a.wside, a.wfit = (a.key, a.key_online, fit) if fit else (None, a.online, 0)

    def _count_online(self, a: _Agent, delta: int) -> None:
        """Count ``a`` going online (+1) or offline (-1); a count falling to 0 is dropped."""
        self._online_total += delta
        if a.groups is None:
            self._online_all += delta
        else:
            counts = self._online_groups
            for g in a.groups:
                counts[g] += delta
                if not counts[g]:
                    del counts[g]

    # -- selection (R11) -------------------------------------------------------

    def _select(self, s: _Session) -> _Agent | None:
        """The strategy's choice among the agents eligible for ``s``, or None."""
        group = s.group
        if self._online_for(group):
            side = True
        elif self._config.offline_diversion:
            side = False
        elif s.step:
            side = None
        else:
            return None
        if s.weight > 1:  # R26: the agents with room for it
            indexes = self._heavy_indexes(s, side)
        elif side is None:
            indexes = []
        elif group is None:
            indexes = [self._index.get((side, _ANY))]
        else:
            indexes = [self._index.get((side, group)), self._index.get((side, _ALL))]
        if s.step and s.weight == 1:  # R24: the online agents its reached steps bring in
            indexes.extend(self._index.get((True, slot if slot is not None else _ANY))
                           for slot in self._esc_slots(s))
        excluded = s.timed_out
        by_reg = self._by_reg
        best: tuple[int, ...] | None = None
        if self._strategy is Strategy.ROUND_ROBIN:
            pointer = self._rr
            for index in indexes:
                if not index:
                    continue
                split = index.bisect_left((pointer,))
                # (0, reg) at or after the pointer beats (1, reg) after wrapping.
                cand = self._first_allowed(index.islice(split), excluded, (0,))
                if cand is None:
                    cand = self._first_allowed(index.islice(0, split), excluded, (1,))
                if cand is not None and (best is None or cand < best):
                    best = cand
        else:
            for index in indexes:
                if index:
                    cand = self._first_allowed(iter(index), excluded, ())
                    if cand is not None and (best is None or cand < best):
                        best = cand
        return None if best is None else by_reg[best[-1]]

    def _heavy_indexes(self, s: _Session, side: bool | None) -> list[SortedList | None]:
        """R26: the indexes of the agents with room for ``s`` (weight > 1) that ``_select``
        looks at: those of its group on ``side``, and of its reached ladder steps. O(g)."""
        windex, w, group = self._windex, s.weight, s.group
        if side is None:
            indexes = []
        elif group is None:
            indexes = [windex.get((side, _ANY, w))]
        else:
            indexes = [windex.get((side, group, w)), windex.get((side, _ALL, w))]
        if s.step:
            indexes.extend(windex.get((True, slot if slot is not None else _ANY, w))
                           for slot in self._esc_slots(s))
        return indexes

    def _first_allowed(self, keys: Iterable[Key], excluded: set[str], prefix: tuple[int, ...]
                       ) -> tuple[int, ...] | None:
        by_reg = self._by_reg
        for key in keys:
            if not excluded or by_reg[key[-1]].id not in excluded:
                return prefix + key
        return None

    def _best_waiting_for(self, a: _Agent) -> _Session | None:
        """The waiting session with the smallest R07 key that ``a`` is eligible for.

        R26: an agent with less room than the heaviest weight looks only at the lines of
        the weights it has room for. O(g k + log w) plus the sessions skipped (R18)."""
        queues = self._queues
        if a.groups is None:
            groups: list[str | None] = list(queues)
        else:
            groups = [g for g in a.groups if g in queues]
            if None in queues:
                groups.append(None)
        best: _Session | None = None
        weights = self._weights  # (1,) without kinds heavier than 1
        if self._heavy and a.limit is not None and a.limit - a.load < self._heavy[-1]:
            weights = weights[:bisect_right(weights, a.limit - a.load)]
            wqueues = self._wqueues
            for g in groups:
                if self._side_ok(a, g):
                    for w in weights:
                        queue = wqueues.get((g, w))
                        if queue:
                            best = self._best_in(queue, a, best)
        else:
            for g in groups:
                if not self._side_ok(a, g):
                    continue
                best = self._best_in(queues[g], a, best)
        if self._esc and a.online and a.groups is not None:  # R24: widened sessions
            esc = self._esc
            for slot in [*a.groups, None]:
                for w in weights:
                    queue = esc.get((slot, w))
                    if queue:
                        best = self._best_in(queue, a, best)
        return best

    def _best_in(self, queue: SortedList, a: _Agent, best: _Session | None) -> _Session | None:
        """The better of ``best`` and the first session of ``queue`` that ``a`` did not time
        out on. O(1) plus the sessions skipped (R18)."""
        for key in queue:
            s = self._waiting[key[1]]
            if a.id not in s.timed_out:
                return s if best is None or s.key < best.key else best
        return best

    # -- moving sessions -----------------------------------------------------------

    def _give(self, s: _Session, a: _Agent, now: float, automatic: bool) -> None:
        a.sessions[s.id] = s
        a.load += s.weight
        s.agent = a
        s.pool = None
        if automatic:
            self._auto += 1
            a.last_auto = self._auto
            self._rr = a.reg + 1
            if self._strategy is Strategy.WEIGHTED:
                self._vt = max(self._vt, a.pass_)
                a.pass_ += STRIDE_BASE // a.weight
        self._update(a)
        timeout = self._config.first_response_timeout
        if timeout is not None:
            s.first_response = self._set_timer(s, _FIRST_RESPONSE, now + timeout)

    def _take(self, s: _Session) -> _Agent:
        """Remove ``s`` from its agent (which may become available) and stop its R18 timer."""
        a = s.agent
        assert a is not None
        del a.sessions[s.id]
        a.load -= s.weight
        s.agent = None
        self._clear_first_response(s)
        self._update(a)
        return a

    def _enqueue(self, s: _Session, pool: Pool) -> None:
        s.pool = pool
        queue = self._queues.get(s.group)
        if queue is None:
            queue = self._queues[s.group] = SortedList()
        queue.add(s.key)
        self._waiting[s.arrival] = s
        if self._heavy:
            line = self._wqueues.get((s.group, s.weight))
            if line is None:
                line = self._wqueues[(s.group, s.weight)] = SortedList()
            line.add(s.key)
        if s.group in self._wait_limited:
            self._oldest.setdefault(s.group, SortedList()).add(s.arrival)

    def _dequeue(self, s: _Session) -> None:
        if s.since is not None:
            self._end_ladder(s)
        queue = self._queues[s.group]
        queue.remove(s.key)
        if not queue:
            del self._queues[s.group]
        if self._heavy:
            line = self._wqueues[(s.group, s.weight)]
            line.remove(s.key)
            if not line:
                del self._wqueues[(s.group, s.weight)]
        del self._waiting[s.arrival]
        s.pool = None
        if s.group in self._wait_limited:
            arrivals = self._oldest[s.group]
            arrivals.remove(s.arrival)
            if not arrivals:
                del self._oldest[s.group]

    def _start_ladder(self, s: _Session, now: float) -> None:
        """R24: ``s`` starts to wait in its group's line at ``now``; with a ladder, the
        first step's timer starts. O(log t)."""
        rungs = self._ladders.get(s.group) if s.group is not None else None
        if rungs:
            s.since = now
            s.esc = self._set_timer(s, _ESCALATE, now + rungs[0].after)

    def _end_ladder(self, s: _Session) -> None:
        """R24: the wait of ``s`` is over: out of the escalated lists, its timer stopped.
        O(groups reached x log w)."""
        esc = self._esc
        for slot in self._esc_slots(s):
            queue = esc[(slot, s.weight)]
            queue.remove(s.key)
            if not queue:
                del esc[(slot, s.weight)]
        if s.esc is not None:
            s.esc = None
            self._drop_timer()
        s.since = None
        s.step = 0

    def _escalate(self, s: _Session, now: float, events: list[Event]) -> None:
        """R24: ``s`` reaches its next ladder step at the deadline ``now``: filed under the
        step's groups; if one of the agents they bring in has room, ``s`` goes to the
        strategy's choice at once (a drain); otherwise the next step's timer starts, from
        the start of the wait. O(groups added x log w + log n) plus the hand-over."""
        rungs = self._ladders[s.group]  # type: ignore[index]
        s.esc = None
        self._drop_timer()
        rung = rungs[s.step]
        s.step += 1
        for slot in (rung.groups or (None,)):
            queue = self._esc.get((slot, s.weight))
            if queue is None:
                queue = self._esc[(slot, s.weight)] = SortedList()
            queue.add(s.key)
        events.append(Escalated(s.id, s.group, s.step, rung.names, now,  # type: ignore[arg-type]
                                s.buyer))
        a = self._select(s)
        if a is not None:
            self._hand_out(s, a, now, True)
            events.append(Assigned(s.id, a.id, now, AssignReason.DRAIN, s.buyer))
        elif s.step < len(rungs):
            s.esc = self._set_timer(s, _ESCALATE, s.since + rungs[s.step].after)  # type: ignore[operator]

    def _over_limit(self, group: str, now: float) -> QueueLimit | None:
        """The limit of ``group`` if one more waiting session would break it (R28). O(1)."""
        limit = self._limits.get(group)
        if limit is None:
            return None
        queue = self._queues.get(group)
        if limit.max_waiting is not None and (len(queue) if queue else 0) >= limit.max_waiting:
            return limit
        arrivals = self._oldest.get(group)
        if limit.max_wait is not None and arrivals and (
                now - self._waiting[arrivals[0]].opened_at >= limit.max_wait):
            return limit
        return None

    def _admit(self, s: _Session, now: float, events: list[Event]) -> None:
        """A new session with no agent: wait, overflow along the chain, or be refused (R28).

        O(log w) per hop, plus a selection (O(log n)) per overflow.
        """
        while True:
            group = s.group
            limit = None if group is None else self._over_limit(group, now)
            if group is None or limit is None:
                pool = self._pool_for(s)
                self._enqueue(s, pool)
                events.append(Queued(s.id, pool, now, s.buyer))
                self._start_ladder(s, now)
                return
            if limit.overflow is None:
                del self._sessions[s.id]
                self._unref(group)
                events.append(Rejected(s.id, group, now, s.buyer))
                return
            events.append(Overflowed(s.id, group, limit.overflow, now, s.buyer))
            s.group = limit.overflow
            self._ref(s.group)
            self._unref(group)
            a = self._select(s)
            if a is not None:
                self._give(s, a, now, True)
                events.append(Assigned(s.id, a.id, now, AssignReason.NEW, s.buyer))
                return

    def _pool_for(self, s: _Session) -> Pool:
        return Pool.QUEUE if self._online_for(s.group) else Pool.OFFLINE

    def _drain_to(self, a: _Agent, now: float, events: list[Event]) -> None:
        """R05: while ``a`` is available, give it the best waiting session it is eligible for."""
        while a.key is not None and self._waiting:
            s = self._best_waiting_for(a)
            if s is None:
                return
            self._hand_out(s, a, now, True)
            events.append(Assigned(s.id, a.id, now, AssignReason.DRAIN, s.buyer))

    def _hand_out(self, s: _Session, a: _Agent, now: float, automatic: bool) -> None:
        """Give a waiting session to ``a``, recording a hand-over from its line (R25)."""
        self._dequeue(s)
        times = self._handovers.get(s.group)
        if times is None:
            times = self._handovers[s.group] = deque(maxlen=MAX_SAMPLE)
        times.append(max(now, times[-1]) if times else now)
        self._give(s, a, now, automatic)

    def _ref(self, group: str | None) -> None:
        if group is not None:
            self._refs[group] += 1

    def _unref(self, group: str | None) -> None:
        """Drop one agent's or session's claim on ``group``; the last one forgets its
        hand-overs (R25), as the group itself is forgotten."""
        if group is None:
            return
        self._refs[group] -= 1
        if not self._refs[group]:
            del self._refs[group]
            self._handovers.pop(group, None)

    def _placement_pass(self, now: float, requeued: list[_Session], events: list[Event]) -> None:
        """Place requeued sessions (and, under diversion, all waiting ones) in R07 order."""
        candidates = list(requeued)
        if self._config.offline_diversion:
            candidates.extend(self._waiting.values())
        candidates.sort(key=lambda s: s.key)
        fresh = {s.arrival for s in requeued}
        for s in candidates:
            a = self._select(s)
            if s.arrival in fresh:
                if a is None:
                    pool = self._pool_for(s)
                    self._enqueue(s, pool)
                    events.append(Queued(s.id, pool, now, s.buyer))
                    self._start_ladder(s, now)
                else:
                    self._give(s, a, now, True)
                    events.append(Assigned(s.id, a.id, now, AssignReason.REQUEUE, s.buyer))
            elif a is not None:
                self._hand_out(s, a, now, True)
                events.append(Assigned(s.id, a.id, now, AssignReason.DRAIN, s.buyer))

    def _requeue_all(self, a: _Agent, now: float, reason: RequeueReason,
                     events: list[Event]) -> list[_Session]:
        moved = sorted(a.sessions.values(), key=lambda s: s.arrival)
        for s in moved:
            self._take(s)
            events.append(Requeued(s.id, a.id, now, reason, s.buyer))
        return moved

    def _close(self, s: _Session, now: float, reason: CloseReason, events: list[Event]) -> None:
        self._clear_auto_close(s)
        del self._sessions[s.id]
        if s.agent is None:
            pool = s.pool
            self._dequeue(s)
            self._unref(s.group)
            events.append(Closed(s.id, None, pool, now, reason, s.buyer))
            return
        a = self._take(s)
        self._unref(s.group)
        events.append(Closed(s.id, a.id, None, now, reason, s.buyer))
        if self._config.sticky_window is not None and s.buyer is not None:
            self._prune_sticky(now)
            self._sticky.pop(s.buyer, None)
            self._sticky[s.buyer] = (a.id, now)
        self._drain_to(a, now, events)

    # -- timers (R17, R18, R20) ------------------------------------------------

    def _set_timer(self, s: _Session | _Agent, kind: int, deadline: float) -> tuple[float, int]:
        self._timer_seq += 1
        heapq.heappush(self._timers, (deadline, self._timer_seq, kind, s))
        self._live_timers += 1
        return (deadline, self._timer_seq)

    def _clear_auto_close(self, s: _Session) -> None:
        if s.auto_close is not None:
            s.auto_close = None
            self._drop_timer()

    def _clear_first_response(self, s: _Session) -> None:
        if s.first_response is not None:
            s.first_response = None
            self._drop_timer()

    def _drop_timer(self) -> None:
        self._live_timers -= 1
        if len(self._timers) > 2 * self._live_timers + 64:
            # Stale entries dominate: rebuild so memory follows live timers. In place:
            # tick() may be walking this very list (a timer firing drops another).
            self._timers[:] = [t for t in self._timers if self._is_live(t)]
            heapq.heapify(self._timers)

    def _clear_grace(self, a: _Agent) -> None:
        if a.grace is not None:
            a.grace = None
            self._drop_timer()

    @staticmethod
    def _is_live(entry: tuple[float, int, int, _Session | _Agent]) -> bool:
        _, seq, kind, owner = entry
        if kind == _GRACE:
            timer = owner.grace  # type: ignore[union-attr]
        elif kind == _ESCALATE:
            timer = owner.esc  # type: ignore[union-attr]
        elif kind == _AUTO_CLOSE:
            timer = owner.auto_close  # type: ignore[union-attr]
        else:
            timer = owner.first_response  # type: ignore[union-attr]
        return timer is not None and timer[1] == seq

    def apply(self, now: float, commands: Iterable[object]) -> tuple[list[Event], float]:
        return run_batch(self, now, commands)

    def apply_columns(self, now: float, batch: ColumnBatch) -> tuple[list[Event], float]:
        return run_rows(self, now, batch)

    def next_deadline(self) -> float | None:
        timers = self._timers
        while timers and not self._is_live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        timers = self._timers
        while timers:
            entry = timers[0]
            if not self._is_live(entry):
                heapq.heappop(timers)
                continue
            deadline, _, kind, s = entry
            if deadline > now:
                break
            heapq.heappop(timers)
            if kind == _GRACE:
                self._grace_expired(s, deadline, events)  # type: ignore[arg-type]
            elif kind == _AUTO_CLOSE:
                self._close(s, deadline, CloseReason.AUTO, events)  # type: ignore[arg-type]
            elif kind == _ESCALATE:
                self._escalate(s, deadline, events)  # type: ignore[arg-type]
            else:
                self._first_response_timeout(s, deadline, events)  # type: ignore[arg-type]
        return events

    def _grace_expired(self, a: _Agent, now: float, events: list[Event]) -> None:
        """R27: still offline at the deadline: unanswered sessions wait again, then placed.

        O(k log k + moved log n) for k sessions held.
        """
        self._clear_grace(a)
        moved = sorted((s for s in a.sessions.values() if s.first_unanswered is not None),
                       key=lambda s: s.arrival)
        for s in moved:
            self._take(s)
            events.append(Requeued(s.id, a.id, now, RequeueReason.AGENT_OFFLINE, s.buyer))
        self._placement_pass(now, moved, events)

    def _first_response_timeout(self, s: _Session, now: float, events: list[Event]) -> None:
        self._clear_first_response(s)
        old = s.agent
        assert old is not None
        events.append(ResponseTimedOut(s.id, old.id, now, s.buyer))
        s.timed_out.add(old.id)
        new = self._select(s)
        if new is None:
            return
        self._take(s)
        self._give(s, new, now, True)
        events.append(Reassigned(s.id, old.id, new.id, now, s.buyer))
        self._drain_to(old, now, events)

    # -- sticky return (R13) -----------------------------------------------------

    def _prune_sticky(self, now: float) -> None:
        window = self._config.sticky_window
        assert window is not None
        sticky = self._sticky
        while sticky:
            _, (_, closed_at) = next(iter(sticky.items()))
            if now - closed_at <= window:
                return
            sticky.popitem(last=False)

    def _sticky_agent(self, s: _Session, now: float) -> _Agent | None:
        window = self._config.sticky_window
        if window is None:
            return None
        self._prune_sticky(now)
        if s.buyer is None:
            return None
        entry = self._sticky.get(s.buyer)
        if entry is None or now - entry[1] > window:
            return None
        a = self._agents[entry[0]]
        return a if self._eligible(a, s) else None

    # -- commands -------------------------------------------------------------

    def add_agent(self, now: float, agent_id: str, cap: Cap, groups: frozenset[str] | None,
                  weight: int, online: bool) -> list[Event]:
        if agent_id in self._agents:
            raise DuplicateAgent(agent_id)
        a = _Agent(agent_id, self._next_reg, cap, groups, weight, online)
        self._next_reg += 1
        self._agents[agent_id] = a
        self._by_reg[a.reg] = a
        for group in groups or ():
            self._ref(group)
        if online:
            self._count_online(a, +1)
        self._update(a)
        events: list[Event] = []
        self._drain_to(a, now, events)
        return events

    def remove_agent(self, now: float, agent_id: str) -> list[Event]:
        a = self._get_agent(agent_id)
        self._clear_grace(a)
        events: list[Event] = []
        moved = self._requeue_all(a, now, RequeueReason.AGENT_REMOVED, events)
        self._unindex(a)
        if self._heavy:
            self._file_heavy(a, 0)
        if a.online:
            self._count_online(a, -1)
        del self._agents[agent_id]
        del self._by_reg[a.reg]
        for group in a.groups or ():
            self._unref(group)
        for buyer in [b for b, (aid, _) in self._sticky.items() if aid == agent_id]:
            del self._sticky[buyer]
        self._placement_pass(now, moved, events)
        return events

    def agent_online(self, now: float, agent_id: str) -> list[Event]:
        a = self._get_agent(agent_id)
        if a.online and not a.away:
            return []
        if a.online:
            a.away = False  # back from away: _update normalises if it is available now
        else:
            a.online = True
            self._clear_grace(a)
            self._count_online(a, +1)
            if self._available(a):
                self._normalise(a)
        self._update(a)
        events: list[Event] = []
        self._drain_to(a, now, events)
        return events

    def agent_away(self, now: float, agent_id: str) -> list[Event]:
        """R27: online but away; an offline agent logs in away. O(g log n). Returns []."""
        a = self._get_agent(agent_id)
        if a.away:
            return []
        if not a.online:
            a.online = True
            self._clear_grace(a)
            self._count_online(a, +1)
        a.away = True
        self._update(a)
        return []

    def agent_offline(self, now: float, agent_id: str, requeue: bool,
                      grace: float | None = None) -> list[Event]:
        a = self._get_agent(agent_id)
        if not a.online:
            return []
        a.online = False
        a.away = False
        self._count_online(a, -1)
        self._update(a)
        if grace is not None:
            a.grace = self._set_timer(a, _GRACE, now + grace)
        events: list[Event] = []
        moved = self._requeue_all(a, now, RequeueReason.AGENT_OFFLINE, events) if requeue else []
        self._placement_pass(now, moved, events)
        return events

    def set_cap(self, now: float, agent_id: str, cap: Cap) -> list[Event]:
        a = self._get_agent(agent_id)
        a.cap = cap
        a.limit = cap.room_limit
        self._update(a)
        events: list[Event] = []
        self._drain_to(a, now, events)
        return events

    def set_weight(self, now: float, agent_id: str, weight: int) -> list[Event]:
        a = self._get_agent(agent_id)
        a.weight = weight
        if self._strategy is Strategy.WEIGHTED and weight > 0:
            a.pass_ = self._vt + STRIDE_BASE // weight
        self._update(a)
        events: list[Event] = []
        self._drain_to(a, now, events)
        return events

    def open_session(self, now: float, session_id: str, buyer_id: str | None,
                     group: str | None, priority: int, kind: str | None = None) -> list[Event]:
        weight = 1
        if kind is not None:
            weight = self._kinds.get(kind, 0)
            if not weight:
                raise UnknownKind(kind, tuple(self._kinds))
        if session_id in self._sessions:
            raise DuplicateSession(session_id)
        self._arrival += 1
        s = _Session(session_id, buyer_id, group, priority, self._arrival, now, kind, weight)
        self._sessions[session_id] = s
        self._ref(group)
        events: list[Event] = [Opened(session_id, buyer_id, group, priority, now, kind)]
        a = self._sticky_agent(s, now)
        reason = AssignReason.STICKY
        if a is None:
            a = self._select(s)
            reason = AssignReason.NEW
        if a is None:
            self._admit(s, now, events)
        else:
            self._give(s, a, now, True)
            events.append(Assigned(session_id, a.id, now, reason, buyer_id))
        return events

    def buyer_message(self, now: float, session_id: str) -> list[Event]:
        s = self._get_session(session_id)
        s.last_buyer = now
        if s.first_unanswered is None:
            s.first_unanswered = now
        self._clear_auto_close(s)
        return []

    def agent_message(self, now: float, session_id: str, auto: bool,
                      agent_id: str | None = None) -> list[Event]:
        s = self._get_session(session_id)
        if agent_id is not None and (s.agent is None or s.agent.id != agent_id):
            holder = None if s.agent is None else s.agent.id
            raise NotHolder(session_id, agent_id, holder, agent_id in self._agents)
        if not auto:
            if s.agent is None:
                raise SessionWaiting(session_id)
            s.first_unanswered = None
            self._clear_first_response(s)
        after = self._config.auto_close_after
        if after is not None:
            self._clear_auto_close(s)
            s.auto_close = self._set_timer(s, _AUTO_CLOSE, now + after)
        return []

    def assign(self, now: float, session_id: str, agent_id: str) -> list[Event]:
        s = self._get_session(session_id)
        a = self._get_agent(agent_id)
        if s.agent is not None:
            raise InvalidAssign(session_id, s.agent.id)
        if not a.online:
            raise AgentOffline(agent_id)
        self._hand_out(s, a, now, False)
        return [Assigned(session_id, agent_id, now, AssignReason.MANUAL, s.buyer)]

    def transfer(self, now: float, session_id: str, agent_id: str) -> list[Event]:
        s = self._get_session(session_id)
        a = self._get_agent(agent_id)
        if s.agent is None:
            raise InvalidTransfer(session_id, "it is waiting in a pool (use assign)")
        if s.agent is a:
            raise InvalidTransfer(session_id, f"it is already with agent {agent_id!r}")
        if not a.online:
            raise AgentOffline(agent_id)
        old = self._take(s)
        self._give(s, a, now, False)
        events: list[Event] = [Transferred(session_id, old.id, agent_id, now, s.buyer)]
        self._drain_to(old, now, events)
        return events

    def close_session(self, now: float, session_id: str) -> list[Event]:
        s = self._get_session(session_id)
        events: list[Event] = []
        self._close(s, now, CloseReason.MANUAL, events)
        return events

    # -- queries -----------------------------------------------------------------

    def load(self, agent_id: str) -> int:
        return self._get_agent(agent_id).load

    def agent(self, agent_id: str) -> AgentView:
        a = self._get_agent(agent_id)
        return AgentView(a.id, a.cap, a.groups, a.weight, a.online, a.load, a.away,
                         len(a.sessions))

    def agent_ids(self) -> list[str]:
        return list(self._agents)

    def session(self, session_id: str) -> SessionView:
        s = self._get_session(session_id)
        return SessionView(
            session_id=s.id, buyer_id=s.buyer, group=s.group, priority=s.priority,
            state=SessionState.WAITING if s.agent is None else SessionState.ASSIGNED,
            agent_id=None if s.agent is None else s.agent.id, pool=s.pool, opened_at=s.opened_at,
            timed_out=frozenset(s.timed_out), step=s.step, kind=s.kind,
        )

    def session_ids(self) -> list[str]:
        return list(self._sessions)

    def estimated_wait(self, now: float, session_id: str, sample: int) -> float | None:
        """R25: see ``kefu._handovers.estimate``. O(log w)."""
        position = self.position(session_id)
        if position is None:
            return None
        times = self._handovers.get(self._sessions[session_id].group)
        if not times:
            return None
        k = min(sample, len(times))
        return estimate(position, now, times[-k], k)

    def position(self, session_id: str) -> int | None:
        """R25: 1 + the sessions of its group waiting ahead of it (R07 key); None if
        assigned. O(log w): the group's queue is a SortedList, which ranks by bisection."""
        s = self._get_session(session_id)
        if s.agent is not None:
            return None
        return int(self._queues[s.group].bisect_left(s.key)) + 1

    def waiting(self) -> list[str]:
        return [self._waiting[arrival].id
                for _, arrival in sorted(s.key for s in self._waiting.values())]

    def reception_list(self, agent_id: str) -> list[str]:
        a = self._get_agent(agent_id)

        def longest_wait(s: _Session) -> tuple[int, float, int]:
            if s.first_unanswered is not None:
                return (0, s.first_unanswered, s.arrival)
            return (1, s.last_buyer, s.arrival)

        return [s.id for s in sorted(a.sessions.values(), key=longest_wait)]

    # -- snapshot (R22) ------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "counters": {
                "next_reg": self._next_reg, "arrival": self._arrival, "auto": self._auto,
                "timer": self._timer_seq, "rr_pointer": self._rr, "vt": self._vt,
            },
            "agents": [
                {
                    "id": a.id, "reg": a.reg, "cap": a.cap.to_data(),
                    "groups": None if a.groups is None else sorted(a.groups),
                    "weight": a.weight, "online": a.online, "last_auto": a.last_auto,
                    "pass": a.pass_,
                    **({"away": True} if a.away else {}),
                    **({} if a.grace is None else {"grace": list(a.grace)}),
                }
                for a in self._agents.values()
            ],
            "sessions": [
                {
                    "id": s.id, "buyer": s.buyer, "group": s.group, "priority": s.priority,
                    "arrival": s.arrival, "opened_at": s.opened_at,
                    "agent": None if s.agent is None else s.agent.id,
                    "pool": None if s.pool is None else s.pool.value,
                    "first_unanswered": s.first_unanswered, "last_buyer": s.last_buyer,
                    "timed_out": sorted(s.timed_out),
                    "auto_close": None if s.auto_close is None else list(s.auto_close),
                    "first_response": None if s.first_response is None else list(s.first_response),
                    **({} if s.since is None else {"ladder": {
                        "since": s.since, "step": s.step,
                        "next": None if s.esc is None else list(s.esc)}}),
                    **({} if s.kind is None else {"kind": s.kind}),
                }
                for s in self._sessions.values()
            ],
            "sticky": [[buyer, aid, closed_at] for buyer, (aid, closed_at) in self._sticky.items()],
        }

    def restore_state(self, data: dict[str, Any], taken_at: float | None) -> float | None:
        """Rebuild a fresh engine from snapshot state; return its latest recorded instant.

        :func:`kefu._snapshot.parse_state` checks everything first (raising
        InvalidSnapshot, nothing built); the engine then rebuilds without
        checking again. Cost: O(state log state).
        """
        if self._agents or self._sessions or self._next_reg or self._arrival:
            raise KefuError("restore_state needs a fresh engine")
        state = parse_state(data, self._config, taken_at)
        self._rebuild(state)
        return state.latest

    def _rebuild(self, state: StateData) -> None:
        self._next_reg, self._arrival, self._auto = state.next_reg, state.arrival, state.auto
        self._timer_seq, self._rr, self._vt = state.timer, state.rr_pointer, state.vt
        for ad in state.agents:
            a = _Agent(ad.id, ad.reg, ad.cap, ad.groups, ad.weight, ad.online)
            a.last_auto, a.pass_ = ad.last_auto, ad.pass_
            a.away, a.grace = ad.away, ad.grace
            if a.grace is not None:
                heapq.heappush(self._timers, (a.grace[0], a.grace[1], _GRACE, a))
                self._live_timers += 1
            self._agents[a.id] = a
            self._by_reg[a.reg] = a
            for group in a.groups or ():
                self._ref(group)
            if a.online:
                self._count_online(a, +1)
        for d in state.sessions:
            s = _Session(d.id, d.buyer, d.group, d.priority, d.arrival, d.opened_at, d.kind,
                         1 if d.kind is None else self._kinds[d.kind])
            self._ref(s.group)
            s.first_unanswered, s.last_buyer = d.first_unanswered, d.last_buyer
            s.timed_out = set(d.timed_out)
            self._sessions[s.id] = s
            if d.pool is not None:
                self._enqueue(s, d.pool)
                if d.ladder is not None:
                    s.since, s.step, s.esc = d.ladder
                    for name in self._esc_slots(s):
                        self._esc.setdefault((name, s.weight), SortedList()).add(s.key)
                    if s.esc is not None:
                        heapq.heappush(self._timers, (s.esc[0], s.esc[1], _ESCALATE, s))
                        self._live_timers += 1
            elif d.agent is not None:
                a = self._agents[d.agent]
                a.sessions[s.id] = s
                a.load += s.weight
                s.agent = a
            for kind, timer in ((_AUTO_CLOSE, d.auto_close), (_FIRST_RESPONSE, d.first_response)):
                if timer is not None:
                    heapq.heappush(self._timers, (timer[0], timer[1], kind, s))
                    self._live_timers += 1
            s.auto_close, s.first_response = d.auto_close, d.first_response
        for a in self._agents.values():
            if self._available(a):
                a.key = self._key(a)  # restored as-is: no normalisation
                a.key_online = a.online
                for slot in a.slots:
                    self._index.setdefault((a.online, slot), SortedList()).add(a.key)
                if self._heavy:
                    self._update_weighted(a)
        for buyer, aid, closed_at in state.sticky:
            self._sticky[buyer] = (aid, closed_at)

    # -- invariants ------------------------------------------------------------------

    def _check_weights(self) -> None:
        """R26: loads are weight sums; the heavy-weight indexes and the lines by weight
        hold exactly what they should."""
        windex: dict[tuple[bool, Slot, int], list[Key]] = {}
        for a in self._agents.values():
            if a.load != sum(s.weight for s in a.sessions.values()):
                raise AssertionError(f"agent {a.id!r}: R26 load")
            if a.key is None:
                continue
            for w in self._heavy:
                if a.limit is None or a.load + w <= a.limit:
                    for slot in a.slots:
                        windex.setdefault((a.online, slot, w), []).append(a.key)
        if {k: sorted(v) for k, v in windex.items()} != {
                k: list(v) for k, v in self._windex.items()}:
            raise AssertionError("R26 heavy-weight indexes")
        lines: dict[tuple[str | None, int], list[tuple[int, int]]] = {}
        for s in self._waiting.values():
            lines.setdefault((s.group, s.weight), []).append(s.key)
        if {k: sorted(v) for k, v in lines.items()} != {
                k: list(v) for k, v in self._wqueues.items()}:
            raise AssertionError("R26 lines by weight")

    def _footprint(self) -> dict[str, int]:
        """The sizes of the tables that could grow with history (tests: they must follow
        live state). O(1)."""
        return {
            "indexes": len(self._index), "online_groups": len(self._online_groups),
            "queues": len(self._queues), "waiting": len(self._waiting),
            "agents": len(self._by_reg), "sessions": len(self._sessions),
            "timer_entries": len(self._timers), "sticky": len(self._sticky),
            "handovers": len(self._handovers), "group_refs": len(self._refs),
            "escalated": len(self._esc),
        }

    def check(self) -> None:
        """Verify every invariant from scratch; raise AssertionError naming the first broken."""
        placed: dict[str, str] = {}
        for a in self._agents.values():
            if self._by_reg[a.reg] is not a:
                raise AssertionError(f"agent {a.id!r}: reg map")
            for sid, s in a.sessions.items():
                if not (s.agent is a and s.pool is None):
                    raise AssertionError(f"session {sid!r}: agent link")
                if not (sid not in placed):
                    raise AssertionError(f"session {sid!r} in two places")
                placed[sid] = a.id
            expected = self._key(a) if self._available(a) else None
            if not (a.key == expected):
                raise AssertionError(f"agent {a.id!r}: indexed as {a.key}, expected {expected}")
            if not (a.key is None or a.key_online == a.online):
                raise AssertionError(f"agent {a.id!r}: indexed wrong side")
        for (online, slot), index in self._index.items():
            members = sorted(
                self._key(a) for a in self._agents.values()
                if a.key is not None and a.online == online and slot in a.slots
            )
            if not (list(index) == members):
                raise AssertionError(f"index {(online, slot)} out of date")
        if self._heavy:
            self._check_weights()
        for g, queue in self._queues.items():
            if not (queue):
                raise AssertionError(f"empty queue {g!r} kept")
            for key in queue:
                s = self._waiting[key[1]]
                if not (s.group == g and s.agent is None and s.pool is not None):
                    raise AssertionError(f"queue {g!r}")
                if not (s.id not in placed):
                    raise AssertionError(f"session {s.id!r} in two places")
                placed[s.id] = "pool"
        if not (len(self._waiting) == sum(len(q) for q in self._queues.values())):
            raise AssertionError("waiting map")
        oldest = {g: sorted(k[1] for k in q) for g, q in self._queues.items()
                  if g in self._wait_limited}
        if {g: list(arrivals) for g, arrivals in self._oldest.items()} != oldest:
            raise AssertionError("R28 oldest-wait index")
        refs = Counter(g for a in self._agents.values() for g in a.groups or ())
        refs.update(s.group for s in self._sessions.values() if s.group is not None)
        if refs != self._refs or not set(self._handovers) <= {None, *refs}:
            raise AssertionError("R25 group references")
        if any(list(times) != sorted(times) for times in self._handovers.values()):
            raise AssertionError("R25 hand-over times out of order")
        if not (set(placed) == set(self._sessions)):
            raise AssertionError("a session is nowhere or a stray is somewhere")
        arrivals = [s.arrival for s in self._sessions.values()]
        if not (arrivals == sorted(arrivals)):
            raise AssertionError("session order is not arrival order")
        online_agents = [a for a in self._agents.values() if a.online]
        if not (self._online_total == len(online_agents)):
            raise AssertionError("online count")
        if not (self._online_all == sum(a.groups is None for a in online_agents)):
            raise AssertionError("online-all")
        if self._online_groups != Counter(
            g for a in online_agents if a.groups is not None for g in a.groups
        ):
            raise AssertionError("online per group")
        if not (all(self._online_groups.values())):
            raise AssertionError("a zero online count kept")
        if not (all(self._index.values())):
            raise AssertionError("an empty index kept")
        live = 0
        for a in self._agents.values():
            if not (not a.away or a.online):
                raise AssertionError(f"agent {a.id!r} away but offline")
            if a.grace is not None:
                if a.online:
                    raise AssertionError(f"agent {a.id!r} online with a grace timer")
                live += 1
        esc: dict[tuple[str | None, int], list[tuple[int, int]]] = {}
        for s in self._sessions.values():
            if not (s.first_response is None or s.agent is not None):
                raise AssertionError(f"{s.id!r}: R18 timer in pool")
            live += (s.auto_close is not None) + (s.first_response is not None)
            live += s.esc is not None
            rungs = self._ladders.get(s.group) if s.group is not None else None
            if (s.since is not None) != bool(rungs and s.agent is None):
                raise AssertionError(f"{s.id!r}: R24 ladder state")
            if s.since is not None and rungs:
                if (s.esc is None) != (s.step == len(rungs)) or (
                        s.esc is not None and s.esc[0] != s.since + rungs[s.step].after):
                    raise AssertionError(f"{s.id!r}: R24 step timer")
                for name in self._esc_slots(s):
                    esc.setdefault((name, s.weight), []).append(s.key)
            if s.agent is None:  # R06
                for a in self._agents.values():
                    if self._eligible(a, s):
                        raise AssertionError(f"R06: {s.id!r} waits but {a.id!r} is eligible")
        if {k: sorted(v) for k, v in esc.items()} != {k: list(v) for k, v in self._esc.items()}:
            raise AssertionError("R24 escalated lists")
        if not (live == self._live_timers):
            raise AssertionError("live timer count")
        if not (sum(self._is_live(t) for t in self._timers) == live):
            raise AssertionError("timer heap")
        for buyer, (aid, _) in self._sticky.items():
            if aid not in self._agents:
                raise AssertionError(f"sticky entry of {buyer!r} for a removed agent")
