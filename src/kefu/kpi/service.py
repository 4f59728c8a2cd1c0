"""Service figures (K13): service level, speed of answer, abandonment, transfers.

What a contact-centre manager reads, over the same timeline as the reply
rates (:mod:`kefu.kpi.timeline`):

- a *contact* is a session in human service (K02) whose clock - the later of
  the buyer's first message and the switch to human service - starts in a
  counted window of an asked day (K00, K01: half-open windows, the local
  day of the clock; before the window, the clock starts at the opening
  under the OPEN policy if nobody had taken the session and it had not ended
  by then, else the contact is not counted). A session the bot took (it
  wrote before the threshold passed, no switch) and no agent ever reached is
  no contact. Contacts of excluded buyers (K06) are counted apart;
- at ``as_of`` a contact is *answered* (an agent took it or a human replied,
  not after its session ended: queue wait = that instant - clock, 0 if the
  agent was there first), *abandoned* (its session ended before that: time
  to abandon = end - clock, 0 if it ended first) or *waiting* (neither). An
  outcome once reached stays as ``as_of`` grows (unless a later switch, or
  the bot writing before the threshold passed, says the session was not in
  human service after all: K02);
- service level = answered within ``answer_within`` / offered, so a buyer
  who gave up counts against the target; short abandons (gave up in under
  ``short_abandon`` seconds) are offered too, and a second figure leaves
  them out; abandonment = abandoned / offered; transfers per session =
  hand-overs to another agent while the session was held / answered.

Breakdowns: by day and hour (local, of the clock), by group (the session's)
and by agent (the one who took the contact first; unanswered contacts have
none). Given on/off-line records, the shop and each agent also get
occupancy and mean concurrency (:mod:`kefu.kpi.occupancy`). Cost:
O(sessions + stretches) for the walk, O(c log c) to summarise the c
contacts' durations.
"""

from __future__ import annotations

import datetime as dt
import enum
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from functools import reduce
from itertools import chain, compress, count, repeat
from operator import attrgetter, iadd, itemgetter
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from kefu.kpi import kernel
from kefu.kpi.clocks import human_clock
from kefu.kpi.hours import hour_table
from kefu.kpi.occupancy import AgentLoad, agent_loads, status_records
from kefu.kpi.options import DayArg, ExclusionsArg, Options, make_options, seconds
from kefu.kpi.records import AgentStatus, Handover, HumanRequest, Message, Release, SessionEnd
from kefu.kpi.results import NO_ISSUES, DataQuality, Durations
from kefu.kpi.timeline import INF, Timeline, build_timeline
from kefu.kpi.window import BeforeWindow, Calendar, Window

__all__ = [
    "Contact",
    "ContactOutcome",
    "Ratio",
    "ServiceFigures",
    "ServiceReport",
    "service_figures",
    "service_result",
]


@attrs.frozen
class Ratio:
    """A ratio with its parts: ``value`` = numerator / denominator, None over nothing."""

    numerator: float
    denominator: float

    @property
    def value(self) -> float | None:
        """numerator / denominator, or None when the denominator is 0 (never 0 % or 100 %)."""
        return self.numerator / self.denominator if self.denominator else None


class ContactOutcome(enum.Enum):
    """Where a contact stands at ``as_of`` (K13)."""

    ANSWERED = "answered"  # an agent took it, or a human replied
    ABANDONED = "abandoned"  # its session ended before that: the buyer gave up, or was closed
    WAITING = "waiting"  # neither yet
    EXCLUDED = "excluded"  # its buyer is excluded (K06); ``Contact.reason`` says why


