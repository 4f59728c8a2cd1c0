"""S08: subscribers receive a shop's durable events in order; a slow one is cut off.

A subscriber's queue is bounded: one that falls ``limit`` events behind is
disconnected (SubscriberLagged after it drains what it holds) while the shop
and the other subscribers go on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from host_helpers import run

from kefu import ManualClock
from kefu.durable import SQLiteStore
from kefu.errors import ConcurrentCall, InvalidArgument, SubscriberLagged
from kefu.events import Event
from kefu.host import Host, Subscription


async def _collect(subscription: Subscription, into: list[Event]) -> None:
    async for event in subscription:
        into.append(event)


def test_S08_subscribers_get_every_durable_event_in_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock) as host:
            await host.call("s", "add_agent", "early", online=True)  # before subscribing
            seen: dict[str, list[Event]] = {"s": [], "t": []}
            readers = [asyncio.ensure_future(_collect(host.subscribe(shop), seen[shop]))
                       for shop in ("s", "t")]
            await host.call("s", "add_agent", "alice", 2, online=True)
            calls: list[Any] = []
            for i in range(60):
                shop = "s" if i % 3 else "t"
                calls.append(host.call(shop, "open_session", f"x{i}", f"b{i}"))
                if i % 5 == 0:
                    calls.append(host.call(shop, "close_session", f"x{i}"))
            results = await asyncio.gather(*calls, return_exceptions=True)
            expected: dict[str, list[Event]] = {"s": [], "t": []}
            for result in results:
                if isinstance(result, list) and result:
                    expected[_shop_of(result)].extend(result)
            await host.close()
            await asyncio.gather(*readers)
            assert seen == expected
            assert len(seen["s"]) > 60 and all(e.session_id.startswith("x") for e in seen["s"])

    run(scenario())
    store.close()


def _shop_of(events: list[Event]) -> str:
    number = int(events[0].session_id[1:])
    return "s" if number % 3 else "t"


def test_S08_a_slow_subscriber_is_disconnected_not_waited_for(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0), subscriber_limit=5) as host:
            slow = host.subscribe("s")
            fast_events: list[Event] = []
            fast = host.subscribe("s", limit=1000)
            reader = asyncio.ensure_future(_collect(fast, fast_events))
            # 40 calls, 2 events each; nobody reads `slow`: the shop does not wait for it.
            for i in range(40):
                await host.call("s", "open_session", f"x{i}")
                assert slow.queued <= 5
            assert slow.lagged
            drained = []
            with pytest.raises(SubscriberLagged, match="fell 5 events behind"):
                async for event in slow:
                    drained.append(event)
            assert [e.session_id for e in drained] == ["x0", "x0", "x1", "x1"]  # whole calls
            with pytest.raises(SubscriberLagged):  # and stays disconnected
                await slow.__anext__()
            await fast.aclose()
            await reader
            assert len(fast_events) == 80

    run(scenario())
    store.close()


def test_S08_a_subscription_is_an_async_context_manager(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0)) as host:
            async with host.subscribe("s") as events:
                await host.call("s", "open_session", "x")
                first = await events.__anext__()
            assert first.session_id == "x"
            await host.call("s", "open_session", "y")  # after leaving: not queued
            assert events.queued == 1
            with pytest.raises(StopAsyncIteration):
                await events.__anext__()
                await events.__anext__()
            with pytest.raises(InvalidArgument, match="limit"):
                host.subscribe("s", limit=0)

    run(scenario())
    store.close()


def test_S08_a_second_reader_of_one_subscription_is_refused_not_left_hanging(
        tmp_path: Path) -> None:
    """Two tasks iterating one subscription: the second is refused; the first gets it all."""
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0)) as host:
            subscription = host.subscribe("s")
            seen: list[Event] = []
            first = asyncio.ensure_future(_collect(subscription, seen))
            await asyncio.sleep(0)  # the first reader is waiting for an event
            with pytest.raises(ConcurrentCall, match=r"Subscription.__anext__\(\)"):
                await subscription.__anext__()
            await host.call("s", "add_agent", "alice", online=True)
            await host.call("s", "open_session", "x")
        await asyncio.wait_for(first, 10.0)  # the host closed: the reader ends
        assert [type(e).__name__ for e in seen] == ["Opened", "Assigned"]

    run(scenario())
    store.close()
