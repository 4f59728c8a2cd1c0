"""Every error kefu raises: all subclass :class:`KefuError`.

A rejected call changes nothing (R22); the message names the offending id or
value so that a log line alone says what went wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kefu._text import short_repr

__all__ = [
    "AgentOffline",
    "BatchAborted",
    "ConcurrentCall",
    "DuplicateAgent",
    "DuplicateSession",
    "HostClosed",
    "InvalidArgument",
    "InvalidAssign",
    "InvalidCap",
    "InvalidEvent",
    "InvalidSnapshot",
    "InvalidTransfer",
    "InvalidWeight",
    "JournalCorrupt",
    "KefuError",
    "NotHolder",
    "RequestConflict",
    "SessionWaiting",
    "ShopBusy",
    "ShopFailed",
    "StoreError",
    "SubscriberLagged",
    "UnknownAgent",
    "UnknownKind",
    "UnknownSession",
]


class KefuError(Exception):
    """Base of every error kefu raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as it is (its message and attributes), not by calling ``__init__``
        again with the message: errors cross process boundaries (multiprocessing,
        concurrent.futures) with their message and fields intact."""
        return (_restored, (type(self), self.args, dict(self.__dict__)))


def _restored(cls: type[KefuError], args: tuple[object, ...],
              state: dict[str, object]) -> KefuError:
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    return err


class InvalidArgument(KefuError, ValueError):
    """An argument has the wrong type or an impossible value."""


class InvalidCap(InvalidArgument):
    """A cap that is not UNLIMITED, SUSPENDED or an integer 1..500 (R01)."""

    def __init__(self, value: object) -> None:
        super().__init__(
            f"invalid cap {short_repr(value)}: use Cap.UNLIMITED, Cap.SUSPENDED or an integer"
            " 1..500"
        )
        self.value = value


class InvalidWeight(InvalidArgument):
    """A WEIGHTED diversion ratio that is not an integer 0..10000 (R11)."""

    def __init__(self, value: object) -> None:
        super().__init__(f"invalid weight {short_repr(value)}: use an integer 0..10000")
        self.value = value


class UnknownAgent(KefuError, LookupError):
    """No agent with this id is registered."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {short_repr(agent_id)}")
        self.agent_id = agent_id


class DuplicateAgent(KefuError):
    """An agent with this id is already registered."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {short_repr(agent_id)} is already registered")
        self.agent_id = agent_id


class UnknownSession(KefuError, LookupError):
    """No open session with this id (never opened, or already closed: R16)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"unknown session {short_repr(session_id)} (never opened or already closed)"
        )
        self.session_id = session_id


class UnknownKind(InvalidArgument, LookupError):
    """A session kind (R26) that the Assigner's ``session_kinds`` does not configure."""

    def __init__(self, kind: str, known: tuple[str, ...]) -> None:
        names = ", ".join(short_repr(k) for k in known[:8]) + (", ..." if len(known) > 8 else "")
        super().__init__(
            f"unknown session kind {short_repr(kind)}: configure it in session_kinds"
            f" ({'known: ' + names if known else 'none are configured'})"
        )
        self.kind = kind


class DuplicateSession(KefuError):
    """A session with this id is already open."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {short_repr(session_id)} is already open")
        self.session_id = session_id


class AgentOffline(KefuError):
    """Manual assignment or transfer to an agent who is offline (R02, R14)."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {short_repr(agent_id)} is offline")
        self.agent_id = agent_id


class InvalidTransfer(KefuError):
    """A transfer that cannot happen: to the same agent, or of a waiting session (R14)."""

    def __init__(self, session_id: str, reason: str) -> None:
        super().__init__(f"cannot transfer session {short_repr(session_id)}: {reason}")
        self.session_id = session_id


class InvalidAssign(KefuError):
    """Manual assignment of a session that is not waiting (R14)."""

    def __init__(self, session_id: str, agent_id: str) -> None:
        super().__init__(
            f"cannot assign session {short_repr(session_id)}: it is already with agent"
            f" {short_repr(agent_id)}"
            " (use transfer)"
        )
        self.session_id = session_id
        self.agent_id = agent_id


