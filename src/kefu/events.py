"""Events: what an Assigner call caused (R21).

Every mutating call returns a ``list[Event]`` in causal order. Events are
immutable values that compare by value, so a backend can persist them, push
them to clients, or compare two engines' streams (R23). Every event names
its session and that session's buyer (``buyer_id``, None for a session
opened without one), so a backend can push it to the buyer's client without
a lookup (S03).

On the wire (S03): ``event.to_dict()`` is plain JSON data naming the event's
kind and the schema version, and :func:`from_dict` reads it back into an
equal event, refusing anything else with :class:`~kefu.errors.InvalidEvent`.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs

from kefu import _event_codec as _codec

__all__ = [
    "EVENT_KINDS",
    "EVENT_SCHEMA_VERSION",
    "AssignReason",
    "Assigned",
    "CloseReason",
    "Closed",
    "Escalated",
    "Event",
    "Opened",
    "Overflowed",
    "Pool",
    "Queued",
    "Reassigned",
    "Rejected",
    "RequeueReason",
    "Requeued",
    "ResponseTimedOut",
    "Transferred",
    "from_dict",
]

#: The version of the wire form ``to_dict()`` writes (its ``"v"``) and
#: :func:`from_dict` reads.
EVENT_SCHEMA_VERSION = _codec.SCHEMA_VERSION


class Pool(enum.Enum):
    """Where a waiting session waits (R04, R08)."""

    QUEUE = "queue"
    OFFLINE = "offline"


class AssignReason(enum.Enum):
    """Why a session entered an agent's reception list."""

    NEW = "new"  # R03: assigned on arrival by the strategy
    STICKY = "sticky"  # R13: returned to the buyer's previous agent
    DRAIN = "drain"  # R05/R08/R09: left a pool
    REQUEUE = "requeue"  # R10/R15: placed again after its agent left or went offline
    MANUAL = "manual"  # R14: assign() by an admin or another agent


class RequeueReason(enum.Enum):
    """Why a session left its agent for the waiting line."""

    AGENT_OFFLINE = "agent_offline"  # R15 with requeue=True, or R27's grace period ended
    AGENT_REMOVED = "agent_removed"  # R10


class CloseReason(enum.Enum):
    """How a session ended."""

    MANUAL = "manual"  # R16
    AUTO = "auto"  # R17


class _Event:
    """What every event kind shares: its wire name and :meth:`to_dict`."""

    __slots__ = ()
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """This event as plain JSON data: ``{"kind": ..., "v": 1, <fields>...}`` (S03).

        Enums become their string values; :func:`from_dict` reads it back.
        Cost: O(fields).
        """
        return _codec.encode(self, _SCHEMAS[type(self)])


@attrs.frozen
class Opened(_Event):
    """A buyer's first message opened a session (always the first event of open_session)."""

    kind: ClassVar[str] = "opened"
    session_id: str
    buyer_id: str | None
    group: str | None
    priority: int
    at: float
    #: R26: the session kind it was opened with, or None (weight 1). Named so because
    #: ``kind`` is every event's wire name.
    session_kind: str | None = None


@attrs.frozen
class Assigned(_Event):
    """A session entered an agent's reception list (R03, R05, R13, R14)."""

    kind: ClassVar[str] = "assigned"
    session_id: str
    agent_id: str
    at: float
    reason: AssignReason
    buyer_id: str | None = None


@attrs.frozen
class Queued(_Event):
    """A session found no eligible agent and waits in ``pool`` (R04, R08, R09)."""

    kind: ClassVar[str] = "queued"
    session_id: str
    pool: Pool
    at: float
    buyer_id: str | None = None


@attrs.frozen
class Transferred(_Event):
    """A manual transfer moved an open session to another agent (R14)."""

    kind: ClassVar[str] = "transferred"
    session_id: str
    from_agent: str
    to_agent: str
    at: float
    buyer_id: str | None = None


@attrs.frozen
class ResponseTimedOut(_Event):
    """The agent sent no human reply within the first-response timeout (R18)."""

    kind: ClassVar[str] = "response_timed_out"
    session_id: str
    agent_id: str
    at: float
    buyer_id: str | None = None


@attrs.frozen
class Reassigned(_Event):
    """After a first-response timeout, the session moved to another agent (R18)."""

    kind: ClassVar[str] = "reassigned"
    session_id: str
    from_agent: str
    to_agent: str
    at: float
    buyer_id: str | None = None


@attrs.frozen
class Requeued(_Event):
    """A session left its agent for the waiting line (R10, R15)."""

    kind: ClassVar[str] = "requeued"
    session_id: str
    agent_id: str
    at: float
    reason: RequeueReason
    buyer_id: str | None = None


@attrs.frozen
class Closed(_Event):
    """A session ended; ``agent_id`` is None (and ``pool`` set) if it was waiting (R16, R17)."""

    kind: ClassVar[str] = "closed"
    session_id: str
    agent_id: str | None
    pool: Pool | None
    at: float
    reason: CloseReason
    buyer_id: str | None = None


