"""S08: many shops in one asyncio host: one writer each, arrival order, durable answers.

Every test runs a real Host on a real SQLite file; the oracle is a plain
Assigner fed the same commands on the same manual clock.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from host_helpers import CONFIG, WatchedStore, outcome, plain, random_commands, run, state

from kefu import ManualClock
from kefu.durable import DurableShop, SQLiteStore
from kefu.errors import DuplicateSession, InvalidArgument, KefuError, ShopBusy, UnknownSession
from kefu.host import Host


async def _call(host: Host, shop: str, cmd: tuple[Any, ...]) -> Any:
    """The host's answer to ``cmd``: its events, or ``(error type, message)``."""
    try:
        return await host.call(shop, *cmd)
    except KefuError as exc:
        return (type(exc), str(exc))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_S08_many_shops_concurrent_callers_match_a_plain_assigner(tmp_path: Path,
                                                                  seed: int) -> None:
    rng = random.Random(seed)
    shops = [f"shop{i}" for i in range(6)]
    clock = ManualClock(1000.0)
    oracle = {shop: plain(clock) for shop in shops}
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        fired_first = fired_by_clock = 0
        async with Host(store, clock=clock, shop_options={"config": CONFIG}) as host:
            for shop in shops:
                await host.open(shop)
            for turn in range(12):
                clock.advance(rng.choice([1.0, 7.0, 31.0, 120.0]))
                if turn % 2:  # fire due timers first; else the next command of a shop does
                    fired = await host.clock_moved()
                    assert fired == {shop: events for shop in shops
                                     if (events := oracle[shop].tick())}
                    fired_by_clock += len(fired)
                calls = []
                expected = []
                for _ in range(rng.randint(2, 30)):
                    shop = rng.choice(shops)
                    cmd = random_commands(rng, 1)[0]
                    # The host fires an overdue timer before a shop's next command.
                    fired_first += len(oracle[shop].tick())
                    expected.append(outcome(oracle[shop], *cmd))
                    calls.append(_call(host, shop, cmd))
                assert await asyncio.gather(*calls) == expected
            assert fired_first + fired_by_clock > 0  # timers did fire
            for shop in shops:
                assert state(await host.call(shop, "snapshot")) == state(oracle[shop].snapshot())

    run(scenario())
    for shop in shops:  # every acknowledged command is in the store
        with DurableShop.open(store, shop, clock) as recovered:
            assert state(recovered.snapshot()) == state(oracle[shop].snapshot())
    store.close()


def test_S08_commands_run_in_arrival_order_and_queries_see_them(tmp_path: Path) -> None:
    clock = ManualClock(0.0)
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=clock) as host:
            await host.call("s", "add_agent", "alice", 3, online=True)
            opened = host.call("s", "open_session", "x", "b1")
            closed = host.call("s", "close_session", "x")
            again = host.call("s", "open_session", "x", "b2")
            waiting = host.call("s", "load", "alice")
            results = await asyncio.gather(opened, closed, again, waiting)
            assert [type(e).__name__ for e in results[0]] == ["Opened", "Assigned"]
            assert [type(e).__name__ for e in results[1]] == ["Closed"]
            assert results[2][0].buyer_id == "b2"
            assert results[3] == 1

    run(scenario())
    store.close()


def test_S08_a_rejected_command_fails_only_its_caller(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0)) as host:
            results = await asyncio.gather(
                host.call("s", "open_session", "x"), host.call("s", "open_session", "x"),
                host.call("s", "open_session", "y"), host.call("s", "buyer_message", "nope"),
                return_exceptions=True)
            assert isinstance(results[0], list) and isinstance(results[2], list)
            assert isinstance(results[1], DuplicateSession)
            assert isinstance(results[3], UnknownSession)
            assert await host.call("s", "waiting") == ["x", "y"]

    run(scenario())
    store.close()


def test_S08_unknown_methods_and_bad_arguments_are_invalid(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0)) as host:
            for method in ("restore", "_engine", "apply", 3):
                with pytest.raises(InvalidArgument, match="unknown method"):
                    await host.call("s", method)
            with pytest.raises(InvalidArgument, match="takes no request_id"):
                await host.call("s", "waiting", request_id="r1")
            with pytest.raises(InvalidArgument, match="bad arguments for load"):
                await host.call("s", "load")
            with pytest.raises(InvalidArgument, match="bad arguments for open_session"):
                await host.call("s", "open_session")
            with pytest.raises(InvalidArgument, match="shop id"):
                await host.call("", "waiting")
            assert await host.call("s", "session_ids") == []
            # Hostile ids are refused before any lookup: an open shop's id as a str
            # subclass, an unhashable id, an id whose hash raises.
            for shop_id in (_Str("s"), ["s"], _BadHash("t")):
                with pytest.raises(InvalidArgument, match="shop id must be a non-empty str"):
                    await host.call(shop_id, "open_session", "x")  # type: ignore[arg-type]
                with pytest.raises(InvalidArgument, match="shop id must be a non-empty str"):
                    await host.open(shop_id)  # type: ignore[arg-type]
            assert await host.call("s", "session_ids") == []
            assert host.open_shops() == ["s"]

    run(scenario())
    store.close()


class _Str(str):
    """An id that is a str subclass (equal to, and hashing like, a plain str)."""


class _BadHash(str):
    def __hash__(self) -> int:
        raise RuntimeError("hostile __hash__")


def test_S08_two_first_calls_open_a_shop_once(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0)) as host:
            await asyncio.gather(*(host.call("s", "open_session", f"x{i}") for i in range(5)),
                                 host.call("t", "waiting"), host.call("s", "waiting"))
            assert sorted(store.leases) == ["s", "t"]
            assert sorted(host.open_shops()) == ["s", "t"]

    run(scenario())
    store.close()


def test_S08_a_shop_held_elsewhere_is_busy_until_released(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    other = DurableShop.open(store, "s", ManualClock(0.0))

    async def scenario() -> None:
        async with Host(store, clock=ManualClock(0.0)) as host:
            with pytest.raises(ShopBusy):
                await host.call("s", "open_session", "x")
            assert await host.call("t", "waiting") == []  # other shops are not held up
            other.open_session("early")
            other.close()
            await host.call("s", "open_session", "x")
            assert await host.call("s", "waiting") == ["early", "x"]

    run(scenario())
    store.close()


def test_S08_options_per_shop_from_a_function(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    def options(shop_id: str) -> dict[str, Any]:
        return {"config": CONFIG} if shop_id == "timed" else {}

    async def scenario() -> None:
        async with Host(store, clock=clock, shop_options=options) as host:
            for shop in ("timed", "plain"):
                await host.call(shop, "add_agent", "alice", online=True)
                await host.call(shop, "open_session", "x")
            assert await host.call("timed", "next_deadline") == CONFIG.first_response_timeout
            assert await host.call("plain", "next_deadline") is None

    run(scenario())
    with pytest.raises(InvalidArgument, match="unknown shop options"):
        Host(store, shop_options={"clock": clock})
    with pytest.raises(InvalidArgument, match="subscriber_limit"):
        Host(store, subscriber_limit=0)
    store.close()

