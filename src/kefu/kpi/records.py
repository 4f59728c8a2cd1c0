"""Typed input records of the KPI functions (SPEC part B).

All times are POSIX seconds (float). Records are immutable values; a KPI
function takes plain iterables of them, in any order and possibly duplicated
(see :mod:`kefu.kpi.timeline` for how that is resolved). Validation is one
cheap check per record at construction, so that a bad record fails where it
is made rather than deep inside a computation.
"""

from __future__ import annotations

import enum
import math

import attrs

from kefu.kpi.errors import InvalidRecord

__all__ = [
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


def _time(owner: str, name: str, value: object) -> None:
    if type(value) is float:
        if value - value == 0.0:  # false for inf and nan
            return
    elif type(value) is int:
        return
    raise InvalidRecord(
        f"{owner}.{name} must be finite POSIX seconds (float), got {value!r}"
        " (convert aware datetimes with kefu.kpi.to_posix)"
    )


def _str(owner: str, name: str, value: object, optional: bool = False) -> None:
    if isinstance(value, str) or (optional and value is None):
        return
    kind = "a str or None" if optional else "a str"
    raise InvalidRecord(f"{owner}.{name} must be {kind}, got {value!r}")


def _int(owner: str, name: str, value: object) -> None:
    if type(value) is not int:
        raise InvalidRecord(f"{owner}.{name} must be an int, got {value!r}")


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
            raise InvalidRecord(f"Message.sender must be a Sender, got {self.sender!r}")
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
            raise InvalidRecord(f"Evaluation.rating must be a Rating, got {self.rating!r}")
        if not isinstance(self.source, EvalSource):
            raise InvalidRecord(f"Evaluation.source must be an EvalSource, got {self.source!r}")
        if type(self.by_bot) is not bool:
            raise InvalidRecord(f"Evaluation.by_bot must be a bool, got {self.by_bot!r}")
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
        if isinstance(self.amount, bool) or not isinstance(self.amount, (int, float)) or (
            not math.isfinite(self.amount)
        ):
            raise InvalidRecord(f"Order.amount must be a finite number, got {self.amount!r}")


@attrs.frozen
class Exclusion:
    """A buyer removed from every figure, retroactively (K06; e.g. reported as malicious)."""

    buyer_id: str
    reason: str = "malicious"

    def __attrs_post_init__(self) -> None:
        _str("Exclusion", "buyer_id", self.buyer_id)
        _str("Exclusion", "reason", self.reason)


def __getattr__(name: str) -> object:
    """``kefu.kpi.records.from_events`` (the path DESIGN.md names) lives in kefu.kpi.adapter.

    Resolved lazily because the adapter imports these records.
    """
    if name == "from_events":
        from kefu.kpi.adapter import from_events

        return from_events
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