class SessionWaiting(KefuError):
    """A human agent message to a session that waits in a pool (R17)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {short_repr(session_id)} is waiting in a pool: only a system auto-reply"
            " (auto=True) can be sent to it"
        )
        self.session_id = session_id


class NotHolder(KefuError, ValueError):
    """An agent message attributed to an agent who does not hold the session (S04).

    ``agent_message(session_id, agent_id=...)`` names the sender; a message
    from anyone but the session's current agent (the session waits in a
    pool, another agent holds it, or the agent is not registered) is
    refused and changes nothing: in particular it does not stop the
    holder's first-response timer (R18). ``holder`` is the agent who holds
    the session, or None while it waits.
    """

    def __init__(self, session_id: str, agent_id: str, holder: str | None, known: bool) -> None:
        if not known:
            why = "no agent with this id is registered"
        elif holder is None:
            why = "the session is waiting in a pool"
        else:
            why = f"agent {short_repr(holder)} holds it"
        super().__init__(
            f"agent {short_repr(agent_id)} does not hold session {short_repr(session_id)}: {why}"
        )
        self.session_id = session_id
        self.agent_id = agent_id
        self.holder = holder


class ConcurrentCall(KefuError, RuntimeError):
    """A call overlapped another call on the same Assigner (S02: one writer), or on
    an object that shares its rule (``owner`` names it: a ``Recorder``).

    An Assigner is not thread-safe: a call made while another call on it is
    still running (from another thread, or re-entrantly from its clock's
    ``now()``, a groups iterable or a batch's command iterable) raises this
    and changes nothing. Serialise calls per shop (one thread, one asyncio
    task, or a lock of your own); the running call is not disturbed.
    """

    def __init__(self, method: str, owner: str = "Assigner") -> None:
        article = "an" if owner[:1] in ("A", "E", "I", "O", "U") else "a"
        super().__init__(
            f"{owner}.{method}() called while another call on the same {owner} is running;"
            f" {article} {owner} has one writer: serialise calls per shop"
        )
        self.method = method
        self.owner = owner


class InvalidSnapshot(KefuError, ValueError):
    """A snapshot that is corrupt, inconsistent or of an unknown version."""


class InvalidEvent(InvalidArgument):
    """Data that ``kefu.events.from_dict`` cannot read as an event (S03).

    Not a dict, an unknown kind or schema version, missing or unexpected
    fields, or a field of the wrong type or value; the message names the
    first fault and quotes the offending value, cut short.
    """


class BatchAborted(KefuError):
    """A command of ``Assigner.apply`` failed; the commands before it stay applied.

    ``index`` and ``command`` name the failing command, ``cause`` is its error
    (also ``__cause__``), ``events`` are the events of the commands before it,
    and ``at`` is the batch's time when it failed (``Assigner.apply_columns``: ``index``
    is the row, ``command`` the row as an ``apply`` command, ``events`` its
    :class:`~kefu.EventColumns`). If the commands iterable
    itself raised, ``cause`` is that error and ``command`` is None.
    """

    def __init__(self, index: int, command: object, cause: Exception, events: Sequence[Any],
                 at: float) -> None:
        if command is None:
            what = f"the commands iterable failed before command {index}: {short_repr(cause)}"
        else:
            reason = str(cause) if isinstance(cause, KefuError) else short_repr(cause)
            what = f"command {index} {short_repr(command)} failed: {reason}"
        super().__init__(what)
        self.index = index
        self.command = command
        self.cause = cause
        self.events = events
        self.at = at


# -- durable shops (kefu.durable) ----------------------------------------------


class StoreError(KefuError):
    """A durable shop's store failed or holds data kefu cannot use."""


class ShopBusy(StoreError):
    """Another writer holds this shop: one shop has one writer at a time (S07).

    The holder may be another process or another ``DurableShop`` in this
    one. A writer that dies releases the shop at once (the lock belongs to
    its process or its database connection), so retrying after a crash
    never waits for a lease to expire.
    """

    def __init__(self, shop_id: str) -> None:
        super().__init__(f"shop {short_repr(shop_id)} already has a writer")
        self.shop_id = shop_id


class JournalCorrupt(StoreError):
    """The stored snapshot or journal of a shop fails its checks (S05).

    A torn or altered record is reported, never replayed: ``seq`` is the
    first bad journal position (0 for the snapshot).
    """

    def __init__(self, shop_id: str, seq: int, why: str) -> None:
        super().__init__(f"shop {short_repr(shop_id)}: journal entry {seq} is corrupt: {why}")
        self.shop_id = shop_id
        self.seq = seq


class ShopFailed(StoreError):
    """A write to the store failed, so this shop object no longer matches the store.

    The commands it acknowledged are safe in the store; open the shop again
    to go on from them.
    """


class RequestConflict(InvalidArgument):
    """A request id the shop already holds came with a different command (S06)."""

    def __init__(self, request_id: str, first: str, again: str) -> None:
        super().__init__(
            f"request id {short_repr(request_id)} was used for {short_repr(first)},"
            f" not {short_repr(again)}"
        )
        self.request_id = request_id


# -- the asyncio host (kefu.host) ------------------------------------------------


class HostClosed(KefuError, RuntimeError):
    """A call reached a ``kefu.host.Host`` that is closing or closed: it takes no new calls."""


class SubscriberLagged(KefuError):
    """A subscriber fell ``limit`` events behind its shop and was disconnected.

    A slow subscriber must not stall its shop nor hold events without bound:
    once its queue is full it receives nothing more, and its iterator raises
    this after yielding the events it already holds. The events after those
    are lost to it: subscribe again and read the shop's current state.
    """

    def __init__(self, shop_id: str, limit: int) -> None:
        super().__init__(
            f"subscriber of shop {short_repr(shop_id)} fell {limit} events behind and was"
            " disconnected; subscribe again and re-read the shop's state"
        )
        self.shop_id = shop_id
        self.limit = limit
