"""Time at the edges: timezones, local days, assessment windows (K00, K01).

Inside kefu a time is POSIX seconds. Local notions (a day, 08:00-23:00) are
turned into instants here, once per day, with zoneinfo: a day is local
midnight to the next local midnight, so it lasts 23 or 25 hours across a DST
change, and durations stay plain differences of instants.

A wall-clock time that does not exist (it falls in a DST gap, e.g. a missing
midnight) is taken at the instant the clocks jump, the first instant whose
local time is at or after it; one that happens twice is taken the first time.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import math
import zoneinfo

import attrs

from kefu._text import short_repr
from kefu.kpi.errors import (
    InvalidDay,
    InvalidTime,
    InvalidWindow,
    NaiveDatetime,
    UnknownBasis,
    UnknownPolicy,
    UnknownTimezone,
)
from kefu.kpi.records import MAX_TIME, MIN_TIME

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "Basis",
    "BeforeWindow",
    "Window",
    "day_bounds",
    "local_date",
    "local_instant",
    "resolve_tz",
    "supported_day",
    "to_posix",
]

_MIDNIGHT = dt.time(0)
_ONE_DAY = dt.timedelta(days=1)


class Basis(enum.Enum):
    """Which of a buyer's (or session's) waits decide the shop unit (K03)."""

    FIRST = "first"  # only the first counted wait of the day
    ANY = "any"  # missed if any counted wait of the day was missed

    @classmethod
    def coerce(cls, value: object) -> Basis:
        """Accept a Basis or its name ("first", "any"); raise UnknownBasis otherwise."""
        if isinstance(value, Basis):
            return value
        if isinstance(value, str):
            for b in cls:
                if b.value == value.lower():
                    return b
        raise UnknownBasis(value)


class BeforeWindow(enum.Enum):
    """What happens to a wait that starts before the window and is unanswered at opening (K01)."""

    EXCLUDE = "exclude"  # not a unit (default)
    OPEN = "open"  # its clock starts at the window's opening

    @classmethod
    def coerce(cls, value: object) -> BeforeWindow:
        """Accept a BeforeWindow or its name; raise UnknownPolicy otherwise."""
        if isinstance(value, BeforeWindow):
            return value
        if isinstance(value, str):
            for p in cls:
                if p.value == value.lower():
                    return p
        raise UnknownPolicy(value)


def _check_window(inst: Window, _attr: object, _value: object) -> None:
    for name in ("start", "end"):
        t = getattr(inst, name)
        if not isinstance(t, dt.time):
            raise InvalidWindow(f"Window.{name} must be a datetime.time, got {short_repr(t)}")
        if t.tzinfo is not None:
            raise InvalidWindow(
                f"Window.{name} must be a local time without tzinfo (pass tz= instead),"
                f" got {short_repr(t)}"
            )
    if inst.end != _MIDNIGHT and inst.start >= inst.end:
        raise InvalidWindow(
            f"empty or midnight-crossing window {inst.start}-{inst.end}:"
            " need start < end, or end=time(0) for midnight"
        )


@attrs.frozen
class Window:
    """The daily assessment window [start, end) in local time (K00, K01).

    Half-open: ``start`` is in, ``end`` is out. ``end=time(0)`` means the next
    midnight, so ``Window(time(8), time(0))`` is the old 08:00-24:00 rule and
    ``Window(time(0), time(0))`` the whole day.
    """

    start: dt.time = attrs.field(default=dt.time(8))
    end: dt.time = attrs.field(default=dt.time(23), validator=_check_window)

    @classmethod
    def default(cls) -> Window:
        """08:00-23:00, Kuaishou's assessment hours since 2023 (source 004)."""
        return cls(dt.time(8), dt.time(23))

    @classmethod
    def whole_day(cls) -> Window:
        """00:00-24:00: every instant of the local day."""
        return cls(_MIDNIGHT, _MIDNIGHT)


def resolve_tz(tz: str | dt.tzinfo) -> dt.tzinfo:
    """An IANA name or a tzinfo, as a tzinfo; raise UnknownTimezone otherwise."""
    if isinstance(tz, dt.tzinfo):
        return tz
    if isinstance(tz, str):
        try:
            return zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise UnknownTimezone(tz) from exc
    raise UnknownTimezone(tz)


