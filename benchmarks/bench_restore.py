"""Restoring big snapshots: O(state log state) on every engine.

    python -m pytest benchmarks/bench_restore.py --benchmark-group-by=func
    python benchmarks/bench_restore.py [agents waiting]   # one timing per engine

* ``test_restore_backlog``: ``agents`` agents (cap 1, ten skill groups, all
  full) and ``waiting`` sessions waiting behind them, with first-response
  and auto-close timers. Restore checks every invariant, R06 included
  (no waiting session has an eligible agent), then rebuilds the engine.
* ``test_restore_many_groups``: one agent serving 20,000 groups and a
  session waiting in each group's offline pool.

One round = one ``Assigner.restore`` of the same plain data (the snapshot
is taken once, outside the timing).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from conftest import CONTENDERS, only_when_timed
from kefu import Assigner, Cap, ManualClock
from kefu.assigner import ENGINES

GROUPS = 10
BACKLOG_SIZES = [(2_000, 20_000), (20_000, 200_000)]
MANY_GROUPS = 20_000


def _builder() -> str:
    return "c" if "c" in ENGINES else "py"


def backlog_snapshot(agents: int, waiting: int) -> dict[str, Any]:
    """A shop whose ``agents`` full agents leave ``waiting`` sessions waiting (R06 holds)."""
    shop = Assigner(ManualClock(0.0), first_response_timeout=60.0, engine=_builder())  # type: ignore[arg-type]
    commands: list[tuple[object, ...]] = [
        ("add_agent", f"agent{i}", Cap.limit(1), {f"g{i % GROUPS}"}, 1, True)
        for i in range(agents)
    ]
    commands += [("open_session", f"s{i}", f"b{i}", f"g{i % GROUPS}", i % 3)
                 for i in range(agents + waiting)]
    commands += [("agent_message", f"s{i}", True) for i in range(0, agents + waiting, 10)]
    shop.apply(commands)
    return shop.snapshot()


def many_groups_snapshot(groups: int) -> dict[str, Any]:
    """One offline agent serving ``groups`` groups, a session waiting in each one."""
    shop = Assigner(ManualClock(0.0), engine=_builder())  # type: ignore[arg-type]
    names = [f"g{i}" for i in range(groups)]
    shop.apply([("add_agent", "wide", Cap.UNLIMITED, names, 1, False)]
               + [("open_session", f"s{i}", None, name) for i, name in enumerate(names)])
    return shop.snapshot()


@pytest.fixture(scope="module", params=BACKLOG_SIZES, ids=lambda p: f"{p[0]}x{p[1]}")
def backlog(request: pytest.FixtureRequest) -> dict[str, Any]:
    agents, waiting = request.param
    only_when_timed(bool(request.config.getoption("benchmark_disable"))
                    and request.param == BACKLOG_SIZES[-1],
                    "the smaller backlog runs the same restore")
    return backlog_snapshot(agents, waiting)


@pytest.mark.parametrize("engine", CONTENDERS)
def test_restore_backlog(benchmark: Any, engine: str, backlog: dict[str, Any]) -> None:
    state = backlog["state"]
    benchmark.extra_info.update(engine=engine, agents=len(state["agents"]),
                                sessions=len(state["sessions"]))
    restored = benchmark.pedantic(Assigner.restore, args=(backlog,),
                                  kwargs={"engine": engine}, rounds=1)
    assert len(restored.waiting()) == len(state["sessions"]) - len(state["agents"])


@pytest.fixture(scope="module")
def many_groups() -> dict[str, Any]:
    return many_groups_snapshot(MANY_GROUPS)


@pytest.mark.parametrize("engine", CONTENDERS)
def test_restore_many_groups(benchmark: Any, engine: str, many_groups: dict[str, Any]) -> None:
    benchmark.extra_info.update(engine=engine, groups=MANY_GROUPS)
    restored = benchmark.pedantic(Assigner.restore, args=(many_groups,),
                                  kwargs={"engine": engine}, rounds=1)
    assert len(restored.waiting()) == MANY_GROUPS


def main(argv: list[str]) -> None:
    """Time one restore per engine of a backlog shop, and of the many-groups shop."""
    agents, waiting = (int(argv[0]), int(argv[1])) if len(argv) == 2 else BACKLOG_SIZES[-1]
    for name, data in ((f"backlog {agents}x{waiting}", backlog_snapshot(agents, waiting)),
                       (f"{MANY_GROUPS} groups", many_groups_snapshot(MANY_GROUPS))):
        for engine in CONTENDERS:
            start = time.perf_counter()
            Assigner.restore(data, engine=engine)  # type: ignore[arg-type]
            print(f"{name:28} {engine:6} {time.perf_counter() - start:8.2f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
