"""Away and back (R27) and opens against queue limits (R28), at 2,000 agents and 20,000
waiting sessions (pytest-benchmark; ``--benchmark-group-by=func``).

    python -m pytest benchmarks/bench_routing.py --benchmark-group-by=func

Every agent is full (cap 5: 10,000 assigned sessions) and 20,000 sessions wait,
10,000 in each of the groups "presale" and "general"; half the agents serve
each group. Each test compares a workload with the feature against the same
workload without it, in one run, so the ratio is the feature's cost:

* ``test_away_back``: one iteration = an agent goes away, closes a session
  (no drain: away), comes back (drains one waiting session), and one new
  session opens (it waits), against close + open.
* ``test_open_limited``: one iteration = a presale session opens against
  the limit (``max_waiting`` reached: it overflows to "general" and waits
  there; or ``max_wait`` passed, the same), then it is closed from the
  pool, against an open + close without limits.

The C and Python engines only: the naive model scans 20,000 sessions per
open.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from conftest import CONTENDERS
from kefu import Assigner, ManualClock, QueueLimit

AGENTS = 2000
CAP = 5
WAITING = 20_000
ENGINES = [e for e in CONTENDERS if e != "naive"]


def full_shop(engine: str, limits: dict[str, QueueLimit] | None) -> Assigner:
    """2,000 full agents and 20,000 waiting sessions, built in one batch."""
    groups = ("presale", "general")
    commands: list[tuple[object, ...]] = [
        ("add_agent", f"a{i}", CAP, [groups[i % 2]], 1, True) for i in range(AGENTS)]
    commands += [("open_session", f"s{n}", f"b{n}", groups[n % 2])
                 for n in range(AGENTS * CAP + WAITING)]
    shop = Assigner(ManualClock(0.0), engine=engine,  # type: ignore[arg-type]
                    auto_close_after=None, queue_limits=limits)
    shop.apply(commands)
    assert len(shop.waiting()) == WAITING
    return shop


class AwayBack:
    """Agent a<k> (cycling) goes away, closes a session, comes back, draining one."""

    def __init__(self, engine: str, away: bool) -> None:
        self.shop = full_shop(engine, None)
        self.away = away
        self.agents = itertools.cycle(range(0, AGENTS, 2))  # presale agents
        self.fresh = itertools.count(AGENTS * CAP + WAITING)

    def step(self) -> None:
        shop = self.shop
        agent = f"a{next(self.agents)}"
        if self.away:
            shop.agent_away(agent)
        shop.close_session(shop.reception_list(agent)[0])
        if self.away:
            shop.agent_online(agent)
        n = next(self.fresh)
        shop.open_session(f"s{n}", f"b{n}", "presale")


class OpenLimited:
    """A presale session opens (overflowing when limited) and is closed from its pool."""

    def __init__(self, engine: str, limit: str) -> None:
        limits = {
            "none": None,
            "count": {"presale": QueueLimit(max_waiting=WAITING // 2, overflow="general")},
            "wait": {"presale": QueueLimit(max_wait=1.0, overflow="general")},
        }[limit]
        self.shop = full_shop(engine, limits)
        self.shop.clock.set(10.0)  # type: ignore[attr-defined]
        self.fresh = itertools.count(AGENTS * CAP + WAITING)

    def step(self) -> None:
        n = next(self.fresh)
        self.shop.open_session(f"s{n}", None, "presale")
        self.shop.close_session(f"s{n}")


@pytest.mark.parametrize("away", [False, True], ids=["close_open", "away_close_back_open"])
@pytest.mark.parametrize("engine", ENGINES)
def test_away_back(benchmark: Any, engine: str, away: bool) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING, away=away)
    work = AwayBack(engine, away)
    benchmark(work.step)
    assert len(work.shop.waiting()) == WAITING


@pytest.mark.parametrize("limit", ["none", "count", "wait"])
@pytest.mark.parametrize("engine", ENGINES)
def test_open_limited(benchmark: Any, engine: str, limit: str) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING, limit=limit)
    work = OpenLimited(engine, limit)
    benchmark(work.step)
    events = work.shop.open_session("probe", None, "presale")
    overflowed = [type(e).__name__ for e in events] == ["Opened", "Overflowed", "Queued"]
    assert overflowed == (limit != "none")
