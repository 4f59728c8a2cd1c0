"""A simulated promotion day: the driver on each engine, measuring it, and a staffing search.

``pytest benchmarks/bench_sim.py --benchmark-group-by=func`` times the
built-in promotion day at a peak of 100 concurrent buyers (about 5,000
sessions) and a ``staff`` search at that peak. The big figures, a day at a
peak of 2000 (about 107,000 sessions) and the staffing search at that
peak, run when ``KEFU_BENCH_FULL=1`` is set: a day takes seconds per
engine, a search about a minute, too long for CI's once-through
``--benchmark-disable`` run.

``python benchmarks/bench_sim.py [--peak N] [--agents N]`` times one day
without pytest and prints where its time goes: drawing the buyers, the
event loop through the Assigner (which also makes the day's KPI records),
and measuring the day with kefu.kpi (the messages as one table, then the
daily report), in wall and CPU seconds,
with the cyclic garbage collector off as ``python -m kefu`` runs it.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

import attrs
import pytest

from conftest import contender
from kefu.sim import (
    Profile,
    ShopPlan,
    SimConfig,
    SimResult,
    Workload,
    expected_duration,
    find_staff,
    for_peak,
    measure,
    simulate,
)
from kefu.sim.draws import draw_buyers
from kefu.sim.report import day_records

FULL = pytest.mark.skipif(not os.environ.get("KEFU_BENCH_FULL"),
                          reason="the full 100,000-session day: set KEFU_BENCH_FULL=1")
PEAKS = [100, pytest.param(2000, marks=FULL)]


def promo_day(peak: int, agents: int | None = None) -> SimConfig:
    """The built-in promotion day at ``peak`` buyers, by default 50 buyers per agent at cap 50."""
    shape = Workload(profile=Profile.flat(1.0))
    profile = for_peak(Profile.promo(1.0), peak, expected_duration(shape, 1200.0))
    return SimConfig(workload=Workload(profile=profile),
                     shop=ShopPlan(agents=agents or max(1, peak // 50), cap=50), seed=1)


def rounds(peak: int) -> int:
    return 3 if peak <= 500 else 1


@pytest.mark.parametrize("peak", PEAKS)
@pytest.mark.parametrize("engine", ["c", "py"])
def test_simulate_promo_day(benchmark: Any, engine: str, peak: int) -> None:
    cfg = promo_day(peak)
    result: SimResult = benchmark.pedantic(simulate, args=(cfg,),
                                           kwargs={"engine": contender(engine)},
                                           rounds=rounds(peak), iterations=1)
    benchmark.extra_info.update(engine=engine, peak=peak, sessions=result.sessions,
                                messages=len(result.table))
    assert result.unserved == 0 and result.sessions > 10 * peak


@pytest.mark.parametrize("peak", PEAKS)
def test_measure_promo_day(benchmark: Any, peak: int) -> None:
    result = simulate(promo_day(peak))
    report = benchmark.pedantic(measure, args=(result,), rounds=rounds(peak), iterations=1)
    benchmark.extra_info.update(peak=peak, sessions=result.sessions)
    assert report.shop_reply_rate is not None


@pytest.mark.parametrize("peak", PEAKS)
def test_staff_promo_day(benchmark: Any, peak: int) -> None:
    """``python -m kefu staff --target 0.9 --cap 50 --peak N``: seeds 1, 2, 3."""
    cfg = promo_day(peak)
    result = benchmark.pedantic(find_staff, args=(cfg,),
                                kwargs={"target": 0.9, "seeds": (1, 2, 3)}, rounds=1,
                                iterations=1)
    days = sum(len(p.rates) for p in result.curve)
    benchmark.extra_info.update(peak=peak, agents=result.agents, days=days)
    assert result.agents is not None and days >= 4


def _split(cfg: SimConfig) -> list[tuple[str, float, float]]:
    """(phase, wall s, cpu s) of one day, phase by phase, as ``simulate`` then ``measure``."""
    out = []
    wall, cpu = time.perf_counter(), time.process_time()

    def lap(name: str) -> None:
        nonlocal wall, cpu
        w, c = time.perf_counter(), time.process_time()
        out.append((name, w - wall, c - cpu))
        wall, cpu = w, c

    draw_buyers(cfg, 0.0)
    lap("draw the buyers (again, alone)")
    result = simulate(cfg)
    per_session = 1e6 * (time.process_time() - cpu) / max(1, result.sessions)
    lap(f"simulate ({result.sessions:,} sessions, {len(result.message_columns['at']):,}"
        f" messages, {per_session:.0f} us cpu a session)")
    day_records(result)
    lap("day_records (the driver's records, one table of the messages)")
    measure(result)
    lap("measure (day_records + daily_report + the report)")
    return out


def main(argv: list[str]) -> None:
    gc.disable()  # as python -m kefu does: the process owner's call
    peak = int(argv[argv.index("--peak") + 1]) if "--peak" in argv else 2000
    agents = int(argv[argv.index("--agents") + 1]) if "--agents" in argv else 40
    cfg = attrs.evolve(promo_day(peak), shop=ShopPlan(agents=agents, cap=50))
    for name, wall, cpu in _split(cfg):
        print(f"{name:<66} {wall:6.2f} s wall {cpu:6.2f} s cpu")


if __name__ == "__main__":
    main(sys.argv[1:])