@attrs.frozen(kw_only=True)
class Contact:
    """One contact (kept only with ``detail=True``).

    ``start`` is its clock, ``day``/``hour`` the local day of its window and
    local hour of ``start``; ``wait`` is the queue wait of an answered
    contact or the time to abandon of an abandoned one, else None.
    ``agent_id`` took it first (None: nobody, or nobody named).
    """

    session_id: str
    buyer_id: str
    day: dt.date
    hour: int
    group: str | None
    agent_id: str | None
    start: float
    outcome: ContactOutcome
    wait: float | None
    transfers: int = 0
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ServiceFigures:
    """Counts of contacts (K13) and the figures that follow from them.

    ``offered`` = answered + abandoned + waiting (excluded contacts are
    not offered: ``excluded``, ``excluded_by`` reason -> count).
    ``answered_within`` were answered with a queue wait of at most the
    target; ``short_abandoned`` gave up in under the short-abandon limit.
    ``speed_of_answer`` summarises answered contacts' queue waits,
    ``time_to_abandon`` abandoned ones' times; ``transfers`` counts
    hand-overs to another agent of answered contacts while held.

    ``occupancy`` (seconds on line holding a session / seconds on line) and
    ``mean_concurrency`` (session-seconds held on line / seconds on line)
    are given for the shop and per agent when status records were passed
    (else None), over on-line time inside the windows.
    """

    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    waiting: int = 0
    transfers: int = 0
    excluded: int = 0
    excluded_by: Mapping[str, int] = attrs.field(factory=dict)
    speed_of_answer: Durations = attrs.field(factory=Durations)
    time_to_abandon: Durations = attrs.field(factory=Durations)
    occupancy: Ratio | None = None
    mean_concurrency: Ratio | None = None

    @property
    def service_level(self) -> Ratio:
        """Answered within the target / offered (abandoned and waiting contacts count against)."""
        return Ratio(self.answered_within, self.offered)

    @property
    def service_level_excluding_short(self) -> Ratio:
        """Answered within the target / (offered - short abandons)."""
        return Ratio(self.answered_within, self.offered - self.short_abandoned)

    @property
    def abandonment(self) -> Ratio:
        """Abandoned / offered."""
        return Ratio(self.abandoned, self.offered)

    @property
    def transfers_per_session(self) -> Ratio:
        """Transfers / answered contacts."""
        return Ratio(self.transfers, self.answered)


@attrs.frozen(kw_only=True)
class ServiceReport(ServiceFigures):
    """The shop's service figures (K13), with their breakdowns.

    ``by_day`` and ``by_hour`` ((day, local hour 0-23) of the clock),
    ``by_group`` (the session's group), ``by_agent`` (the agent who took the
    contact first: answered contacts only). ``answer_within`` and
    ``short_abandon`` are the limits used; ``contacts`` holds every contact
    with ``detail=True``.
    """

    answer_within: float = 180.0
    short_abandon: float = 5.0
    by_day: Mapping[dt.date, ServiceFigures] = attrs.field(factory=dict, repr=False)
    by_hour: Mapping[tuple[dt.date, int], ServiceFigures] = attrs.field(factory=dict,
                                                                        repr=False)
    by_group: Mapping[str | None, ServiceFigures] = attrs.field(factory=dict, repr=False)
    by_agent: Mapping[str, ServiceFigures] = attrs.field(factory=dict, repr=False)
    contacts: tuple[Contact, ...] = attrs.field(default=(), repr=False)
    quality: DataQuality = NO_ISSUES


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Contact codes in an accumulator key, and their outcomes.
_ANSWERED, _ABANDONED, _WAITING, _EXCLUDED = range(4)
_OUTCOMES = (ContactOutcome.ANSWERED, ContactOutcome.ABANDONED, ContactOutcome.WAITING,
             ContactOutcome.EXCLUDED)

# (window index, hour, group, agent, exclusion reason)
_Key = tuple[int, int, "str | None", "str | None", "str | None"]


class _Acc:
    """Contacts of one key: counts, queue waits and times to abandon. O(1) per contact."""

    __slots__ = ("abandons", "counts", "excluded_by", "waits")

    def __init__(self) -> None:
        # answered, within, abandoned, short, waiting, transfers, excluded
        self.counts = [0] * 7
        self.excluded_by: dict[str, int] = {}
        self.waits: list[float] = []
        self.abandons: list[float] = []

    def count(self, code: int, wait: float, moved: int, reason: str | None,
              answer_within: float, short_abandon: float) -> None:
        """Count one contact (:func:`contact_of`)."""
        bag = tally(self.counts, self.excluded_by, code, wait, moved, reason, answer_within,
                    short_abandon, 1)
        if bag is not None:
            (self.waits if bag == WAITS else self.abandons).append(wait)

    @classmethod
    def of(cls, accs: list[_Acc]) -> _Acc:
        """The contacts of ``accs`` together, their durations in the order of ``accs``.
        One pass per field at C speed (a breakdown's part holds thousands of keys'
        accumulators, most with a contact or two): the durations are joined by
        ``+=`` onto one new list, a block copy per accumulator, no iterator made
        nor step taken per duration. O(len(accs) + contacts)."""
        out = cls()
        if accs:
            out.counts = list(map(sum, zip(*[a.counts for a in accs], strict=True)))
        by = out.excluded_by
        for acc in accs:
            for reason, n in acc.excluded_by.items():
                by[reason] = by.get(reason, 0) + n
        out.waits = reduce(iadd, [a.waits for a in accs], [])  # the new list grows
        out.abandons = reduce(iadd, [a.abandons for a in accs], [])
        return out

    def figures(self, cls: type[ServiceFigures] = ServiceFigures,
                **fields: Any) -> ServiceFigures:
        return figures_of(self.counts, self.excluded_by, _summary(self.waits),
                          _summary(self.abandons), cls, **fields)