@attrs.frozen
class Overflowed(_Event):
    """A new session found its group's queue at its limit and moved to the overflow group
    (R28); from now on it is a session of ``to_group``."""

    kind: ClassVar[str] = "overflowed"
    session_id: str
    from_group: str
    to_group: str
    at: float
    buyer_id: str | None = None


@attrs.frozen
class Rejected(_Event):
    """A new session found ``group``'s queue at its limit, with nowhere to overflow: it is
    refused and not open afterwards (R28). The backend may offer a leave-a-message form."""

    kind: ClassVar[str] = "rejected"
    session_id: str
    group: str
    at: float
    buyer_id: str | None = None


@attrs.frozen
class Escalated(_Event):
    """A waiting session of ``group`` reached step ``step`` (from 1) of its group's
    escalation ladder (R24): the agents of ``groups`` (sorted; None: every agent) may take
    it from now on, besides those it could go to before. An ``Assigned`` follows at once
    when one of them has room."""

    kind: ClassVar[str] = "escalated"
    session_id: str
    group: str
    step: int
    groups: tuple[str, ...] | None
    at: float
    buyer_id: str | None = None


Event = (Opened | Assigned | Queued | Transferred | ResponseTimedOut | Reassigned | Requeued
         | Closed | Overflowed | Rejected | Escalated)


def _schema(cls: type[_Event], *fields: _codec.Field) -> _codec.Schema:
    return _codec.Schema(cls.kind, cls, fields)


_ID, _OPT_ID, _AT = _codec.ID, _codec.OPTIONAL_ID, _codec.TIME
_BUYER = _codec.Field("buyer_id", _OPT_ID)
_SCHEMAS: dict[type[_Event], _codec.Schema] = {schema.cls: schema for schema in (
    _schema(Opened, _codec.Field("session_id", _ID), _BUYER, _codec.Field("group", _OPT_ID),
            _codec.Field("priority", _codec.PRIORITY),
            _codec.Field("session_kind", _OPT_ID, optional=True), _codec.Field("at", _AT)),
    _schema(Assigned, _codec.Field("session_id", _ID), _BUYER, _codec.Field("agent_id", _ID),
            _codec.Field("reason", _codec.enum_value(AssignReason)), _codec.Field("at", _AT)),
    _schema(Queued, _codec.Field("session_id", _ID), _BUYER,
            _codec.Field("pool", _codec.enum_value(Pool)), _codec.Field("at", _AT)),
    _schema(Transferred, _codec.Field("session_id", _ID), _BUYER,
            _codec.Field("from_agent", _ID), _codec.Field("to_agent", _ID),
            _codec.Field("at", _AT)),
    _schema(ResponseTimedOut, _codec.Field("session_id", _ID), _BUYER,
            _codec.Field("agent_id", _ID), _codec.Field("at", _AT)),
    _schema(Reassigned, _codec.Field("session_id", _ID), _BUYER,
            _codec.Field("from_agent", _ID), _codec.Field("to_agent", _ID),
            _codec.Field("at", _AT)),
    _schema(Requeued, _codec.Field("session_id", _ID), _BUYER, _codec.Field("agent_id", _ID),
            _codec.Field("reason", _codec.enum_value(RequeueReason)), _codec.Field("at", _AT)),
    _schema(Closed, _codec.Field("session_id", _ID), _BUYER, _codec.Field("agent_id", _OPT_ID),
            _codec.Field("pool", _codec.enum_value(Pool, optional=True)),
            _codec.Field("reason", _codec.enum_value(CloseReason)), _codec.Field("at", _AT)),
    _schema(Overflowed, _codec.Field("session_id", _ID), _BUYER,
            _codec.Field("from_group", _ID), _codec.Field("to_group", _ID),
            _codec.Field("at", _AT)),
    _schema(Rejected, _codec.Field("session_id", _ID), _BUYER, _codec.Field("group", _ID),
            _codec.Field("at", _AT)),
    _schema(Escalated, _codec.Field("session_id", _ID), _BUYER, _codec.Field("group", _ID),
            _codec.Field("step", _codec.STEP), _codec.Field("groups", _codec.GROUPS_OR_ANY),
            _codec.Field("at", _AT)),
)}
_BY_KIND: dict[str, _codec.Schema] = {schema.kind: schema for schema in _SCHEMAS.values()}

#: The wire names of the event kinds (the ``"kind"`` of ``to_dict()``), one per class.
EVENT_KINDS: tuple[str, ...] = tuple(_BY_KIND)


def from_dict(data: object) -> Event:
    """The event that ``to_dict()`` turned into ``data`` (S03); an equal event, exactly.

    ``data`` must be exactly that form: a dict with a known ``"kind"``,
    ``"v"`` equal to :data:`EVENT_SCHEMA_VERSION`, and the kind's fields and
    no others, each of its exact type (ids non-empty strings, times finite
    floats, enums their string values). Anything else raises
    :class:`~kefu.errors.InvalidEvent` naming what is wrong; no other
    exception escapes, whatever ``data`` is, and no method of a caller's
    object (a str subclass's ``__eq__`` or ``__hash__``...) runs, except
    ``__repr__`` to quote a refused value (guarded, cut short).
    Cost: O(len(data)).
    """
    event: Event = _codec.decode(data, _BY_KIND)
    return event
