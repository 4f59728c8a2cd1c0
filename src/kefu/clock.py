"""Clocks: the only source of "now" for an Assigner (R20).

The Assigner never reads the system clock itself; it asks the clock it was
given. ``ManualClock`` drives tests and simulations; ``SystemClock`` a live
backend. Times are POSIX seconds (float).
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from kefu._text import short_repr
from kefu.errors import InvalidArgument

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Anything with a ``now()`` returning POSIX seconds."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time from :func:`time.time`: the default clock of an Assigner (S01).

    The Assigner holds its readings monotonic, so a wall clock stepped back
    (NTP) never makes time run backwards inside a shop.
    """

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to; never goes backwards.

    An Assigner reads a ``ManualClock``'s time straight from the clock, without
    calling :meth:`now` (the same value, for less); a subclass that overrides
    ``now`` is called as any clock is.
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = _finite(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        seconds = _finite(seconds)
        if seconds < 0:
            raise InvalidArgument(f"cannot advance a clock by a negative amount {seconds!r}")
        self._now += seconds
        return self._now

    def set(self, when: float) -> float:
        """Jump to ``when`` (not earlier than now) and return it."""
        when = _finite(when)
        if when < self._now:
            raise InvalidArgument(f"cannot set the clock back from {self._now!r} to {when!r}")
        self._now = when
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"


def as_seconds(value: object) -> float | None:
    """``value`` as float seconds if it is an int or float (not a bool), else None.

    An int too large for a float gives inf, so callers reject it as not
    finite. Never raises: a number subclass whose conversion (or whose
    ``__class__``) raises gives None, so callers reject it as not seconds.
    """
    kind = type(value)
    if kind is float:
        return value  # type: ignore[return-value]
    try:
        if kind is bool or not isinstance(value, (int, float)):
            return None
        return float(value)
    except OverflowError:
        return math.inf
    except Exception:
        return None


def settle_reading(reading: object, last: float) -> float:
    """An odd clock reading as an Assigner's time, or InvalidArgument (S01, R20).

    For anything but a finite float at or after ``last``: an int or float
    (not a bool) is taken as seconds, held at ``last`` if earlier (a wall
    clock stepped back must not make time run backwards); anything else, or
    a reading that is not finite, is refused. O(1); never calls ``reading``'s
    own methods beyond what :func:`as_seconds` does.
    """
    seconds = as_seconds(reading)
    if seconds is None:
        raise InvalidArgument(f"clock.now() must return seconds, got {short_repr(reading)}")
    if not math.isfinite(seconds):
        raise InvalidArgument(f"clock.now() must be finite, got {short_repr(reading)}")
    return last if seconds < last else seconds


def _finite(value: object) -> float:
    result = as_seconds(value)
    if result is None:
        raise InvalidArgument(f"time must be a number of seconds, got {short_repr(value)}")
    if not math.isfinite(result):
        raise InvalidArgument(f"time must be finite, got {short_repr(value)}")
    return result
