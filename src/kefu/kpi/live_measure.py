"""The live tracker's walk: :class:`kefu.kpi.measure.Measure` keeping units as plain tuples.

The tracker measures each changed session as if the day were over and keeps
only what judging and counting its units needs later. The pure functions'
:class:`~kefu.kpi.results.Unit` (an attrs object with ten fields, made by a
Python constructor, tracked by the garbage collector) costs more to make
and to read than the tracker's whole use of it, and the walk's tallies by
key are not read at all. :class:`LiveMeasure` is the same walk (both
kernels call the unit hooks it overrides) with each unit a tuple of atomic
values, grouped by session as it is made, and no tallies. O(1) per unit.
"""

from __future__ import annotations

import datetime as dt

from kefu.kpi import kernel
from kefu.kpi.clocks import MISSED
from kefu.kpi.live_feed import compiled_hooks, samples_class
from kefu.kpi.measure import AgentKey, Measure, ShopKey
from kefu.kpi.options import Options
from kefu.kpi.results import EXCLUDED_CODE, Key
from kefu.kpi.timeline import INF, Timeline
from kefu.kpi.window import Calendar

__all__ = ["CompiledLiveMeasure", "LiveMeasure", "LiveUnit", "fixed_key", "measure_class",
           "open_until", "unit_open_until"]

# A measured unit as the tracker keeps it: (clock, status code (MET, MISSED or
# EXCLUDED_CODE: measured as if the day were over, none is pending), openness
# (missed with no reply: ``as_of`` can still make it pending), day, group, agent
# (None: a shop unit), exclusion reason, buyer). Atomic values only: the garbage
# collector stops tracking it.
LiveUnit = tuple[float, int, bool, dt.date, "str | None", "str | None", "str | None", str]


class LiveMeasure(Measure):
    """A walk whose units are :data:`LiveUnit` tuples by session (see the module
    docstring): ``by_session[sid]`` = (shop units flat FIRST, ANY, FIRST, ANY, ...
    per session-day; agent units), in the order the walk made them."""

    __slots__ = ("by_session",)
    # Each session's samples (and each agent's in it) in one cheap object (live_feed).
    _samples_cls = samples_class()

    def __init__(self, tl: Timeline, opts: Options, cal: Calendar, **kwargs: bool) -> None:
        self.by_session: dict[str, tuple[list[LiveUnit], list[LiveUnit]]] = {}
        super().__init__(tl, opts, cal, **kwargs)

    def _units_of(self, sid: str) -> tuple[list[LiveUnit], list[LiveUnit]]:
        mine = self.by_session.get(sid)
        if mine is None:
            mine = self.by_session[sid] = ([], [])
        return mine

    def _session_unit(self, j: int, i: int, c: float, r: float, code: int, a_code: int,
                      a_c: float, a_r: float, reason: str | None) -> None:
        """A session-day's FIRST and ANY units (``Measure._session_unit``'s values). O(1)."""
        tl = self.tl
        day, buyer, group = self.cal.days[i], tl.buyers[j], tl.groups[j]
        if reason is not None:
            code = a_code = EXCLUDED_CODE
        first = (c, code, code == MISSED and r == INF, day, group, None, reason, buyer)
        if a_code == code and a_c == c and a_r == r:
            second = first
        else:
            second = (a_c, a_code, a_code == MISSED and a_r == INF, day, group, None, reason,
                      buyer)
        self._units_of(tl.ids[j])[0].extend((first, second))

    def _stretch_unit(self, j: int, x: int, i: int, c: float, r: float, code: int,
                      reason: str | None) -> None:
        """A stretch's agent unit (``Measure._stretch_unit``'s values). O(1)."""
        tl = self.tl
        if reason is not None:
            code = EXCLUDED_CODE
        self._units_of(tl.ids[j])[1].append(
            (c, code, code == MISSED and r == INF, self.cal.days[i], tl.sgroups[x],
             tl.agents[x], reason, tl.buyers[j]))

    def _tallies(self, shop_counts: dict[ShopKey, int],
                 agent_counts: dict[AgentKey, int]) -> None:
        """Nothing: the tracker counts units itself, from :attr:`by_session`."""


class CompiledLiveMeasure(LiveMeasure):
    """:class:`LiveMeasure` with its unit hooks compiled (``kefu.kpi._live_c``'s
    ``session_unit`` and ``stretch_unit``, set on it when built): the same tuples in
    the same order, with no Python frame per unit (two frames a unit, a few thousand
    instructions, in the reference). The tracker walks with it while the compiled KPI
    kernel is active (:func:`measure_class`)."""

    __slots__ = ()


_HOOKS = compiled_hooks()
if _HOOKS is not None:
    CompiledLiveMeasure._session_unit, CompiledLiveMeasure._stretch_unit = _HOOKS  # type: ignore[method-assign]


def measure_class() -> type[LiveMeasure]:
    """The walk a tracker measures with: :class:`CompiledLiveMeasure` while the compiled
    KPI kernel is active and the hooks are built, else the reference. O(1)."""
    if _HOOKS is not None and kernel.ACTIVE == "c":
        return CompiledLiveMeasure
    return LiveMeasure


def open_until(start: float, unended: bool, last: float, threshold: float) -> float:
    """From when (as the latest record's time) a volatile unit may become fixed, or INF
    for a unit already fixed: one whose status no ``as_of >= last`` can change. The
    unit is given by its clock and openness; ``last`` is the latest record's time.
    O(1)."""
    if start > last:
        return start  # a window-opening clock that has not come yet (OPEN policy)
    if unended and not last - start > threshold:
        return start + threshold
    return INF


def unit_open_until(u: LiveUnit, last: float, threshold: float) -> float:
    """:func:`open_until` of a measured unit. O(1)."""
    return open_until(u[0], u[2], last, threshold)


def fixed_key(u: LiveUnit) -> Key:
    """A fixed unit's count key (the tracker's key at any ``as_of >= last``): a session
    measured as if the day were over has no pending unit, so a fixed one is met,
    missed or excluded for good, and not at risk. O(1)."""
    return (u[3], u[4], u[5], u[1], False, u[6], None)

