"""The simulator against queueing theory: cap 1 + Poisson + exponential = Erlang C (M/M/c).

With cap 1 each agent serves one buyer at a time; a flat profile gives
Poisson arrivals; a single question answered at once and closed after an
exponential time gives exponential handling. The probability of waiting and
the mean wait, read from the Assigner's own events (Queued, Assigned), must
then match Erlang C within sampling error.

Sizes: 10 agents at 70 % load (a = 7 erlangs), 30 s mean handling, so
14 arrivals a minute; 8 independent 12-hour days (about 10,000 buyers
each), the first 30 minutes of each dropped as warm-up. The standard error
comes from the spread between the days (waits within a day are correlated,
so a per-buyer error would be too small); the check is |sim - theory| <= 4
standard errors, and the errors must be small enough (a few %) for the test
to have teeth. Measured with seeds 1-8: P(wait) and mean wait within about
1 standard error of the formula.
"""

from __future__ import annotations

import math
import statistics

import pytest
from sim_helpers import mm1_workload

from kefu.events import Assigned, Opened, Queued
from kefu.sim import Dist, Profile, ShopPlan, SimConfig, Workload, simulate
from kefu.sim.erlang import erlang_b, erlang_c, mean_wait, servers_for, service_level

AGENTS = 10
LOAD = 7.0  # erlangs: arrival rate x mean handling
HANDLING = 30.0  # seconds
DAYS = 8
HOURS = 12
WARM_UP = 30 * 60.0


def test_erlang_formulas_on_known_values() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.0) == 1.0  # unstable
    assert mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)  # M/M/1: rho / (mu - lam)
    assert mean_wait(2, 2.0, 1.0) == math.inf
    assert service_level(2, 1.0, 1.0, 0.0) == pytest.approx(2 / 3)
    c = servers_for(lam=1.0, mu=0.1, t=20.0, target=0.8)
    assert service_level(c, 1.0, 0.1, 20.0) >= 0.8 > service_level(c - 1, 1.0, 0.1, 20.0)


def _one_day(seed: int) -> tuple[float, float, int]:
    """(share of buyers who waited, their mean wait, buyers) after warm-up, from the events."""
    per_minute = LOAD * 60 / HANDLING
    cfg = SimConfig(
        workload=Workload(profile=Profile.flat(per_minute, HOURS * 60),
                          **mm1_workload(close_delay=Dist.exp(HANDLING))),
        shop=ShopPlan(agents=AGENTS, cap=1, auto_close=None),
        seed=seed,
    )
    r = simulate(cfg, engine="py")
    opened: dict[str, float] = {}
    waited: dict[str, bool] = {}
    wait: dict[str, float] = {}
    for e in r.events:
        if isinstance(e, Opened):
            opened[e.session_id] = e.at
        elif isinstance(e, Queued):
            waited[e.session_id] = True
        elif isinstance(e, Assigned) and e.session_id not in wait:
            wait[e.session_id] = e.at - opened[e.session_id]
    kept = [s for s, t in opened.items() if t - r.t0 >= WARM_UP]
    assert all(s in wait for s in kept)  # everybody is served: no patience limit
    p = sum(waited.get(s, False) for s in kept) / len(kept)
    w = statistics.fmean(wait[s] for s in kept)
    return p, w, len(kept)


def test_cap_1_poisson_exponential_matches_erlang_c() -> None:
    days = [_one_day(seed) for seed in range(1, DAYS + 1)]
    p_sim = statistics.fmean(p for p, _, _ in days)
    w_sim = statistics.fmean(w for _, w, _ in days)
    p_se = statistics.stdev(p for p, _, _ in days) / math.sqrt(DAYS)
    w_se = statistics.stdev(w for _, w, _ in days) / math.sqrt(DAYS)
    lam = LOAD / HANDLING
    p_theory = erlang_c(AGENTS, LOAD)
    w_theory = mean_wait(AGENTS, lam, 1 / HANDLING)
    report = (f"P(wait) sim {p_sim:.4f} +- {p_se:.4f} vs Erlang C {p_theory:.4f}; "
              f"mean wait sim {w_sim:.3f} s +- {w_se:.3f} vs {w_theory:.3f} s; "
              f"{sum(n for _, _, n in days)} buyers")
    print(report)
    assert p_se < 0.05 * p_theory and w_se < 0.08 * w_theory, "too noisy to be a test: " + report
    assert abs(p_sim - p_theory) <= 4 * p_se, report
    assert abs(w_sim - w_theory) <= 4 * w_se, report
