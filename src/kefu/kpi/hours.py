"""The local hour of many instants in a span: a table of where the hour changes.

``datetime.fromtimestamp(t, tz).hour`` makes a datetime per instant (a few
microseconds); the compiled contact count (K13's ``by_hour``) asks it once per
contact. Over a span of days the local hour changes only at a few instants:
each local hour's start, and each change of the zone's UTC offset. The table
lists them once, so an instant's hour is a binary search.

Exact where the zone's rules are known: a ``datetime.timezone`` (one offset)
and the tz database's ``zoneinfo.ZoneInfo`` for a key, the one ``ZoneInfo(key)``
gives (offsets constant between transitions at whole seconds, and at most one
transition in any hour, as in every zone of the tz database; a zone read with
``from_file`` or ``no_cache`` may have any), each with an offset of whole
seconds. ``fromtimestamp`` first rounds an instant to the microsecond: an
instant within a microsecond below a boundary is left to it (the table says
which instants those are). Any other tzinfo runs code of its own, so it gets
no table and every instant is asked.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from array import array

__all__ = ["MAX_SEGMENTS", "hour_table"]

#: The most segments a table holds (a year and a bit of hours); a longer span gets none.
MAX_SEGMENTS = 24 * 400

_SECOND = dt.timedelta(seconds=1)


def hour_table(tz: dt.tzinfo, lo: float, hi: float) -> tuple[array[float], list[int]] | None:
    """``(bounds, hours)`` with ``fromtimestamp(t, tz).hour == hours[k]`` for every
    instant ``t`` in ``[bounds[k], bounds[k + 1] - 1e-6)`` (``len(bounds) ==
    len(hours) + 1``), covering ``[lo, hi]``; None when ``tz`` is not a zone whose
    rules are known (see the module docstring), an offset is not whole seconds, or the
    span needs more than MAX_SEGMENTS. O(segments x log 3600) offset look-ups."""
    if not _known(tz) or not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        return None
    s, end = math.floor(lo), math.floor(hi)
    bounds: array[float] = array("d")
    hours: list[int] = []
    while True:
        local = dt.datetime.fromtimestamp(s, tz)
        offset = local.utcoffset()
        if offset is None or offset % _SECOND or len(hours) >= MAX_SEGMENTS:
            return None
        bounds.append(float(s))
        hours.append(local.hour)
        nxt = s + 3600 - (local.minute * 60 + local.second)  # the next hour at this offset
        if _offset(nxt - 1, tz) != offset:
            nxt = _first_change(s, nxt - 1, offset, tz)
        s = nxt
        if s > end:
            bounds.append(float(s))
            return bounds, hours


def _known(tz: dt.tzinfo) -> bool:
    """Whether ``tz``'s rules are known: a ``datetime.timezone``, or the tz database's
    ZoneInfo for its key (the cached one ``ZoneInfo(key)`` gives). A ZoneInfo read
    with ``from_file`` or ``no_cache`` may hold any transitions, several in an hour
    too, so it gets no table. O(1)."""
    if type(tz) is dt.timezone:
        return True
    if type(tz) is not zoneinfo.ZoneInfo or tz.key is None:
        return False
    try:
        return zoneinfo.ZoneInfo(tz.key) is tz
    except (KeyError, ValueError, OSError, TypeError):  # a key no zone of the database has
        return False


def _offset(s: int, tz: dt.tzinfo) -> dt.timedelta | None:
    return dt.datetime.fromtimestamp(s, tz).utcoffset()


def _first_change(lo: int, hi: int, offset: dt.timedelta, tz: dt.tzinfo) -> int:
    """The first whole second in ``(lo, hi]`` whose offset is not ``offset`` (the one at
    ``lo``; ``hi``'s differs), by bisection. O(log(hi - lo))."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(mid, tz) == offset:
            lo = mid
        else:
            hi = mid
    return hi
