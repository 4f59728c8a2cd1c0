"""Service figures kept live (K12, K13): contacts counted in and out as sessions change.

The live tracker measures a session again whenever its records change; each
time it takes the session's old contact back out of these counts and puts
the new one in. Every breakdown :func:`kefu.kpi.service_figures` gives (the
shop, each day, each local hour, each group, each agent who took a contact)
has its own counts and two sorted multisets (queue waits, times to abandon),
so that a report is read off them: its cost grows with the number of
breakdown keys, never with the number of contacts, and the medians and
90th percentiles are exact (:mod:`kefu.kpi.multiset`).

Cost: O(1) per contact counted in or out (five breakdowns); the durations
go to the multisets once per flush of the tracker, where they wait unsorted
until a report reads them; a report costs O(keys x (n / block)) after a
change (plus the sort of what waited), less for keys whose figures did not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn, TypeVar

import attrs

from kefu.kpi.multiset import Multiset
from kefu.kpi.occupancy import AgentLoad
from kefu.kpi.results import DataQuality, Rate
from kefu.kpi.service import (
    WAITS,
    ServiceFigures,
    ServiceReport,
    figures_of,
    sort_key,
    tally,
    with_loads,
)

__all__ = ["NO_DELTA", "LiveContact", "LiveService", "commit_counts", "counts_figures"]

# A key's durations counted in and out since its last commit while there are none: one
# tuple, shared by every key, never changed (the count gives a key lists of its own on
# its first duration): most keys of a tracker get none between two reports, and four
# lists each would be objects for the garbage collector to visit at every full pass.
NO_DELTA: Any = ((), (), (), ())

# A session's contact: (day, local hour, group, agent who took it first, outcome code,
# queue wait or time to abandon, transfers, exclusion reason, clock).
LiveContact = tuple[dt.date, int, "str | None", "str | None", int, float, int, "str | None",
                    float]
# A breakdown and its key: ("shop", None), ("day", d), ("hour", (d, h)), ("group", g),
# ("agent", a).
_Part = tuple[str, Any]


R = TypeVar("R", ServiceFigures, Rate)


class ReadOnlyCounts(dict[str, int]):
    """The ``excluded_by`` counts of a figure the tracker keeps between queries and
    hands out to every caller: a ``dict`` (equal to the pure functions' dict, and
    JSON- and attrs-friendly) that refuses to change (TypeError), so that a caller
    editing one answer cannot change the next one. O(1) per call: no copy."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a live tracker's figures are shared between queries: copy"
                        " excluded_by (dict(...)) to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReadOnlyCounts, (dict(self),))


def kept(figures: R) -> R:
    """``figures`` as the tracker keeps them between queries: with read-only counts.
    Made once per change of the figures, not per query."""
    return attrs.evolve(figures, excluded_by=ReadOnlyCounts(figures.excluded_by))


class _Counts:
    """One breakdown key's contacts: :func:`kefu.kpi.service.tally` counts and multisets.
    (The compiled placing keeps them in its C twin, ``kefu.kpi._live_c.Counts``: the
    same fields, the same methods, which are these functions.)"""

    __slots__ = ("abandons", "built", "contacts", "counts", "delta", "excluded_by", "waits")

    def __init__(self) -> None:
        self.contacts = 0
        self.counts = [0] * 7
        self.excluded_by: dict[str, int] = {}
        self.waits = Multiset()
        self.abandons = Multiset()
        # Durations counted in and out since the last report: (waits in, out, abandons
        # in, out), applied in bulk (Multiset.change) when a report reads them.
        self.delta: tuple[list[float], list[float], list[float], list[float]] = NO_DELTA
        self.built: ServiceFigures | None = None  # figures() since the last change

    def commit(self) -> None:
        """:func:`commit_counts` of this key."""
        commit_counts(self)

    def figures(self) -> ServiceFigures:
        """:func:`counts_figures` of this key."""
        return counts_figures(self)


def commit_counts(acc: Any) -> None:
    """Put a key's durations counted since the last commit into its multisets, in bulk
    (``acc``: a ``_Counts`` or its C twin). O(durations changed, log n each)."""
    add_w, del_w, add_a, del_a = acc.delta
    if add_w or del_w:
        acc.waits.change(add_w, del_w)
    if add_a or del_a:
        acc.abandons.change(add_a, del_a)
    acc.delta = NO_DELTA


