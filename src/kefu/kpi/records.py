"""Typed input records of the KPI functions (rules K00-K11).

All times are POSIX seconds (float or int) in the supported range
[:data:`MIN_TIME`, :data:`MAX_TIME`). Records are immutable values; a KPI
function takes plain iterables of them, in any order and possibly duplicated
(see :mod:`kefu.kpi.timeline` for how that is resolved). Validation is one
cheap check per record at construction, so that a bad record fails where it
is made rather than deep inside a computation; the KPI functions check the
records again when they read them (:mod:`kefu.kpi.intake`), since a record can
be changed after it was made (``object.__setattr__``).

Construction is on the hot path of every backend and of the simulator (one
record per chat message), so each record's ``__init__`` is written out: one
chained comparison of exact types (``type(x) is str``) and ranges accepts
the common case, and only a value of an unusual type or out of range takes
the full checks, which raise the errors. Fields are stored through the
slots' own descriptors, not the frozen class's ``__setattr__``. Cost: a few
hundred ns per record, no allocation besides the record.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

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


_Setter = Callable[[Any, Any], None]


def _slots(cls: type, *names: str) -> tuple[_Setter, ...]:
    """The setters of ``cls``'s slots ``names``: a field stored past the frozen ``__setattr__``.

    Each is the slot's member descriptor's ``__set__``, bound once at import. O(1) per store.
    """
    return tuple(cls.__dict__[name].__set__ for name in names)


@attrs.frozen(init=False)
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

    def __init__(self, session_id: str, buyer_id: str, at: float, sender: Sender,
                 message_id: str, agent_id: str | None = None, seq: int = 0) -> None:
        if not (type(session_id) is str and type(buyer_id) is str
                and (type(at) is float or type(at) is int) and MIN_TIME <= at < MAX_TIME
                and type(sender) is Sender and type(message_id) is str
                and (agent_id is None or type(agent_id) is str) and type(seq) is int):
            _check_message(session_id, buyer_id, at, sender, message_id, agent_id, seq)
        set_session, set_buyer, set_at, set_sender, set_message, set_agent, set_seq = _MESSAGE
        set_session(self, session_id)
        set_buyer(self, buyer_id)
        set_at(self, at)
        set_sender(self, sender)
        set_message(self, message_id)
        set_agent(self, agent_id)
        set_seq(self, seq)


def _check_message(session_id: object, buyer_id: object, at: object, sender: object,
                   message_id: object, agent_id: object, seq: object) -> None:
    """Raise the error for the first bad field of a Message, in field order."""
    _str("Message", "session_id", session_id)
    _str("Message", "buyer_id", buyer_id)
    _time("Message", "at", at)
    if not isinstance(sender, Sender):
        raise InvalidRecord(f"Message.sender must be a Sender, got {short_repr(sender)}")
    _str("Message", "message_id", message_id)
    if agent_id is not None:
        _str("Message", "agent_id", agent_id)
    _int("Message", "seq", seq)


_MESSAGE = _slots(Message, "session_id", "buyer_id", "at", "sender", "message_id", "agent_id",
                  "seq")


@attrs.frozen(init=False)
class Handover:
    """The session entered ``agent_id``'s reception list (assignment, transfer, reassignment)."""

    session_id: str
    buyer_id: str
    agent_id: str
    at: float
    group: str | None = None
    seq: int = 0

    def __init__(self, session_id: str, buyer_id: str, agent_id: str, at: float,
                 group: str | None = None, seq: int = 0) -> None:
        if not (type(session_id) is str and type(buyer_id) is str and type(agent_id) is str
                and (type(at) is float or type(at) is int) and MIN_TIME <= at < MAX_TIME
                and (group is None or type(group) is str) and type(seq) is int):
            _str("Handover", "session_id", session_id)
            _str("Handover", "buyer_id", buyer_id)
            _str("Handover", "agent_id", agent_id)
            _time("Handover", "at", at)
            _str("Handover", "group", group, optional=True)
            _int("Handover", "seq", seq)
        set_session, set_buyer, set_agent, set_at, set_group, set_seq = _HANDOVER
        set_session(self, session_id)
        set_buyer(self, buyer_id)
        set_agent(self, agent_id)
        set_at(self, at)
        set_group(self, group)
        set_seq(self, seq)


_HANDOVER = _slots(Handover, "session_id", "buyer_id", "agent_id", "at", "group", "seq")


