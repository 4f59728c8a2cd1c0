"""Value types shared by the facade and both engines: caps, strategies, views."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, cast

import attrs

from kefu._checks import check_id
from kefu._text import short_repr
from kefu.errors import InvalidArgument, InvalidCap, KefuError
from kefu.events import Pool

__all__ = [
    "MAX_CAP",
    "MAX_DURATION",
    "AgentView",
    "Cap",
    "CapKind",
    "Config",
    "LadderStep",
    "QueueLimit",
    "SessionState",
    "SessionView",
    "Strategy",
]

MAX_CAP = 500
#: The longest configurable duration, in seconds (about 31.7 years): every
#: timer deadline (a finite time plus at most this) stays a finite float, so
#: every reachable state snapshots to strict JSON.
MAX_DURATION = 1e9
#: The largest ``QueueLimit.max_waiting``.
MAX_QUEUE = 1_000_000


class CapKind(enum.Enum):
    UNLIMITED = "unlimited"  # 不自动挂起: the default for a new agent
    SUSPENDED = "suspended"  # 挂起: no automatic assignment at all
    LIMIT = "limit"  # n人挂起: automatic assignment stops at n open sessions


@attrs.frozen
class Cap:
    """An agent's max reception (最大接待量, R01).

    Use ``Cap.UNLIMITED``, ``Cap.SUSPENDED`` or ``Cap.limit(n)`` with
    1 <= n <= 500; the presets 20/50/100/200 are just numbers.
    """

    kind: CapKind
    value: int | None = None

    UNLIMITED: ClassVar[Cap]
    SUSPENDED: ClassVar[Cap]

    def __attrs_post_init__(self) -> None:
        # A Cap built directly must be one of the three forms, or it would
        # break snapshots later (R01).
        if self.kind is CapKind.LIMIT:
            n = self.value
            if type(n) is not int or not 1 <= n <= MAX_CAP:
                raise InvalidCap(n)
        elif type(self.kind) is not CapKind or self.value is not None:
            raise InvalidCap(self.kind if self.value is None else self.value)

    @classmethod
    def limit(cls, n: int) -> Cap:
        """A numeric cap; raises :class:`~kefu.errors.InvalidCap` unless 1 <= n <= 500."""
        if type(n) is not int or not 1 <= n <= MAX_CAP:
            raise InvalidCap(n)
        return cls(CapKind.LIMIT, n)

    @classmethod
    def coerce(cls, value: object) -> Cap:
        """Accept a :class:`Cap` or a plain int 1..500; reject everything else (R01).

        Always returns a fresh, checked, exact ``Cap`` (never the caller's
        object, which could be a subclass or altered after construction).
        """
        if type(value) is int:
            return cls.limit(value)
        try:
            if not isinstance(value, Cap):
                raise InvalidCap(value)
            kind, n = value.kind, value.value
        except KefuError:
            raise
        except Exception as exc:  # a hostile subclass's attribute raised
            raise InvalidCap(value) from exc
        if kind is CapKind.LIMIT:
            return cls.limit(n)  # type: ignore[arg-type]
        if n is None and kind is CapKind.UNLIMITED:
            return cls.UNLIMITED
        if n is None and kind is CapKind.SUSPENDED:
            return cls.SUSPENDED
        raise InvalidCap(value)

    @property
    def room_limit(self) -> int | None:
        """Load at which automatic assignment stops: None = no limit, 0 = suspended."""
        if self.kind is CapKind.UNLIMITED:
            return None
        if self.kind is CapKind.SUSPENDED:
            return 0
        return self.value

    def to_data(self) -> str | int:
        """Plain form for snapshots: "unlimited", "suspended" or the number."""
        if self.value is not None:
            return self.value
        return str(self.kind.value)

    @classmethod
    def from_data(cls, data: object) -> Cap:
        """The Cap of :meth:`to_data`'s plain form; InvalidCap for anything else."""
        if type(data) is str:
            if data == "unlimited":
                return cls.UNLIMITED
            if data == "suspended":
                return cls.SUSPENDED
        return cls.limit(data)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        if self.kind is CapKind.LIMIT:
            return f"Cap.limit({self.value})"
        return f"Cap.{self.kind.name}"


