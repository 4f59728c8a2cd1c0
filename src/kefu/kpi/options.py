"""The parameters every KPI function shares, validated once (K00, K01, K06, K07).

A KPI function turns its keyword arguments into one :class:`Options` before
it looks at a record, so bad input fails fast with a typed error and the
rule modules can trust what they get.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping

import attrs

from kefu._text import short_repr
from kefu.kpi.errors import InvalidDay, InvalidRecord, InvalidThreshold, InvalidWindow
from kefu.kpi.intake import checked, plain_str
from kefu.kpi.records import Exclusion
from kefu.kpi.timeline import INF
from kefu.kpi.window import (
    BeforeWindow,
    Calendar,
    Window,
    local_date,
    resolve_tz,
    supported_day,
    to_posix,
)

__all__ = ["DayArg", "ExclusionsArg", "Options", "make_options"]

DayArg = dt.date | Iterable[dt.date] | None
"""A local day, several (a week, a month), or None for every day in the records."""

ExclusionsArg = Iterable[str | Exclusion] | Mapping[str, str]
"""Excluded buyers: ids (reason "malicious"), Exclusion records, or {buyer_id: reason}."""

_ONE_DAY = dt.timedelta(days=1)


@attrs.frozen
class Options:
    """Validated shared parameters; ``as_of`` is ``inf`` when the day is over."""

    days: frozenset[dt.date] | None
    tz: dt.tzinfo
    window: Window
    threshold: float
    as_of: float
    warn_after: float
    before_window: BeforeWindow
    excluded: Mapping[str, str]
    detail: bool

    def calendar(self, first: float, last: float) -> Calendar:
        """Windows for the asked days (or, without any, the days ``first``..``last`` span)."""
        if self.days is not None:
            lo, hi = min(self.days), max(self.days)
        elif first <= last:
            lo, hi = local_date(first, self.tz), local_date(last, self.tz) + _ONE_DAY
        else:  # no records at all
            lo = hi = dt.date(1970, 1, 2)
        return Calendar(self.tz, self.window, lo - _ONE_DAY, hi, self.days)


def seconds(name: str, value: object, *, zero_ok: bool = False) -> float:
    """``value`` as positive (or, with ``zero_ok``, non-negative) finite seconds."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero_ok)
    ):
        need = "a finite number >= 0" if zero_ok else "a finite number > 0"
        raise InvalidThreshold(f"{name} must be {need} (seconds), got {short_repr(value)}")
    return float(value)


def _days(day: DayArg) -> frozenset[dt.date] | None:
    if day is None:
        return None
    if isinstance(day, dt.date):
        return frozenset((supported_day(day),))
    if isinstance(day, (str, bytes)) or not isinstance(day, Iterable):
        raise InvalidDay(
            f"day must be a date, an iterable of dates or None, got {short_repr(day)}")
    days = frozenset(supported_day(d) for d in day)
    if not days:
        raise InvalidDay("day must not be an empty collection (pass None for every day)")
    return days


def exclusions(value: ExclusionsArg) -> dict[str, str]:
    """{buyer_id: reason}; a buyer excluded for several reasons gets the first by name.

    Ids and reasons become plain ``str`` (:func:`kefu.kpi.intake.plain_str`), so
    no code of a str subclass runs later. O(n).
    """
    out: dict[str, str] = {}
    if isinstance(value, Mapping):
        pairs: list[tuple[object, object]] = list(value.items())
    elif isinstance(value, (str, bytes)):
        raise InvalidRecord(
            f"excluded_buyers must be a collection of buyer ids, got {short_repr(value)}")
    else:
        items = list(value)
        records = checked([e for e in items if isinstance(e, Exclusion)], Exclusion)
        pairs = [(e.buyer_id, e.reason) for e in records]
        pairs += [(e, "malicious") for e in items if not isinstance(e, Exclusion)]
    for buyer, reason in pairs:
        if not isinstance(buyer, str) or not isinstance(reason, str):
            raise InvalidRecord(f"bad exclusion {short_repr(buyer)}: {short_repr(reason)}"
                                " (need str ids and reasons)")
        buyer, reason = plain_str(buyer), plain_str(reason)
        if buyer not in out or reason < out[buyer]:
            out[buyer] = reason
    return out


def make_options(
    *,
    day: DayArg = None,
    tz: str | dt.tzinfo = "Asia/Shanghai",
    window: Window | None = None,
    threshold: float = 180.0,
    as_of: float | dt.datetime | None = None,
    warn_after: float = 100.0,
    before_window: BeforeWindow | str = BeforeWindow.EXCLUDE,
    excluded_buyers: ExclusionsArg = frozenset(),
    detail: bool = False,
) -> Options:
    """Validate the shared KPI parameters (see docs/kpi.md for each)."""
    if window is None:
        window = Window.default()
    elif not isinstance(window, Window):
        raise InvalidWindow(f"window must be a kefu.kpi.Window, got {short_repr(window)}")
    return Options(
        days=_days(day),
        tz=resolve_tz(tz),
        window=window,
        threshold=seconds("threshold", threshold),
        as_of=INF if as_of is None else to_posix(as_of, "as_of"),
        warn_after=seconds("warn_after", warn_after, zero_ok=True),
        before_window=BeforeWindow.coerce(before_window),
        excluded=exclusions(excluded_buyers),
        detail=bool(detail),
    )
