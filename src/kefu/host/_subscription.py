"""Subscription: one subscriber's bounded, ordered feed of a shop's durable events (S08).

The host pushes each command's events here after they are durable, in the
shop's journal order. The queue is bounded: a subscriber that falls more
than ``limit`` events behind is disconnected rather than allowed to stall
the shop or grow memory. Its iterator then yields what it already holds and
raises :class:`~kefu.errors.SubscriberLagged`. A command's events are queued
all or none, so what a subscriber saw always ends at a command boundary.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType

from kefu._text import short_repr
from kefu.errors import ConcurrentCall, SubscriberLagged
from kefu.events import Event

__all__ = ["Subscription"]

_OPEN, _LAGGED, _ENDED = "open", "lagged", "ended"


class Subscription:
    """An async iterator (and async context manager) of one shop's events, in order.

    Get one from :meth:`kefu.host.Host.subscribe`. Iteration ends cleanly
    when the host closes or :meth:`aclose` is called; it raises
    :class:`~kefu.errors.SubscriberLagged` once the subscriber has fallen
    ``limit`` events behind and drained the ones it holds. Memory: at most
    ``limit`` events. One task iterates a subscription: a second task that
    waits on it while the first does raises
    :class:`~kefu.errors.ConcurrentCall` (subscribe once per reader).
    """

    def __init__(self, shop_id: str, limit: int, detach: Callable[[Subscription], None]) -> None:
        """Internal: use :meth:`kefu.host.Host.subscribe`."""
        self.shop_id = shop_id
        self.limit = limit
        self._detach = detach
        self._events: deque[Event] = deque()
        self._state = _OPEN
        self._wakeup: asyncio.Future[None] | None = None

    @property
    def lagged(self) -> bool:
        """Whether this subscriber was disconnected for falling behind."""
        return self._state == _LAGGED

    @property
    def queued(self) -> int:
        """How many events wait to be read."""
        return len(self._events)

    def _push(self, events: Sequence[Event]) -> None:
        """Queue one command's events, or disconnect the subscriber if they do not fit. O(len)."""
        if self._state != _OPEN or not events:
            return
        if len(self._events) + len(events) > self.limit:
            self._state = _LAGGED
            self._detach(self)
        else:
            self._events.extend(events)
        self._wake()

    def _end(self) -> None:
        """End the feed (the host closed): the iterator stops after the queued events."""
        if self._state == _OPEN:
            self._state = _ENDED
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._events:
            if self._state == _LAGGED:
                raise SubscriberLagged(self.shop_id, self.limit)
            if self._state == _ENDED:
                raise StopAsyncIteration
            if self._wakeup is not None:  # another task waits here: one wake-up, one reader
                raise ConcurrentCall("__anext__", "Subscription")
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None
        return self._events.popleft()

    async def aclose(self) -> None:
        """Stop receiving events; iteration ends after the queued ones. Idempotent."""
        if self._state == _OPEN:
            self._detach(self)
        self._end()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<Subscription {short_repr(self.shop_id)} {self._state} queued={len(self._events)}>"
