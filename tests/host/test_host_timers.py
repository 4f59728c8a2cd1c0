"""S08: each shop's timers fire at its next_deadline(), re-armed as commands move it.

Under a ManualClock time moves only with ``clock_moved()``, so the tests can
check the exact instant; one test runs on the real clock with short timeouts.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from host_helpers import run

from kefu import ManualClock, SystemClock
from kefu.durable import SQLiteStore
from kefu.errors import UnknownSession
from kefu.events import Closed, CloseReason, ResponseTimedOut
from kefu.host import Host
from kefu.model import Config

RESPONSE = Config(first_response_timeout=60.0, auto_close_after=1000.0)


def test_S08_a_timer_fires_at_its_deadline_not_before(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock, shop_options={"config": RESPONSE}) as host:
            events = host.subscribe("s")
            await host.call("s", "add_agent", "alice", online=True)
            await host.call("s", "add_agent", "bob", online=True)
            clock.advance(5.0)
            await host.call("s", "open_session", "x")
            assert await host.call("s", "next_deadline") == 65.0
            clock.set(64.999)
            assert await host.clock_moved() == {}
            clock.set(65.0)
            fired = await host.clock_moved()
            assert [type(e) for e in fired["s"]][:1] == [ResponseTimedOut]
            assert {e.at for e in fired["s"]} == {65.0}
            assert await host.clock_moved() == {}  # fired once
            seen = [await events.__anext__() for _ in range(2 + len(fired["s"]))]
            assert seen[2:] == fired["s"]

    run(scenario())
    store.close()


def test_S08_a_command_that_moves_the_deadline_earlier_or_later_rearms_it(
        tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock, shop_options={"config": RESPONSE}) as host:
            await host.call("s", "add_agent", "alice")
            await host.call("s", "open_session", "x")  # waits: no timer yet
            assert await host.call("s", "next_deadline") is None
            clock.set(10.0)
            await host.call("s", "agent_online", "alice")  # assigned: deadline 70 (earlier)
            clock.set(69.0)
            assert await host.clock_moved() == {}
            await host.call("s", "agent_message", "x")  # answered: auto close at 1069 (later)
            clock.set(70.0)
            assert await host.clock_moved() == {}
            clock.set(1068.5)
            assert await host.clock_moved() == {}
            clock.set(1069.0)
            fired = await host.clock_moved()
            assert fired == {"s": [Closed("x", "alice", None, 1069.0, CloseReason.AUTO)]}

    run(scenario())
    store.close()


def test_S08_an_overdue_timer_fires_before_the_next_command(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock, shop_options={"config": RESPONSE}) as host:
            events = host.subscribe("s")
            await host.call("s", "add_agent", "alice", online=True)
            await host.call("s", "open_session", "x")
            await host.call("s", "agent_message", "x")  # auto close due at 1000
            clock.set(1500.0)  # nobody called clock_moved: the next command finds it due
            try:
                await host.call("s", "buyer_message", "x")
                raise AssertionError("the buyer's late message reopened a closed session")
            except UnknownSession:
                pass
            seen = [await events.__anext__() for _ in range(3)]
            assert seen[-1] == Closed("x", "alice", None, 1000.0, CloseReason.AUTO)

    run(scenario())
    store.close()


def test_S08_timers_survive_a_restart_and_fire_at_their_deadlines(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    clock = ManualClock(0.0)
    options = {"config": RESPONSE}

    async def first_life() -> None:
        async with Host(store, clock=clock, shop_options=options) as host:
            await host.call("s", "add_agent", "alice", online=True)
            await host.call("s", "open_session", "x")  # response due at 60
            await host.call("s", "agent_message", "x")  # auto close due at 1000
            await host.call("t", "add_agent", "bob", online=True)
            await host.call("t", "open_session", "y")
            await host.call("t", "agent_message", "y")  # auto close due at 1000

    async def second_life() -> None:
        async with Host(store, clock=clock, shop_options=options) as host:
            events = host.subscribe("t")
            await host.open("s")
            clock.set(999.5)
            await host.open("t")
            assert await host.clock_moved() == {}
            clock.set(1000.0)
            fired = await host.clock_moved()
            assert fired == {shop: [Closed(session, agent, None, 1000.0, CloseReason.AUTO)]
                             for shop, session, agent in (("s", "x", "alice"),
                                                          ("t", "y", "bob"))}
            assert await events.__anext__() == fired["t"][0]

    async def overdue_on_open() -> None:
        async with Host(store, clock=clock, shop_options=options) as host:
            await host.call("u", "add_agent", "carol", online=True)
            await host.call("u", "open_session", "z")
            await host.call("u", "agent_message", "z")  # auto close due at 2000
        clock.set(5000.0)  # the process was down when it fell due
        async with Host(store, clock=clock, shop_options=options) as host:
            events = host.subscribe("u")
            await host.open("u")
            assert await events.__anext__() == Closed("z", "carol", None, 2000.0,
                                                      CloseReason.AUTO)

    run(first_life())
    run(second_life())
    clock.set(1000.0)
    run(overdue_on_open())
    store.close()


def test_S08_on_the_real_clock_timers_sleep_until_the_deadline(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db", synchronous="NORMAL")
    config = Config(first_response_timeout=0.3, auto_close_after=3600.0)

    async def scenario() -> None:
        async with Host(store, clock=SystemClock(), shop_options={"config": config}) as host:
            events = host.subscribe("s")
            await host.call("s", "add_agent", "alice", online=True)
            await host.call("s", "add_agent", "bob", online=True)
            await host.call("s", "open_session", "far")
            await host.call("s", "agent_message", "far")  # auto close in an hour
            await host.call("s", "open_session", "near")  # response due in 0.3 s: earlier
            deadline = await host.call("s", "next_deadline")
            seen = [await events.__anext__() for _ in range(4)]
            timed_out = await asyncio.wait_for(events.__anext__(), 5.0)
            arrived = time.time()
            assert isinstance(timed_out, ResponseTimedOut) and timed_out.at == deadline
            assert deadline <= arrived < deadline + 1.0, (deadline, arrived)
            assert seen[-1].session_id == "near"

    run(scenario())
    store.close()


def test_S08_a_shop_dropped_by_a_failed_write_is_reopened_and_its_timers_fire(
        tmp_path: Path) -> None:
    from host_helpers import WatchedStore

    store = WatchedStore(tmp_path / "x.db")
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with Host(store, clock=clock, shop_options={"config": RESPONSE}) as host:
            await host.call("S", "add_agent", "alice", online=True)
            await host.call("S", "open_session", "s1", "b1")  # first response due at 60
            store.fail = lambda commits: True
            try:
                await host.call("S", "add_agent", "bob")
            except Exception as exc:
                assert type(exc).__name__ == "ShopFailed"
            store.fail = None
            # Nobody calls the shop; the host recovers it by itself.
            for _ in range(200):
                if "S" in host.open_shops():
                    break
                await asyncio.sleep(0.01)
            assert "S" in host.open_shops()
            clock.advance(60.0)
            fired = await host.clock_moved()
            assert [(type(e), e.at) for e in fired["S"]][:1] == [(ResponseTimedOut, 60.0)]

    run(scenario())
    store.close()


def test_S08_one_clock_reading_serves_the_overdue_check_and_the_command(
        tmp_path: Path) -> None:
    """A deadline passing between two readings must not let a command run past it."""

    class Stepping:
        """A real-looking clock: each reading a little later than the one before."""

        def __init__(self) -> None:
            self.t = 1000.0
            self.step = 0.0

        def now(self) -> float:
            self.t += self.step
            return self.t

    clock = Stepping()
    store = SQLiteStore(tmp_path / "x.db")

    async def scenario() -> None:
        async with Host(store, clock=clock, sleep=False,
                        shop_options={"config": RESPONSE}) as host:
            await host.call("S", "add_agent", "alice", online=True)
            await host.call("S", "open_session", "s1", "b1")  # first response due at 1060
            # Two readings in a row would straddle the deadline: 1059.99995, 1060.00005.
            clock.t, clock.step = 1059.99985, 0.0001
            assert await host.call("S", "agent_message", "s1") == []
            # The reply ran at the reading the overdue check saw, before the deadline:
            # the timeout is cancelled and auto close counts from that instant.
            assert await host.call("S", "next_deadline") == 1059.99995 + 1000.0

    run(scenario())
    store.close()