def _summary(values: list[float]) -> Durations:
    """``Durations.of`` a copy of ``values``. When all are floats, as doubles sorted and
    summed by the compiled kernel (no float objects sorted); a list holding an int (of
    times given as ints) as the reference does, so an int median stays an int.
    O(n log n)."""
    if kernel.ACTIVE == "c" and len(values) > 1:
        doubles = kernel.compiled("sorted_floats")(values)
        if doubles is not None:
            return Durations.of_sorted(doubles)  # type: ignore[arg-type]
    return Durations.of(list(values))


# Where :func:`tally` says a contact's duration goes: its queue waits or times to abandon.
WAITS, ABANDONS = range(2)


def tally(counts: list[int], excluded_by: dict[str, int], code: int, wait: float, moved: int,
          reason: str | None, answer_within: float, short_abandon: float,
          n: int) -> int | None:
    """Count (``n`` = 1) or take back (-1) one contact in ``counts`` (answered, within,
    abandoned, short, waiting, transfers, excluded) and ``excluded_by``; returns
    where its duration goes (WAITS, ABANDONS, or None: nowhere). O(1)."""
    if reason is not None:
        counts[6] += n
        left = excluded_by.get(reason, 0) + n
        if left:
            excluded_by[reason] = left
        else:
            del excluded_by[reason]
        return None
    if code == _ANSWERED:
        counts[0] += n
        if wait <= answer_within:
            counts[1] += n
        counts[5] += n * moved
        return WAITS
    if code == _ABANDONED:
        counts[2] += n
        if wait < short_abandon:
            counts[3] += n
        return ABANDONS
    counts[4] += n
    return None


def figures_of(counts: list[int], excluded_by: Mapping[str, int], waits: Durations,
               abandons: Durations, cls: type[ServiceFigures] = ServiceFigures,
               **fields: Any) -> ServiceFigures:
    """Figures from :func:`tally`'s counts and the summarised durations."""
    answered, within, abandoned, short, waiting, transfers, excluded = counts
    return cls(
        offered=answered + abandoned + waiting, answered=answered, answered_within=within,
        abandoned=abandoned, short_abandoned=short, waiting=waiting, transfers=transfers,
        excluded=excluded, excluded_by=dict(sorted(excluded_by.items())),
        speed_of_answer=waits, time_to_abandon=abandons, **fields,
    )


def _place(cal: Calendar, c: float, reached: float, ended: float, as_of: float,
           open_policy: bool) -> tuple[int, float] | None:
    """(window index, clock) of a contact clocked at ``c``, or None when it does not count.

    A clock inside a window counts if that window's day was asked (K00). One
    before a window counts, under the OPEN policy only, from the next
    opening if the session had neither been reached nor ended before it and
    the opening is not after ``as_of`` (K01). O(log days).
    """
    opens, closes, counted = cal.opens, cal.closes, cal.counted
    i = bisect_right(opens, c) - 1
    if i >= 0 and c < closes[i]:
        return (i, c) if counted[i] else None
    if not open_policy or i + 1 >= len(opens):
        return None
    i += 1
    o = opens[i]
    if reached < o or ended < o or o > as_of or not counted[i]:
        return None
    return i, o


def _first_agent(tl: Timeline, j: int) -> str | None:
    """Who took session ``j`` first: its first hand-over's agent, else the agent named on
    its first human reply in human service (None: nobody named)."""
    if tl.s_lo[j] < tl.s_hi[j]:
        return tl.agents[tl.s_lo[j]]
    lo = tl.wlo[j]
    if lo < tl.wlo[j + 1] and tl.rs[lo] != INF:
        return tl.ragent(lo)
    return None


