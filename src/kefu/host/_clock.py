"""The shops' clock inside a host: one reading serves a whole call (S08).

A host checks whether a shop's timer is overdue before it runs a command on
the shop (an overdue timer fires first). Both must see the same instant, or
a deadline passing between two readings lets a command run past it without
the tick: a reply landing a microsecond after a first-response deadline
would cancel a timeout that was due. :class:`HeldClock` wraps the host's
clock; while the host holds a reading, every shop reads that one.

Cost: one attribute test per reading.
"""

from __future__ import annotations

import math

from kefu.clock import Clock, as_seconds

__all__ = ["HeldClock"]


class HeldClock:
    """A clock that returns the held reading while a call holds one, else the real time."""

    __slots__ = ("_clock", "held")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.held: float | None = None

    def now(self) -> float:
        held = self.held
        return self._clock.now() if held is None else held

    def read(self) -> float | None:
        """A finite reading of the real clock, or None if it failed (never raises)."""
        try:
            seconds = as_seconds(self._clock.now())
        except Exception:
            return None
        return seconds if seconds is not None and math.isfinite(seconds) else None