Cap.UNLIMITED = Cap(CapKind.UNLIMITED)
Cap.SUSPENDED = Cap(CapKind.SUSPENDED)


class Strategy(enum.Enum):
    """How an automatic assignment picks among eligible agents (R11)."""

    LEAST_LOAD = "least_load"
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"


def _check_seconds(name: str, value: object) -> None:
    """A duration: None, or an int/float in (0, MAX_DURATION]."""
    if value is None:
        return
    if type(value) not in (int, float) or not 0 < value <= MAX_DURATION:  # type: ignore[operator]
        raise InvalidArgument(
            f"{name} must be a positive number of seconds up to {MAX_DURATION:.0e}, or None,"
            f" got {short_repr(value)}"
        )


@attrs.frozen
class QueueLimit:
    """A group's queue limit (R28), judged when a new session would start to wait.

    ``max_waiting``: the most sessions of the group that may wait at once, in
    either pool (0: none may wait). ``max_wait``: no session may join while
    the group's longest-waiting session has waited this long (seconds since
    it opened); it acts at admission only, like a queue's capacity, and
    never takes a waiting session out. A session that would break either
    limit overflows to the group ``overflow``, or, without one, is refused
    with a ``Rejected`` event.
    """

    max_waiting: int | None = None
    max_wait: float | None = None
    overflow: str | None = None

    def __attrs_post_init__(self) -> None:
        n = self.max_waiting
        if n is not None and (type(n) is not int or not 0 <= n <= MAX_QUEUE):
            raise InvalidArgument(
                f"max_waiting must be an int in [0, {MAX_QUEUE}] or None, got {short_repr(n)}"
            )
        _check_seconds("max_wait", self.max_wait)
        if n is None and self.max_wait is None:
            raise InvalidArgument("a queue limit needs max_waiting, max_wait or both")
        if self.overflow is not None:
            check_id("overflow group", self.overflow)

    def to_data(self) -> dict[str, object]:
        return {"max_waiting": self.max_waiting, "max_wait": self.max_wait,
                "overflow": self.overflow}

    @classmethod
    def from_data(cls, data: object) -> QueueLimit:
        """The QueueLimit of :meth:`to_data`'s plain form; InvalidArgument for anything else."""
        keys = {"max_waiting", "max_wait", "overflow"}
        if type(data) is not dict or any(type(k) is not str for k in data) or set(data) != keys:
            raise InvalidArgument(f"bad queue limit {short_repr(data)}")
        return cls(data["max_waiting"], data["max_wait"], data["overflow"])


QueueLimits = tuple[tuple[str, QueueLimit], ...]


def _config_pairs(name: str, value: object, shape: str) -> list[tuple[Any, Any]]:
    """The ``(key, value)`` pairs of a mapping option of :class:`Config` (``shape`` says
    what it maps), read once: a mapping as the caller gives it, or the sorted tuple
    of pairs it was frozen into (``attrs.evolve`` of a Config). InvalidArgument
    naming ``name`` for anything else, or for a mapping whose reading raises. O(pairs)."""
    frozen = type(value) is tuple
    if not frozen and not isinstance(value, Mapping):
        raise InvalidArgument(
            f"{name} must be a mapping of {shape}, or None, got {short_repr(value)}")
    try:
        pairs = cast(tuple[Any, ...], value) if frozen else cast(Mapping[Any, Any], value).items()
        return [(key, item) for key, item in pairs]
    except Exception as exc:
        raise InvalidArgument(f"{name} could not be read: {short_repr(exc)}") from exc