def _transfers(tl: Timeline, j: int) -> int:
    """Hand-overs of session ``j`` to another agent at the instant the previous stretch
    ended (the session was held: a transfer or a reassignment). O(stretches)."""
    starts, ends, agents = tl.starts, tl.ends, tl.agents
    return sum(1 for x in range(tl.s_lo[j] + 1, tl.s_hi[j])
               if starts[x] == ends[x - 1] and agents[x] != agents[x - 1])


# A contact as :func:`contact_of` finds it: (window index, local hour, clock, outcome code,
# queue wait or time to abandon, the agent who took it first, transfers, exclusion reason).
Found = tuple[int, int, float, int, float, "str | None", int, "str | None"]


def contact_of(tl: Timeline, j: int, opts: Options, cal: Calendar) -> Found | None:
    """Session ``j`` as a contact at ``opts.as_of`` (see the module docstring), or None
    when it is none: no wait in human service, the bot took it (K02), or its clock
    is in no counted window. One definition for the figures and the live tracker.
    O(log days + stretches of the session)."""
    c = human_clock(tl, j, opts.threshold)
    if c == INF:
        return None
    reach, end = tl.reached[j], tl.ended[j]
    placed = _place(cal, c, reach, end, opts.as_of,
                    opts.before_window is BeforeWindow.OPEN)
    if placed is None:
        return None
    i, c = placed
    hour = dt.datetime.fromtimestamp(c, opts.tz).hour
    reason = opts.excluded.get(tl.buyers[j]) if opts.excluded else None
    if reach <= end and reach != INF:
        return (i, hour, c, _ANSWERED, reach - c if reach > c else 0.0, _first_agent(tl, j),
                _transfers(tl, j), reason)
    if end != INF:
        return i, hour, c, _ABANDONED, end - c if end > c else 0.0, None, 0, reason
    return i, hour, c, _WAITING, 0.0, None, 0, reason


def service_result(tl: Timeline, opts: Options, cal: Calendar, *, answer_within: float,
                   short_abandon: float, statuses: list[AgentStatus] | None = None,
                   status_repeats: int = 0) -> ServiceReport:
    """K13 over a built timeline (what :func:`service_figures` and ``daily_report`` share).

    ``statuses`` are checked, distinct records (:func:`kefu.kpi.occupancy.status_records`;
    ``status_repeats`` were dropped). One visit per session, O(sessions +
    stretches), then O(c log c) for the durations of the c contacts, plus
    :func:`kefu.kpi.occupancy.agent_loads`.
    """
    accs: dict[_Key, _Acc] | None = None
    contacts: list[Contact] | None = [] if opts.detail else None
    if kernel.ACTIVE == "c":
        tz = opts.tz
        table = hour_table(tz, min(cal.opens), max(cal.closes)) if cal.opens else None
        # the kernel's own accumulator class: filled without an attribute lookup per contact
        accs = kernel.compiled("contacts")(  # type: ignore[assignment]
            tl, opts, cal, answer_within, short_abandon, kernel.compiled("ContactAcc"),
            lambda c: dt.datetime.fromtimestamp(c, tz).hour, contacts, Contact, _OUTCOMES,
            table)
    if accs is None:
        accs = _contacts(tl, opts, cal, answer_within, short_abandon, contacts)
    days = cal.days
    if contacts is not None:
        contacts.sort(key=lambda u: (u.day, u.start, u.session_id))
    # The shop (one part), then by agent (unanswered contacts in none), day, hour, group.
    dims: tuple[tuple[Any, bool], ...] = (
        (lambda k: 0, False), (itemgetter(3), True), (lambda k: days[k[0]], False),
        (lambda k: (days[k[0]], k[1]), False), (itemgetter(2), False))
    split = _breakdowns(accs, dims)
    if split is None:
        split = [_parts(accs, dim, drop) for dim, drop in dims]
    shop, agents, by_day, by_hour, by_group = split
    loads = agent_loads(tl, statuses, opts, cal) if statuses else {}
    by_agent, shop_load = with_loads(_figures(agents), loads)
    counts, excluded_by, waits, abandons = shop.get(0, _EMPTY)
    return figures_of(  # type: ignore[return-value]
        counts, excluded_by, waits, abandons,
        ServiceReport,
        answer_within=answer_within,
        short_abandon=short_abandon,
        by_day=_figures(by_day),
        by_hour=_figures(by_hour),
        by_group=_figures(by_group),
        by_agent=by_agent,
        contacts=tuple(contacts) if contacts is not None else (),
        quality=tl.quality + DataQuality(duplicates=status_repeats),
        **shop_load,
    )


