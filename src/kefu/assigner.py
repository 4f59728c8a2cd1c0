"""The public facade: validates input, owns the clock, delegates to an engine.

An :class:`Assigner` is one shop's routing state. Every call checks its
arguments first and raises a :mod:`kefu.errors` error before anything
changes; the engine then checks ids and states, applies the rules and returns
the events. The facade never does I/O and never reads the system clock except
through the clock it was given (R20, R21).

One writer (S02): every public call holds the Assigner's guard for its whole
length, from argument checks and the clock read to the engine's last event.
A call that finds the guard taken (another thread, or re-entry from the
clock, a groups iterable or a batch's commands) raises
:class:`~kefu.errors.ConcurrentCall` before it reads or changes anything.
The guard (``kefu._guard``) never blocks: two C calls per call with the
compiled engine built, a non-blocking lock otherwise.

With the compiled engine built, the hot calls (``open_session``,
``close_session``, ``buyer_message``, ``agent_message``, ``tick``) and the
clock read ``_now`` are replaced on the class by compiled twins of the
methods below (``kefu._facade``), with the same names, signatures,
docstrings, errors and events; the methods here are the reference.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from kefu import _compat
from kefu._checks import (
    MAX_PRIORITY,
    MAX_WEIGHT,
    check_flag,
    check_grace,
    check_groups,
    check_id,
    check_kind,
    check_sample,
    check_session_args,
    check_weight,
)
from kefu._columns import EventColumns, parse_columns, start_at
from kefu._contract import Engine
from kefu._facade import FacadeState, compile_hot_calls
from kefu._guard import new_guard
from kefu._handovers import DEFAULT_SAMPLE
from kefu._text import short_repr
from kefu.clock import Clock, ManualClock, SystemClock, settle_reading
from kefu.errors import (
    BatchAborted,
    ConcurrentCall,
    InvalidArgument,
    InvalidSnapshot,
    KefuError,
)
from kefu.events import Event
from kefu.explain import Explanation, explain
from kefu.model import AgentView, Cap, Config, LadderStep, QueueLimit, SessionView, Strategy

__all__ = ["ENGINE", "ENGINES", "MAX_PRIORITY", "MAX_WEIGHT", "Assigner", "EngineName"]

EngineName = Literal["auto", "c", "py", "naive"]
SNAPSHOT_FORMAT = "kefu.assigner"
_MAX_SECONDS = sys.float_info.max
#: The snapshot version this kefu writes. Version 2 added ``taken_at``;
#: version 1 snapshots are still read.
SNAPSHOT_VERSION = 2
_READABLE_VERSIONS = {1: {"format", "version", "config", "state"},
                      2: {"format", "version", "taken_at", "config", "state"}}

_ENGINE_MODULES = {"c": "kefu._engine_c", "py": "kefu._engine_py", "naive": "kefu._engine_naive"}


def _load_engine(name: str) -> type[Engine] | None:
    try:
        module = importlib.import_module(_ENGINE_MODULES[name])
    except ImportError:
        return None
    cls: type[Engine] = module.Engine
    return cls


def _available_engines() -> dict[str, type[Engine]]:
    found: dict[str, type[Engine]] = {}
    compiled = _compat.load_compiled(_ENGINE_MODULES["c"], "the compiled engine")
    if compiled is not None:
        found["c"] = compiled.Engine
    for name in ("py", "naive"):
        cls = _load_engine(name)
        if cls is not None:
            found[name] = cls
    return found


ENGINES: dict[str, type[Engine]] = _available_engines()
#: The engine a default ``Assigner()`` uses: "cython" when the extension is live.
ENGINE: str = "cython" if "c" in ENGINES else "python"


def _engine_class(engine: object) -> type[Engine]:
    if type(engine) is not str or (engine != "auto" and engine not in _ENGINE_MODULES):
        raise InvalidArgument(
            f"unknown engine {short_repr(engine)}: use 'auto', 'c', 'py' or 'naive'"
        )
    if engine == "auto":
        return ENGINES["c"] if "c" in ENGINES else ENGINES["py"]
    if engine not in ENGINES:
        raise InvalidArgument(f"engine {engine!r} is not available in this install")
    return ENGINES[engine]


def _has_now(clock: object) -> bool:
    try:
        return callable(getattr(clock, "now", None))
    except Exception:  # a hostile __getattr__ or property
        return False


class Assigner(FacadeState):
    """One shop's chat-session routing: commands in, events out (rules R01-R23).

    An Assigner has one writer (S02): it is not thread-safe, and a call that
    overlaps another call on it raises :class:`~kefu.errors.ConcurrentCall`
    and changes nothing. ``clock`` defaults to :class:`~kefu.clock.SystemClock`
    (S01); pass a :class:`~kefu.clock.ManualClock` for tests, replays and
    simulations.

    ``n`` is the number of agents, ``w`` the number of waiting sessions, ``k``
    the number of sessions an operation moves, ``g`` the number of groups an
    agent serves; costs in the method docstrings are for the default engines.

    ``queue_limits`` (R28) maps a group name to its
    :class:`~kefu.model.QueueLimit`: a new session that would wait beyond it
    overflows to another group or is refused (``Rejected``).

    ``ladders`` (R24) maps a group name to its escalation ladder, a sequence
    of :class:`~kefu.model.LadderStep`: once a session has waited a step's
    ``after`` seconds in its group's line, that step's online agents may take
    it too (``Escalated``, fired by :meth:`tick` at the deadline).

    ``session_kinds`` (R26) maps a session kind to its capacity weight, an
    int from 1 to 500 (e.g. ``{"presale": 1, "dispute": 2}``): an agent's
    load is the sum of the weights of their sessions, a cap bounds that sum,
    and a session opened with ``kind=`` fits an agent only while its weight
    is at most the agent's room (cap minus load). A session without a kind
    weighs 1.
    """

    __slots__ = ()  # its fields are FacadeState's (kefu._facade)

    def __new__(cls, *args: Any, **kwargs: Any) -> Assigner:
        """Make the instance without its arguments. The compiled FacadeState's own
        constructor, handed keywords, builds a tuple of their names; if that allocation
        fails (MemoryError) it releases slots it never filled, and the process crashes.
        Without arguments it takes the path that has none. O(1), once per Assigner."""
        return super().__new__(cls)

    def __init__(
        self,
        clock: Clock | None = None,
        strategy: Strategy = Strategy.LEAST_LOAD,
        offline_diversion: bool = False,
        auto_close_after: float | None = 1200.0,
        first_response_timeout: float | None = None,
        sticky_window: float | None = None,
        queue_limits: Mapping[str, QueueLimit] | None = None,
        *,
        engine: EngineName = "auto",
        ladders: Mapping[str, Sequence[LadderStep]] | None = None,
        session_kinds: Mapping[str, int] | None = None,
    ) -> None:
        config = Config(
            strategy=strategy,
            offline_diversion=offline_diversion,
            auto_close_after=auto_close_after,
            first_response_timeout=first_response_timeout,
            sticky_window=sticky_window,
            queue_limits=queue_limits,
            ladders=ladders,
            session_kinds=session_kinds,
        )
        self._clock: Clock = clock if clock is not None else SystemClock()
        if not _has_now(self._clock):
            raise InvalidArgument(f"clock must have a now() method, got {short_repr(clock)}")
        self._config = config
        self._engine: Engine = _engine_class(engine)(config)
        self._last_now = -math.inf
        self._guard = new_guard()

    # -- one writer (S02): each call takes the guard inline (``if not
    # self._guard.enter(): raise ConcurrentCall(...)``), then releases it in
    # ``finally``. Inline, not through a helper method: an exception raised as a
    # helper returns (a KeyboardInterrupt) would leave the guard taken for good.

    # -- time -------------------------------------------------------------

    def _now(self) -> float:
        """Read the clock once per call; never let time run backwards (S01, R20).

        A wall clock may step back (NTP); timers and FIFO order rely on
        monotonic time, so a step back is held at the last value seen (or at
        the restored snapshot's time). A ``ManualClock`` (that very class) is
        read from its slot, without a call.
        """
        clock = self._clock
        try:
            now = clock._now if type(clock) is ManualClock else clock.now()
        except Exception as exc:  # the caller's clock failed: say so, change nothing
            raise InvalidArgument(f"clock.now() raised {short_repr(exc)}") from exc
        # The common case in chained comparisons (False for NaN and both infinities: the
        # last reading is -inf before the first one).
        if type(now) is float and -_MAX_SECONDS <= now <= _MAX_SECONDS and self._last_now <= now:
            self._last_now = now
            return now
        self._last_now = now = settle_reading(now, self._last_now)
        return now

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def time(self) -> float:
        """The instant the latest command ran at: the clock's reading, held so it never
        runs back (``-inf`` before the first command). Stamp a message with it to give it
        exactly the Assigner's time. O(1)."""
        return self._last_now

    @property
    def config(self) -> Config:
        return self._config

    @property
    def engine(self) -> str:
        """Which engine runs this Assigner: "c", "py" or "naive"."""
        module = type(self._engine).__module__
        return {v: k for k, v in _ENGINE_MODULES.items()}.get(module, module)

    # -- agents -----------------------------------------------------------

    def add_agent(
        self,
        agent_id: str,
        cap: Cap | int = Cap.UNLIMITED,
        groups: Iterable[str] | None = None,
        weight: int = 1,
        *,
        online: bool = False,
    ) -> list[Event]:
        """Register an agent (offline unless ``online=True``); drains waiting sessions to them.

        ``groups=None`` serves every group (R12); ``cap`` defaults to
        UNLIMITED (R01). Cost: O(g log n) plus O(log w) per session handed out.
        """
        if not self._guard.enter():
            raise ConcurrentCall("add_agent")
        try:
            agent_id = check_id("agent", agent_id)
            cap_value = Cap.coerce(cap)
            group_set = check_groups(groups)
            weight = check_weight(weight)
            online = check_flag("online", online)
            return self._engine.add_agent(
                self._now(), agent_id, cap_value, group_set, weight, online
            )
        finally:
            self._guard.leave()

    def remove_agent(self, agent_id: str) -> list[Event]:
        """The agent leaves the shop: their sessions are requeued and placed again (R10).

        Cost: O(k log n); O(w log n) with offline diversion on.
        """
        if not self._guard.enter():
            raise ConcurrentCall("remove_agent")
        try:
            agent_id = check_id("agent", agent_id)
            return self._engine.remove_agent(self._now(), agent_id)
        finally:
            self._guard.leave()

    def agent_online(self, agent_id: str) -> list[Event]:
        """The agent comes online, or back from away, and takes waiting sessions (R05, R08,
        R27). No-op if online and not away. Coming online cancels a pending grace period.

        Cost: O(g log n) plus O(log w) per session handed out.
        """
        if not self._guard.enter():
            raise ConcurrentCall("agent_online")
        try:
            agent_id = check_id("agent", agent_id)
            return self._engine.agent_online(self._now(), agent_id)
        finally:
            self._guard.leave()

    def agent_away(self, agent_id: str) -> list[Event]:
        """The agent is away (R27): online, keeps their sessions, may still write and be
        assigned or transferred to by hand, but receives no automatic assignment.

        An offline agent logs in away (a pending grace period is cancelled);
        ``agent_online`` brings them back. No-op if already away; returns no
        events. Cost: O(g log n).
        """
        if not self._guard.enter():
            raise ConcurrentCall("agent_away")
        try:
            agent_id = check_id("agent", agent_id)
            return self._engine.agent_away(self._now(), agent_id)
        finally:
            self._guard.leave()

    def agent_offline(self, agent_id: str, requeue: bool = False,
                      grace: float | None = None) -> list[Event]:
        """The agent goes offline; with ``requeue`` their sessions wait again (R15).

        With ``grace`` seconds (R27) they keep their sessions for that long;
        if still offline at the deadline, ``tick()`` requeues their unanswered
        sessions in arrival order and places them at once; answered ones stay.
        ``requeue=True`` and a grace period exclude each other. No-op if
        already offline.

        Cost: O(g log n + k log n); O(w log n) with offline diversion on.
        """
        if not self._guard.enter():
            raise ConcurrentCall("agent_offline")
        try:
            agent_id = check_id("agent", agent_id)
            requeue = check_flag("requeue", requeue)
            grace = check_grace(grace, requeue)
            return self._engine.agent_offline(self._now(), agent_id, requeue, grace)
        finally:
            self._guard.leave()

    def set_cap(self, agent_id: str, cap: Cap | int) -> list[Event]:
        """Change an agent's max reception (R01); raised room drains at once (R05).

        Cost: O(g log n) plus O(log w) per session handed out.
        """
        if not self._guard.enter():
            raise ConcurrentCall("set_cap")
        try:
            agent_id = check_id("agent", agent_id)
            cap_value = Cap.coerce(cap)
            return self._engine.set_cap(self._now(), agent_id, cap_value)
        finally:
            self._guard.leave()

    def set_weight(self, agent_id: str, weight: int) -> list[Event]:
        """Change an agent's diversion ratio (分流比例) for WEIGHTED (R11).

        Cost: O(g log n) plus O(log w) per session handed out.
        """
        if not self._guard.enter():
            raise ConcurrentCall("set_weight")
        try:
            agent_id = check_id("agent", agent_id)
            weight = check_weight(weight)
            return self._engine.set_weight(self._now(), agent_id, weight)
        finally:
            self._guard.leave()

    # -- sessions ---------------------------------------------------------

    def open_session(
        self,
        session_id: str,
        buyer: str | None = None,
        group: str | None = None,
        priority: int = 0,
        kind: str | None = None,
    ) -> list[Event]:
        """A buyer's first message: assign at once or queue (R03, R04, R08, R09, R13).

        ``kind`` (R26) names one of the ``session_kinds``: the session weighs its
        kind's weight in its agent's load (an unknown kind is ``UnknownKind``,
        and nothing changes); without a kind it weighs 1.

        Under a queue limit (R28) a session that would wait beyond it overflows
        to another group (``Overflowed``) or is refused (``Rejected``: it is
        not open afterwards, and the id may be opened again).

        Cost: O(log n) to assign (LEAST_LOAD, ROUND_ROBIN, WEIGHTED), O(log w) to queue;
        each overflow hop adds O(log n + log w). With session kinds, choosing an agent
        for a session of weight > 1 also skips the agents it does not fit.
        """
        # The guard and checks inline (this is the hottest call).
        if not self._guard.enter():
            raise ConcurrentCall("open_session")
        try:
            if not (
                type(session_id) is str and session_id
                and (buyer is None or (type(buyer) is str and buyer))
                and (group is None or (type(group) is str and group))
                and type(priority) is int and -MAX_PRIORITY <= priority <= MAX_PRIORITY
            ):
                check_session_args(session_id, buyer, group, priority)
            if kind is None:
                return self._engine.open_session(self._now(), session_id, buyer, group, priority)
            check_kind(kind)
            return self._engine.open_session(self._now(), session_id, buyer, group, priority,
                                             kind)
        finally:
            self._guard.leave()

    def buyer_message(self, session_id: str) -> list[Event]:
        """The buyer wrote again: cancels the auto-close countdown (R17). Cost: O(1)."""
        if not self._guard.enter():
            raise ConcurrentCall("buyer_message")
        try:
            if type(session_id) is not str or not session_id:
                check_id("session", session_id)
            return self._engine.buyer_message(self._now(), session_id)
        finally:
            self._guard.leave()

    def agent_message(
        self, session_id: str, auto: bool = False, agent_id: str | None = None,
    ) -> list[Event]:
        """The agent (or, with ``auto=True``, a system auto-reply) wrote (R17, R18, R19).

        ``agent_id`` names the sender (S04): unless that agent holds the
        session now, the message raises :class:`~kefu.errors.NotHolder` and
        changes nothing (a late message from an agent who transferred the
        session away does not stop the new holder's first-response timer).
        An unregistered ``agent_id`` holds nothing and gets NotHolder too.
        ``agent_id=None`` does not check the sender.

        Cost: O(1) (timer heap push, amortised).
        """
        if not self._guard.enter():
            raise ConcurrentCall("agent_message")
        try:
            if (type(session_id) is not str or not session_id or type(auto) is not bool
                    or (agent_id is not None and (type(agent_id) is not str or not agent_id))):
                check_id("session", session_id)
                check_flag("auto", auto)
                if agent_id is not None:
                    check_id("agent", agent_id)
            return self._engine.agent_message(self._now(), session_id, auto, agent_id)
        finally:
            self._guard.leave()

    def assign(self, session_id: str, agent_id: str) -> list[Event]:
        """Manually give a waiting session to an online agent, ignoring caps (R02, R14).

        Cost: O(g log n + log w).
        """
        if not self._guard.enter():
            raise ConcurrentCall("assign")
        try:
            session_id = check_id("session", session_id)
            agent_id = check_id("agent", agent_id)
            return self._engine.assign(self._now(), session_id, agent_id)
        finally:
            self._guard.leave()

    def transfer(self, session_id: str, agent_id: str) -> list[Event]:
        """Move an open session to another online agent, ignoring caps (R02, R14).

        Cost: O(g log n) plus O(log w) per session drained to the giver.
        """
        if not self._guard.enter():
            raise ConcurrentCall("transfer")
        try:
            session_id = check_id("session", session_id)
            agent_id = check_id("agent", agent_id)
            return self._engine.transfer(self._now(), session_id, agent_id)
        finally:
            self._guard.leave()

    def close_session(self, session_id: str) -> list[Event]:
        """Close a session; its agent's freed room goes to the waiting line (R16, R05).

        Cost: O(g log n) plus O(log w) per session handed out.
        """
        if not self._guard.enter():
            raise ConcurrentCall("close_session")
        try:
            if type(session_id) is not str or not session_id:
                check_id("session", session_id)
            return self._engine.close_session(self._now(), session_id)
        finally:
            self._guard.leave()

    def tick(self) -> list[Event]:
        """Fire every timer due by now, in deadline order (R17, R18, R20, R24, R27).

        Cost: O(log t) per timer fired plus the work each one causes.
        """
        if not self._guard.enter():
            raise ConcurrentCall("tick")
        try:
            return self._engine.tick(self._now())
        finally:
            self._guard.leave()

    def apply(self, commands: Iterable[tuple[object, ...]]) -> list[Event]:
        """Run many commands in one call and return all their events, in order.

        Each command is ``(method_name, *positional_args)``, e.g.
        ``("open_session", "s1", "b1")``, ``("close_session", "s1")`` or
        ``("tick",)``; ``("at", seconds)`` moves the batch's time forward for
        the commands after it (replays). The batch starts at the clock's now;
        later calls never run before the batch's last time. The first failing
        command raises :class:`~kefu.errors.BatchAborted` with the events of
        the commands before it, which stay applied; the failing one changes
        nothing. Cost: that of the commands, without a Python call per
        command on the compiled engine.
        """
        if not self._guard.enter():
            raise ConcurrentCall("apply")
        try:
            # A list as it is (the compiled engine reads it by index, as its iterator would).
            feed = commands if type(commands) is list else _iterate(commands)
            try:
                events, self._last_now = self._engine.apply(self._now(), feed)
            except BatchAborted as exc:
                self._last_now = exc.at
                raise
            return events
        finally:
            self._guard.leave()

    def apply_columns(
        self,
        command: object,
        session: object,
        time: object = None,
        *,
        sessions: Sequence[str] = (),
        agent: object = None,
        agents: Sequence[str] = (),
        buyer: object = None,
        buyers: Sequence[str] = (),
        group: object = None,
        groups: Sequence[str] = (),
        priority: object = None,
        kind: object = None,
        kinds: Sequence[str] = (),
    ) -> EventColumns:
        """Run a batch given as columns (a replay from arrays); returns its event columns.

        Row ``i`` is command ``command[i]`` (a :class:`~kefu.Command` code) on
        session ``sessions[session[i]]`` at time ``time[i]`` (seconds, not
        decreasing, none before :attr:`time`; None: every row at the clock's
        now). The optional columns give the other arguments as handles into
        their tables (-1: None): ``agent`` (the sender of an agent message),
        ``buyer``, ``group`` and ``kind`` (of an opened session), and
        ``priority`` (ints). Columns are numpy arrays or anything numpy reads as
        a 1-d array of integers (``time``: of numbers).

        The events are exactly those :meth:`apply` returns for the same
        commands, with the same ids; a bad call shape raises InvalidArgument
        and changes nothing; the first failing row raises
        :class:`~kefu.errors.BatchAborted` (its ``events`` the
        :class:`~kefu.EventColumns` of the rows before it, which stay
        applied). Cost: O(rows + tables) to check, then that of the commands,
        without a Python object per row on the compiled engine.
        """
        if not self._guard.enter():
            raise ConcurrentCall("apply_columns")
        try:
            batch = parse_columns(
                command, session, time,
                {"sessions": sessions, "agents": agents, "buyers": buyers, "groups": groups,
                 "kinds": kinds},
                {"agent": agent, "buyer": buyer, "group": group, "priority": priority,
                 "kind": kind})
            batch = start_at(batch, self._now())
            try:
                events, self._last_now = self._engine.apply_columns(self._last_now, batch)
            except BatchAborted as exc:
                self._last_now = exc.at
                exc.events = EventColumns(exc.events, batch)
                raise
            return EventColumns(events, batch)
        finally:
            self._guard.leave()

    def next_deadline(self) -> float | None:
        """The earliest pending timer deadline, or None: when to call :meth:`tick`.

        Cost: O(1) amortised.
        """
        if not self._guard.enter():
            raise ConcurrentCall("next_deadline")
        try:
            return self._engine.next_deadline()
        finally:
            self._guard.leave()

    # -- queries ----------------------------------------------------------

    def load(self, agent_id: str) -> int:
        """The agent's load: the open sessions in their reception list, each counted by its
        kind's capacity weight (R26; 1 without a kind). O(1)."""
        if not self._guard.enter():
            raise ConcurrentCall("load")
        try:
            return self._engine.load(check_id("agent", agent_id))
        finally:
            self._guard.leave()

    def agent(self, agent_id: str) -> AgentView:
        """A read-only view of one agent. O(1)."""
        if not self._guard.enter():
            raise ConcurrentCall("agent")
        try:
            return self._engine.agent(check_id("agent", agent_id))
        finally:
            self._guard.leave()

    def agent_ids(self) -> list[str]:
        """Registered agents in registration order. O(n)."""
        if not self._guard.enter():
            raise ConcurrentCall("agent_ids")
        try:
            return self._engine.agent_ids()
        finally:
            self._guard.leave()

    def session(self, session_id: str) -> SessionView:
        """A read-only view of one open session: state, agent, pool. O(1)."""
        if not self._guard.enter():
            raise ConcurrentCall("session")
        try:
            return self._engine.session(check_id("session", session_id))
        finally:
            self._guard.leave()

    def explain(self, session_id: str) -> Explanation:
        """Why each agent is or is not eligible for the session right now (R29). O(a).

        For every registered agent, in registration order: eligible or not,
        and every reason why not (wrong group, offline, suspended, full,
        weight 0 under WEIGHTED, timed out on this session, or brought in
        only by a step of the group's escalation ladder not reached yet,
        R24). A waiting
        session never has an eligible agent (R06): the reasons are what keeps
        it waiting. See :mod:`kefu.explain`.
        """
        if not self._guard.enter():
            raise ConcurrentCall("explain")
        try:
            engine = self._engine
            view = engine.session(check_id("session", session_id))
            return explain(self._config, view, [engine.agent(a) for a in engine.agent_ids()])
        finally:
            self._guard.leave()

    def position(self, session_id: str) -> int | None:
        """A waiting session's 1-based place in its group's line (R25); None if assigned.

        The line of group ``g`` is every waiting session of ``g`` (sessions
        without a group form a line of their own), in either pool, in R07
        order (priority, then arrival): the order in which the agents who
        serve ``g`` take them. Sessions of other groups are not counted,
        even when the same agents serve them; a session past a step of its
        group's escalation ladder (R24) stays in its own group's line. Raises
        ``UnknownSession`` for a session that is not open. O(log w) for w
        waiting sessions.
        """
        if not self._guard.enter():
            raise ConcurrentCall("position")
        try:
            return self._engine.position(check_id("session", session_id))
        finally:
            self._guard.leave()

    def estimated_wait(self, session_id: str, sample: int = DEFAULT_SAMPLE) -> float | None:
        """Seconds until a waiting session is likely handed out (R25); None if assigned
        or without data.

        From the pace of the session's line (see :meth:`position`): its latest
        ``sample`` hand-overs (1..32, default 20; a hand-over is a waiting
        session of the line given to an agent, by a drain or ``assign()``).
        If the oldest of those ``k`` hand-overs was at ``t``, the line moved
        ``k`` places in ``now - t`` seconds, and a session at position ``p``
        is estimated to wait ``(now - t) * p / k`` seconds. None when the line
        has no hand-over yet, or all ``k`` happened at this very instant.
        ``now`` is the clock's reading (the call reads the clock, as commands
        do). A line's hand-overs are forgotten with its group (no agent names
        it and no session of it is open) and are not in snapshots: a restored
        Assigner starts without them. Raises ``UnknownSession`` for a session
        that is not open. O(log w) for w waiting sessions.
        """
        if not self._guard.enter():
            raise ConcurrentCall("estimated_wait")
        try:
            sid = check_id("session", session_id)
            count = check_sample(sample)
            return self._engine.estimated_wait(self._now(), sid, count)
        finally:
            self._guard.leave()

    def session_ids(self) -> list[str]:
        """Open sessions (assigned or waiting) in arrival order. O(s log s)."""
        if not self._guard.enter():
            raise ConcurrentCall("session_ids")
        try:
            return self._engine.session_ids()
        finally:
            self._guard.leave()

    def waiting(self) -> list[str]:
        """Waiting sessions in service order (R07), both pools. O(w log w)."""
        if not self._guard.enter():
            raise ConcurrentCall("waiting")
        try:
            return self._engine.waiting()
        finally:
            self._guard.leave()

    def reception_list(self, agent_id: str) -> list[str]:
        """The agent's open sessions in longest-wait order (R19). O(k log k)."""
        if not self._guard.enter():
            raise ConcurrentCall("reception_list")
        try:
            return self._engine.reception_list(check_id("agent", agent_id))
        finally:
            self._guard.leave()

    # -- persistence ------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-serialisable plain data, equal for equal states (R22).

        ``taken_at`` is the clock's reading when the snapshot was taken
        (S01): a restored Assigner never stamps anything earlier. Every
        number in it is finite, so strict JSON (``allow_nan=False``) takes
        it. Cost: O(n + s).
        """
        if not self._guard.enter():
            raise ConcurrentCall("snapshot")
        try:
            return {
                "format": SNAPSHOT_FORMAT,
                "version": SNAPSHOT_VERSION,
                "taken_at": self._now(),
                "config": self._config.to_data(),
                "state": self._engine.snapshot(),
            }
        finally:
            self._guard.leave()

    @classmethod
    def restore(
        cls, data: Mapping[str, Any], clock: Clock | None = None, *, engine: EngineName = "auto"
    ) -> Assigner:
        """Rebuild an Assigner from :meth:`snapshot` data (any engine's), checking everything.

        Any state that no sequence of commands could have produced is
        refused with :class:`~kefu.errors.InvalidSnapshot` naming the field,
        and so is an unknown format or version. Time never runs backwards:
        the restored Assigner stamps nothing earlier than the snapshot's
        ``taken_at`` (or, for a version-1 snapshot, its latest recorded
        instant), whatever ``clock`` says; timers keep their deadlines.
        Cost: O(s log s + n log n).
        """
        data = _snapshot_dict(data)
        version = data.get("version")
        if data.get("format") != SNAPSHOT_FORMAT:
            raise InvalidSnapshot(
                f"not a kefu Assigner snapshot (format {short_repr(data.get('format'))})"
            )
        if type(version) is not int or version not in _READABLE_VERSIONS:
            raise InvalidSnapshot(
                f"unknown snapshot version {short_repr(version)}; this kefu reads versions "
                f"{sorted(_READABLE_VERSIONS)}"
            )
        if set(data) != _READABLE_VERSIONS[version]:
            raise InvalidSnapshot(
                f"unexpected snapshot keys {short_repr(sorted(data))} for version {version}"
            )
        taken_at = _taken_at(data["taken_at"]) if version >= 2 else None
        try:
            config = Config.from_data(data["config"])
        except KefuError as exc:
            raise InvalidSnapshot(f"bad config in snapshot: {exc}") from exc
        self = cls(
            clock,
            strategy=config.strategy,
            offline_diversion=config.offline_diversion,
            auto_close_after=config.auto_close_after,
            first_response_timeout=config.first_response_timeout,
            sticky_window=config.sticky_window,
            queue_limits=dict(config.queue_limits),
            engine=engine,
            ladders=dict(config.ladders),
            session_kinds=dict(config.session_kinds),
        )
        state = data["state"]
        if type(state) is not dict:
            raise InvalidSnapshot("snapshot state must be a dict")
        latest = self._engine.restore_state(state, taken_at)
        self._last_now = max(
            -math.inf if taken_at is None else taken_at,
            -math.inf if latest is None else latest,
        )
        return self

    def check(self) -> None:
        """Verify every invariant from scratch (R06, R22); raises AssertionError. O(s + n·w)."""
        if not self._guard.enter():
            raise ConcurrentCall("check")
        try:
            self._engine.check()
        finally:
            self._guard.leave()

    def __repr__(self) -> str:
        if not self._guard.enter():
            return f"<Assigner engine={self.engine} (a call is running)>"
        try:
            return (
                f"<Assigner engine={self.engine} agents={len(self._engine.agent_ids())} "
                f"waiting={len(self._engine.waiting())} strategy={self._config.strategy.name}>"
            )
        finally:
            self._guard.leave()


compile_hot_calls(Assigner)


def _iterate(commands: object) -> Iterator[object]:
    """``iter(commands)`` for :meth:`Assigner.apply`, or InvalidArgument."""
    try:
        return iter(commands)  # type: ignore[call-overload, no-any-return]
    except Exception as exc:
        raise InvalidArgument(
            f"commands must be an iterable of command tuples, got {short_repr(commands)}"
        ) from exc


def _snapshot_dict(data: object) -> dict[str, Any]:
    """The top level of a snapshot as a dict with plain-string keys, or InvalidSnapshot."""
    if type(data) is not dict:
        if not isinstance(data, Mapping):
            raise InvalidSnapshot(f"a snapshot is a dict, got {type(data).__name__}")
        try:
            data = dict(data)
        except Exception as exc:
            raise InvalidSnapshot(f"the snapshot mapping could not be read: {short_repr(exc)}"
                                  ) from exc
    if any(type(key) is not str for key in data):
        raise InvalidSnapshot(f"snapshot keys must be strings, got {short_repr(list(data))}")
    return data


def _taken_at(value: object) -> float:
    """A snapshot's ``taken_at``: finite seconds (an exact int or float), or InvalidSnapshot."""
    # The range test is False for NaN, inf and ints too large for a float.
    if (type(value) is int or type(value) is float) and -_MAX_SECONDS <= value <= _MAX_SECONDS:
        return float(value)
    raise InvalidSnapshot(f"snapshot taken_at: expected finite seconds, got {short_repr(value)}")
