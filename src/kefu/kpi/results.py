"""Result values of the KPI functions (K07, K09) and the tally that builds them.

Every rate is a :class:`Rate`: counts of units by status at ``as_of``, the
decided rate, K07's bounds and at-risk count, and breakdowns by day, group
and agent. Nothing here computes a KPI; it only counts what the rule modules
decided.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, TypeVar

import attrs

from kefu.kpi.kernel import exact_sum

__all__ = [
    "AgentScore",
    "DataQuality",
    "Durations",
    "GroupPK",
    "Rate",
    "ResponseStats",
    "ResponseTimes",
    "Satisfaction",
    "ShopReplyRate",
    "Status",
    "TeamScore",
    "Unit",
    "status_of",
]


class Status(enum.Enum):
    """A unit's state at ``as_of`` (K07)."""

    MET = "met"
    MISSED = "missed"
    PENDING = "pending"  # clock running, threshold not yet passed: counted neither way
    EXCLUDED = "excluded"  # removed (K06); ``Unit.reason`` says why


@attrs.frozen
class DataQuality:
    """What was wrong with the input and how it was handled.

    - duplicates: records dropped as repeats (same message/order id, or identical records)
    - conflicts: repeats of an id with different content (one kept: the earliest)
    - unknown_senders: messages from Sender.UNKNOWN (never taken as a human reply)
    - out_of_order: messages whose ``seq`` contradicts their time order in a session
    - negative_durations: pairs in the wrong order (a human reply before the switch
      to human service, a rating before its card was sent), not timed
    """

    duplicates: int = 0
    conflicts: int = 0
    unknown_senders: int = 0
    out_of_order: int = 0
    negative_durations: int = 0

    def __add__(self, other: DataQuality) -> DataQuality:
        return DataQuality(*(a + b for a, b in zip(attrs.astuple(self), attrs.astuple(other),
                                                    strict=True)))

    @property
    def total(self) -> int:
        """Issues of every kind together."""
        return sum(attrs.astuple(self))


NO_ISSUES = DataQuality()


@attrs.frozen
class Unit:
    """One judged unit (kept only when a function is called with ``detail=True``).

    ``kind`` is "buyer-day", "session-day", "stretch", "evaluation" or
    "inquiry". ``start`` is the clock start (card sent, consultation), ``end``
    the reply (rating, order) that decided it or None.
    """

    kind: str
    status: Status
    day: dt.date
    buyer_id: str
    session_id: str | None
    agent_id: str | None
    group: str | None
    start: float
    end: float | None
    reason: str | None = None


R = TypeVar("R", bound="Rate")


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@attrs.frozen(kw_only=True)
class Rate:
    """Counts of units at ``as_of`` and what follows from them (K07, K09).

    ``rate`` = met / (met + missed), the decided rate; ``lower`` .. ``upper``
    = met / counted .. (met + pending) / counted, where counted = met + missed
    + pending. Over nothing each is None, never 0 % or 100 %. ``at_risk`` =
    pending units older than the warning age. ``total`` (= counted +
    excluded) is every unit formed.
    """

    met: int = 0
    missed: int = 0
    pending: int = 0
    excluded: int = 0
    at_risk: int = 0
    excluded_by: Mapping[str, int] = attrs.field(factory=dict)
    by_day: Mapping[dt.date, Rate] = attrs.field(factory=dict, repr=False)
    by_group: Mapping[str | None, Rate] = attrs.field(factory=dict, repr=False)
    by_agent: Mapping[str, Rate] = attrs.field(factory=dict, repr=False)
    units: tuple[Unit, ...] = attrs.field(default=(), repr=False)
    quality: DataQuality = NO_ISSUES

    @property
    def numerator(self) -> int:
        """Met units: the numerator of ``rate``."""
        return self.met

    @property
    def denominator(self) -> int:
        """Decided units (met + missed): the denominator of ``rate``."""
        return self.met + self.missed

    @property
    def counted(self) -> int:
        """Units that count (met + missed + pending)."""
        return self.met + self.missed + self.pending

    @property
    def total(self) -> int:
        """Every unit formed, excluded ones too."""
        return self.met + self.missed + self.pending + self.excluded

    @property
    def rate(self) -> float | None:
        """met / (met + missed), or None when no unit is decided."""
        return _ratio(self.met, self.met + self.missed)

    @property
    def lower(self) -> float | None:
        """The rate if every pending unit is missed: met / counted."""
        return _ratio(self.met, self.counted)

    @property
    def upper(self) -> float | None:
        """The rate if every pending unit is met: (met + pending) / counted."""
        return _ratio(self.met + self.pending, self.counted)