def _queue_limits(value: object) -> QueueLimits:
    """Check ``queue_limits`` (a mapping group -> QueueLimit, or None) and freeze it, sorted.

    Overflow must not come back to where it started: every chain of
    overflows ends, so every session is placed, queued or refused in a
    bounded number of hops. O(L^2) for L limits, once per configuration.
    """
    if value is None:
        return ()
    items = _config_pairs("queue_limits", value, "group -> kefu.QueueLimit")
    for group, limit in items:
        check_id("group", group)
        if type(limit) is not QueueLimit:
            raise InvalidArgument(
                f"queue_limits[{short_repr(group)}] must be a kefu.QueueLimit,"
                f" got {short_repr(limit)}"
            )
    limits = dict(items)
    for start in sorted(limits):
        path = [start]
        nxt = limits[start].overflow
        while nxt is not None:
            if nxt in path:
                chain = " -> ".join(short_repr(g) for g in [*path, nxt])
                raise InvalidArgument(
                    f"queue_limits: overflow from {short_repr(start)} comes back to"
                    f" {short_repr(nxt)} ({chain})"
                )
            path.append(nxt)
            limit = limits.get(nxt)
            nxt = None if limit is None else limit.overflow
    return tuple(sorted(limits.items()))


def _step_groups(value: object) -> frozenset[str] | None:
    """A ladder step's ``groups``: None (any agent) or a non-empty set of group names."""
    if value is None:
        return None
    if type(value) is frozenset and value and all(type(g) is str and g for g in value):
        return value
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgument(
            f"a ladder step's groups must be a set of group names or None (any agent),"
            f" got {short_repr(value)}"
        )
    try:
        names = list(value)
    except Exception as exc:
        raise InvalidArgument(f"a ladder step's groups could not be read: {short_repr(exc)}"
                              ) from exc
    for name in names:
        check_id("group", name)
    if not names:
        raise InvalidArgument("a ladder step needs at least one group (None: any agent)")
    return frozenset(names)


@attrs.frozen
class LadderStep:
    """One step of a group's escalation ladder (R24).

    Once a session has waited ``after`` seconds in its group's line, the
    online agents of ``groups`` may take it too (``None``: every online
    agent), besides those it could go to before. ``groups`` is kept as a
    frozenset.
    """

    after: float
    groups: frozenset[str] | None = attrs.field(converter=_step_groups)

    def __attrs_post_init__(self) -> None:
        after = self.after
        if type(after) not in (int, float) or not 0 < after <= MAX_DURATION:
            raise InvalidArgument(
                f"a ladder step's after must be a positive number of seconds up to"
                f" {MAX_DURATION:.0e}, got {short_repr(after)}"
            )

    def to_data(self) -> dict[str, object]:
        return {"after": self.after,
                "groups": None if self.groups is None else sorted(self.groups)}

    @classmethod
    def from_data(cls, data: object) -> LadderStep:
        """The LadderStep of :meth:`to_data`'s plain form; InvalidArgument for anything else."""
        if (type(data) is not dict or any(type(k) is not str for k in data)
                or set(data) != {"after", "groups"}):
            raise InvalidArgument(f"bad ladder step {short_repr(data)}")
        groups = data["groups"]
        if groups is not None and type(groups) is not list:
            raise InvalidArgument(f"bad ladder step groups {short_repr(groups)}")
        return cls(data["after"], groups)


Ladders = tuple[tuple[str, tuple[LadderStep, ...]], ...]
#: R26: ``((kind, weight), ...)`` sorted by kind.
SessionKinds = tuple[tuple[str, int], ...]


def _session_kinds(value: object) -> SessionKinds:
    """Check ``session_kinds`` (a mapping kind -> weight, or None) and freeze it, sorted by
    kind. A weight is an int (not a bool) from 1 to :data:`MAX_CAP`: a heavier session
    would fit no agent. O(kinds log kinds), once per configuration."""
    if value is None:
        return ()
    items = _config_pairs("session_kinds", value, "kind -> weight")
    for kind, weight in items:
        check_id("kind", kind)
        if type(weight) is not int or not 1 <= weight <= MAX_CAP:
            raise InvalidArgument(
                f"session_kinds[{short_repr(kind)}] must be an integer weight from 1 to"
                f" {MAX_CAP}, got {short_repr(weight)}"
            )
    return tuple(sorted(items))