def _contacts(tl: Timeline, opts: Options, cal: Calendar, answer_within: float,
              short_abandon: float, contacts: list[Contact] | None) -> dict[_Key, _Acc]:
    """Every session's contact counted into its key's accumulator, and appended to
    ``contacts`` when given (the reference; ``kefu.kpi._kernel_c.contacts`` is its
    compiled twin). O(sessions + stretches)."""
    accs: dict[_Key, _Acc] = {}
    for j in range(len(tl.ids)):
        found = contact_of(tl, j, opts, cal)
        if found is None:
            continue
        i, hour, c, code, wait, agent, moved, reason = found
        key = (i, hour, tl.groups[j], agent, reason)
        acc = accs.get(key)
        if acc is None:
            acc = accs[key] = _Acc()
        acc.count(code, wait, moved, reason, answer_within, short_abandon)
        if contacts is not None:
            contacts.append(Contact(
                session_id=tl.ids[j], buyer_id=tl.buyers[j], day=cal.days[i], hour=hour,
                group=tl.groups[j], agent_id=agent, start=c,
                outcome=_OUTCOMES[_EXCLUDED if reason is not None else code],
                wait=wait if code != _WAITING and reason is None else None,
                transfers=moved, reason=reason))
    return accs


def with_loads(by_agent: dict[str, ServiceFigures], loads: Mapping[str, AgentLoad]
               ) -> tuple[dict[str, ServiceFigures], dict[str, Ratio | None]]:
    """The agents' figures with their occupancy and mean concurrency (K13), and the
    shop's, from :func:`kefu.kpi.occupancy.agent_loads` (none without status records)."""
    if not loads:
        return by_agent, {"occupancy": None, "mean_concurrency": None}
    for agent, (online, busy, held) in loads.items():
        by_agent[agent] = attrs.evolve(by_agent.get(agent, ServiceFigures()),
                                       occupancy=Ratio(busy, online),
                                       mean_concurrency=Ratio(held, online))
    by_agent = {a: by_agent[a] for a in sorted(by_agent)}
    online = sum(v[0] for v in loads.values())
    return by_agent, {"occupancy": Ratio(sum(v[1] for v in loads.values()), online),
                      "mean_concurrency": Ratio(sum(v[2] for v in loads.values()), online)}


_WAITS_OF, _ABANDONS_OF = attrgetter("waits"), attrgetter("abandons")
_COUNTS_OF, _EXCLUDED_OF = attrgetter("counts"), attrgetter("excluded_by")

# A part of a breakdown, summarised: counts (as ``tally`` keeps them), contacts excluded
# by reason, queue waits, times to abandon; what ``figures_of`` takes.
_Part = tuple[list[int], dict[str, int], Durations, Durations]
_EMPTY: _Part = ([0] * 7, {}, Durations(), Durations())


def _figures(parts: dict[Any, _Part]) -> dict[Any, ServiceFigures]:
    return {k: figures_of(*part) for k, part in parts.items()}


def _parts(accs: Mapping[_Key, _Acc], dim: Any, drop_none: bool) -> dict[Any, _Part]:
    """Each part of ``dim(key)``, ordered by it (None first), its keys' accumulators
    joined and summarised: the reference of :func:`_breakdowns`, and what runs when a
    duration is an int (of times given as ints: an int median stays an int, so each
    part's own list is sorted as it is). O(contacts log contacts)."""
    parts: dict[Any, list[_Acc]] = {}
    for key, acc in accs.items():
        k = dim(key)
        if k is None and drop_none:
            continue
        part = parts.get(k)
        if part is None:
            parts[k] = [acc]
        else:
            part.append(acc)
    out: dict[Any, _Part] = {}
    for k in sorted(parts, key=sort_key):
        acc = _Acc.of(parts[k])
        out[k] = (acc.counts, acc.excluded_by, _summary(acc.waits), _summary(acc.abandons))
    return out


