"""S08: the host's flusher cancelled (its loop ending, a task group cancelling it).

Whatever cancels it, no caller waits forever, and what a caller was told is
written is in the store: the write in flight goes on in its worker thread,
so the flusher waits for it and answers its callers from what it did.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from host_helpers import WatchedStore, run

from kefu import ManualClock
from kefu.durable import Commit, DurableShop, SQLiteStore
from kefu.durable.sqlite import _SQLiteLease
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
        await asyncio.wait([flusher], timeout=10.0)  # it lets the shops go, then ends
        assert flusher.cancelled()
        store.inner.lease("s").release()  # released: another writer may take the shop
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
    reopening the file shows the written commands; the shop is released."""
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
    again = SQLiteStore(tmp_path / "x.db")
    again.lease("s").release()  # the never-closed host let its shop go
    with DurableShop.open(again, "s", clock) as shop:
        written = shop.session_ids()
    again.close()
    assert store.writes[-1] == [("s", 3)]  # the write in flight did land
    assert written == ["x0", "x1", "x2"]


class _SlowToOpen(WatchedStore):
    """Leases wait for ``go``: a shop is still opening (in a worker thread) meanwhile."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.opening = threading.Event()
        self.go = threading.Event()
        self.leased = threading.Event()

    def lease(self, shop_id: str) -> _SQLiteLease:
        self.opening.set()
        self.go.wait(10.0)
        lease = super().lease(shop_id)
        self.leased.set()
        return lease


def test_S08_a_shop_still_opening_as_the_loop_ends_is_released(tmp_path: Path) -> None:
    """The opening goes on in its worker thread after the loop cancels it: once open,
    the shop must be let go, or its writer lock stays taken until the process ends."""
    store = _SlowToOpen(tmp_path / "x.db")
    callers: list[asyncio.Future[object]] = []

    async def main() -> None:
        host = Host(store, clock=ManualClock(0.0))
        callers.append(asyncio.ensure_future(host.call("s", "add_agent", "alice")))
        await asyncio.get_running_loop().run_in_executor(None, store.opening.wait, 10.0)
        threading.Timer(0.2, store.go.set).start()

    asyncio.run(main())
    assert callers[0].cancelled()
    assert store.leased.wait(10.0)  # the opening thread got the shop's writer lock
    other = SQLiteStore(tmp_path / "x.db")
    other.lease("s").release()  # never ShopBusy
    other.close()
    store.close()


class _GatedLease:
    """A lease whose writes, once its store is ``armed``, wait for the store's ``go``."""

    def __init__(self, inner: _SQLiteLease, store: _SlowToClose) -> None:
        self._inner, self._store = inner, store
        self.shop_id = inner.shop_id

    def commit(self, commit: Commit) -> None:
        if self._store.armed:
            self._store.closing.set()
            self._store.go.wait(10.0)
        self._inner.commit(commit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _SlowToClose(WatchedStore):
    """A shop's own writes (its checkpoint as it closes) wait for ``go``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.closing = threading.Event()
        self.go = threading.Event()
        self.armed = False

    def lease(self, shop_id: str) -> Any:
        return _GatedLease(super().lease(shop_id), self)


def test_S08_a_close_cut_short_by_the_loop_ending_still_releases_every_shop(
        tmp_path: Path) -> None:
    """The loop ends while close() checkpoints the first of three shops: the other
    two must be closed all the same, not left holding their writer locks."""
    store = _SlowToClose(tmp_path / "x.db")

    async def main() -> None:
        host = Host(store, clock=ManualClock(0.0))
        for shop in ("a", "b", "c"):
            await host.call(shop, "add_agent", "alice")
        store.armed = True
        closing = asyncio.ensure_future(host.close())
        assert await asyncio.get_running_loop().run_in_executor(None, store.closing.wait, 10.0)
        threading.Timer(0.2, store.go.set).start()
        assert not closing.done()  # main returns with the close under way

    asyncio.run(main())
    other = SQLiteStore(tmp_path / "x.db")
    for shop in ("a", "b", "c"):
        other.lease(shop).release()  # never ShopBusy
    other.close()
    store.close()


def test_S08_a_shop_that_opens_after_the_flusher_was_cancelled_is_released(
        tmp_path: Path) -> None:
    """The flusher is cancelled (a task group, not the loop ending) while a shop opens
    in its worker thread; the loop goes on and nobody closes the host. The shop that
    opens then can never be written: its caller hears HostClosed and the shop is let
    go, not left holding its writer lock for as long as the process runs."""
    store = _SlowToOpen(tmp_path / "x.db")

    async def scenario() -> None:
        host = Host(store, clock=ManualClock(0.0))
        await host.start()
        caller = asyncio.ensure_future(host.call("s", "add_agent", "alice"))
        await asyncio.get_running_loop().run_in_executor(None, store.opening.wait, 10.0)
        flusher = host._flusher
        assert flusher is not None
        flusher.cancel()
        await asyncio.wait([flusher], timeout=10.0)
        store.go.set()
        with pytest.raises(HostClosed, match="flusher task was cancelled"):
            await asyncio.wait_for(caller, 10.0)
        for _ in range(200):  # the release runs in a worker thread
            if not host.open_shops() and not host._releasing:
                break
            await asyncio.sleep(0.01)
        assert host.open_shops() == []
        other = SQLiteStore(tmp_path / "x.db")
        other.lease("s").release()  # never ShopBusy
        other.close()
        await asyncio.wait_for(host.close(), 10.0)

    run(scenario())
    store.close()


def test_S08_a_flusher_cancelled_before_it_first_ran_leaves_no_caller_waiting(
        tmp_path: Path) -> None:
    """A shutdown that cancels every task may cancel the flusher before its first
    step, so its own handler never runs: the host must still refuse calls
    (HostClosed) instead of running commands that nothing will ever write."""
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        host = Host(store, clock=ManualClock(0.0))
        await host.start()
        flusher = host._flusher
        assert flusher is not None
        flusher.cancel()
        await asyncio.wait([flusher], timeout=10.0)
        with pytest.raises(HostClosed, match="flusher task was cancelled"):
            await asyncio.wait_for(host.call("s", "add_agent", "alice"), 10.0)
        await asyncio.wait_for(host.close(), 10.0)

    run(scenario())
    store.lease("s").release()
    store.close()


class _SlowToRelease(WatchedStore):
    """Releasing shop ``a``'s lease waits for ``go`` (set ``armed`` first)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.releasing = threading.Event()
        self.go = threading.Event()
        self.released = threading.Event()
        self.armed = False

    def lease(self, shop_id: str) -> Any:
        inner = super().lease(shop_id)
        store = self

        class Lease:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            def release(self) -> None:
                if store.armed and inner.shop_id == "a":
                    store.releasing.set()
                    store.go.wait(10.0)
                    inner.release()
                    store.released.set()
                    return
                inner.release()

        return Lease()


def test_S08_a_close_cut_short_while_a_dropped_shop_lets_go_releases_the_others(
        tmp_path: Path) -> None:
    """Shop ``a`` was dropped (its write failed) and is still letting go in a worker
    thread as close() begins; the loop ends meanwhile. The other shops must be
    closed all the same, not left holding their writer locks."""
    store = _SlowToRelease(tmp_path / "x.db")

    async def main() -> None:
        host = Host(store, clock=ManualClock(0.0))
        for shop in ("a", "b"):
            await host.call(shop, "add_agent", "alice")
        store.armed = True
        store.fail = lambda commits: any(c.shop_id == "a" for c in commits)
        with pytest.raises(ShopFailed):
            await host.call("a", "add_agent", "bob")
        assert await asyncio.get_running_loop().run_in_executor(
            None, store.releasing.wait, 10.0)
        closing = asyncio.ensure_future(host.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # close() waits for ``a`` to let go
        threading.Timer(0.2, store.go.set).start()

    asyncio.run(main())
    assert store.released.wait(10.0)  # the worker thread let ``a`` go
    other = SQLiteStore(tmp_path / "x.db")
    for shop in ("a", "b"):
        other.lease(shop).release()  # never ShopBusy
    other.close()
    store.close()


def test_S08_an_interrupt_that_kills_the_flusher_leaves_no_caller_waiting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C's KeyboardInterrupt lands in the flusher on the loop's thread, as it
    prepares the second of two shops' writes: it leaves the loop (asyncio lets it
    through), and the application catches it and runs the loop on. The callers of
    both shops waited forever (the first shop's write was prepared, never made) and
    the shops stayed leased; now they are told ShopFailed, new calls get HostClosed,
    and the shops are released."""
    store = SQLiteStore(tmp_path / "x.db")
    loop = asyncio.new_event_loop()
    prepare = DurableShop.prepare_flush
    calls = 0

    def interrupted_prepare(shop: DurableShop) -> Commit | None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return prepare(shop)

    try:
        host = Host(store, clock=ManualClock(0.0))
        loop.run_until_complete(host.start())
        for shop_id in ("a", "b"):
            loop.run_until_complete(host.call(shop_id, "add_agent", "alice", online=True))
        monkeypatch.setattr(DurableShop, "prepare_flush", interrupted_prepare)
        callers = [loop.create_task(host.call(shop_id, "open_session", "x"))
                   for shop_id in ("a", "b")]
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(asyncio.wait(callers))
        monkeypatch.setattr(DurableShop, "prepare_flush", prepare)
        done, _ = loop.run_until_complete(asyncio.wait(callers, timeout=10.0))
        assert done == set(callers), "a caller was never answered"
        for caller in callers:
            with pytest.raises(ShopFailed):
                caller.result()
        with pytest.raises(HostClosed, match="flusher"):
            loop.run_until_complete(asyncio.wait_for(host.call("a", "load"), 10.0))
        loop.run_until_complete(asyncio.wait_for(host.close(), 10.0))
    finally:
        loop.close()
    for shop_id in ("a", "b"):  # released: another writer may take them
        store.lease(shop_id).release()
    store.close()
    # The interrupt reached the application: the dead flusher's task logs nothing
    # more when it is collected ("Task exception was never retrieved"): asyncio
    # logs that for a task whose exception is still marked unseen.
    flusher = host._flusher
    assert flusher is not None and flusher.done()
    assert not flusher._log_traceback  # type: ignore[attr-defined]
