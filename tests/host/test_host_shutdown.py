"""S08 shutdown: no new calls, in-flight ones finish durably, shops checkpointed and released."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from host_helpers import WatchedStore, run

from kefu import ManualClock
from kefu.durable import DurableShop
from kefu.errors import HostClosed, ShopBusy
from kefu.events import Event
from kefu.host import Host


def test_S08_close_finishes_calls_in_flight_then_refuses_new_ones(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        host = Host(store, clock=clock)
        await host.start()
        await host.call("s", "add_agent", "alice", online=True)
        events = host.subscribe("s")
        with pytest.raises(ShopBusy):  # the host holds the shop's writer lock
            DurableShop.open(store.inner, "s", clock)
        store.hold()
        in_flight = [asyncio.ensure_future(host.call("s", "open_session", f"x{i}"))
                     for i in range(10)]
        opening = asyncio.ensure_future(host.call("t", "open_session", "y"))
        await store.write_started()
        closing = asyncio.ensure_future(host.close())
        await asyncio.sleep(0)
        assert host.closed
        with pytest.raises(HostClosed):
            await host.call("s", "open_session", "late")
        with pytest.raises(HostClosed):
            await host.open("u")
        store.release()
        await asyncio.gather(closing, host.close())  # idempotent, concurrent closes agree
        assert [len(events) for events in await asyncio.gather(*in_flight)] == [2] * 10
        assert len(await opening) == 2
        seen: list[Event] = [event async for event in events]  # ends cleanly
        assert [e.session_id for e in seen] == [f"x{i}" for i in range(10) for _ in (0, 1)]
        await host.close()
        with pytest.raises(HostClosed):
            await host.start()
        later = host.subscribe("s")
        assert [e async for e in later] == []

    run(scenario())
    for shop, sessions in (("s", [f"x{i}" for i in range(10)]), ("t", ["y"])):
        with DurableShop.open(store.inner, shop, clock) as recovered:  # locks released
            assert recovered.recovery.replayed == 0  # and checkpointed on close
            assert recovered.session_ids() == sessions
    store.close()


def test_S08_closing_a_host_that_never_started_is_harmless(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")

    async def scenario() -> None:
        host = Host(store)
        await host.close()
        await host.close()
        with pytest.raises(HostClosed):
            await host.call("s", "waiting")
        assert store.writes == [] and store.leases == []

    run(scenario())
    store.close()


def test_S08_timers_stop_with_the_host(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock) as host:
            await host.call("s", "add_agent", "alice", online=True)
            await host.call("s", "open_session", "x")
            await host.call("s", "agent_message", "x")
            writes = len(store.writes)
        clock.set(10_000.0)
        await asyncio.sleep(0.01)
        assert len(store.writes) == writes
        with pytest.raises(HostClosed):
            await host.clock_moved()

    run(scenario())
    store.close()
