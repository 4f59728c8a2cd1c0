"""Every error kefu raises: all subclass :class:`KefuError`.

A rejected call changes nothing (R22); the message names the offending id or
value so that a log line alone says what went wrong.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentOffline",
    "BatchAborted",
    "DuplicateAgent",
    "DuplicateSession",
    "InvalidArgument",
    "InvalidAssign",
    "InvalidCap",
    "InvalidSnapshot",
    "InvalidTransfer",
    "InvalidWeight",
    "KefuError",
    "SessionWaiting",
    "UnknownAgent",
    "UnknownSession",
]


class KefuError(Exception):
    """Base of every error kefu raises."""


class InvalidArgument(KefuError, ValueError):
    """An argument has the wrong type or an impossible value."""


class InvalidCap(InvalidArgument):
    """A cap that is not UNLIMITED, SUSPENDED or an integer 1..500 (R01)."""

    def __init__(self, value: object) -> None:
        super().__init__(
            f"invalid cap {value!r}: use Cap.UNLIMITED, Cap.SUSPENDED or an integer 1..500"
        )
        self.value = value


class InvalidWeight(InvalidArgument):
    """A WEIGHTED diversion ratio that is not an integer 0..10000 (R11)."""

    def __init__(self, value: object) -> None:
        super().__init__(f"invalid weight {value!r}: use an integer 0..10000")
        self.value = value


class UnknownAgent(KefuError, LookupError):
    """No agent with this id is registered."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id!r}")
        self.agent_id = agent_id


class DuplicateAgent(KefuError):
    """An agent with this id is already registered."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {agent_id!r} is already registered")
        self.agent_id = agent_id


class UnknownSession(KefuError, LookupError):
    """No open session with this id (never opened, or already closed: R16)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"unknown session {session_id!r} (never opened or already closed)")
        self.session_id = session_id


class DuplicateSession(KefuError):
    """A session with this id is already open."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} is already open")
        self.session_id = session_id


class AgentOffline(KefuError):
    """Manual assignment or transfer to an agent who is offline (R02, R14)."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {agent_id!r} is offline")
        self.agent_id = agent_id


class InvalidTransfer(KefuError):
    """A transfer that cannot happen: to the same agent, or of a waiting session (R14)."""

    def __init__(self, session_id: str, reason: str) -> None:
        super().__init__(f"cannot transfer session {session_id!r}: {reason}")
        self.session_id = session_id


class InvalidAssign(KefuError):
    """Manual assignment of a session that is not waiting (R14)."""

    def __init__(self, session_id: str, agent_id: str) -> None:
        super().__init__(
            f"cannot assign session {session_id!r}: it is already with agent {agent_id!r}"
            " (use transfer)"
        )
        self.session_id = session_id
        self.agent_id = agent_id


class SessionWaiting(KefuError):
    """A human agent message to a session that waits in a pool (R17)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {session_id!r} is waiting in a pool: only a system auto-reply"
            " (auto=True) can be sent to it"
        )
        self.session_id = session_id


class InvalidSnapshot(KefuError, ValueError):
    """A snapshot that is corrupt, inconsistent or of an unknown version."""


class BatchAborted(KefuError):
    """A command of ``Assigner.apply`` failed; the commands before it stay applied.

    ``index`` and ``command`` name the failing command, ``cause`` is its error
    (also ``__cause__``), ``events`` are the events of the commands before it,
    and ``at`` is the batch's time when it failed. If the commands iterable
    itself raised, ``cause`` is that error and ``command`` is None.
    """

    def __init__(self, index: int, command: object, cause: Exception, events: list[Any],
                 at: float) -> None:
        if command is None:
            what = f"the commands iterable failed before command {index}: {cause!r}"
        else:
            what = f"command {index} {command!r} failed: {cause}"
        super().__init__(what)
        self.index = index
        self.command = command
        self.cause = cause
        self.events = events
        self.at = at
