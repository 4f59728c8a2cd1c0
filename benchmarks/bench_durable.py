"""Journaled commands per second, and recovery time, against the bare Assigner.

    python -m pytest benchmarks/bench_durable.py --benchmark-group-by=func
    python benchmarks/bench_durable.py [commands] [recovery_commands]   # a table of ratios

* ``test_commands``: the same command stream (agents online, buyers
  opening, being answered and closed) on a bare Assigner and on durable
  shops: one write per command ("call") or one write per 100 commands
  ("group": ``submit`` then ``flush``, as a host does under load), on
  SQLite with ``synchronous`` FULL (the default: survives power loss) and
  NORMAL (survives process crashes), and on PostgreSQL when
  ``KEFU_TEST_POSTGRES_DSN`` names a server.
* ``test_recovery``: opening a shop whose journal holds ``recovery``
  commands with a snapshot every 10,000: restore the last snapshot, replay
  the rest.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kefu import Assigner, Cap, ManualClock
from kefu.durable import DurableShop, SQLiteStore
from kefu.durable.store import Store

Command = tuple[str, tuple[Any, ...], dict[str, Any]]
GROUP = 100
SNAPSHOT_EVERY = 10_000


def workload(n: int) -> list[Command]:
    """``n`` commands: 50 agents online, then buyers arriving, answered and closed."""
    out: list[Command] = [("add_agent", (f"a{i}", Cap.limit(5)), {"online": True})
                          for i in range(50)]
    i = 0
    while len(out) < n:
        out.append(("open_session", (f"s{i}", f"b{i % 997}"), {}))
        out.append(("agent_message", (f"s{i}",), {}))
        if i >= 100:
            out.append(("close_session", (f"s{i - 100}",), {}))
        i += 1
    return out[:n]


def postgres_dsn() -> str | None:
    """The benchmark server, if one is configured and reachable."""
    dsn = os.environ.get("KEFU_TEST_POSTGRES_DSN")
    if not dsn:
        return None
    try:
        import psycopg

        psycopg.connect(dsn, connect_timeout=3).close()
    except Exception:
        return None
    return dsn


def open_store(kind: str, where: Path) -> Store:
    if kind == "postgres":
        from kefu.durable import PostgresStore

        dsn = postgres_dsn()
        if dsn is None:
            pytest.skip("no PostgreSQL server (set KEFU_TEST_POSTGRES_DSN)")
        schema = f"bench_{os.getpid()}_{time.monotonic_ns()}"
        store: Store = PostgresStore(dsn, schema=schema)
        return store
    return SQLiteStore(where / "bench.db", synchronous="NORMAL" if kind == "normal" else "FULL")


def run_bare(commands: list[Command]) -> None:
    clock = ManualClock(0.0)
    shop = Assigner(clock)
    for method, args, kwargs in commands:
        clock.advance(0.5)
        getattr(shop, method)(*args, **kwargs)


def run_durable(commands: list[Command], store: Store, shop_id: str, grouped: bool) -> None:
    clock = ManualClock(0.0)
    shop = DurableShop.open(store, shop_id, clock, snapshot_every=SNAPSHOT_EVERY)
    if grouped:
        for k, (method, args, kwargs) in enumerate(commands, 1):
            clock.advance(0.5)
            shop.submit(method, *args, **kwargs)
            if k % GROUP == 0:
                shop.flush()
    else:
        for method, args, kwargs in commands:
            clock.advance(0.5)
            getattr(shop, method)(*args, **kwargs)
    shop.close(checkpoint=False)


CONTENDERS = ["bare", "sqlite-full-call", "sqlite-full-group", "sqlite-normal-call",
              "sqlite-normal-group", "postgres-call", "postgres-group"]


def runner(name: str, where: Path) -> tuple[Callable[[list[Command]], None], Store | None]:
    """A function running a command list on contender ``name``, and its store."""
    if name == "bare":
        return run_bare, None
    kind, mode = name.split("-")[-2:] if name.startswith("sqlite") else ("postgres",
                                                                       name.split("-")[1])
    store = open_store(kind, where)
    counter = iter(range(10**9))
    return (lambda cmds: run_durable(cmds, store, f"{name}-{next(counter)}", mode == "group"),
            store)


@pytest.mark.parametrize("name", CONTENDERS)
def test_commands(benchmark: Any, name: str, tmp_path: Path) -> None:
    commands = workload(2_000)
    run, store = runner(name, tmp_path)
    try:
        benchmark.pedantic(run, args=(commands,), rounds=3, iterations=1)
    finally:
        if store is not None:
            store.close()


def build_journal(store: Store, n: int) -> None:
    """A shop with ``n`` journaled commands, a snapshot every 10,000."""
    run_durable(workload(n), store, "recover", grouped=True)


@pytest.mark.parametrize("kind", ["full", "postgres"])
def test_recovery(benchmark: Any, kind: str, tmp_path: Path) -> None:
    store = open_store(kind, tmp_path)
    try:
        build_journal(store, 25_000)

        def recover() -> None:
            DurableShop.open(store, "recover", ManualClock(0.0)).close(checkpoint=False)

        benchmark.pedantic(recover, rounds=3, iterations=1)
    finally:
        store.close()


def main(n: int, recovery: int) -> None:
    commands = workload(n)
    with tempfile.TemporaryDirectory() as where:
        print(f"{n:,} commands (one write per command for 'call', per {GROUP} for 'group')")
        bare = None
        for name in CONTENDERS:
            if name.startswith("postgres") and postgres_dsn() is None:
                print(f"{name:22} skipped: no PostgreSQL server (KEFU_TEST_POSTGRES_DSN)")
                continue
            run, store = runner(name, Path(where))
            cmds = commands if "call" not in name else commands[: max(n // 10, 1000)]
            started = time.perf_counter()
            run(cmds)
            rate = len(cmds) / (time.perf_counter() - started)
            bare = rate if bare is None else bare
            print(f"{name:22} {rate:12,.0f} commands/s   {bare / rate:8.1f}x slower than bare")
            if store is not None:
                store.close()
        for kind in ("full", "postgres"):
            if kind == "postgres" and postgres_dsn() is None:
                continue
            store = open_store(kind, Path(where))
            started = time.perf_counter()
            build_journal(store, recovery - 1)
            built = time.perf_counter() - started
            started = time.perf_counter()
            shop = DurableShop.open(store, "recover", ManualClock(0.0))
            took = time.perf_counter() - started
            r = shop.recovery
            print(f"recovery on {kind}: {recovery - 1:,} journaled commands (written in "
                  f"{built:.1f} s), snapshot every {SNAPSHOT_EVERY:,}: open() took {took:.2f} s,"
                  f" replayed {r.replayed:,} after the snapshot at {r.snapshot_seq:,}")
            shop.close(checkpoint=False)
            store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
