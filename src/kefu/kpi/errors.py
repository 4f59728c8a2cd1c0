"""Errors raised by :mod:`kefu.kpi`: all but :class:`NestedCall` are
:class:`kefu.errors.InvalidArgument`.

A KPI function validates its arguments once, before computing anything, and
raises one of these with a message that names the offending value.
"""

from __future__ import annotations

from kefu._text import short_repr
from kefu.errors import ConcurrentCall, InvalidArgument, KefuError

__all__ = [
    "InvalidDay",
    "InvalidRecord",
    "InvalidThreshold",
    "InvalidTime",
    "InvalidWindow",
    "KpiArgumentError",
    "NaiveDatetime",
    "NestedCall",
    "TimezoneFailed",
    "UnknownBasis",
    "UnknownPolicy",
    "UnknownTimezone",
]


class KpiArgumentError(InvalidArgument):
    """Base of every KPI argument error (also a ``ValueError``)."""


class InvalidRecord(KpiArgumentError):
    """A KPI record with a field of the wrong type or an impossible value."""


class NaiveDatetime(KpiArgumentError):
    """A datetime without tzinfo: its instant is ambiguous, so it is refused."""

    def __init__(self, name: str, value: object) -> None:
        super().__init__(
            f"{name} must be an aware datetime (with tzinfo), got naive {short_repr(value)}")
        self.value = value


class InvalidThreshold(KpiArgumentError):
    """A threshold, warning age or attribution window that is not a positive finite number."""


class InvalidTime(KpiArgumentError):
    """A time that is neither finite POSIX seconds nor an aware datetime."""


class InvalidWindow(KpiArgumentError):
    """An assessment window that is empty, crosses midnight or has a tzinfo."""


class InvalidDay(KpiArgumentError):
    """A day that is not a ``datetime.date`` (a ``datetime`` is refused too)."""


class UnknownBasis(KpiArgumentError):
    """A shop reply-rate basis other than "first" or "any" (K03)."""

    def __init__(self, value: object) -> None:
        super().__init__(f"unknown basis {short_repr(value)}:"
                         " use Basis.FIRST / 'first' or Basis.ANY / 'any'")
        self.value = value


class UnknownPolicy(KpiArgumentError):
    """A before-window policy other than "exclude" or "open" (K01)."""

    def __init__(self, value: object) -> None:
        super().__init__(
            f"unknown before-window policy {short_repr(value)}:"
            " use BeforeWindow.EXCLUDE / 'exclude'"
            " or BeforeWindow.OPEN / 'open'"
        )
        self.value = value


class UnknownTimezone(KpiArgumentError):
    """A timezone name that the IANA database (zoneinfo) does not know."""

    def __init__(self, value: object) -> None:
        super().__init__(f"unknown timezone {short_repr(value)}:"
                         " use an IANA name such as 'Asia/Shanghai'")
        self.value = value


class NestedCall(ConcurrentCall):
    """A call on a :class:`~kefu.kpi.LiveTracker` made from inside another call on the
    same tracker: from its time zone's code, a record's own code (a subclass's
    property) or the iterable given to ``extend``. Calls from other threads wait
    their turn; a nested one cannot (it would see the tracker half-way through a
    change), so it raises this and changes nothing. Not an argument error."""

    def __init__(self, method: str) -> None:
        KefuError.__init__(
            self, f"LiveTracker.{method}() called from inside another call on the same"
            " LiveTracker (from a time zone's, a record's or an iterable's own code):"
            " calls on a tracker cannot nest")
        self.method = method
        self.owner = "LiveTracker"


class TimezoneFailed(KpiArgumentError):
    """The time zone a live tracker was given raised while its days were laid out."""

    def __init__(self, tz: object, exc: BaseException) -> None:
        super().__init__(f"the time zone {short_repr(tz)} raised {short_repr(exc)}")
        self.tz = tz
