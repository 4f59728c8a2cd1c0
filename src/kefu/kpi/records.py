"""Typed input records of the KPI functions (rules K00-K11).

All times are POSIX seconds (float or int) in the supported range
[:data:`MIN_TIME`, :data:`MAX_TIME`). Records are immutable values; a KPI
function takes plain iterables of them, in any order and possibly duplicated
(see :mod:`kefu.kpi.timeline` for how that is resolved). Validation is one
cheap check per record at construction, so that a bad record fails where it
is made rather than deep inside a computation; the KPI functions check the
records again when they read them (:mod:`kefu.kpi.intake`), since a record can
be changed after it was made (``object.__setattr__``).
"""

from __future__ import annotations

import enum

import attrs

from kefu._text import short_repr
from kefu.kpi.errors import InvalidRecord

__all__ = [
    "MAX_AMOUNT",
    "MAX_TIME",
    "MIN_TIME",
    "AgentStatus",
    "EvalSource",
    "Evaluation",
    "Exclusion",
    "Handover",
    "HumanRequest",
    "Message",
    "Order",
    "Rating",
    "Release",
    "Sender",
    "SessionEnd",
]


class Sender(enum.Enum):
    """Who wrote a message. Only AGENT (a human) ever answers a buyer (K02)."""

    BUYER = "buyer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"  # auto-reply
    UNKNOWN = "unknown"  # counted in DataQuality, never taken as human

    def __lt__(self, other: object) -> bool:
        # Only consulted when two messages share (at, seq): the buyer's comes first,
        # so a reply stamped with the same instant answers it.
        if not isinstance(other, Sender):
            return NotImplemented
        return _RANK[self] < _RANK[other]


_RANK = {s: i for i, s in enumerate(Sender)}


class Rating(enum.Enum):
    """An evaluation card's answer (满意 / 一般 / 失望)."""

    SATISFIED = "satisfied"
    NORMAL = "normal"
    DISAPPOINTED = "disappointed"


class EvalSource(enum.Enum):
    """Who started the evaluation: all three count for K05."""

    BUYER = "buyer"  # 用户主动评价
    INVITED = "invited"  # 商户邀请评价
    SYSTEM = "system"  # 系统推送评价


#: The supported instants are ``MIN_TIME <= t < MAX_TIME`` POSIX seconds:
#: 1970-01-01T00:00:00Z up to 2106-02-07T06:28:16Z (2**32 s). Every local day of
#: that span exists in any timezone, an int in it is an exact float, and a
#: calendar over the whole span has about 50,000 days, so no time can make a
#: KPI function slow or make ``datetime`` overflow.
MIN_TIME = 0.0
MAX_TIME = 4294967296.0
#: The largest order amount taken (in absolute value): every int up to it is an exact float.
MAX_AMOUNT = 9007199254740992.0


def time_error(owner: str, name: str, value: object) -> InvalidRecord:
    """The error for a record time that is not a supported instant. O(1)."""
    return InvalidRecord(
        f"{owner}.{name} must be POSIX seconds (a float or int) in [0, 2**32), i.e."
        f" 1970-01-01 to 2106-02-07 UTC, got {short_repr(value)}"
        " (convert aware datetimes with kefu.kpi.to_posix)"
    )


def _time(owner: str, name: str, value: object) -> None:
    """Refuse anything but an exact float or int in [MIN_TIME, MAX_TIME) (NaN fails)."""
    if (type(value) is float or type(value) is int) and (
            MIN_TIME <= value < MAX_TIME):
        return
    raise time_error(owner, name, value)


def _str(owner: str, name: str, value: object, optional: bool = False) -> None:
    if isinstance(value, str) or (optional and value is None):
        return
    kind = "a str or None" if optional else "a str"
    raise InvalidRecord(f"{owner}.{name} must be {kind}, got {short_repr(value)}")


def _int(owner: str, name: str, value: object) -> None:
    if type(value) is not int:
        raise InvalidRecord(f"{owner}.{name} must be an int, got {short_repr(value)}")


@attrs.frozen
class Message:
    """One chat message of a session; ``message_id`` identifies duplicates.

    ``seq`` orders messages that share a timestamp (order is by time, then seq).
    ``agent_id`` names the human who wrote an AGENT message, when known.
    """

    session_id: str
    buyer_id: str
    at: float
    sender: Sender
    message_id: str
    agent_id: str | None = None
    seq: int = 0

    def __attrs_post_init__(self) -> None:
        if type(self.session_id) is not str or type(self.buyer_id) is not str:
            _str("Message", "session_id", self.session_id)
            _str("Message", "buyer_id", self.buyer_id)
        _time("Message", "at", self.at)
        if not isinstance(self.sender, Sender):
            raise InvalidRecord(f"Message.sender must be a Sender, got {short_repr(self.sender)}")
        if type(self.message_id) is not str:
            _str("Message", "message_id", self.message_id)
        if self.agent_id is not None:
            _str("Message", "agent_id", self.agent_id)
        if type(self.seq) is not int:
            _int("Message", "seq", self.seq)


