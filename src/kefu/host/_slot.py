"""A shop as the host holds it: the DurableShop, its callers waiting for a write, its timer.

Every call's outcome (events, a query's value, or an error) waits in a
:class:`Waiter` until every command it may have observed is durable. A
slot has two batches of waiters: ``pending`` (behind journal entries not
yet handed to the store) and ``inflight`` (behind the write now running).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kefu.durable import DurableShop
from kefu.events import Event

__all__ = ["Slot", "Waiter"]


class Waiter:
    """One call's outcome, released once the commands before it are durable.

    ``publish`` holds the events to push to subscribers (a new journaled
    command's), or None (a query, an error, a repeated request id).
    """

    __slots__ = ("error", "future", "publish", "result")

    def __init__(self, future: asyncio.Future[Any], result: Any, error: BaseException | None,
                 publish: list[Event] | None) -> None:
        self.future = future
        self.result = result
        self.error = error
        self.publish = publish

    def release(self) -> None:
        """Hand the outcome to the caller (unless the caller gave up waiting)."""
        if self.future.done():
            return
        if self.error is not None:
            self.future.set_exception(self.error)
        else:
            self.future.set_result(self.result)

    def fail(self, error: BaseException) -> None:
        """Replace the outcome with ``error`` (the write it waited for failed)."""
        self.publish = None
        self.error = error
        self.release()


class Slot:
    """The host's record of one open shop; ``retired`` once dropped after a failure."""

    __slots__ = ("deadline", "handle", "inflight", "pending", "retired", "shop", "shop_id")

    def __init__(self, shop_id: str, shop: DurableShop) -> None:
        self.shop_id = shop_id
        self.shop = shop
        self.pending: list[Waiter] = []
        self.inflight: list[Waiter] | None = None
        self.deadline: float | None = None
        self.handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self.retired = False
