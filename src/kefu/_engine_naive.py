"""The naive reference engine: docs/semantics.md written out as literally as possible.

Theory of operation
-------------------
State is plain records: ``_Agent`` and ``_Session`` in dicts keyed by id
(agents in registration order, sessions in arrival order), a sticky memory
``buyer -> (agent, closed_at)`` in an insertion-ordered dict, and the six
counters of the semantics page. There is no index of any kind:

- a session is *waiting* when its ``pool`` is set, *assigned* when its
  ``agent`` is set; an agent's reception list is the set of session ids it
  holds, and its load is the sum of their kinds' weights (R26; 1 without a
  kind), summed afresh at every look;
- ``select`` scans every agent and keeps the eligible ones, then applies the
  strategy's key with ``min``;
- ``drain_to`` scans every waiting session for each session it hands out;
- ``placement_pass`` sorts its candidates by the R07 key and runs ``select``
  for each;
- timers live on the sessions; ``tick`` and ``next_deadline`` scan all of
  them for the smallest ``(deadline, seq)``.

Every call checks existence/state first (raising before any change), then
mutates and appends events in causal order. This module is the oracle that
the fast engines are compared with, and the "scan every agent" baseline of
the benchmarks; it favours obviousness over speed.

AMBIGUITY: R18 reassignment moves a session from X to Y. The session is taken
    from X first (so X, if that makes it available again, is normalised under
    WEIGHTED with the virtual time *before* the automatic assignment to Y),
    then given to Y.
AMBIGUITY: "a session leaving a full agent" is read literally for every way a
    session leaves: close, auto close, transfer, reassignment, and the
    requeue of ``agent_offline(requeue=True)`` (the agent is offline by then,
    but "available" does not mention being online). Removal needs no
    normalisation (the agent is deleted).
AMBIGUITY: ``agent_offline(requeue=True)`` under offline diversion, with no
    one else online for the group, may hand the requeued sessions straight
    back to the same (now offline) agent with ``Assigned(REQUEUE)``: the
    placement pass runs after the agent went offline and nothing excludes it.
AMBIGUITY: a sticky entry is not consumed by a sticky return; it stays until
    replaced, pruned or its agent is removed. Entries are pruned only from
    the front, so an expired entry behind a live one stays in memory (and in
    the snapshot) but is never used.
AMBIGUITY: ids in ``timed_out`` are kept even after that agent is removed; an
    agent re-added with the same id stays excluded for that session.
AMBIGUITY: R24 steps due at one instant fire one at a time in timer order, each
    placing its session at once, rather than all widening first and then being
    placed together in R07 order (the semantics page says so).
AMBIGUITY: requeued sessions lose their first-response timer (a waiting
    session has none) but keep their auto-close timer (R17 allows it on
    waiting sessions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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
from kefu.model import (
    AgentView,
    Cap,
    CapKind,
    Config,
    QueueLimit,
    SessionState,
    SessionView,
    Strategy,
)

__all__ = ["Engine"]

STRIDE_BASE = 232792560  # lcm(1..20): strides are exact for weights up to 20

Timer = tuple[float, int]  # (deadline, seq)
R07Key = tuple[int, int]  # (-priority, arrival)


def stride(weight: int) -> int:
    """WEIGHTED stride of an agent with ``weight`` > 0."""
    return STRIDE_BASE // weight


@dataclass
class _Agent:
    id: str
    reg: int
    cap: Cap
    groups: frozenset[str] | None
    weight: int
    online: bool
    last_auto: int = 0
    pass_: int = 0
    sessions: set[str] = field(default_factory=set)  # the reception list
    away: bool = False  # R27: online, but no automatic assignment
    grace: Timer | None = None  # R27: offline grace deadline


@dataclass
class _Session:
    id: str
    buyer: str | None
    group: str | None
    priority: int
    arrival: int
    opened_at: float
    agent: str | None = None  # set when assigned
    pool: Pool | None = None  # set when waiting (both None only inside a call)
    first_unanswered: float | None = None
    last_buyer: float = 0.0
    timed_out: set[str] = field(default_factory=set)
    auto_close: Timer | None = None
    first_response: Timer | None = None
    # R24, while waiting in a group with a ladder: when the wait began, the steps
    # reached, and the next step's timer (None once the last is reached).
    since: float | None = None
    step: int = 0
    escalation: Timer | None = None
    kind: str | None = None  # R26: its session kind (weight 1 when None)


def r07_key(s: _Session) -> R07Key:
    """Waiting order (R07): priority descending, then arrival."""
    return (-s.priority, s.arrival)


class Engine:
    """Naive reference implementation of the engine contract (kefu._contract.Engine)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._weighted = config.strategy is Strategy.WEIGHTED
        self._limits: dict[str, QueueLimit] = dict(config.queue_limits)
        self._kinds: dict[str, int] = dict(config.session_kinds)  # R26: kind -> weight
        self._ladders = table(config)
        self._agents: dict[str, _Agent] = {}
        self._sessions: dict[str, _Session] = {}
        self._sticky: dict[str, tuple[str, float]] = {}  # buyer -> (agent, closed_at)
        self._next_reg = 0
        self._arrival = 0
        self._auto = 0
        self._timer = 0
        self._rr_pointer = 0
        self._vt = 0
        # R25: the times of every line's hand-overs, the latest MAX_SAMPLE kept.
        self._handovers: dict[str | None, list[float]] = {}

    # -- words of the semantics page --------------------------------------

    def _agents_by_reg(self) -> list[_Agent]:
        """Dict order is registration order (new agents get the next, highest reg)."""
        return list(self._agents.values())

    def _sessions_by_arrival(self) -> list[_Session]:
        """Dict order is arrival order (a reopened id is a new entry at the end)."""
        return list(self._sessions.values())

    def _waiting_sessions(self) -> list[_Session]:
        return [s for s in self._sessions.values() if s.pool is not None]

    @staticmethod
    def _serves(y: _Agent, group: str | None) -> bool:
        return y.groups is None or group is None or group in y.groups

    def _weight(self, s: _Session) -> int:
        """R26: the capacity weight of ``s``: its kind's, 1 without a kind."""
        return 1 if s.kind is None else self._kinds[s.kind]

    def _load_of(self, y: _Agent) -> int:
        """R26: the sum of the weights of ``y``'s sessions."""
        return sum(self._weight(self._sessions[sid]) for sid in y.sessions)

    def _available(self, y: _Agent) -> bool:
        if y.away:
            return False
        if y.cap.kind is CapKind.SUSPENDED:
            return False
        if y.cap.kind is CapKind.LIMIT and self._load_of(y) >= (y.cap.value or 0):
            return False
        return not (self._weighted and y.weight <= 0)

    def _fits(self, y: _Agent, s: _Session) -> bool:
        """R26: ``s`` fits ``y``: its weight is at most cap - load (UNLIMITED: always)."""
        return (y.cap.kind is not CapKind.LIMIT
                or self._load_of(y) + self._weight(s) <= (y.cap.value or 0))

    def _online_for(self, group: str | None) -> bool:
        return any(y.online and self._serves(y, group) for y in self._agents.values())

    def _diverted(self, group: str | None) -> bool:
        """Offline agents may take sessions of ``group`` (R09)."""
        return self._config.offline_diversion and not self._online_for(group)

    def _reaches(self, y: _Agent, s: _Session) -> bool:
        """R24: a ladder step ``s`` has reached brings in ``y`` (every agent, or a group
        ``y`` names)."""
        if not s.step:
            return False
        rungs = self._ladders[s.group]  # type: ignore[index]
        if reached_all(rungs, s.step) or y.groups is None:
            return True
        return bool(y.groups & reached_groups(rungs, s.step))

    def _eligible(self, y: _Agent, s: _Session, diverted: bool) -> bool:
        """``diverted`` is ``self._diverted(s.group)``, passed in to avoid rescanning.
        A reached ladder step (R24) brings in online agents only."""
        return (
            (((y.online or diverted) and self._serves(y, s.group))
             or (y.online and self._reaches(y, s)))
            and y.id not in s.timed_out
            and self._available(y)
            and self._fits(y, s)
        )

    def _eligible_agents(self, s: _Session) -> list[_Agent]:
        diverted = self._diverted(s.group)
        return [y for y in self._agents_by_reg() if self._eligible(y, s, diverted)]

    def _select(self, s: _Session) -> _Agent | None:
        """The strategy's choice among the eligible agents for ``s`` (R11), or None."""
        eligible = self._eligible_agents(s)
        if not eligible:
            return None
        strategy = self._config.strategy
        if strategy is Strategy.LEAST_LOAD:
            return min(eligible, key=lambda y: (self._load_of(y), y.last_auto, y.reg))
        if strategy is Strategy.ROUND_ROBIN:
            after = [y for y in eligible if y.reg >= self._rr_pointer]
            return min(after or eligible, key=lambda y: y.reg)
        return min(eligible, key=lambda y: (y.pass_, y.reg))

    def _normalise(self, y: _Agent) -> None:
        """WEIGHTED: an agent (re)joining the competition claims no owed burst."""
        if self._weighted and y.weight > 0:
            y.pass_ = max(y.pass_, self._vt + stride(y.weight))

    def _new_timer(self, deadline: float) -> Timer:
        self._timer += 1
        return (float(deadline), self._timer)

    def _give(self, s: _Session, y: _Agent, now: float, automatic: bool) -> None:
        """Put ``s`` in ``y``'s reception list; counters if automatic; restart R18 timer.

        A waiting session given away is a hand-over from its line (R25), kept at the
        latest time kept so far if a timer's earlier deadline caused it."""
        if s.pool is not None:
            times = self._handovers.setdefault(s.group, [])
            times.append(max([now, *times[-1:]]))
            del times[:-MAX_SAMPLE]
            s.since, s.step, s.escalation = None, 0, None  # R24: the wait is over
        s.agent = y.id
        s.pool = None
        y.sessions.add(s.id)
        if automatic:
            self._auto += 1
            y.last_auto = self._auto
            self._rr_pointer = y.reg + 1
            if self._weighted:
                self._vt = max(self._vt, y.pass_)
                y.pass_ += stride(y.weight)
        timeout = self._config.first_response_timeout
        if timeout is not None:
            s.first_response = self._new_timer(now + timeout)

    def _take_from_agent(self, s: _Session) -> _Agent:
        """Remove ``s`` from its agent (normalising the agent if it gets room back)."""
        assert s.agent is not None
        x = self._agents[s.agent]
        was_available = self._available(x)
        x.sessions.discard(s.id)
        s.agent = None
        s.first_response = None
        if not was_available and self._available(x):
            self._normalise(x)
        return x

    def _wait(self, s: _Session, now: float) -> Queued:
        """``s`` waits: queue pool if someone is online for its group, else offline pool."""
        s.pool = Pool.QUEUE if self._online_for(s.group) else Pool.OFFLINE
        rungs = self._ladders.get(s.group) if s.group is not None else None
        if rungs:  # R24: the wait in this group's line starts now
            s.since = now
            s.escalation = self._new_timer(now + rungs[0].after)
        return Queued(s.id, s.pool, now, s.buyer)

    def _escalate(self, s: _Session, now: float, events: list[Event]) -> None:
        """R24: ``s`` reaches its next ladder step at the deadline ``now``; if one of the
        agents it brings in has room, ``s`` goes to the strategy's choice at once;
        otherwise the next step's timer starts (from the start of the wait)."""
        assert s.group is not None and s.since is not None
        rungs = self._ladders[s.group]
        s.escalation = None
        s.step += 1
        events.append(Escalated(s.id, s.group, s.step, rungs[s.step - 1].names, now, s.buyer))
        y = self._select(s)
        if y is not None:
            self._give(s, y, now, automatic=True)
            events.append(Assigned(s.id, y.id, now, AssignReason.DRAIN, s.buyer))
        elif s.step < len(rungs):
            s.escalation = self._new_timer(s.since + rungs[s.step].after)

    def _drain_to(self, y: _Agent, now: float, events: list[Event]) -> None:
        """R05: while ``y`` is available, give it the best waiting session it is eligible for
        (R26: the best that fits it)."""
        diverted: dict[str | None, bool] = {}  # online status does not change in a drain
        while self._available(y):
            best: _Session | None = None
            for s in self._waiting_sessions():
                if s.group not in diverted:
                    diverted[s.group] = self._diverted(s.group)
                if self._eligible(y, s, diverted[s.group]) and (
                    best is None or r07_key(s) < r07_key(best)
                ):
                    best = s
            if best is None:
                return
            self._give(best, y, now, automatic=True)
            events.append(Assigned(best.id, y.id, now, AssignReason.DRAIN, best.buyer))

    def _placement_pass(self, now: float, requeued: list[_Session], events: list[Event]) -> None:
        """Session-driven placement after an agent goes offline or leaves."""
        requeued_ids = {s.id for s in requeued}
        candidates = list(requeued)
        if self._config.offline_diversion:
            candidates += self._waiting_sessions()
        candidates.sort(key=r07_key)
        for s in candidates:
            y = self._select(s)
            if y is not None:
                reason = AssignReason.REQUEUE if s.id in requeued_ids else AssignReason.DRAIN
                self._give(s, y, now, automatic=True)
                events.append(Assigned(s.id, y.id, now, reason, s.buyer))
            elif s.id in requeued_ids:
                events.append(self._wait(s, now))

    def _requeue_all(
        self, now: float, x: _Agent, reason: RequeueReason, events: list[Event]
    ) -> list[_Session]:
        """``x``'s sessions leave it in arrival order (R10, R15)."""
        mine = sorted((self._sessions[sid] for sid in x.sessions), key=lambda s: s.arrival)
        for s in mine:
            self._take_from_agent(s)
            events.append(Requeued(s.id, x.id, now, reason, s.buyer))
        return mine

    # -- sticky memory (R13) ----------------------------------------------

    def _prune_sticky(self, now: float) -> None:
        window = self._config.sticky_window
        if window is None:
            return
        while self._sticky:
            buyer, (_agent, closed_at) = next(iter(self._sticky.items()))
            if now - closed_at <= window:
                return
            del self._sticky[buyer]

    def _remember(self, s: _Session, agent_id: str, now: float) -> None:
        if self._config.sticky_window is None or s.buyer is None:
            return
        self._prune_sticky(now)
        self._sticky.pop(s.buyer, None)
        self._sticky[s.buyer] = (agent_id, now)

    def _sticky_agent(self, s: _Session, now: float) -> _Agent | None:
        window = self._config.sticky_window
        if window is None or s.buyer is None or s.buyer not in self._sticky:
            return None
        agent_id, closed_at = self._sticky[s.buyer]
        if now - closed_at > window:
            return None
        y = self._agents[agent_id]
        return y if self._eligible(y, s, self._diverted(s.group)) else None

    # -- shared steps -----------------------------------------------------

    def _close(self, s: _Session, now: float, reason: CloseReason, events: list[Event]) -> None:
        """Manual or auto close: Closed, sticky memory, drain to the agent (R16, R17)."""
        if s.agent is None:
            del self._sessions[s.id]
            events.append(Closed(s.id, None, s.pool, now, reason, s.buyer))
            return
        x = self._take_from_agent(s)
        del self._sessions[s.id]
        events.append(Closed(s.id, x.id, None, now, reason, s.buyer))
        self._remember(s, x.id, now)
        self._drain_to(x, now, events)

    def _first_response_timeout(self, s: _Session, now: float, events: list[Event]) -> None:
        """R18: the agent timed out; reassign if anyone is eligible."""
        assert s.agent is not None
        s.first_response = None
        x = self._agents[s.agent]
        events.append(ResponseTimedOut(s.id, x.id, now, s.buyer))
        s.timed_out.add(x.id)
        y = self._select(s)
        if y is None:
            return
        self._take_from_agent(s)
        self._give(s, y, now, automatic=True)
        events.append(Reassigned(s.id, x.id, y.id, now, s.buyer))
        self._drain_to(x, now, events)

    def _get_agent(self, agent_id: str) -> _Agent:
        y = self._agents.get(agent_id)
        if y is None:
            raise UnknownAgent(agent_id)
        return y

    def _get_session(self, session_id: str) -> _Session:
        s = self._sessions.get(session_id)
        if s is None:
            raise UnknownSession(session_id)
        return s

    def _earliest_timer(self) -> tuple[Timer, str, _Session | _Agent] | None:
        """The pending timer with the smallest (deadline, seq), its kind and owner."""
        best: tuple[Timer, str, _Session | _Agent] | None = None
        for s in self._sessions.values():
            for kind, timer in (("auto_close", s.auto_close), ("first_response", s.first_response),
                                ("escalation", s.escalation)):
                if timer is not None and (best is None or timer < best[0]):
                    best = (timer, kind, s)
        for y in self._agents.values():
            if y.grace is not None and (best is None or y.grace < best[0]):
                best = (y.grace, "grace", y)
        return best

    def _set_status(self, y: _Agent, away: bool) -> None:
        """Set ``y``'s away flag; normalise if that makes it available having not been."""
        was_available = self._available(y)
        y.away = away
        if not was_available and self._available(y):
            self._normalise(y)

    def _grace_expired(self, y: _Agent, now: float, events: list[Event]) -> None:
        """R27: still offline at the deadline: unanswered sessions wait again, then placed."""
        y.grace = None
        mine = sorted((self._sessions[sid] for sid in y.sessions), key=lambda s: s.arrival)
        unanswered = [s for s in mine if s.first_unanswered is not None]
        for s in unanswered:
            self._take_from_agent(s)
            events.append(Requeued(s.id, y.id, now, RequeueReason.AGENT_OFFLINE, s.buyer))
        self._placement_pass(now, unanswered, events)

    # -- agents -----------------------------------------------------------

    def add_agent(
        self, now: float, agent_id: str, cap: Cap, groups: frozenset[str] | None,
        weight: int, online: bool,
    ) -> list[Event]:
        """Register, normalise (WEIGHTED), drain to the agent."""
        if agent_id in self._agents:
            raise DuplicateAgent(agent_id)
        y = _Agent(agent_id, self._next_reg, cap, groups, weight, online)
        self._next_reg += 1
        self._agents[agent_id] = y
        if self._available(y):
            self._normalise(y)
        events: list[Event] = []
        self._drain_to(y, now, events)
        return events

    def remove_agent(self, now: float, agent_id: str) -> list[Event]:
        """Requeue the agent's sessions, forget the agent, placement pass (R10)."""
        x = self._get_agent(agent_id)
        x.grace = None
        events: list[Event] = []
        requeued = self._requeue_all(now, x, RequeueReason.AGENT_REMOVED, events)
        del self._agents[agent_id]
        for buyer in [b for b, (a, _) in self._sticky.items() if a == agent_id]:
            del self._sticky[buyer]
        self._placement_pass(now, requeued, events)
        self._forget_unnamed_groups()
        return events

    def agent_online(self, now: float, agent_id: str) -> list[Event]:
        """Go online (or back from away), normalise, drain to the agent (R05, R08, R27)."""
        y = self._get_agent(agent_id)
        if y.online and not y.away:
            return []
        if y.online:
            self._set_status(y, away=False)
        else:
            y.online = True
            y.grace = None
            if self._available(y):
                self._normalise(y)
        events: list[Event] = []
        self._drain_to(y, now, events)
        return events

    def agent_away(self, now: float, agent_id: str) -> list[Event]:
        """Online but away: keeps sessions, no automatic assignment (R27). Returns []."""
        y = self._get_agent(agent_id)
        if y.away:
            return []
        y.online = True
        y.grace = None
        self._set_status(y, away=True)
        return []

    def agent_offline(self, now: float, agent_id: str, requeue: bool,
                      grace: float | None = None) -> list[Event]:
        """Go offline, requeue if asked or start the grace period, placement pass (R15, R27)."""
        y = self._get_agent(agent_id)
        if not y.online:
            return []
        y.online = False
        self._set_status(y, away=False)
        if grace is not None:
            y.grace = self._new_timer(now + grace)
        events: list[Event] = []
        requeued = self._requeue_all(now, y, RequeueReason.AGENT_OFFLINE, events) if requeue else []
        self._placement_pass(now, requeued, events)
        return events

    def set_cap(self, now: float, agent_id: str, cap: Cap) -> list[Event]:
        """Change the cap (never takes sessions away), drain to the agent."""
        y = self._get_agent(agent_id)
        was_available = self._available(y)
        y.cap = cap
        if not was_available and self._available(y):
            self._normalise(y)
        events: list[Event] = []
        self._drain_to(y, now, events)
        return events

    def set_weight(self, now: float, agent_id: str, weight: int) -> list[Event]:
        """Change the weight; under WEIGHTED a weight > 0 resets pass to vt + stride."""
        y = self._get_agent(agent_id)
        y.weight = weight
        if self._weighted and weight > 0:
            y.pass_ = self._vt + stride(weight)
        events: list[Event] = []
        self._drain_to(y, now, events)
        return events

    # -- sessions ---------------------------------------------------------

    def open_session(
        self, now: float, session_id: str, buyer_id: str | None, group: str | None,
        priority: int, kind: str | None = None,
    ) -> list[Event]:
        """Opened, then sticky return, else Assigned(NEW) or Queued."""
        if kind is not None and kind not in self._kinds:
            raise UnknownKind(kind, tuple(self._kinds))
        if session_id in self._sessions:
            raise DuplicateSession(session_id)
        events: list[Event] = [Opened(session_id, buyer_id, group, priority, now, kind)]
        self._arrival += 1
        s = _Session(
            id=session_id, buyer=buyer_id, group=group, priority=priority,
            arrival=self._arrival, opened_at=now, first_unanswered=now, last_buyer=now,
            kind=kind,
        )
        self._sessions[session_id] = s
        self._prune_sticky(now)
        y = self._sticky_agent(s, now)
        if y is not None:
            self._give(s, y, now, automatic=True)
            events.append(Assigned(s.id, y.id, now, AssignReason.STICKY, s.buyer))
            return events
        y = self._select(s)
        if y is not None:
            self._give(s, y, now, automatic=True)
            events.append(Assigned(s.id, y.id, now, AssignReason.NEW, s.buyer))
        else:
            self._admit(s, now, events)
        self._forget_unnamed_groups()
        return events

    def _over_limit(self, group: str, now: float) -> QueueLimit | None:
        """The limit of ``group`` if one more waiting session would break it (R28), else None."""
        limit = self._limits.get(group)
        if limit is None:
            return None
        waiting = [w for w in self._waiting_sessions() if w.group == group]
        if limit.max_waiting is not None and len(waiting) >= limit.max_waiting:
            return limit
        if limit.max_wait is not None and waiting and (
                now - min(w.opened_at for w in waiting) >= limit.max_wait):
            return limit
        return None

    def _admit(self, s: _Session, now: float, events: list[Event]) -> None:
        """A new session with no agent: wait, overflow along the chain, or be refused (R28)."""
        while True:
            group = s.group
            limit = None if group is None else self._over_limit(group, now)
            if group is None or limit is None:
                events.append(self._wait(s, now))
                return
            if limit.overflow is None:
                del self._sessions[s.id]
                events.append(Rejected(s.id, group, now, s.buyer))
                return
            events.append(Overflowed(s.id, group, limit.overflow, now, s.buyer))
            s.group = limit.overflow
            y = self._select(s)
            if y is not None:
                self._give(s, y, now, automatic=True)
                events.append(Assigned(s.id, y.id, now, AssignReason.NEW, s.buyer))
                return

    def buyer_message(self, now: float, session_id: str) -> list[Event]:
        """Record the buyer message; cancel auto close."""
        s = self._get_session(session_id)
        s.last_buyer = now
        if s.first_unanswered is None:
            s.first_unanswered = now
        s.auto_close = None
        return []

    def agent_message(self, now: float, session_id: str, auto: bool,
                      agent_id: str | None = None) -> list[Event]:
        """A human message answers and stops R18; any message (re)starts auto close.

        S04: a message attributed to ``agent_id`` is refused unless that agent holds
        the session.
        """
        s = self._get_session(session_id)
        if agent_id is not None and s.agent != agent_id:
            raise NotHolder(session_id, agent_id, s.agent, agent_id in self._agents)
        if not auto and s.agent is None:
            raise SessionWaiting(session_id)
        if not auto:
            s.first_unanswered = None
            s.first_response = None
        after = self._config.auto_close_after
        if after is not None:
            s.auto_close = self._new_timer(now + after)
        return []

    def assign(self, now: float, session_id: str, agent_id: str) -> list[Event]:
        """Manual assignment of a waiting session to an online agent (R14)."""
        s = self._get_session(session_id)
        y = self._get_agent(agent_id)
        if s.agent is not None:
            raise InvalidAssign(session_id, s.agent)
        if not y.online:
            raise AgentOffline(agent_id)
        self._give(s, y, now, automatic=False)
        return [Assigned(s.id, y.id, now, AssignReason.MANUAL, s.buyer)]

    def transfer(self, now: float, session_id: str, agent_id: str) -> list[Event]:
        """Manual transfer to another online agent, then drain to the giver (R14)."""
        s = self._get_session(session_id)
        y = self._get_agent(agent_id)
        if s.agent is None:
            raise InvalidTransfer(session_id, "it is waiting in a pool (use assign)")
        if s.agent == agent_id:
            raise InvalidTransfer(session_id, f"it is already with agent {agent_id!r}")
        if not y.online:
            raise AgentOffline(agent_id)
        x = self._take_from_agent(s)
        self._give(s, y, now, automatic=False)
        events: list[Event] = [Transferred(s.id, x.id, y.id, now, s.buyer)]
        self._drain_to(x, now, events)
        return events

    def close_session(self, now: float, session_id: str) -> list[Event]:
        """Manual close (R16)."""
        s = self._get_session(session_id)
        events: list[Event] = []
        self._close(s, now, CloseReason.MANUAL, events)
        self._forget_unnamed_groups()
        return events

    def _forget_unnamed_groups(self) -> None:
        """R25: a group no agent names and no open session has is forgotten, and its
        line's hand-overs with it. Run after every call that can end a session or an
        agent."""
        named: set[str | None] = {g for y in self._agents.values() for g in y.groups or ()}
        named |= {s.group for s in self._sessions.values()}
        for group in [g for g in self._handovers if g is not None and g not in named]:
            del self._handovers[group]

    def tick(self, now: float) -> list[Event]:
        """Fire due timers in (deadline, seq) order, each at its deadline (R20)."""
        events: list[Event] = []
        while True:
            found = self._earliest_timer()
            if found is None or found[0][0] > now:
                self._forget_unnamed_groups()
                return events
            (deadline, _seq), kind, owner = found
            if isinstance(owner, _Agent):
                self._grace_expired(owner, deadline, events)
            elif kind == "auto_close":
                owner.auto_close = None
                self._close(owner, deadline, CloseReason.AUTO, events)
            elif kind == "escalation":
                self._escalate(owner, deadline, events)
            else:
                self._first_response_timeout(owner, deadline, events)

    def apply(self, now: float, commands: Iterable[object]) -> tuple[list[Event], float]:
        return run_batch(self, now, commands)

    def apply_columns(self, now: float, batch: ColumnBatch) -> tuple[list[Event], float]:
        return run_rows(self, now, batch)

    def next_deadline(self) -> float | None:
        """Earliest pending deadline, or None."""
        found = self._earliest_timer()
        return None if found is None else found[0][0]

    # -- queries ----------------------------------------------------------

    def load(self, agent_id: str) -> int:
        return self._load_of(self._get_agent(agent_id))

    def agent(self, agent_id: str) -> AgentView:
        y = self._get_agent(agent_id)
        return AgentView(y.id, y.cap, y.groups, y.weight, y.online, self._load_of(y), y.away,
                         len(y.sessions))

    def agent_ids(self) -> list[str]:
        return [y.id for y in self._agents_by_reg()]

    def session(self, session_id: str) -> SessionView:
        s = self._get_session(session_id)
        state = SessionState.WAITING if s.agent is None else SessionState.ASSIGNED
        return SessionView(s.id, s.buyer, s.group, s.priority, state, s.agent, s.pool, s.opened_at,
                           frozenset(s.timed_out), s.step, s.kind)

    def session_ids(self) -> list[str]:
        return [s.id for s in self._sessions_by_arrival()]

    def waiting(self) -> list[str]:
        return [s.id for s in sorted(self._waiting_sessions(), key=r07_key)]

    def estimated_wait(self, now: float, session_id: str, sample: int) -> float | None:
        """R25: see ``kefu._handovers.estimate``."""
        position = self.position(session_id)
        times = self._handovers.get(self._sessions[session_id].group, [])
        if position is None or not times:
            return None
        k = min(sample, len(times))
        return estimate(position, now, times[-k], k)

    def position(self, session_id: str) -> int | None:
        """R25: 1 + the waiting sessions of the same group with a smaller R07 key,
        either pool; None while assigned. Counted by a scan: O(s)."""
        s = self._get_session(session_id)
        if s.agent is not None:
            return None
        return 1 + sum(1 for t in self._waiting_sessions()
                       if t.group == s.group and r07_key(t) < r07_key(s))

    def reception_list(self, agent_id: str) -> list[str]:
        """R19: unanswered first by first unanswered time, then by last buyer message."""
        y = self._get_agent(agent_id)

        def longest_wait(s: _Session) -> tuple[int, float, int]:
            if s.first_unanswered is not None:
                return (0, s.first_unanswered, s.arrival)
            return (1, s.last_buyer, s.arrival)

        return [s.id for s in sorted((self._sessions[i] for i in y.sessions), key=longest_wait)]

    # -- persistence ------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The "state" part of the snapshot (docs/semantics.md)."""

        def timer(t: Timer | None) -> list[float | int] | None:
            return None if t is None else [float(t[0]), t[1]]

        return {
            "counters": {
                "next_reg": self._next_reg, "arrival": self._arrival, "auto": self._auto,
                "timer": self._timer, "rr_pointer": self._rr_pointer, "vt": self._vt,
            },
            "agents": [
                {
                    "id": y.id, "reg": y.reg, "cap": y.cap.to_data(),
                    "groups": None if y.groups is None else sorted(y.groups),
                    "weight": y.weight, "online": y.online, "last_auto": y.last_auto,
                    "pass": y.pass_,
                    **({"away": True} if y.away else {}),
                    **({} if y.grace is None else {"grace": timer(y.grace)}),
                }
                for y in self._agents_by_reg()
            ],
            "sessions": [
                {
                    "id": s.id, "buyer": s.buyer, "group": s.group, "priority": s.priority,
                    "arrival": s.arrival, "opened_at": float(s.opened_at), "agent": s.agent,
                    "pool": None if s.pool is None else s.pool.value,
                    "first_unanswered": (
                        None if s.first_unanswered is None else float(s.first_unanswered)
                    ),
                    "last_buyer": float(s.last_buyer), "timed_out": sorted(s.timed_out),
                    "auto_close": timer(s.auto_close), "first_response": timer(s.first_response),
                    **({} if s.since is None else {"ladder": {
                        "since": float(s.since), "step": s.step,
                        "next": timer(s.escalation)}}),
                    **({} if s.kind is None else {"kind": s.kind}),
                }
                for s in self._sessions_by_arrival()
            ],
            "sticky": [
                [buyer, agent, float(closed_at)]
                for buyer, (agent, closed_at) in self._sticky.items()
            ],
        }

    def restore_state(self, data: dict[str, Any], taken_at: float | None) -> float | None:
        """Rebuild a fresh engine from snapshot state; return its latest recorded instant.

        ``parse_state`` checks everything (InvalidSnapshot, nothing changed);
        the records are then copied in as they are.
        """
        if self._agents or self._sessions or self._next_reg or self._arrival:
            raise KefuError("restore_state needs a fresh engine")
        parsed = parse_state(data, self._config, taken_at)
        self._load(parsed)
        return parsed.latest

    def _load(self, st: StateData) -> None:
        self._next_reg = st.next_reg
        self._arrival = st.arrival
        self._auto = st.auto
        self._timer = st.timer
        self._rr_pointer = st.rr_pointer
        self._vt = st.vt
        for a in st.agents:
            self._agents[a.id] = _Agent(
                a.id, a.reg, a.cap, a.groups, a.weight, a.online, a.last_auto, a.pass_,
                away=a.away, grace=a.grace,
            )
        for d in st.sessions:
            s = _Session(
                id=d.id, buyer=d.buyer, group=d.group, priority=d.priority, arrival=d.arrival,
                opened_at=d.opened_at, agent=d.agent, pool=d.pool,
                first_unanswered=d.first_unanswered, last_buyer=d.last_buyer,
                timed_out=set(d.timed_out), auto_close=d.auto_close,
                first_response=d.first_response, kind=d.kind,
            )
            if d.ladder is not None:
                s.since, s.step, s.escalation = d.ladder
            self._sessions[s.id] = s
            if s.agent is not None:
                self._agents[s.agent].sessions.add(s.id)
        for buyer, agent_id, closed_at in st.sticky:
            self._sticky[buyer] = (agent_id, closed_at)

    def check(self) -> None:
        """Assert every invariant from scratch (R06, R22, timers, counters)."""
        cfg = self._config
        # Agents and counters.
        regs = [y.reg for y in self._agents.values()]
        if not (regs == sorted(set(regs))):
            raise AssertionError("agents not in strictly increasing registration order")
        if not (all(0 <= r < self._next_reg for r in regs)):
            raise AssertionError("registration number >= next_reg")
        if not (0 <= self._rr_pointer <= self._next_reg):
            raise AssertionError(f"rr_pointer {self._rr_pointer} too big")
        for aid, y in self._agents.items():
            if not (y.id == aid):
                raise AssertionError(f"agent keyed {aid!r} has id {y.id!r}")
            if not (0 <= y.last_auto <= self._auto):
                raise AssertionError(f"agent {aid!r}: last_auto above auto counter")
            if not (y.cap.kind is not CapKind.LIMIT or y.cap.value is not None):
                raise AssertionError(f"agent {aid!r} cap")
            if not self._weighted and not (y.pass_ == 0):
                raise AssertionError(f"agent {aid!r}: pass {y.pass_} under {cfg.strategy.name}")
        if not self._weighted and not (self._vt == 0):
            raise AssertionError(f"vt {self._vt} under {cfg.strategy.name}")
        # Sessions: each in exactly one place; loads are reception-list sizes.
        arrivals = [s.arrival for s in self._sessions.values()]
        if not (arrivals == sorted(set(arrivals))):
            raise AssertionError("sessions not in increasing arrival order")
        if not (all(1 <= n <= self._arrival for n in arrivals)):
            raise AssertionError("arrival above the counter")
        holder: dict[str, str] = {}
        for aid, y in self._agents.items():
            for sid in y.sessions:
                if sid not in self._sessions:
                    raise AssertionError(f"agent {aid!r} holds unknown session {sid!r}")
                if not (sid not in holder):
                    raise AssertionError(f"session {sid!r} held by {holder[sid]!r} and {aid!r}")
                holder[sid] = aid
        seqs: list[int] = []
        for sid, s in self._sessions.items():
            if not (s.id == sid):
                raise AssertionError(f"session keyed {sid!r} has id {s.id!r}")
            if not ((s.agent is None) != (s.pool is None)):
                raise AssertionError(
                    f"session {sid!r} must be with an agent or in a pool, not both or neither"
                )
            if not (holder.get(sid) == s.agent):
                raise AssertionError(
                    f"session {sid!r} says agent {s.agent!r}, held by {holder.get(sid)!r}"
                )
            if s.auto_close is not None:
                if not (cfg.auto_close_after is not None):
                    raise AssertionError(f"session {sid!r}: auto-close disabled")
                seqs.append(s.auto_close[1])
            if s.first_response is not None:
                if not (cfg.first_response_timeout is not None):
                    raise AssertionError(
                        f"session {sid!r}: first-response timeout disabled"
                    )
                if not (s.agent is not None):
                    raise AssertionError(f"waiting session {sid!r} has a first-response timer")
                seqs.append(s.first_response[1])
            rungs = self._ladders.get(s.group) if s.group is not None else None
            if (s.since is not None) != bool(rungs and s.pool is not None):
                raise AssertionError(f"session {sid!r}: R24 ladder state")
            if s.since is not None and rungs:
                if (s.escalation is None) != (s.step == len(rungs)):
                    raise AssertionError(f"session {sid!r}: R24 step timer")
                if s.escalation is not None:
                    if s.escalation[0] != s.since + rungs[s.step].after:
                        raise AssertionError(f"session {sid!r}: R24 deadline")
                    seqs.append(s.escalation[1])
        for aid, y in self._agents.items():
            if y.away and not y.online:
                raise AssertionError(f"agent {aid!r} away but offline")
            if y.grace is not None:
                if y.online:
                    raise AssertionError(f"agent {aid!r} online with a grace deadline")
                seqs.append(y.grace[1])
        if not (len(set(seqs)) == len(seqs)):
            raise AssertionError("duplicate timer sequence numbers")
        if not (all(1 <= q <= self._timer for q in seqs)):
            raise AssertionError("timer seq above the counter")
        assigned = sum(1 for s in self._sessions.values() if s.agent is not None)
        if sum(len(y.sessions) for y in self._agents.values()) != assigned:
            raise AssertionError("loads do not add up to the assigned sessions")
        # Sticky memory.
        if cfg.sticky_window is None and self._sticky:
            raise AssertionError("sticky memory without a sticky window")
        for buyer, (aid, _closed_at) in self._sticky.items():
            if aid not in self._agents:
                raise AssertionError(f"sticky entry of {buyer!r} for unknown agent {aid!r}")
        # R06: no waiting session has an eligible agent.
        for s in self._waiting_sessions():
            eligible = self._eligible_agents(s)
            if eligible:
                raise AssertionError(
                    f"R06: waiting session {s.id!r} has eligible agent {eligible[0].id!r}"
                )