@attrs.frozen
class Handover:
    """The session entered ``agent_id``'s reception list (assignment, transfer, reassignment)."""

    session_id: str
    buyer_id: str
    agent_id: str
    at: float
    group: str | None = None
    seq: int = 0

    def __attrs_post_init__(self) -> None:
        _str("Handover", "session_id", self.session_id)
        _str("Handover", "buyer_id", self.buyer_id)
        _str("Handover", "agent_id", self.agent_id)
        _time("Handover", "at", self.at)
        _str("Handover", "group", self.group, optional=True)
        _int("Handover", "seq", self.seq)


@attrs.frozen
class Release:
    """The session left ``agent_id``'s reception list without going to another agent.

    It was closed, or requeued to a pool (R10, R15, R16, R17). Optional input:
    without it an agent's stretch lasts until the next hand-over (K04).
    """

    session_id: str
    agent_id: str
    at: float
    seq: int = 0

    def __attrs_post_init__(self) -> None:
        _str("Release", "session_id", self.session_id)
        _str("Release", "agent_id", self.agent_id)
        _time("Release", "at", self.at)
        _int("Release", "seq", self.seq)


@attrs.frozen
class HumanRequest:
    """The bot handed the buyer to human service (转人工, K02)."""

    session_id: str
    buyer_id: str
    at: float
    seq: int = 0

    def __attrs_post_init__(self) -> None:
        _str("HumanRequest", "session_id", self.session_id)
        _str("HumanRequest", "buyer_id", self.buyer_id)
        _time("HumanRequest", "at", self.at)
        _int("HumanRequest", "seq", self.seq)


@attrs.frozen
class SessionEnd:
    """The session ended: an agent or the system closed it, or the buyer left (K02, K13).

    Optional input. It tells a buyer who gave up waiting (the session ended
    before any agent took it) from one still waiting, and when they gave up.
    """

    session_id: str
    at: float
    seq: int = 0

    def __attrs_post_init__(self) -> None:
        _str("SessionEnd", "session_id", self.session_id)
        _time("SessionEnd", "at", self.at)
        _int("SessionEnd", "seq", self.seq)


@attrs.frozen
class AgentStatus:
    """Agent ``agent_id`` went on line (``online=True``) or off line at ``at`` (K13).

    Optional input: it gives the agents' on-line time, the base of occupancy
    and concurrency. An agent is off line before their first record.
    ``seq`` orders records that share a time.
    """

    agent_id: str
    at: float
    online: bool
    seq: int = 0

    def __attrs_post_init__(self) -> None:
        _str("AgentStatus", "agent_id", self.agent_id)
        _time("AgentStatus", "at", self.at)
        if type(self.online) is not bool:
            raise InvalidRecord(
                f"AgentStatus.online must be a bool, got {short_repr(self.online)}")
        _int("AgentStatus", "seq", self.seq)


@attrs.frozen
class Evaluation:
    """A rated evaluation card (K05).

    ``sent_at`` is when the card was sent (it decides window and day);
    ``rated_at`` when this rating was given (None = at ``sent_at``). A later
    rating of the same ``card_id`` replaces an earlier one.
    """

    session_id: str
    buyer_id: str
    agent_id: str | None
    sent_at: float
    rating: Rating
    source: EvalSource
    by_bot: bool = False
    card_id: str | None = None
    rated_at: float | None = None

    def __attrs_post_init__(self) -> None:
        _str("Evaluation", "session_id", self.session_id)
        _str("Evaluation", "buyer_id", self.buyer_id)
        _str("Evaluation", "agent_id", self.agent_id, optional=True)
        _time("Evaluation", "sent_at", self.sent_at)
        if not isinstance(self.rating, Rating):
            raise InvalidRecord(
                f"Evaluation.rating must be a Rating, got {short_repr(self.rating)}")
        if not isinstance(self.source, EvalSource):
            raise InvalidRecord(
                f"Evaluation.source must be an EvalSource, got {short_repr(self.source)}")
        if type(self.by_bot) is not bool:
            raise InvalidRecord(
                f"Evaluation.by_bot must be a bool, got {short_repr(self.by_bot)}")
        _str("Evaluation", "card_id", self.card_id, optional=True)
        if self.rated_at is not None:
            _time("Evaluation", "rated_at", self.rated_at)


@attrs.frozen
class Order:
    """A buyer's order, for inquiry conversion and group PK (K10)."""

    order_id: str
    buyer_id: str
    at: float
    amount: float

    def __attrs_post_init__(self) -> None:
        _str("Order", "order_id", self.order_id)
        _str("Order", "buyer_id", self.buyer_id)
        _time("Order", "at", self.at)
        amount = self.amount
        if not ((type(amount) is float or type(amount) is int)
                and -MAX_AMOUNT <= amount <= MAX_AMOUNT):
            raise InvalidRecord(f"Order.amount must be a finite float or int of at most 2**53"
                                f" in absolute value, got {short_repr(amount)}")


@attrs.frozen
class Exclusion:
    """A buyer removed from every figure, retroactively (K06; e.g. reported as malicious)."""

    buyer_id: str
    reason: str = "malicious"

    def __attrs_post_init__(self) -> None:
        _str("Exclusion", "buyer_id", self.buyer_id)
        _str("Exclusion", "reason", self.reason)


def __getattr__(name: str) -> object:
    """``kefu.kpi.records.from_events`` (an import path kept working) lives in kefu.kpi.adapter.

    Resolved lazily because the adapter imports these records.
    """
    if name == "from_events":
        from kefu.kpi.adapter import from_events

        return from_events
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