def _ladder(group: str, value: object) -> tuple[LadderStep, ...]:
    """One group's ladder, checked: steps with strictly increasing ``after``, each adding
    groups not reached before (not the group itself), nothing after an "any agent" step.
    O(steps x groups)."""
    where = f"ladders[{short_repr(group)}]"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgument(f"{where} must be a sequence of kefu.LadderStep,"
                              f" got {short_repr(value)}")
    try:
        steps = tuple(value)
    except Exception as exc:
        raise InvalidArgument(f"{where} could not be read: {short_repr(exc)}") from exc
    if not steps:
        raise InvalidArgument(f"{where} needs at least one step")
    reached: set[str] | None = {group}
    previous: float | None = None
    for n, step in enumerate(steps, 1):
        if type(step) is not LadderStep:
            raise InvalidArgument(f"{where} step {n} must be a kefu.LadderStep,"
                                  f" got {short_repr(step)}")
        if previous is not None and not step.after > previous:
            raise InvalidArgument(f"{where} step {n}: after {short_repr(step.after)} must be"
                                  f" later than step {n - 1}'s {short_repr(previous)}")
        if reached is None:
            raise InvalidArgument(f"{where} step {n} follows a step that reached every agent")
        if step.groups is not None:
            again = sorted(step.groups & reached)
            if again:
                raise InvalidArgument(f"{where} step {n}: {short_repr(again)} already"
                                      f" serve the session by then")
            reached = reached | step.groups
        else:
            reached = None
        previous = step.after
    return steps


def _ladders(value: object) -> Ladders:
    """Check ``ladders`` (a mapping group -> sequence of LadderStep, or None) and freeze it,
    sorted by group. O(total steps x groups), once per configuration."""
    if value is None:
        return ()
    items = _config_pairs("ladders", value, "group -> list of kefu.LadderStep")
    checked: dict[str, tuple[LadderStep, ...]] = {}
    for group, steps in items:
        check_id("group", group)
        checked[group] = _ladder(group, steps)
    return tuple(sorted(checked.items()))