def _breakdowns(accs: Mapping[_Key, _Acc],
                dims: tuple[tuple[Any, bool], ...]) -> list[dict[Any, _Part]] | None:
    """:func:`_parts` for every ``(dim, drop_none)`` of ``dims`` at once, when every
    duration is a float (None otherwise: the caller runs ``_parts``). The durations
    are sorted once, all keys' together, stably (numpy, no float object compared);
    each breakdown then takes its parts' durations from that order with one stable
    sort by part number, so each part's come out sorted, as sorting them apart would
    sort them (equal doubles keep their order: a signed zero's too). The counts are
    summed per part as int64 columns. The same summaries as :func:`_parts`, for one
    sort of c durations and O(c + keys) per breakdown instead of a join and a sort
    per part. O(c log c + keys)."""
    vals = list(accs.values())
    keys = list(accs)
    if kernel.ACTIVE == "c" and vals:
        try:
            found = _compiled_breakdowns(keys, vals, dims)
        except OverflowError:  # a count past 64 bits: the reference sums Python ints
            return None
        if found is not None:
            return found
    waits = list(chain.from_iterable(map(_WAITS_OF, vals)))  # joined at C speed
    abandons = list(chain.from_iterable(map(_ABANDONS_OF, vals)))
    if not vals or not set(map(type, waits)) | set(map(type, abandons)) <= {float}:
        return None
    n = len(vals)
    counts = _int64s(chain.from_iterable(map(_COUNTS_OF, vals))).reshape(n, 7)
    durations = [_by_value(waits, _int64s(map(len, map(_WAITS_OF, vals)))),
                 _by_value(abandons, _int64s(map(len, map(_ABANDONS_OF, vals))))]
    excluding = list(compress(count(), map(_EXCLUDED_OF, vals)))
    out = []
    for dim, drop_none in dims:
        names, part = _numbered(keys, dim, drop_none)
        part_arr = _int64s(part)
        sums = _sum_rows(counts, part_arr, len(names))
        by = _excluded_by(vals, excluding, part, len(names))
        w, a = (_per_part(values, owner, part_arr, len(names)) for values, owner in durations)
        out.append({name: (sums[p].tolist(), by[p], w[p], a[p])
                    for p, name in enumerate(names)})
    return out


def _numbered(keys: list[_Key], dim: Any, drop_none: bool) -> tuple[list[Any], list[int]]:
    """The parts of breakdown ``dim`` in their order (None first: :func:`sort_key`), and
    each key's part number (-1: in none, a None part when ``drop_none``). O(keys)."""
    labels = list(map(dim, keys))
    names = sorted(set(labels) - ({None} if drop_none else set()), key=sort_key)
    number = dict(zip(names, range(len(names)), strict=True))
    return names, list(map(number.get, labels, repeat(-1, len(labels))))


def _excluded_by(vals: list[_Acc], excluding: list[int], part: list[int],
                 parts: int) -> list[dict[str, int]]:
    """The contacts excluded by each reason in each part, from the keys ``excluding``
    (those with exclusions: few): a step per such key and reason. O(excluding)."""
    by: list[dict[str, int]] = [{} for _ in range(parts)]
    for x in excluding:
        if part[x] >= 0:
            into = by[part[x]]
            for reason, k in vals[x].excluded_by.items():
                into[reason] = into.get(reason, 0) + k
    return by


def _compiled_breakdowns(keys: list[_Key], vals: list[_Acc], dims: tuple[tuple[Any, bool], ...]
                         ) -> list[dict[Any, _Part]] | None:
    """:func:`_breakdowns` by the compiled kernel: the parts numbered here, the counts
    summed and the durations sorted and dealt to the parts in C, with no int or float
    object per value (the numpy path makes an array from Python ints per breakdown).
    None when a duration is not a float (the caller's reference decides). O(c log c +
    keys) for c durations."""
    numbered = [_numbered(keys, dim, drop_none) for dim, drop_none in dims]
    found = kernel.compiled("breakdowns")(vals, [part for _names, part in numbered],
                                          [len(names) for names, _part in numbered])
    if found is None:
        return None
    excluding = list(compress(count(), map(_EXCLUDED_OF, vals)))
    out: list[dict[Any, _Part]] = []
    for (names, part), (sums, w, a) in zip(numbered, found, strict=True):  # type: ignore[call-overload]
        by = _excluded_by(vals, excluding, part, len(names))
        out.append({name: (sums[p], by[p], Durations.of_sorted(w[p]), Durations.of_sorted(a[p]))
                    for p, name in enumerate(names)})
    return out


def _int64s(values: Iterable[int]) -> IntArray:
    """``values`` as an int64 array, by way of an ``array('q')`` (``np.fromiter`` packs
    each value through numpy's generic conversion, several times the cost). O(n)."""
    return np.frombuffer(array("q", values), dtype=np.int64)


