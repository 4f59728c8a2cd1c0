"""S08: the host's flusher cancelled (its loop ending, a task group cancelling it).

Whatever cancels it, no caller waits forever, and what a caller was told is
written is in the store: the write in flight goes on in its worker thread,
so the flusher waits for it and answers its callers from what it did.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from host_helpers import WatchedStore, run

from kefu import ManualClock
from kefu.durable import DurableShop, SQLiteStore
from kefu.errors import HostClosed, ShopFailed
from kefu.host import Host


def test_S08_a_cancelled_flusher_answers_the_write_in_flight_and_fails_the_rest(
        tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        host = Host(store, clock=clock)
        await host.start()
        await host.call("s", "add_agent", "alice", online=True)
        store.hold()
        in_flight = asyncio.ensure_future(host.call("s", "open_session", "x1"))
        await store.write_started()
        queued = asyncio.ensure_future(host.call("s", "open_session", "x2"))
        await asyncio.sleep(0)
        flusher = host._flusher
        assert flusher is not None
        flusher.cancel()
        await asyncio.sleep(0.05)
        store.release()
        done, _ = await asyncio.wait([in_flight, queued], timeout=10.0)
        assert done == {in_flight, queued}, "a caller was never answered"
        assert [e.session_id for e in in_flight.result()] == ["x1", "x1"]  # written
        with pytest.raises(ShopFailed, match="the host stopped"):
            queued.result()
        assert flusher.cancelled()
        with pytest.raises(HostClosed, match="flusher task was cancelled"):
            await asyncio.wait_for(host.call("s", "open_session", "x3"), 10.0)
        with pytest.raises(HostClosed):
            await host.open("t")
        await asyncio.wait_for(host.close(), 10.0)  # releases the shops all the same

    run(scenario())
    with DurableShop.open(store.inner, "s", clock) as shop:
        assert "x1" in shop.session_ids()  # acknowledged, so durable
        assert "x3" not in shop.session_ids()
    store.close()


def test_S08_a_loop_ending_without_close_answers_or_cancels_every_caller(
        tmp_path: Path) -> None:
    """asyncio.run returns with a write in flight and the host never closed: the
    flusher outlives the cancellation until the write ends, no caller hangs, and
    reopening the file shows the written commands."""
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)
    callers: list[asyncio.Future[object]] = []

    async def main() -> None:
        host = Host(store, clock=clock)
        await host.call("s", "add_agent", "alice", online=True)
        store.hold()
        callers.extend(asyncio.ensure_future(host.call("s", "open_session", f"x{i}"))
                       for i in range(3))
        await store.write_started()
        threading.Timer(0.2, store.release).start()  # the write ends after the loop stops

    asyncio.run(main())
    assert all(c.done() for c in callers)
    store.close()  # releases the leases the never-closed host held
    again = SQLiteStore(tmp_path / "x.db")
    with DurableShop.open(again, "s", clock) as shop:
        written = shop.session_ids()
    again.close()
    assert store.writes[-1] == [("s", 3)]  # the write in flight did land
    assert written == ["x0", "x1", "x2"]