@attrs.frozen(init=False)
class Release:
    """The session left ``agent_id``'s reception list without going to another agent.

    It was closed, or requeued to a pool (R10, R15, R16, R17). Optional input:
    without it an agent's stretch lasts until the next hand-over (K04).
    """

    session_id: str
    agent_id: str
    at: float
    seq: int = 0

    def __init__(self, session_id: str, agent_id: str, at: float, seq: int = 0) -> None:
        if not (type(session_id) is str and type(agent_id) is str
                and (type(at) is float or type(at) is int) and MIN_TIME <= at < MAX_TIME
                and type(seq) is int):
            _str("Release", "session_id", session_id)
            _str("Release", "agent_id", agent_id)
            _time("Release", "at", at)
            _int("Release", "seq", seq)
        set_session, set_agent, set_at, set_seq = _RELEASE
        set_session(self, session_id)
        set_agent(self, agent_id)
        set_at(self, at)
        set_seq(self, seq)


_RELEASE = _slots(Release, "session_id", "agent_id", "at", "seq")


@attrs.frozen(init=False)
class HumanRequest:
    """The bot handed the buyer to human service (转人工, K02)."""

    session_id: str
    buyer_id: str
    at: float
    seq: int = 0

    def __init__(self, session_id: str, buyer_id: str, at: float, seq: int = 0) -> None:
        if not (type(session_id) is str and type(buyer_id) is str
                and (type(at) is float or type(at) is int) and MIN_TIME <= at < MAX_TIME
                and type(seq) is int):
            _str("HumanRequest", "session_id", session_id)
            _str("HumanRequest", "buyer_id", buyer_id)
            _time("HumanRequest", "at", at)
            _int("HumanRequest", "seq", seq)
        set_session, set_buyer, set_at, set_seq = _HUMAN_REQUEST
        set_session(self, session_id)
        set_buyer(self, buyer_id)
        set_at(self, at)
        set_seq(self, seq)


_HUMAN_REQUEST = _slots(HumanRequest, "session_id", "buyer_id", "at", "seq")


@attrs.frozen(init=False)
class SessionEnd:
    """The session ended: an agent or the system closed it, or the buyer left (K02, K13).

    Optional input. It tells a buyer who gave up waiting (the session ended
    before any agent took it) from one still waiting, and when they gave up.
    ``group``, when given, is the group the session waited for: a session
    no agent ever took has no hand-over to name its group, so this one does
    (abandonment per group, K13).
    """

    session_id: str
    at: float
    seq: int = 0
    group: str | None = None

    def __init__(self, session_id: str, at: float, seq: int = 0,
                 group: str | None = None) -> None:
        if not (type(session_id) is str and (type(at) is float or type(at) is int)
                and MIN_TIME <= at < MAX_TIME and type(seq) is int
                and (group is None or type(group) is str)):
            _str("SessionEnd", "session_id", session_id)
            _time("SessionEnd", "at", at)
            _int("SessionEnd", "seq", seq)
            _str("SessionEnd", "group", group, optional=True)
        set_session, set_at, set_seq, set_group = _SESSION_END
        set_session(self, session_id)
        set_at(self, at)
        set_seq(self, seq)
        set_group(self, group)


_SESSION_END = _slots(SessionEnd, "session_id", "at", "seq", "group")


@attrs.frozen(init=False)
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

    def __init__(self, agent_id: str, at: float, online: bool, seq: int = 0) -> None:
        if not (type(agent_id) is str and (type(at) is float or type(at) is int)
                and MIN_TIME <= at < MAX_TIME and type(online) is bool and type(seq) is int):
            _str("AgentStatus", "agent_id", agent_id)
            _time("AgentStatus", "at", at)
            if type(online) is not bool:
                raise InvalidRecord(
                    f"AgentStatus.online must be a bool, got {short_repr(online)}")
            _int("AgentStatus", "seq", seq)
        set_agent, set_at, set_online, set_seq = _AGENT_STATUS
        set_agent(self, agent_id)
        set_at(self, at)
        set_online(self, online)
        set_seq(self, seq)


_AGENT_STATUS = _slots(AgentStatus, "agent_id", "at", "online", "seq")