@attrs.frozen(kw_only=True)
class ShopReplyRate(Rate):
    """The shop's 3-minute reply rate per buyer-day (K03), with its per-session twin.

    A buyer in human service is a unit whether or not an agent ever took
    their session (K02): a buyer who gave up waiting is MISSED once the
    threshold has passed. Of the counted units (per buyer-day; the
    ``_sessions`` twins per session-day), ``still_waiting`` had not reached
    an agent by ``as_of`` and their session had not ended; ``never_reached``
    ended (a SessionEnd) before any agent took them: the buyer gave up, or the
    session was closed unanswered.

    ``waiting`` counts buyers whose session is still waiting for an agent at
    ``as_of`` (with ``as_of=None``: when the records end), ``waiting_sessions``
    those sessions, ``longest_wait`` the oldest such wait in seconds (None
    when ``as_of`` is None or nobody waits).
    """

    basis: str = "first"
    per_session: Rate = Rate()
    waiting: int = 0
    waiting_sessions: int = 0
    longest_wait: float | None = None
    still_waiting: int = 0
    never_reached: int = 0
    still_waiting_sessions: int = 0
    never_reached_sessions: int = 0

    @property
    def unreached(self) -> int:
        """Counted units that had not reached an agent by ``as_of`` (per buyer-day)."""
        return self.still_waiting + self.never_reached


@attrs.frozen(kw_only=True)
class Satisfaction(Rate):
    """Good-rating rate (K05): met = satisfied, missed = normal + disappointed.

    ``bot_service`` counts evaluations of bot service, left out by rule;
    ``replaced`` ratings superseded by a later rating of the same card.
    """

    normal: int = 0
    disappointed: int = 0
    bot_service: int = 0
    replaced: int = 0

    @property
    def satisfied(self) -> int:
        """满意 ratings (the numerator)."""
        return self.met