def _sum_rows(counts: IntArray, part: IntArray, parts: int) -> IntArray:
    """The rows of ``counts`` summed by ``part`` (-1: in no part, summed in the last of
    ``parts + 1`` rows). One weighted ``bincount`` over every cell (``np.add.at``
    costs some hundred instructions a cell); its float64 sums are exact, as every
    count is far below 2**53. O(cells)."""
    width = counts.shape[1]
    row = np.where(part < 0, parts, part)
    cell = (row[:, None] * width + np.arange(width, dtype=np.int64)).ravel()
    sums = np.bincount(cell, weights=counts.ravel(), minlength=(parts + 1) * width)
    return sums.astype(np.int64).reshape(parts + 1, width)


def _by_value(values: list[float], lengths: IntArray) -> tuple[FloatArray, IntArray]:
    """``values`` (the keys' durations, joined) sorted stably, and the key each came from."""
    v = np.array(values, dtype=np.float64)
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    order = np.argsort(v, kind="stable")
    return v[order], owner[order]


def _per_part(values: FloatArray, owner: IntArray, part: IntArray,
              parts: int) -> list[Durations]:
    """The summary of each part's durations: ``values`` sorted, ``owner`` their keys,
    ``part`` each key's part (-1: none)."""
    of = part[owner]
    order = np.argsort(of, kind="stable")
    grouped = values[order]
    bounds = np.searchsorted(of[order], np.arange(parts + 1)).tolist()
    return [Durations.of_sorted(array("d", grouped[bounds[p]:bounds[p + 1]].tobytes()))
            for p in range(parts)]


def sort_key(k: object) -> tuple[bool, str]:
    """The order of a breakdown's keys: None first, then by name (hours as "day hh")."""
    return (k is not None, str(k) if not isinstance(k, tuple) else f"{k[0]} {k[1]:02d}")


def service_figures(
    messages: Iterable[Message],
    handovers: Iterable[Handover] = (),
    *,
    requests: Iterable[HumanRequest] = (),
    releases: Iterable[Release] = (),
    ends: Iterable[SessionEnd] = (),
    day: DayArg = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    window: Window | None = None,
    threshold: float = 180.0,
    answer_within: float | None = None,
    short_abandon: float = 5.0,
    as_of: float | dt.datetime | None = None,
    before_window: BeforeWindow | str = BeforeWindow.EXCLUDE,
    excluded_buyers: ExclusionsArg = frozenset(),
    detail: bool = False,
    statuses: Iterable[AgentStatus] = (),
) -> ServiceReport:
    """Service level, speed of answer, abandonment and transfers (K13), with breakdowns.

    Every buyer whose human service started in the window is *offered*
    (K02: also one who never reached an agent). At ``as_of`` (None: the day
    is over) each is answered (an agent took the session or a human
    replied), abandoned (the session ended first: pass the ``ends`` records)
    or still waiting. Service level = answered within ``answer_within``
    (default: ``threshold``) / offered; ``service_level_excluding_short``
    leaves out those who gave up within ``short_abandon`` seconds (0: none
    are short). ``threshold`` also decides whether the bot took a session
    (K02). ``detail=True`` keeps every contact in ``.contacts``. With
    ``statuses`` (AgentStatus records) each agent's occupancy and mean
    concurrency over their on-line time in the windows come too.

    Raises InvalidThreshold for a bad ``answer_within`` or ``short_abandon``,
    and what the other KPI functions raise for bad records or parameters.
    Cost: O(records log records), as the reply rates.
    """
    opts = make_options(
        day=day, tz=tz, window=window, threshold=threshold, as_of=as_of,
        before_window=before_window, excluded_buyers=excluded_buyers, detail=detail,
    )
    within = opts.threshold if answer_within is None else seconds("answer_within",
                                                                   answer_within)
    short = seconds("short_abandon", short_abandon, zero_ok=True)
    tl = build_timeline(messages, handovers, releases, requests, opts.as_of, ends=ends,
                        threshold=opts.threshold)
    online, repeats = status_records(statuses, opts.as_of)
    times = [r.at for r in online]
    cal = opts.calendar(min([tl.first, *times]), max([tl.last, *times]))
    return service_result(tl, opts, cal, answer_within=within, short_abandon=short,
                          statuses=online, status_repeats=repeats)
