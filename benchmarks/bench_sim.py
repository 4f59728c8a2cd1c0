"""A simulated promotion day: the driver on each engine, and measuring it with kefu.kpi.

``pytest benchmarks/bench_sim.py --benchmark-group-by=func`` times the
built-in promotion day at a peak of 100 concurrent buyers (about 5,000
sessions). The issue's figure, a day at a peak of 2000 (about 100,000
sessions), runs when ``KEFU_BENCH_FULL=1`` is set: it takes tens of seconds
per engine, too long for CI's once-through ``--benchmark-disable`` run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from conftest import contender
from kefu.sim import (
    Profile,
    ShopPlan,
    SimConfig,
    SimResult,
    Workload,
    expected_duration,
    for_peak,
    measure,
    simulate,
)

FULL = pytest.mark.skipif(not os.environ.get("KEFU_BENCH_FULL"),
                          reason="the full 100,000-session day: set KEFU_BENCH_FULL=1")
PEAKS = [100, pytest.param(2000, marks=FULL)]


def promo_day(peak: int) -> SimConfig:
    """The built-in promotion day at ``peak`` buyers, 50 buyers per agent at cap 50."""
    shape = Workload(profile=Profile.flat(1.0))
    profile = for_peak(Profile.promo(1.0), peak, expected_duration(shape, 1200.0))
    return SimConfig(workload=Workload(profile=profile),
                     shop=ShopPlan(agents=max(1, peak // 50), cap=50), seed=1)


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
                                messages=len(result.messages))
    assert result.unserved == 0 and result.sessions > 10 * peak


@pytest.mark.parametrize("peak", PEAKS)
def test_measure_promo_day(benchmark: Any, peak: int) -> None:
    result = simulate(promo_day(peak))
    report = benchmark.pedantic(measure, args=(result,), rounds=rounds(peak), iterations=1)
    benchmark.extra_info.update(peak=peak, sessions=result.sessions)
    assert report.shop_reply_rate is not None