def to_posix(value: object, name: str = "time") -> float:
    """POSIX seconds of an aware datetime or a number, in the supported range.

    A naive datetime is refused (NaiveDatetime); so is anything but an exact
    float or int (a bool too), NaN, infinities and instants outside
    [MIN_TIME, MAX_TIME), 1970-01-01 to 2106-02-07 UTC (InvalidTime). O(1).
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetime(name, value)
        seconds: float = value.timestamp()
    elif type(value) is float or type(value) is int:
        seconds = value
    else:
        raise InvalidTime(
            f"{name} must be POSIX seconds or an aware datetime, got {short_repr(value)}")
    if not MIN_TIME <= seconds < MAX_TIME:  # false for NaN too
        raise InvalidTime(f"{name} must be an instant from 1970-01-01 to 2106-02-07 UTC"
                          f" (POSIX seconds in [0, 2**32)), got {short_repr(value)}")
    return float(seconds)


def check_day(value: object, name: str = "day") -> dt.date:
    """``value`` if it is a date (and not a datetime), else InvalidDay."""
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidDay(
            f"{name} must be a datetime.date (not a datetime), got {short_repr(value)}")
    return value


# The local days that instants in [MIN_TIME, MAX_TIME) can fall on, in any timezone
# (UTC-12 to UTC+14): asking for others could only build a long, empty calendar, or
# overflow datetime.date at its ends.
FIRST_DAY = dt.date(1969, 12, 31)
LAST_DAY = dt.date(2106, 2, 7)


def supported_day(value: object, name: str = "day") -> dt.date:
    """``value`` as a date from FIRST_DAY to LAST_DAY; InvalidDay otherwise. O(1)."""
    day = check_day(value, name)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidDay(f"{name} must be from {FIRST_DAY} to {LAST_DAY} (the supported"
                         f" times), got {short_repr(day)}")
    return day


def local_date(ts: float, tz: dt.tzinfo) -> dt.date:
    """The local calendar date of an instant."""
    return dt.datetime.fromtimestamp(ts, tz).date()


def local_instant(day: dt.date, at: dt.time, tz: dt.tzinfo) -> float:
    """The instant of local wall time ``day at`` (first occurrence; a gap maps to the jump)."""
    naive = dt.datetime.combine(day, at)
    ts = naive.replace(tzinfo=tz).timestamp()
    if dt.datetime.fromtimestamp(ts, tz).replace(tzinfo=None) == naive:
        return ts
    # In a gap, fold=1 reads the wall time with the offset after the jump (an
    # instant before it) and fold=0 with the offset before (after it). The jump
    # is the first whole second in between whose wall time is >= naive.
    lo = math.floor(naive.replace(tzinfo=tz, fold=1).timestamp())
    hi = math.ceil(ts)
    while lo < hi:
        mid = (lo + hi) // 2
        if dt.datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid + 1
    return float(hi)


def day_bounds(day: dt.date, tz: str | dt.tzinfo = "Asia/Shanghai") -> tuple[float, float]:
    """[start, end) instants of a local day: 23, 24 or 25 hours long across DST.

    ``day`` must be from FIRST_DAY to LAST_DAY (InvalidDay otherwise)."""
    zone = resolve_tz(tz)
    supported_day(day)
    return local_instant(day, _MIDNIGHT, zone), local_instant(day + _ONE_DAY, _MIDNIGHT, zone)


def window_bounds(day: dt.date, window: Window, tz: dt.tzinfo) -> tuple[float, float]:
    """[open, close) instants of ``window`` on local ``day``."""
    close_day = day + _ONE_DAY if window.end == _MIDNIGHT else day
    return local_instant(day, window.start, tz), local_instant(close_day, window.end, tz)


class Calendar:
    """The windows of consecutive local days, for classifying instants fast.

    ``opens``/``closes`` are sorted and disjoint, so one bisect finds the
    window holding an instant (or the next one). Days are appended lazily
    when a duration runs past the last one (in-window seconds, K08).
    """

    __slots__ = ("closes", "counted", "days", "opens", "tz", "window")

    def __init__(
        self, tz: dt.tzinfo, window: Window, first: dt.date, last: dt.date,
        counted: frozenset[dt.date] | None,
    ) -> None:
        self.tz = tz
        self.window = window
        self.days: list[dt.date] = []
        self.opens: list[float] = []
        self.closes: list[float] = []
        self.counted: list[bool] = []
        day = first
        while day <= last:
            self._append(day, counted is None or day in counted)
            day += _ONE_DAY

    def _append(self, day: dt.date, counted: bool) -> None:
        o, c = window_bounds(day, self.window, self.tz)
        self.days.append(day)
        self.opens.append(o)
        self.closes.append(c)
        self.counted.append(counted)

    def in_window(self, a: float, b: float) -> float:
        """Seconds of [a, b] that lie inside windows (b >= a)."""
        closes = self.closes
        while closes[-1] < b:
            self._append(self.days[-1] + _ONE_DAY, False)
        opens = self.opens
        i = bisect.bisect_right(closes, a)
        total = 0.0
        n = len(opens)
        while i < n and opens[i] < b:
            lo = opens[i] if opens[i] > a else a
            hi = closes[i] if closes[i] < b else b
            total += hi - lo
            i += 1
        return total