@attrs.frozen
class Durations:
    """count, mean, median and p90 (nearest rank) of some durations, in seconds.

    The mean is the correctly rounded sum (``math.fsum``) over the count, so it
    does not depend on the order the durations are added in.
    """

    count: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: list[float]) -> Durations:
        """Summary of ``values`` (sorted in place)."""
        values.sort()
        return cls.of_sorted(values)

    @classmethod
    def of_sorted(cls, values: Sequence[float]) -> Durations:
        """Summary of ``values``, already in ascending order."""
        n = len(values)
        if not n:
            return cls()
        mid = n // 2
        median = values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2
        rank = -(-9 * n // 10)  # ceil(0.9 n), the nearest-rank p90
        return cls(n, exact_sum(values) / n, median, values[rank - 1])


@attrs.frozen
class ResponseStats:
    """The same durations measured two ways (K08)."""

    calendar: Durations = Durations()
    in_window: Durations = Durations()


@attrs.frozen(kw_only=True)
class ResponseTimes:
    """First and every human response time, for the shop and per agent (K08).

    ``first``: per session-day, from its first counted wait to the first human
    reply. ``replies``: every human reply that answered a wait, from the first
    unanswered buyer message before it. Agents' figures time from when the
    session was theirs (pool time and a colleague's time are not theirs).
    ``unanswered`` counts counted waits without a reply yet; ``excluded`` the
    waits of excluded buyers (K06).
    """

    first: ResponseStats = ResponseStats()
    replies: ResponseStats = ResponseStats()
    by_agent: Mapping[str, ResponseTimes] = attrs.field(factory=dict)
    unanswered: int = 0
    excluded: int = 0
    quality: DataQuality = NO_ISSUES


@attrs.frozen
class AgentScore:
    """Orders and revenue credited to one agent (K10)."""

    orders: int = 0
    revenue: float = 0.0


@attrs.frozen(kw_only=True)
class TeamScore:
    """A team's orders and revenue in a group PK, and its agents' (K10)."""

    orders: int = 0
    revenue: float = 0.0
    agents: Mapping[str, AgentScore] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class GroupPK:
    """Group comparison of orders and revenue (K10, source 002).

    ``ranking`` lists team keys by revenue, then orders, descending (ties by
    name). Orders no agent can be credited with are ``unattributed``.
    """

    teams: Mapping[str | None, TeamScore] = attrs.field(factory=dict)
    ranking: tuple[str | None, ...] = ()
    unattributed: AgentScore = AgentScore()
    excluded: int = 0
    quality: DataQuality = NO_ISSUES


STATUSES = (Status.MET, Status.PENDING, Status.MISSED, Status.EXCLUDED)
"""The Status of each status code, by code (``STATUSES[code] is status_of(code)``)."""
EXCLUDED_CODE = 3
"""Status codes in a tally key: MET=0, PENDING=1, MISSED=2 (worse is larger), EXCLUDED=3."""

# A tally key: (day, group, agent, status code, at_risk, reason, extra).
Key = tuple[dt.date, "str | None", "str | None", int, bool, "str | None", "str | None"]
# Units counted by hour: (hour, tally key) -> units.
HourCounts = dict[tuple[int, Key], int]


def status_of(code: int) -> Status:
    """The Status of a status code."""
    return STATUSES[code]


class Tally:
    """Counts units by (day, group, agent, status, at-risk, reason, extra), then builds Rates.

    One dict increment per unit; the breakdowns are summed from the few
    distinct keys afterwards, which is what keeps 10^5 units cheap.
    """

    __slots__ = ("counts", "units")

    def __init__(self, detail: bool) -> None:
        self.counts: dict[Key, int] = {}
        self.units: list[Unit] | None = [] if detail else None

    def add(
        self, day: dt.date, group: str | None, agent: str | None, code: int,
        at_risk: bool, reason: str | None, extra: str | None = None, n: int = 1,
    ) -> None:
        """Count ``n`` units; ``code`` is a status code (see EXCLUDED_CODE)."""
        key = (day, group, agent, code, at_risk, reason, extra)
        counts = self.counts
        counts[key] = counts.get(key, 0) + n

    def build(
        self, cls: type[R], *, quality: DataQuality = NO_ISSUES, agents: bool = True,
        part: type[Rate] = Rate, **fields: Any,
    ) -> R:
        """The overall result, of class ``cls``, with breakdowns (of class ``part``)
        by day, group and (if ``agents``) agent."""
        items = list(self.counts.items())
        units = tuple(self.units) if self.units is not None else ()
        by_day = _split(part, items, 0, units)
        by_group = _split(part, items, 1, units)
        by_agent = _split(part, items, 2, units) if agents else {}
        by_agent.pop(None, None)
        return _rate(
            cls, items, units, by_day=by_day, by_group=by_group, by_agent=by_agent,
            quality=quality, **fields,
        )


def _split(cls: type[Rate], items: list[tuple[Key, int]], dim: int,
           units: tuple[Unit, ...]) -> dict[Any, Rate]:
    groups: dict[Any, list[tuple[Key, int]]] = {}
    for item in items:
        groups.setdefault(item[0][dim], []).append(item)
    unit_groups = _group_units(units, _UNIT_FIELD[dim], groups)
    return {
        k: _rate(cls, groups[k], tuple(unit_groups.get(k, ())))
        for k in sorted(groups, key=_sort_key)
    }


_UNIT_FIELD = (attrgetter("day"), attrgetter("group"), attrgetter("agent_id"))


def _group_units(units: tuple[Unit, ...], field: Callable[[Unit], Any],
                 keys: Mapping[Any, object]) -> Mapping[Any, Sequence[Unit]]:
    """``units`` by ``field``, each group in unit order. When the counts have one key and
    every unit's field is it (a day's report, an agent's own units), the units are
    that group as they are: one C-speed look instead of a Python step per unit. O(u)."""
    values = list(map(field, units))
    if len(keys) == 1:
        (only,) = keys
        if values.count(only) == len(values):
            return {only: units}
    grouped: dict[Any, list[Unit]] = {}
    for value, u in zip(values, units, strict=True):
        grouped.setdefault(value, []).append(u)
    return grouped


def hour_rates(counts: HourCounts) -> dict[int, Rate]:
    """A Rate per hour from units counted by (hour, key), in hour order. O(distinct keys)."""
    by_hour: dict[int, list[tuple[Key, int]]] = {}
    for (hour, key), n in counts.items():
        by_hour.setdefault(hour, []).append((key, n))
    return {hour: _rate(Rate, by_hour[hour], ()) for hour in sorted(by_hour)}


def _sort_key(k: object) -> tuple[bool, str]:
    return (k is not None, str(k))


def _rate(cls: type[R], items: Iterable[tuple[Key, int]], units: tuple[Unit, ...],
          **fields: Any) -> R:
    c = [0, 0, 0, 0]
    at_risk = 0
    excluded_by: dict[str, int] = {}
    extra: dict[str, int] = {}
    for (_d, _g, _a, code, risk, reason, ext), n in items:
        c[code] += n
        if risk:
            at_risk += n
        if reason is not None:
            excluded_by[reason] = excluded_by.get(reason, 0) + n
        if ext is not None:
            extra[ext] = extra.get(ext, 0) + n
    if cls is Satisfaction:
        fields.setdefault("normal", extra.get("normal", 0))
        fields.setdefault("disappointed", extra.get("disappointed", 0))
    return cls(
        met=c[0], pending=c[1], missed=c[2], excluded=c[3], at_risk=at_risk,
        excluded_by=dict(sorted(excluded_by.items())), units=units, **fields,
    )
