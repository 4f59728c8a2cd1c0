"""The day's buyers drawn in bulk: the distributions, the Poisson arrivals, determinism."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim_helpers import config

from kefu.events import Closed, Opened, Reassigned
from kefu.sim import Dist, Profile, SimConfig, simulate
from kefu.sim.draws import arrival_times, draw_buyers, streams

T0 = 1_762_790_400.0


@pytest.mark.parametrize(
    ("dist", "mean"),
    [(Dist.const(7), 7), (Dist.exp(30), 30), (Dist.lognormal(20, 0.5), 20 * 1.1331484530668263),
     (Dist.uniform(10, 20), 15), (Dist.geometric(3), 3), (Dist.geometric(1), 1)],
)
def test_bulk_samples_draw_around_the_stated_mean(dist: Dist, mean: float) -> None:
    sample = dist.sample(np.random.default_rng(5), 20_000)
    assert sample.dtype == np.float64 and len(sample) == 20_000
    assert statistics.fmean(sample.tolist()) == pytest.approx(mean, rel=0.05)
    assert sample.min() >= 0


def test_bulk_geometric_counts_are_whole_numbers_from_one_with_the_right_tail() -> None:
    sample = Dist.geometric(2.5).sample(np.random.default_rng(1), 50_000)
    assert np.all(sample == np.floor(sample)) and sample.min() == 1
    q = 1 - 1 / 2.5  # P(X > k) = q**k
    for k in (1, 2, 4):
        assert float(np.mean(sample > k)) == pytest.approx(q**k, abs=0.01)


def test_lognormal_median_is_its_first_parameter() -> None:
    sample = Dist.lognormal(30, 0.8).sample(np.random.default_rng(2), 40_001)
    assert float(np.median(sample)) == pytest.approx(30, rel=0.03)


def test_arrivals_are_poisson_per_minute() -> None:
    """A flat rate: counts per minute have mean = variance = rate; gaps are exponential."""
    cfg = config(per_minute=5, minutes=600)
    at = arrival_times(cfg, T0)
    assert at == sorted(at)
    counts = np.bincount(((np.array(at) - T0) // 60).astype(int), minlength=8 * 60 + 600)
    busy = counts[8 * 60:]
    assert counts[:8 * 60].sum() == 0  # no arrivals where the profile has none
    assert float(busy.mean()) == pytest.approx(5, rel=0.05)
    assert float(busy.var()) == pytest.approx(5, rel=0.15)
    gaps = np.diff(at)
    assert float(np.mean(gaps > 12.0)) == pytest.approx(math.exp(-1), abs=0.02)  # rate 1/12 s


def test_arrivals_follow_a_changing_rate() -> None:
    rates = (0.0,) * 60 + (2.0,) * 300 + (20.0,) * 300
    cfg = config(per_minute=1)
    cfg = SimConfig(workload=type(cfg.workload)(profile=Profile("steps", rates)), shop=cfg.shop)
    minutes = ((np.array(arrival_times(cfg, T0)) - T0) // 60).astype(int)
    assert (minutes < 60).sum() == 0
    assert ((minutes >= 60) & (minutes < 360)).sum() == pytest.approx(600, rel=0.15)
    assert (minutes >= 360).sum() == pytest.approx(6000, rel=0.05)


@given(seed=st.integers(-(2**70), 2**70))
def test_the_same_seed_draws_the_same_buyers(seed: int) -> None:
    cfg = config(per_minute=3, minutes=5, seed=seed)
    a, b = draw_buyers(cfg, T0), draw_buyers(cfg, T0)
    assert a == b
    assert len(a.replies) == sum(a.rounds) and len(a.gaps) == sum(a.rounds) - len(a)
    other = draw_buyers(config(per_minute=3, minutes=5, seed=seed + 1), T0)
    assert other.replies != a.replies


def test_negative_and_positive_seeds_are_different_streams() -> None:
    assert streams(5)["reply"].random() != streams(-5)["reply"].random()


def test_each_quantity_has_its_own_stream() -> None:
    """Changing one distribution leaves the other quantities' draws as they were."""
    base = config(per_minute=4, minutes=30)
    slower = config(per_minute=4, minutes=30, workload={"reply_delay": Dist.const(99)})
    a, b = draw_buyers(base, T0), draw_buyers(slower, T0)
    assert a.arrivals == b.arrivals and a.rounds == b.rounds and a.gaps == b.gaps
    assert a.patience == b.patience and a.replies != b.replies


def test_script_shares_follow_the_workload() -> None:
    cfg = config(per_minute=50, minutes=200, workload={
        "bot_share": 0.3, "bot_resolve": 0.5, "agent_close": 0.6, "rate_share": 0.2,
        "groups": (("pre", 3.0), ("after", 1.0))})
    b = draw_buyers(cfg, T0)
    n = len(b)  # about 10,000: a share's standard error is at most 0.005; allow 4 of them
    assert sum(b.bot) / n == pytest.approx(0.3, abs=0.02)
    assert sum(b.resolves) / sum(b.bot) == pytest.approx(0.5, abs=0.04)
    assert not any(r and not bot for r, bot in zip(b.resolves, b.bot, strict=True))
    assert sum(b.closes) / n == pytest.approx(0.6, abs=0.02)
    assert sum(u >= 0 for u in b.rate_u) / n == pytest.approx(0.2, abs=0.02)
    assert b.groups.count("pre") / n == pytest.approx(0.75, abs=0.02)
    assert set(b.groups) == {"pre", "after"}


def test_deadlines_are_served_on_time_with_short_timers() -> None:
    """The loop asks for the next deadline only when it may be due: with short timers
    (first response 5 s, auto close 30 s) every timer still fires at its own time, so the
    Assigner's events come in time order and a Closed(AUTO) is exactly 30 s after the
    session's last agent message."""
    cfg = config(per_minute=20, minutes=30, agents=2, cap=5, first_response_timeout=5.0,
                 auto_close=30.0, workload={"agent_close": 0.2})
    r = simulate(cfg, engine="py")
    ats = [e.at for e in r.events]
    assert ats == sorted(ats)
    assert any(isinstance(e, Reassigned) for e in r.events)
    last_reply: dict[str, float] = {}
    for m in r.messages:
        if m.agent_id is not None:
            last_reply[m.session_id] = m.at
    autos = [e for e in r.events if isinstance(e, Closed) and e.reason.name == "AUTO"]
    assert autos
    for e in autos:
        assert e.at == last_reply[e.session_id] + 30.0
    assert r.unserved == 0 and sum(isinstance(e, Opened) for e in r.events) == r.sessions
