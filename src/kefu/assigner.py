"""The public facade: validates input, owns the clock, delegates to an engine.

An :class:`Assigner` is one shop's routing state. Every call checks its
arguments first and raises a :mod:`kefu.errors` error before anything
changes; the engine then checks ids and states, applies the rules and returns
the events. The facade never does I/O and never reads the system clock except
through the clock it was given (R20, R21).
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from kefu import _compat
from kefu._checks import (
    MAX_PRIORITY,
    MAX_WEIGHT,
    check_flag,
    check_groups,
    check_id,
    check_session_args,
    check_weight,
)
from kefu._contract import Engine
from kefu.clock import Clock, ManualClock, as_seconds
from kefu.errors import BatchAborted, InvalidArgument, InvalidSnapshot, KefuError
from kefu.events import Event
from kefu.model import AgentView, Cap, Config, SessionView, Strategy

__all__ = ["ENGINE", "ENGINES", "MAX_PRIORITY", "MAX_WEIGHT", "Assigner", "EngineName"]

EngineName = Literal["auto", "c", "py", "naive"]
SNAPSHOT_FORMAT = "kefu.assigner"
_MAX_SECONDS = sys.float_info.max
SNAPSHOT_VERSION = 1

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


def _engine_class(engine: EngineName) -> type[Engine]:
    if engine == "auto":
        return ENGINES["c"] if "c" in ENGINES else ENGINES["py"]
    if engine not in _ENGINE_MODULES:
        raise InvalidArgument(f"unknown engine {engine!r}: use 'auto', 'c', 'py' or 'naive'")
    if engine not in ENGINES:
        raise InvalidArgument(f"engine {engine!r} is not available in this install")
    return ENGINES[engine]


class Assigner:
    """One shop's chat-session routing: commands in, events out (SPEC part A).

    ``n`` is the number of agents, ``w`` the number of waiting sessions, ``k``
    the number of sessions an operation moves, ``g`` the number of groups an
    agent serves; costs in the method docstrings are for the default engines.
    """

    __slots__ = ("_clock", "_config", "_engine", "_last_now")

    def __init__(
        self,
        clock: Clock | None = None,
        strategy: Strategy = Strategy.LEAST_LOAD,
        offline_diversion: bool = False,
        auto_close_after: float | None = 1200.0,
        first_response_timeout: float | None = None,
        sticky_window: float | None = None,
        *,
        engine: EngineName = "auto",
    ) -> None:
        config = Config(
            strategy=strategy,
            offline_diversion=offline_diversion,
            auto_close_after=auto_close_after,
            first_response_timeout=first_response_timeout,
            sticky_window=sticky_window,
        )
        self._clock: Clock = clock if clock is not None else ManualClock(0.0)
        if not callable(getattr(self._clock, "now", None)):
            raise InvalidArgument(f"clock must have a now() method, got {clock!r}")
        self._config = config
        self._engine: Engine = _engine_class(engine)(config)
        self._last_now = -math.inf

    # -- time -------------------------------------------------------------

    def _now(self) -> float:
        """Read the clock once per call; never let time run backwards.

        A wall clock may step back (NTP); timers and FIFO order rely on
        monotonic time, so a step back is held at the last value seen.
        """
        now = self._clock.now()
        # The common case in one chained comparison (it is False for NaN and inf).
        if type(now) is float and self._last_now <= now <= _MAX_SECONDS:
            self._last_now = now
            return now
        return self._odd_now(now)

    def _odd_now(self, now: object) -> float:
        """:meth:`_now` for anything but a finite float at or after the last reading."""
        seconds = as_seconds(now)
        if seconds is None:
            raise InvalidArgument(f"clock.now() must return seconds, got {now!r}")
        if not math.isfinite(seconds):
            raise InvalidArgument(f"clock.now() must be finite, got {now!r}")
        if seconds < self._last_now:
            seconds = self._last_now
        self._last_now = seconds
        return seconds

    @property
    def clock(self) -> Clock:
        return self._clock

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
        agent_id = check_id("agent", agent_id)
        cap_value = Cap.coerce(cap)
        group_set = check_groups(groups)
        weight = check_weight(weight)
        online = check_flag("online", online)
        return self._engine.add_agent(self._now(), agent_id, cap_value, group_set, weight, online)

    def remove_agent(self, agent_id: str) -> list[Event]:
        """The agent leaves the shop: their sessions are requeued and placed again (R10).

        Cost: O(k log n); O(w log n) with offline diversion on.
        """
        agent_id = check_id("agent", agent_id)
        return self._engine.remove_agent(self._now(), agent_id)

    def agent_online(self, agent_id: str) -> list[Event]:
        """The agent comes online and takes waiting sessions (R05, R08). No-op if online.

        Cost: O(g log n) plus O(log w) per session handed out.
        """
        agent_id = check_id("agent", agent_id)
        return self._engine.agent_online(self._now(), agent_id)

    def agent_offline(self, agent_id: str, requeue: bool = False) -> list[Event]:
        """The agent goes offline; with ``requeue`` their sessions wait again (R15).

        No-op if already offline.

        Cost: O(g log n + k log n); O(w log n) with offline diversion on.
        """
        agent_id = check_id("agent", agent_id)
        requeue = check_flag("requeue", requeue)
        return self._engine.agent_offline(self._now(), agent_id, requeue)

    def set_cap(self, agent_id: str, cap: Cap | int) -> list[Event]:
        """Change an agent's max reception (R01); raised room drains at once (R05).

        Cost: O(g log n) plus O(log w) per session handed out.
        """
        agent_id = check_id("agent", agent_id)
        cap_value = Cap.coerce(cap)
        return self._engine.set_cap(self._now(), agent_id, cap_value)

    def set_weight(self, agent_id: str, weight: int) -> list[Event]:
        """Change an agent's diversion ratio (分流比例) for WEIGHTED (R11).

        Cost: O(g log n) plus O(log w) per session handed out.
        """
        agent_id = check_id("agent", agent_id)
        weight = check_weight(weight)
        return self._engine.set_weight(self._now(), agent_id, weight)

    # -- sessions ---------------------------------------------------------

    def open_session(
        self,
        session_id: str,
        buyer: str | None = None,
        group: str | None = None,
        priority: int = 0,
    ) -> list[Event]:
        """A buyer's first message: assign at once or queue (R03, R04, R08, R09, R13).

        Cost: O(log n) to assign (LEAST_LOAD, ROUND_ROBIN, WEIGHTED), O(log w) to queue.
        """
        # The checks inline (this is the hottest call); _check_session_args names what is wrong.
        if not (
            type(session_id) is str and session_id
            and (buyer is None or (type(buyer) is str and buyer))
            and (group is None or (type(group) is str and group))
            and type(priority) is int and -MAX_PRIORITY <= priority <= MAX_PRIORITY
        ):
            check_session_args(session_id, buyer, group, priority)
        return self._engine.open_session(self._now(), session_id, buyer, group, priority)

    def buyer_message(self, session_id: str) -> list[Event]:
        """The buyer wrote again: cancels the auto-close countdown (R17). Cost: O(1)."""
        if type(session_id) is not str or not session_id:
            check_id("session", session_id)
        return self._engine.buyer_message(self._now(), session_id)

    def agent_message(self, session_id: str, auto: bool = False) -> list[Event]:
        """The agent (or, with ``auto=True``, a system auto-reply) wrote (R17, R18, R19).

        Cost: O(1) (timer heap push, amortised).
        """
        if type(session_id) is not str or not session_id or type(auto) is not bool:
            check_id("session", session_id)
            check_flag("auto", auto)
        return self._engine.agent_message(self._now(), session_id, auto)

    def assign(self, session_id: str, agent_id: str) -> list[Event]:
        """Manually give a waiting session to an online agent, ignoring caps (R02, R14).

        Cost: O(g log n + log w).
        """
        session_id = check_id("session", session_id)
        agent_id = check_id("agent", agent_id)
        return self._engine.assign(self._now(), session_id, agent_id)

    def transfer(self, session_id: str, agent_id: str) -> list[Event]:
        """Move an open session to another online agent, ignoring caps (R02, R14).

        Cost: O(g log n) plus O(log w) per session drained to the giver.
        """
        session_id = check_id("session", session_id)
        agent_id = check_id("agent", agent_id)
        return self._engine.transfer(self._now(), session_id, agent_id)

    def close_session(self, session_id: str) -> list[Event]:
        """Close a session; its agent's freed room goes to the waiting line (R16, R05).

        Cost: O(g log n) plus O(log w) per session handed out.
        """
        if type(session_id) is not str or not session_id:
            check_id("session", session_id)
        return self._engine.close_session(self._now(), session_id)

    def tick(self) -> list[Event]:
        """Fire every timer due by now, in deadline order (R17, R18, R20).

        Cost: O(log t) per timer fired plus the work each one causes.
        """
        return self._engine.tick(self._now())

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
        try:
            events, self._last_now = self._engine.apply(self._now(), commands)
        except BatchAborted as exc:
            self._last_now = exc.at
            raise
        return events

    def next_deadline(self) -> float | None:
        """The earliest pending timer deadline, or None: when to call :meth:`tick`.

        Cost: O(1) amortised.
        """
        return self._engine.next_deadline()

    # -- queries ----------------------------------------------------------

    def load(self, agent_id: str) -> int:
        """Open sessions in the agent's reception list. O(1)."""
        return self._engine.load(check_id("agent", agent_id))

    def agent(self, agent_id: str) -> AgentView:
        """A read-only view of one agent. O(1)."""
        return self._engine.agent(check_id("agent", agent_id))

    def agent_ids(self) -> list[str]:
        """Registered agents in registration order. O(n)."""
        return self._engine.agent_ids()

    def session(self, session_id: str) -> SessionView:
        """A read-only view of one open session: state, agent, pool. O(1)."""
        return self._engine.session(check_id("session", session_id))

    def session_ids(self) -> list[str]:
        """Open sessions (assigned or waiting) in arrival order. O(s log s)."""
        return self._engine.session_ids()

    def waiting(self) -> list[str]:
        """Waiting sessions in service order (R07), both pools. O(w log w)."""
        return self._engine.waiting()

    def reception_list(self, agent_id: str) -> list[str]:
        """The agent's open sessions in longest-wait order (R19). O(k log k)."""
        return self._engine.reception_list(check_id("agent", agent_id))

    # -- persistence ------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-serialisable plain data, equal for equal states (R22)."""
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "config": self._config.to_data(),
            "state": self._engine.snapshot(),
        }

    @classmethod
    def restore(
        cls, data: Mapping[str, Any], clock: Clock | None = None, *, engine: EngineName = "auto"
    ) -> Assigner:
        """Rebuild an Assigner from :meth:`snapshot` data (any engine's), checking everything.

        Raises :class:`~kefu.errors.InvalidSnapshot` for corrupt data or an unknown version.
        """
        if not isinstance(data, Mapping):
            raise InvalidSnapshot(f"a snapshot is a dict, got {type(data).__name__}")
        if data.get("format") != SNAPSHOT_FORMAT:
            raise InvalidSnapshot(f"not a kefu Assigner snapshot (format {data.get('format')!r})")
        if data.get("version") != SNAPSHOT_VERSION:
            raise InvalidSnapshot(
                f"unknown snapshot version {data.get('version')!r}; this kefu reads version "
                f"{SNAPSHOT_VERSION}"
            )
        if set(data) != {"format", "version", "config", "state"}:
            raise InvalidSnapshot(f"unexpected snapshot keys {sorted(map(str, data))}")
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
            engine=engine,
        )
        state = data["state"]
        if not isinstance(state, dict):
            raise InvalidSnapshot("snapshot state must be a dict")
        self._engine.restore_state(state, None)
        return self

    def check(self) -> None:
        """Verify every invariant from scratch (R06, R22); raises AssertionError. O(s + n·w)."""
        self._engine.check()

    def __repr__(self) -> str:
        return (
            f"<Assigner engine={self.engine} agents={len(self.agent_ids())} "
            f"waiting={len(self.waiting())} strategy={self._config.strategy.name}>"
        )
