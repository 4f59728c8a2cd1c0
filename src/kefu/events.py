"""Events: what an Assigner call caused (R21).

Every mutating call returns a ``list[Event]`` in causal order. Events are
immutable values that compare by value, so a backend can persist them, push
them to clients, or compare two engines' streams (R23).
"""

from __future__ import annotations

import enum

import attrs

__all__ = [
    "AssignReason",
    "Assigned",
    "CloseReason",
    "Closed",
    "Event",
    "Opened",
    "Pool",
    "Queued",
    "Reassigned",
    "RequeueReason",
    "Requeued",
    "ResponseTimedOut",
    "Transferred",
]


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

    AGENT_OFFLINE = "agent_offline"  # R15 with requeue=True
    AGENT_REMOVED = "agent_removed"  # R10


class CloseReason(enum.Enum):
    """How a session ended."""

    MANUAL = "manual"  # R16
    AUTO = "auto"  # R17


@attrs.frozen
class Opened:
    """A buyer's first message opened a session (always the first event of open_session)."""

    session_id: str
    buyer_id: str | None
    group: str | None
    priority: int
    at: float


@attrs.frozen
class Assigned:
    """A session entered an agent's reception list (R03, R05, R13, R14)."""

    session_id: str
    agent_id: str
    at: float
    reason: AssignReason


@attrs.frozen
class Queued:
    """A session found no eligible agent and waits in ``pool`` (R04, R08, R09)."""

    session_id: str
    pool: Pool
    at: float


@attrs.frozen
class Transferred:
    """A manual transfer moved an open session to another agent (R14)."""

    session_id: str
    from_agent: str
    to_agent: str
    at: float


@attrs.frozen
class ResponseTimedOut:
    """The agent sent no human reply within the first-response timeout (R18)."""

    session_id: str
    agent_id: str
    at: float


@attrs.frozen
class Reassigned:
    """After a first-response timeout, the session moved to another agent (R18)."""

    session_id: str
    from_agent: str
    to_agent: str
    at: float


@attrs.frozen
class Requeued:
    """A session left its agent for the waiting line (R10, R15)."""

    session_id: str
    agent_id: str
    at: float
    reason: RequeueReason


@attrs.frozen
class Closed:
    """A session ended; ``agent_id`` is None (and ``pool`` set) if it was waiting (R16, R17)."""

    session_id: str
    agent_id: str | None
    pool: Pool | None
    at: float
    reason: CloseReason


Event = Opened | Assigned | Queued | Transferred | ResponseTimedOut | Reassigned | Requeued | Closed