def counts_figures(acc: Any) -> ServiceFigures:
    """A key's figures; built again only after its counts changed, so a steady
    dashboard's report costs a lookup per key."""
    if acc.built is None:
        commit_counts(acc)
        acc.built = kept(figures_of(acc.counts, acc.excluded_by, acc.waits.durations(),
                                    acc.abandons.durations()))
    built: ServiceFigures = acc.built
    return built


class LiveService:
    """The K13 contacts of a live tracker, by breakdown (see the module docstring)."""

    __slots__ = ("_answer_within", "_changed", "_new_part", "_parts", "_short_abandon")

    def __init__(self, answer_within: float, short_abandon: float,
                 new_part: Callable[[], Any] | None = None) -> None:
        self._answer_within = answer_within
        self._short_abandon = short_abandon
        # What a new breakdown key's counts are made by: ``_Counts``, or its C twin for
        # the compiled placing (whose count, ``kefu.kpi._live_c.count``, reads its
        # fields in C).
        self._new_part = _Counts if new_part is None else new_part
        self._parts: dict[_Part, Any] = {}
        self._changed: set[_Part] = set()  # parts with durations not yet in their multisets

    def commit(self) -> None:
        """Put the durations counted since the last commit into the multisets, in bulk
        (the tracker calls it once per flush)."""
        for part in self._changed:
            acc = self._parts.get(part)
            if acc is not None:
                acc.commit()
        self._changed = set()

    def count(self, contact: LiveContact, n: int) -> None:
        """Count (``n`` = 1) or take back (-1, a contact counted before) one contact.
        O(1): five breakdowns at most. The compiled placing counts with its C twin
        (``kefu.kpi._live_c.count``); this is the reference."""
        day, hour, group, agent, code, wait, moved, reason, _c = contact
        parts: list[_Part] = [("shop", None), ("day", day), ("hour", (day, hour)),
                              ("group", group)]
        if agent is not None:
            parts.append(("agent", agent))
        for part in parts:
            acc = self._parts.get(part)
            if acc is None:
                acc = self._parts[part] = self._new_part()
            acc.built = None
            bag = tally(acc.counts, acc.excluded_by, code, wait, moved, reason,
                        self._answer_within, self._short_abandon, n)
            if bag is not None:
                delta = acc.delta
                if delta is NO_DELTA:  # its first duration since the last commit
                    delta = acc.delta = ([], [], [], [])
                delta[(0 if bag == WAITS else 2) + (n < 0)].append(wait)
                self._changed.add(part)
            acc.contacts += n
            if not acc.contacts:
                del self._parts[part]

    def report(self, quality: DataQuality, later: Iterable[LiveContact] = (),
               loads: Mapping[str, AgentLoad] | None = None) -> ServiceReport:
        """The figures, with ``later`` contacts (those whose clock the caller's ``as_of``
        has reached but the counts have not yet) counted for this report only, and
        the agents' ``loads`` (:func:`kefu.kpi.occupancy.loads_of`) for occupancy."""
        extra = list(later)
        for contact in extra:
            self.count(contact, 1)
        try:
            split: dict[str, dict[Any, ServiceFigures]] = {
                "day": {}, "hour": {}, "group": {}, "agent": {}}
            for (kind, key), acc in self._parts.items():
                if kind != "shop":
                    split[kind][key] = acc.figures()
            parts = {f"by_{kind}": {k: figures[k] for k in sorted(figures, key=sort_key)}
                     for kind, figures in split.items()}
            parts["by_agent"], shop_load = with_loads(parts["by_agent"], loads or {})
            shop = self._parts.get(("shop", None)) or self._new_part()
            shop.commit()
            return figures_of(  # type: ignore[return-value]
                shop.counts, shop.excluded_by, shop.waits.durations(),
                shop.abandons.durations(), ServiceReport, answer_within=self._answer_within,
                short_abandon=self._short_abandon, quality=quality, **parts, **shop_load)
        finally:
            for contact in extra:
                self.count(contact, -1)