@attrs.frozen(init=False)
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

    def __init__(self, session_id: str, buyer_id: str, agent_id: str | None, sent_at: float,
                 rating: Rating, source: EvalSource, by_bot: bool = False,
                 card_id: str | None = None, rated_at: float | None = None) -> None:
        if not (type(session_id) is str and type(buyer_id) is str
                and (agent_id is None or type(agent_id) is str)
                and (type(sent_at) is float or type(sent_at) is int)
                and MIN_TIME <= sent_at < MAX_TIME
                and type(rating) is Rating and type(source) is EvalSource
                and type(by_bot) is bool and (card_id is None or type(card_id) is str)
                and (rated_at is None or ((type(rated_at) is float or type(rated_at) is int)
                                          and MIN_TIME <= rated_at < MAX_TIME))):
            _check_evaluation(session_id, buyer_id, agent_id, sent_at, rating, source, by_bot,
                              card_id, rated_at)
        (set_session, set_buyer, set_agent, set_sent, set_rating, set_source, set_by_bot,
         set_card, set_rated) = _EVALUATION
        set_session(self, session_id)
        set_buyer(self, buyer_id)
        set_agent(self, agent_id)
        set_sent(self, sent_at)
        set_rating(self, rating)
        set_source(self, source)
        set_by_bot(self, by_bot)
        set_card(self, card_id)
        set_rated(self, rated_at)


def _check_evaluation(session_id: object, buyer_id: object, agent_id: object, sent_at: object,
                      rating: object, source: object, by_bot: object, card_id: object,
                      rated_at: object) -> None:
    """Raise the error for the first bad field of an Evaluation, in field order."""
    _str("Evaluation", "session_id", session_id)
    _str("Evaluation", "buyer_id", buyer_id)
    _str("Evaluation", "agent_id", agent_id, optional=True)
    _time("Evaluation", "sent_at", sent_at)
    if not isinstance(rating, Rating):
        raise InvalidRecord(f"Evaluation.rating must be a Rating, got {short_repr(rating)}")
    if not isinstance(source, EvalSource):
        raise InvalidRecord(
            f"Evaluation.source must be an EvalSource, got {short_repr(source)}")
    if type(by_bot) is not bool:
        raise InvalidRecord(f"Evaluation.by_bot must be a bool, got {short_repr(by_bot)}")
    _str("Evaluation", "card_id", card_id, optional=True)
    if rated_at is not None:
        _time("Evaluation", "rated_at", rated_at)


_EVALUATION = _slots(Evaluation, "session_id", "buyer_id", "agent_id", "sent_at", "rating",
                     "source", "by_bot", "card_id", "rated_at")


@attrs.frozen(init=False)
class Order:
    """A buyer's order, for inquiry conversion and group PK (K10)."""

    order_id: str
    buyer_id: str
    at: float
    amount: float

    def __init__(self, order_id: str, buyer_id: str, at: float, amount: float) -> None:
        if not (type(order_id) is str and type(buyer_id) is str
                and (type(at) is float or type(at) is int) and MIN_TIME <= at < MAX_TIME
                and (type(amount) is float or type(amount) is int)
                and -MAX_AMOUNT <= amount <= MAX_AMOUNT):
            _str("Order", "order_id", order_id)
            _str("Order", "buyer_id", buyer_id)
            _time("Order", "at", at)
            if not ((type(amount) is float or type(amount) is int)
                    and -MAX_AMOUNT <= amount <= MAX_AMOUNT):
                raise InvalidRecord(f"Order.amount must be a finite float or int of at most"
                                    f" 2**53 in absolute value, got {short_repr(amount)}")
        set_order, set_buyer, set_at, set_amount = _ORDER
        set_order(self, order_id)
        set_buyer(self, buyer_id)
        set_at(self, at)
        set_amount(self, amount)


_ORDER = _slots(Order, "order_id", "buyer_id", "at", "amount")


@attrs.frozen(init=False)
class Exclusion:
    """A buyer removed from every figure, retroactively (K06; e.g. reported as malicious)."""

    buyer_id: str
    reason: str = "malicious"

    def __init__(self, buyer_id: str, reason: str = "malicious") -> None:
        if not (type(buyer_id) is str and type(reason) is str):
            _str("Exclusion", "buyer_id", buyer_id)
            _str("Exclusion", "reason", reason)
        set_buyer, set_reason = _EXCLUSION
        set_buyer(self, buyer_id)
        set_reason(self, reason)


_EXCLUSION = _slots(Exclusion, "buyer_id", "reason")


def __getattr__(name: str) -> object:
    """``kefu.kpi.records.from_events`` (an import path kept working) lives in kefu.kpi.adapter.

    Resolved lazily because the adapter imports these records.
    """
    if name == "from_events":
        from kefu.kpi.adapter import from_events

        return from_events
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
