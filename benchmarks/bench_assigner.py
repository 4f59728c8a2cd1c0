"""open_session/close_session cost at 20, 200 and 2000 agents, per engine.

Two steady-state workloads, each iteration one close and one open through the
public API (string ids in, event objects out):

* ``assign``: 2,000 open sessions, caps unlimited: every open picks an agent
  by LEAST_LOAD (the selection path).
* ``drain``: caps full, 200 sessions waiting: every close hands the freed room
  to the oldest waiting session and every open queues (the drain path).

The naive engine scans every agent per assignment, as most chat backends do.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import pytest

from conftest import CONTENDERS
from kefu import Assigner, Cap, ManualClock

AGENT_COUNTS = [20, 200, 2000]
OPEN = 2000


def build(engine: str, agents: int, cap: Cap, sessions: int) -> tuple[Assigner, deque[str]]:
    clock = ManualClock(0.0)
    shop = Assigner(clock, engine=engine, auto_close_after=None)  # type: ignore[arg-type]
    for i in range(agents):
        shop.add_agent(f"agent{i}", cap=cap, online=True)
    live: deque[str] = deque()
    for i in range(sessions):
        shop.open_session(f"warm{i}", buyer=f"buyer{i}")
        live.append(f"warm{i}")
    return shop, live


def churn(benchmark: Any, shop: Assigner, live: deque[str]) -> None:
    counter = itertools.count()
    clock = shop.clock
    assert isinstance(clock, ManualClock)

    def close_one_open_one() -> None:
        clock.advance(0.01)
        shop.close_session(live.popleft())
        sid = f"s{next(counter)}"
        shop.open_session(sid, buyer=sid)
        live.append(sid)

    benchmark(close_one_open_one)
    shop.check()


@pytest.mark.parametrize("agents", AGENT_COUNTS)
@pytest.mark.parametrize("engine", CONTENDERS)
def test_open_close_assign(benchmark: Any, engine: str, agents: int) -> None:
    benchmark.extra_info.update(engine=engine, agents=agents, open_sessions=OPEN)
    shop, live = build(engine, agents, Cap.UNLIMITED, OPEN)
    churn(benchmark, shop, live)


@pytest.mark.parametrize("agents", AGENT_COUNTS)
@pytest.mark.parametrize("engine", CONTENDERS)
def test_open_close_drain(benchmark: Any, engine: str, agents: int) -> None:
    cap = max(1, OPEN // agents)
    benchmark.extra_info.update(engine=engine, agents=agents, cap=cap, waiting=200)
    shop, live = build(engine, agents, Cap.limit(cap), cap * agents + 200)
    assert len(shop.waiting()) == 200
    churn(benchmark, shop, live)