@attrs.frozen
class Config:
    """A shop's assignment settings; fixed for the life of an Assigner.

    ``queue_limits`` (R28) takes a mapping group -> :class:`QueueLimit` (or
    None) and keeps it as a tuple of ``(group, limit)`` pairs sorted by group.
    """

    strategy: Strategy = Strategy.LEAST_LOAD
    offline_diversion: bool = False
    auto_close_after: float | None = 1200.0
    first_response_timeout: float | None = None
    sticky_window: float | None = None
    #: R28: group -> QueueLimit, frozen as ``((group, limit), ...)`` sorted by group.
    queue_limits: QueueLimits = attrs.field(default=(), converter=_queue_limits)
    #: R24: group -> its escalation ladder, frozen as ``((group, (step, ...)), ...)`` sorted.
    ladders: Ladders = attrs.field(default=(), converter=_ladders)
    #: R26: session kind -> capacity weight, frozen as ``((kind, weight), ...)`` sorted.
    session_kinds: SessionKinds = attrs.field(default=(), converter=_session_kinds)

    def __attrs_post_init__(self) -> None:
        if type(self.strategy) is not Strategy:
            raise InvalidArgument(
                f"strategy must be a kefu.Strategy, got {short_repr(self.strategy)}"
            )
        if type(self.offline_diversion) is not bool:
            raise InvalidArgument(
                f"offline_diversion must be True or False, got {short_repr(self.offline_diversion)}"
            )
        _check_seconds("auto_close_after", self.auto_close_after)
        _check_seconds("first_response_timeout", self.first_response_timeout)
        _check_seconds("sticky_window", self.sticky_window)

    def to_data(self) -> dict[str, object]:
        return {
            "strategy": self.strategy.value,
            "offline_diversion": self.offline_diversion,
            "auto_close_after": self.auto_close_after,
            "first_response_timeout": self.first_response_timeout,
            "sticky_window": self.sticky_window,
            # Only when set, so a shop without queue limits snapshots as before.
            **({"queue_limits": {g: limit.to_data() for g, limit in self.queue_limits}}
               if self.queue_limits else {}),
            **({"ladders": {g: [step.to_data() for step in steps] for g, steps in self.ladders}}
               if self.ladders else {}),
            **({"session_kinds": dict(self.session_kinds)} if self.session_kinds else {}),
        }

    @classmethod
    def from_data(cls, data: object) -> Config:
        """The Config of :meth:`to_data`'s plain form; InvalidArgument for anything else."""
        keys = {"strategy", "offline_diversion", "auto_close_after", "first_response_timeout",
                "sticky_window"}
        # Keys are compared only once they are known to be plain strings.
        if (type(data) is not dict or any(type(k) is not str for k in data)
                or set(data) - {"queue_limits", "ladders", "session_kinds"} != keys):
            raise InvalidArgument(f"bad config {short_repr(data)}")
        limits = data.get("queue_limits")
        if "queue_limits" in data:
            if type(limits) is not dict or not limits:
                raise InvalidArgument(f"bad queue_limits {short_repr(limits)}")
            limits = {g: QueueLimit.from_data(v) for g, v in limits.items()}
        ladders = data.get("ladders")
        if "ladders" in data:
            if type(ladders) is not dict or not ladders:
                raise InvalidArgument(f"bad ladders {short_repr(ladders)}")
            ladders = {g: [LadderStep.from_data(step) for step in _plain_list(steps)]
                       for g, steps in ladders.items()}
        kinds = data.get("session_kinds")
        if "session_kinds" in data and (type(kinds) is not dict or not kinds):
            raise InvalidArgument(f"bad session_kinds {short_repr(kinds)}")
        name = data["strategy"]
        strategy = next((s for s in Strategy if type(name) is str and s.value == name), None)
        if strategy is None:
            raise InvalidArgument(f"unknown strategy {short_repr(name)}")
        return cls(
            strategy=strategy,
            offline_diversion=data["offline_diversion"],
            auto_close_after=data["auto_close_after"],
            first_response_timeout=data["first_response_timeout"],
            sticky_window=data["sticky_window"],
            queue_limits=limits,
            ladders=ladders,
            session_kinds=kinds,
        )


def _plain_list(value: object) -> list[Any]:
    if type(value) is not list:
        raise InvalidArgument(f"bad ladder {short_repr(value)}")
    return value


class SessionState(enum.Enum):
    WAITING = "waiting"  # in the queue pool or the offline pool
    ASSIGNED = "assigned"  # in an agent's reception list


@attrs.frozen
class SessionView:
    """A read-only look at one open session.

    ``timed_out``: the agents who let it time out (R18); it is never handed
    to them automatically again. ``step``: how many steps of its group's
    escalation ladder (R24) it has reached in its current wait (0 while
    assigned, and before the first step). ``kind``: its session kind (R26), or
    None for a session opened without one (weight 1).
    """

    session_id: str
    buyer_id: str | None
    group: str | None
    priority: int
    state: SessionState
    agent_id: str | None
    pool: Pool | None
    opened_at: float
    timed_out: frozenset[str] = frozenset()
    step: int = 0
    kind: str | None = None


@attrs.frozen
class AgentView:
    """A read-only look at one agent.

    ``away`` (R27): online but taking no automatic assignment; an away agent
    is always ``online``. ``load`` is the sum of the capacity weights of the
    agent's open sessions (R26; a session without a kind weighs 1, so without
    session kinds it is their number); ``sessions`` is their number.
    """

    agent_id: str
    cap: Cap
    groups: frozenset[str] | None
    weight: int
    online: bool
    load: int
    away: bool = False
    sessions: int = 0
