"""S08 with S05/S06: group commit, answers only once durable, failed writes, retries.

The store is a real SQLite file behind a wrapper that counts, holds or fails
``commit_many`` calls, so the tests can see what is written when.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from host_helpers import WatchedStore, run, state

from kefu import ManualClock
from kefu.durable import DurableShop
from kefu.errors import ShopFailed, UnknownSession
from kefu.events import Opened
from kefu.host import Host


def test_S08_group_commit_writes_many_calls_and_shops_per_transaction(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    shops = [f"shop{i}" for i in range(10)]

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0)) as host:
            for shop in shops:
                await host.open(shop)
            before = len(store.writes)
            results = await asyncio.gather(*(
                host.call(shops[i % 10], "open_session", f"s{i}", f"b{i}") for i in range(200)))
            assert all(isinstance(r[0], Opened) for r in results)
            writes = store.writes[before:]
            assert sum(n for write in writes for _, n in write) == 200
            assert len(writes) <= 10, writes  # far fewer transactions than calls
            assert max(len(write) for write in writes) == 10  # one write spans every shop

    run(scenario())
    store.close()


def test_S08_no_answer_and_no_event_before_the_write_returns(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0)) as host:
            await host.open("s")
            events = host.subscribe("s")
            store.hold()
            first = asyncio.ensure_future(host.call("s", "open_session", "x"))
            await store.write_started()
            # Calls made during the write run in memory at once but wait for the next one.
            second = asyncio.ensure_future(host.call("s", "open_session", "y"))
            rejected = asyncio.ensure_future(host.call("s", "open_session", "x"))
            query = asyncio.ensure_future(host.call("s", "waiting"))
            for _ in range(20):
                await asyncio.sleep(0)
            assert not (first.done() or second.done() or rejected.done() or query.done())
            assert events.queued == 0
            store.release()
            assert [e.session_id for e in await first] == ["x", "x"]
            assert await query == ["x", "y"]
            assert [e.session_id for e in await second] == ["y", "y"]
            with pytest.raises(Exception, match="already open"):
                await rejected
            assert events.queued == 4
            assert len(store.writes) >= 2 and store.writes[-1] == [("s", 1)]

    run(scenario())
    store.close()


def test_S08_a_failed_write_fails_exactly_its_callers_and_the_shop_recovers(
        tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock) as host:
            for shop in ("bad", "good"):
                await host.call(shop, "open_session", "kept")
            events = host.subscribe("bad")
            store.fail = lambda commits: any(c.shop_id == "bad" for c in commits)
            store.hold()
            lost = asyncio.ensure_future(host.call("bad", "open_session", "lost"))
            await store.write_started()
            # Queued behind the failing write: 'bad' builds on lost state, 'good' does not.
            after = asyncio.ensure_future(host.call("bad", "open_session", "after"))
            fine = asyncio.ensure_future(host.call("good", "open_session", "fine"))
            await asyncio.sleep(0)
            store.release()
            with pytest.raises(ShopFailed, match="injected write failure"):
                await lost
            with pytest.raises(ShopFailed):
                await after
            store.fail = None
            assert [e.session_id for e in await fine] == ["fine", "fine"]
            # The next call recovers 'bad' from the store: only what was acknowledged.
            assert await host.call("bad", "waiting") == ["kept"]
            with pytest.raises(UnknownSession):
                await host.call("bad", "close_session", "lost")
            await host.call("bad", "open_session", "next")
            assert await host.call("good", "waiting") == ["kept", "fine"]
            assert [e.session_id async for e in _take(events, 2)] == ["next", "next"]

    run(scenario())
    with DurableShop.open(store.inner, "bad", clock) as shop:
        assert shop.waiting() == ["kept", "next"]
    store.close()


async def _take(events: object, n: int):  # type: ignore[no-untyped-def]
    it = events.__aiter__()  # type: ignore[attr-defined]
    for _ in range(n):
        yield await it.__anext__()


def test_S08_a_cancelled_caller_never_undoes_a_command_that_ran(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock) as host:
            await host.open("s")
            store.hold()
            task = asyncio.ensure_future(host.call("s", "open_session", "x"))
            await store.write_started()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            store.release()
            assert await host.call("s", "waiting") == ["x"]
            # Cancelled while its shop opens (in a worker thread): the command never ran,
            # and the shop opens all the same for the other caller.
            opening = asyncio.ensure_future(host.call("t", "open_session", "y"))
            other = asyncio.ensure_future(host.call("t", "waiting"))
            await asyncio.sleep(0)
            opening.cancel()
            with pytest.raises(asyncio.CancelledError):
                await opening
            assert await other == []
            assert host.open_shops() == ["s", "t"]

    run(scenario())
    with DurableShop.open(store.inner, "s", clock) as shop:
        assert shop.waiting() == ["x"]
    store.close()


def test_S08_S06_a_retried_request_id_returns_the_original_events_once(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario(host: Host) -> list[object]:
        events = host.subscribe("s")
        first, again = await asyncio.gather(
            host.call("s", "open_session", "x", "b1", request_id="req-1"),
            host.call("s", "open_session", "x", "b1", request_id="req-1"))
        assert first == again
        assert await host.call("s", "session_ids") == ["x"]
        assert events.queued == len(first)  # subscribers see the command once
        return first

    async def both() -> None:
        async with Host(store, clock=clock) as host:
            original = await scenario(host)
        clock.advance(5)
        async with Host(store, clock=clock) as host:  # after a restart too
            again = await host.call("s", "open_session", "x", "b1", request_id="req-1")
            assert again == original
            assert await host.call("s", "session_ids") == ["x"]

    run(both())
    store.close()


def test_S08_state_after_restart_is_the_acknowledged_state(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> dict[str, object]:
        async with Host(store, clock=clock, shop_options={"snapshot_every": 7}) as host:
            await host.call("s", "add_agent", "alice", 2, online=True)
            await asyncio.gather(*(host.call("s", "open_session", f"x{i}") for i in range(20)))
            snapshot: dict[str, object] = await host.call("s", "snapshot")
            return snapshot

    before = run(scenario())

    async def reopened() -> None:
        async with Host(store, clock=clock) as host:
            recovery = await host.open("s")
            assert not recovery.created and recovery.replayed == 0  # close checkpointed
            assert state(await host.call("s", "snapshot")) == state(before)  # type: ignore[arg-type]

    run(reopened())
    store.close()


class _Interrupted(BaseException):
    """Not an error a shop turns into a KefuError (like KeyboardInterrupt)."""


class _Exploding:
    """A groups iterable interrupted while the shop reads it."""

    def __iter__(self) -> object:
        raise _Interrupted("boom")


def test_S08_an_unexpected_error_drops_the_shop_but_not_the_commands_before_it(
        tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock) as host:
            await host.open("s")
            store.hold()
            first = asyncio.ensure_future(host.call("s", "open_session", "x"))
            await store.write_started()
            queued = asyncio.ensure_future(host.call("s", "open_session", "w"))
            await asyncio.sleep(0)
            with pytest.raises(_Interrupted, match="boom"):
                await host.call("s", "add_agent", "alice", 1, _Exploding())
            after = asyncio.ensure_future(host.call("s", "open_session", "y"))
            store.release()
            for call, session in ((first, "x"), (queued, "w"), (after, "y")):
                assert (await call)[0].session_id == session
            assert await host.call("s", "waiting") == ["x", "w", "y"]
            assert store.leases == ["s", "s"]  # dropped, then recovered from the store

    run(scenario())
    store.close()


def test_S08_a_shop_that_cannot_prepare_its_write_fails_its_callers_instead_of_hanging(
        tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock) as host:
            await host.call("S", "open_session", "kept")
            await host.call("T", "open_session", "other")
            shop = host._slots["S"].shop

            def broken() -> None:
                raise RuntimeError("a bug in the write path")

            shop._hand_over = broken  # type: ignore[method-assign,assignment]
            with pytest.raises(ShopFailed, match="preparing its write failed"):
                await host.call("S", "open_session", "lost")
            # Other shops are unaffected, and the shop recovers from the store.
            assert [e.session_id for e in await host.call("T", "open_session", "t2")] == ["t2"] * 2
            # Reopened from the store by the host itself: only what was acknowledged.
            for _ in range(200):
                if "S" in host.open_shops():
                    break
                await asyncio.sleep(0.01)
            assert "S" in host.open_shops()
            assert await host.call("S", "waiting") == ["kept"]

    run(scenario())
    store.close()
