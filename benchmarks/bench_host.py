"""Journaled commands per second through the asyncio Host, against the bare Assigner.

    python -m pytest benchmarks/bench_host.py --benchmark-group-by=func
    python benchmarks/bench_host.py            # one table of rates and ratios

``CALLERS`` concurrent callers over ``SHOPS`` shops each send
``PER_CALLER`` commands (open a session, close it, ...), one awaited call
at a time, as a chat backend's request handlers would. Contenders:

* ``assigner``: the same commands on plain Assigners (in memory, no I/O):
  the ceiling.
* ``host-FULL`` / ``host-NORMAL``: a :class:`kefu.host.Host` on a SQLite
  file with ``synchronous`` FULL (survives power loss) or NORMAL (survives
  process crashes); every answer waits for its write, many callers' and
  shops' commands share each transaction (group commit).
* ``durable-FULL``: the same shops as plain DurableShops, one write (one
  fsync) per command: what group commit saves. It runs a tenth of the
  commands; rates are per command.

``extra_info`` records commands per second and commands per transaction.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from kefu import Assigner, Cap, ManualClock
from kefu.durable import Commit, DurableShop, SQLiteStore
from kefu.host import Host

SHOPS = 10
CALLERS = 100
PER_CALLER = 20
CONTENDERS = ["assigner", "host-FULL", "host-NORMAL", "durable-FULL"]

Stream = list[tuple[str, str, tuple[Any, ...]]]


def streams(callers: int = CALLERS, per_caller: int = PER_CALLER) -> list[Stream]:
    """Each caller's commands: it opens and closes sessions of its own in one shop."""
    out = []
    for k in range(callers):
        shop = f"shop{k % SHOPS}"
        stream: Stream = []
        for j in range(per_caller // 2):
            stream.append((shop, "open_session", (f"c{k}-{j}", f"b{k}")))
            stream.append((shop, "close_session", (f"c{k}-{j}",)))
        out.append(stream)
    return out


class CountingStore:
    """A SQLiteStore that counts its transactions (group commit at work)."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.inner = SQLiteStore(path, synchronous=synchronous)  # type: ignore[arg-type]
        self.transactions = 0

    def lease(self, shop_id: str) -> Any:
        return self.inner.lease(shop_id)

    def commit_many(self, commits: Sequence[Commit]) -> None:
        self.inner.commit_many(commits)
        self.transactions += 1

    def close(self) -> None:
        self.inner.close()


class Runner:
    """One contender, set up once; :meth:`round` runs every stream once and returns its rate."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self.commands = 0
        self.transactions = 0
        self.work = streams(per_caller=2) if name == "durable-FULL" else streams()
        clock = ManualClock(0.0)
        shops = [f"shop{i}" for i in range(SHOPS)]
        if name == "assigner":
            self.plain = {s: Assigner(clock) for s in shops}
            for shop in self.plain.values():
                shop.add_agent("agent", Cap.UNLIMITED, online=True)
        elif name.startswith("host"):
            self.store = CountingStore(directory / f"{name}.db", name.split("-")[1])
            self.host = Host(self.store, clock=clock)
            self.loop.run_until_complete(self._start_host(shops))
        else:
            self.sqlite = SQLiteStore(directory / f"{name}.db")
            self.durable = {s: DurableShop.open(self.sqlite, s, clock) for s in shops}
            for shop in self.durable.values():
                shop.add_agent("agent", Cap.UNLIMITED, online=True)

    async def _start_host(self, shops: list[str]) -> None:
        await self.host.start()
        for shop in shops:
            await self.host.call(shop, "add_agent", "agent", Cap.UNLIMITED, online=True)

    def round(self) -> float:
        start = time.perf_counter()
        before = self.store.transactions if self.name.startswith("host") else 0
        if self.name == "assigner":
            for stream in self.work:
                for shop, method, args in stream:
                    getattr(self.plain[shop], method)(*args)
        elif self.name.startswith("host"):
            self.loop.run_until_complete(self._drive())
            self.transactions += self.store.transactions - before
        else:
            for stream in self.work:
                for shop, method, args in stream:
                    getattr(self.durable[shop], method)(*args)
            self.transactions += sum(len(s) for s in self.work)
        elapsed = time.perf_counter() - start
        done = sum(len(s) for s in self.work)
        self.commands += done
        return done / elapsed

    async def _drive(self) -> None:
        async def caller(stream: Stream) -> None:
            for shop, method, args in stream:
                await self.host.call(shop, method, *args)

        await asyncio.gather(*(caller(s) for s in self.work))

    def close(self) -> None:
        if self.name.startswith("host"):
            self.loop.run_until_complete(self.host.close())
            self.store.close()
        elif self.name == "durable-FULL":
            for shop in self.durable.values():
                shop.close()
            self.sqlite.close()
        self.loop.close()


@pytest.mark.parametrize("contender", CONTENDERS)
def test_host_commands_per_second(benchmark: Any, contender: str, tmp_path: Path) -> None:
    runner = Runner(contender, tmp_path)
    rates: list[float] = []
    try:
        benchmark.pedantic(lambda: rates.append(runner.round()), rounds=3, iterations=1)
    finally:
        runner.close()
    per_write = runner.commands / runner.transactions if runner.transactions else None
    benchmark.extra_info.update(contender=contender, commands_per_second=round(max(rates)),
                                commands_per_transaction=per_write)
    assert rates and all(rate > 0 for rate in rates)


def table(rounds: int = 3, make: Callable[[str, Path], Runner] = Runner) -> str:
    """Best-of-``rounds`` rates of every contender, as ratios to the bare Assigner."""
    lines = [f"{CALLERS} callers over {SHOPS} shops, {CALLERS * PER_CALLER} commands a round",
             f"{'contender':<14}{'commands/s':>12}{'x assigner':>12}{'per write':>11}"]
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        for name in CONTENDERS:
            runner = make(name, Path(directory))
            try:
                best[name] = max(runner.round() for _ in range(rounds))
            finally:
                runner.close()
            per_write = (f"{runner.commands / runner.transactions:.1f}" if runner.transactions
                         else "-")
            lines.append(f"{name:<14}{best[name]:>12,.0f}"
                         f"{best[name] / best['assigner']:>12.4f}{per_write:>11}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
