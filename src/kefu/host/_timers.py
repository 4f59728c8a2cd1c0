"""When to tick each shop: one loop timer per shop at its ``next_deadline()`` (S08).

Deadlines are clock times (the shop's clock); the event loop sleeps in its
own monotonic time. With ``sleep=True`` (a real clock) a shop's timer is a
``loop.call_later(deadline - clock.now())``; when it fires and the clock
says the deadline has not come yet (the two clocks drifted, or the loop
woke early), it sleeps again for the rest. With ``sleep=False`` (a
``ManualClock``) nothing sleeps: time moves only when the owner says so
(:meth:`kefu.host.Host.clock_moved`), which fires every due shop at once,
so tests see timers fire at exactly their deadline. Either way a deadline
already due is fired on the next loop iteration.

A clock that fails (raises, or returns no finite time) never breaks a
call: the timer is armed again a second later (:data:`RETRY`).

Cost: O(1) per re-arm (one loop timer handle), O(open shops) per
``clock_moved``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kefu.host._clock import HeldClock
from kefu.host._slot import Slot

__all__ = ["RETRY", "Timers"]

#: Seconds before a timer is armed again when the clock could not be read.
RETRY = 1.0


class Timers:
    """Arms each shop's loop timer and calls ``fire(slot)`` once its deadline is due."""

    def __init__(self, clock: HeldClock, sleep: bool, fire: Callable[[Slot], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._fire = fire
        self._stopped = False

    def arm(self, slot: Slot) -> None:
        """(Re-)arm ``slot``'s timer for ``slot.deadline`` (None: no timer)."""
        self.cancel(slot)
        deadline = slot.deadline
        if deadline is None or self._stopped:
            return
        loop = asyncio.get_running_loop()
        now = self._clock.read()
        if now is None:  # the clock failed: try again shortly
            slot.handle = loop.call_later(RETRY, self._due, slot, deadline)
            return
        delay = deadline - now
        if delay <= 0:
            slot.handle = loop.call_soon(self._due, slot, deadline)
        elif self._sleep:
            slot.handle = loop.call_later(delay, self._due, slot, deadline)

    def cancel(self, slot: Slot) -> None:
        if slot.handle is not None:
            slot.handle.cancel()
            slot.handle = None

    def due(self, slot: Slot, now: float | None) -> bool:
        """Whether ``slot``'s deadline has come by ``now`` (False if the clock failed)."""
        return now is not None and slot.deadline is not None and slot.deadline <= now

    def stop(self) -> None:
        """Arm nothing more (the host is shutting down); cancel handles with :meth:`cancel`."""
        self._stopped = True

    def _due(self, slot: Slot, deadline: float) -> None:
        slot.handle = None
        if self._stopped or slot.retired or slot.deadline != deadline:
            return
        now = self._clock.read()
        if now is None or deadline > now:
            self.arm(slot)  # woke before the deadline (or no reading): sleep the rest
            return
        self._fire(slot)
