"""Erlang A (M/M/n+M): limits, an independent numerical check, consistency, and the simulator.

The formulas in kefu.sim.erlang_a are checked against things that do not
share their derivation:

- patience -> infinity (theta -> 0) is Erlang C (kefu.sim.erlang, a separate
  closed form);
- theta == mu makes the number of buyers in the system an M/M/infinity
  queue: Poisson(lam / mu), summed here directly;
- the tagged buyer's race between the queue ahead and their own patience is
  solved here by uniformisation of its small Markov chain (no Beta
  distributions, no negative binomials), over a stationary distribution
  solved by plain balance equations;
- Little's law and the abandonment identity P(abandon) = theta E[queue] / lam;
- the simulator itself, with cap 1, Poisson arrivals, exponential handling
  and exponential patience.
"""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim_helpers import mm1_workload

from kefu.events import Assigned, Closed, Opened, Queued
from kefu.sim import Dist, Profile, ShopPlan, SimConfig, SimConfigError, Workload, simulate
from kefu.sim.erlang import erlang_c, mean_wait, service_level
from kefu.sim.erlang_a import (
    MAX_STATES,
    abandon_within_a,
    erlang_a,
    mean_wait_a,
    p_abandon_a,
    p_wait_a,
    served_within_a,
    servers_for_a,
)

# -- limits ----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "load", "t"), [(1, 0.5, 3.0), (10, 7.0, 20.0), (50, 45.0, 5.0),
                                              (2000, 1950.0, 1.0)])
def test_K14_endless_patience_is_erlang_c(n: int, load: float, t: float) -> None:
    mu = 0.1
    lam = load * mu
    theta = 1e-10
    fig = erlang_a(n, lam, mu, theta, t)
    assert fig.p_wait == pytest.approx(erlang_c(n, load), rel=1e-6)
    assert fig.served_within == pytest.approx(service_level(n, lam, mu, t), rel=1e-6)
    assert fig.mean_wait == pytest.approx(mean_wait(n, lam, mu), rel=1e-6)
    assert fig.mean_wait_served == pytest.approx(mean_wait(n, lam, mu), rel=1e-6)
    assert fig.p_abandon < 1e-6


def _poisson_tail(mean: float, n: int) -> tuple[float, float]:
    """(P(N >= n), E[(N - n)+]) of a Poisson(mean), by direct summation."""
    pmf = [math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) for k in range(400)]
    return math.fsum(pmf[n:]), math.fsum((k - n) * p for k, p in enumerate(pmf) if k > n)


@pytest.mark.parametrize(("n", "load"), [(1, 0.3), (5, 3.0), (8, 12.0), (40, 50.0)])
def test_K14_patience_as_long_as_handling_is_the_infinite_server_queue(n: int,
                                                                       load: float) -> None:
    mu = 1 / 30
    tail, excess = _poisson_tail(load, n)
    fig = erlang_a(n, load * mu, mu, mu)
    assert fig.p_wait == pytest.approx(tail, rel=1e-12)
    assert fig.mean_queue == pytest.approx(excess, rel=1e-12)


# -- an independent numerical solution -------------------------------------------


def _stationary(n: int, lam: float, mu: float, theta: float, size: int) -> list[float]:
    """The chain's stationary distribution on 0..size-1 from cut equations, normalised."""
    p = [1.0]
    for k in range(1, size):
        p.append(p[-1] * lam / (min(k, n) * mu + max(k - n, 0) * theta))
    total = math.fsum(p)
    return [x / total for x in p]


def _tagged(n: int, mu: float, theta: float, ahead: int, t: float) -> tuple[float, float]:
    """(P(served by t), P(gave up by t)) of a buyer with ``ahead`` queued before them.

    Uniformisation of the chain "i ahead" (i = ahead .. 0) with absorbing
    served / gave-up states: an independent method from the Beta formula.
    """
    rates = [n * mu + (i + 1) * theta for i in range(ahead + 1)]  # total out-rate at i ahead
    q = max(rates)
    prob = [0.0] * (ahead + 1)
    prob[ahead] = 1.0
    served = gone = 0.0  # absorbed after k jumps of the uniformised chain
    by_t_served = by_t_gone = 0.0
    poisson = math.exp(-q * t)  # P(k jumps by t), k = 0
    k = 0
    while not (k > q * t and poisson < 1e-20):
        by_t_served += poisson * served
        by_t_gone += poisson * gone
        new = [0.0] * (ahead + 1)
        for i, pi in enumerate(prob):
            advance = n * mu + i * theta if i else n * mu
            new[i] += pi * (1 - rates[i] / q)
            if i:
                new[i - 1] += pi * advance / q
            else:
                served += pi * advance / q
            gone += pi * theta / q
        prob = new
        k += 1
        poisson *= q * t / k
    return by_t_served, by_t_gone


@pytest.mark.parametrize(("n", "lam", "mu", "theta", "t"), [
    (1, 0.8, 1.0, 0.5, 2.0),
    (3, 2.0, 0.5, 0.3, 2.5),
    (4, 6.0, 1.0, 2.0, 0.7),
    (6, 3.0, 1.0, 0.05, 4.0),
])
def test_K14_served_and_gave_up_within_t_match_a_direct_solution(
        n: int, lam: float, mu: float, theta: float, t: float) -> None:
    size = 300
    pi = _stationary(n, lam, mu, theta, size)
    served = math.fsum(pi[:n])
    gone = 0.0
    for s in range(n, size - 1):
        if pi[s] < 1e-18:
            break
        by_t, gave_up = _tagged(n, mu, theta, s - n, t)
        served += pi[s] * by_t
        gone += pi[s] * gave_up
    fig = erlang_a(n, lam, mu, theta, t)
    assert fig.served_within == pytest.approx(served, abs=1e-10)
    assert fig.abandoned_within == pytest.approx(gone, abs=1e-10)
    assert fig.p_wait == pytest.approx(math.fsum(pi[n:]), abs=1e-12)


# -- consistency -------------------------------------------------------------------

rates = st.floats(min_value=1e-4, max_value=1e3)


@st.composite
def queues(draw: st.DrawFn) -> tuple[int, float, float, float]:
    mu = draw(rates)
    n = draw(st.integers(1, 5000))
    load = draw(st.floats(min_value=1e-3, max_value=3.0)) * n
    theta = mu * draw(st.floats(min_value=1e-2, max_value=1e3))
    return n, load * mu, mu, theta


@given(st.integers(1, 10**6), st.floats(min_value=1e-300, max_value=1e300),
       st.floats(min_value=1e-300, max_value=1e300), st.floats(min_value=1e-300, max_value=1e300),
       st.one_of(st.none(), st.floats(min_value=0.0)))
def test_K14_extreme_inputs_give_probabilities_or_a_clear_error(
        n: int, lam: float, mu: float, theta: float, t: float | None) -> None:
    try:
        fig = erlang_a(n, lam, mu, theta, t)
    except SimConfigError as exc:
        assert "out of range" in str(exc)
        return
    for p in (fig.p_wait, fig.p_abandon, fig.served_within, fig.abandoned_within):
        assert p is None or 0.0 <= p <= 1.0
    for x in (fig.mean_wait, fig.mean_wait_served, fig.mean_queue):
        assert x >= 0 and not math.isnan(x)


@given(queues(), st.floats(min_value=0.0, max_value=1e4))
def test_K14_figures_are_probabilities_and_obey_littles_law(q: tuple[int, float, float, float],
                                                            t_scale: float) -> None:
    n, lam, mu, theta = q
    t = t_scale / mu / 100
    fig = erlang_a(n, lam, mu, theta, t)
    for p in (fig.p_wait, fig.p_abandon, fig.served_within, fig.abandoned_within):
        assert p is not None and 0.0 <= p <= 1.0
    for x in (fig.mean_wait, fig.mean_wait_served, fig.mean_queue):
        assert math.isfinite(x) and x >= 0
    assert fig.served_within is not None and fig.abandoned_within is not None
    assert fig.served_within + fig.abandoned_within <= 1 + 1e-9
    assert fig.served_within <= 1 - fig.p_abandon + 1e-9
    assert fig.p_abandon <= fig.p_wait + 1e-12
    # Little's law over the queue, and abandonment at rate theta per waiting buyer
    # (the chain is exact to about 1e-15 of the mode's weight: absolute, not relative)
    assert lam * fig.mean_wait == pytest.approx(fig.mean_queue, rel=1e-9, abs=1e-13)
    assert fig.p_abandon == pytest.approx(theta * fig.mean_queue / lam, rel=1e-9, abs=1e-14)
    # served share = throughput / arrivals, at most n mu / lam
    assert 1 - fig.p_abandon <= n * mu / lam * (1 + 1e-9)


@given(queues())
def test_K14_the_edges_of_t(q: tuple[int, float, float, float]) -> None:
    n, lam, mu, theta = q
    fig = erlang_a(n, lam, mu, theta)
    assert served_within_a(n, lam, mu, theta, 0.0) == pytest.approx(1 - fig.p_wait, abs=1e-12)
    assert served_within_a(n, lam, mu, theta, math.inf) == pytest.approx(1 - fig.p_abandon)
    assert abandon_within_a(n, lam, mu, theta, 0.0) == 0.0
    assert abandon_within_a(n, lam, mu, theta, math.inf) == fig.p_abandon
    assert fig.served_within is None and fig.abandoned_within is None
    assert p_wait_a(n, lam, mu, theta) == fig.p_wait
    assert p_abandon_a(n, lam, mu, theta) == fig.p_abandon
    assert mean_wait_a(n, lam, mu, theta) == fig.mean_wait


def test_K14_more_servers_and_more_time_never_hurt() -> None:
    lam, mu, theta, t = 2.0, 0.05, 0.02, 15.0
    figs = [erlang_a(n, lam, mu, theta, t) for n in range(1, 80)]
    for a, b in itertools.pairwise(figs):
        assert b.p_wait <= a.p_wait + 1e-15
        assert b.p_abandon <= a.p_abandon + 1e-15
        assert b.mean_wait <= a.mean_wait + 1e-12
        assert b.served_within is not None and a.served_within is not None
        assert b.served_within >= a.served_within - 1e-15
    within = [served_within_a(40, lam, mu, theta, t) for t in (0, 1, 5, 20, 100, 1000)]
    assert within == sorted(within)
    gone = [abandon_within_a(40, lam, mu, theta, t) for t in (0, 1, 5, 20, 100, 1000)]
    assert gone == sorted(gone)


def test_K14_overload_is_stable_and_those_who_stay_are_what_the_servers_can_take() -> None:
    """At twice the servers' capacity, the queue settles where half the buyers give up."""
    n, mu = 1000, 1 / 600
    fig = erlang_a(n, 2 * n * mu, mu, 1 / 300, 180.0)
    assert fig.p_wait == pytest.approx(1.0)
    assert fig.p_abandon == pytest.approx(0.5, rel=1e-6)  # served = n mu / lam
    assert fig.served_within is not None and fig.served_within < 0.5


def test_K14_servers_for_a_is_the_fewest() -> None:
    lam, mu, theta, t = 48 / 600, 1 / 600, 1 / 300, 180.0
    for target, bound in ((0.8, None), (0.9, None), (0.8, 0.01)):
        n = servers_for_a(lam, mu, theta, t, target, max_abandon=bound)

        def ok(k: int, target: float = target, bound: float | None = bound) -> bool:
            fig = erlang_a(k, lam, mu, theta, t)
            return (fig.served_within is not None and fig.served_within >= target
                    and (bound is None or fig.p_abandon <= bound))

        assert ok(n) and not ok(n - 1)
    assert servers_for_a(lam, mu, theta, t, 0.8, max_abandon=0.01) > servers_for_a(
        lam, mu, theta, t, 0.8)


def test_K14_shorter_patience_needs_fewer_servers_for_the_same_waits() -> None:
    """Impatient buyers leave the queue, which shortens it for the others: fewer servers meet
    a bound on the wait of those served, though more buyers are lost."""
    lam, mu = 48 / 600, 1 / 600
    patient = erlang_a(50, lam, mu, 1 / 3000)
    impatient = erlang_a(50, lam, mu, 1 / 60)
    assert impatient.mean_wait_served < patient.mean_wait_served
    assert impatient.p_abandon > patient.p_abandon


def test_K14_large_shops_in_well_under_a_second() -> None:
    """2,000 to 100,000 seats at thousands of erlangs: exact, and not a long loop."""
    n = servers_for_a(150_000 / 600, 1 / 600, 1 / 300, 180.0, 0.9)
    assert erlang_a(n, 250.0, 1 / 600, 1 / 300, 180.0).served_within >= 0.9  # type: ignore[operator]
    assert erlang_a(n - 1, 250.0, 1 / 600, 1 / 300, 180.0).served_within < 0.9  # type: ignore[operator]


BAD = [
    ((0, 1.0, 1.0, 1.0), "servers"),
    ((1.5, 1.0, 1.0, 1.0), "servers"),
    ((2, -1.0, 1.0, 1.0), "arrival rate"),
    ((2, 1.0, 0.0, 1.0), "service rate"),
    ((2, 1.0, 1.0, 0.0), "patience"),
    ((2, 1.0, 1.0, math.nan), "patience"),
    ((2, 1.0, math.inf, 1.0), "service rate"),
    ((2, 1.0, 1.0, 1.0, -1.0), "time t"),
    ((2, 1.0, 1.0, 1.0, math.nan), "time t"),
    ((2, True, 1.0, 1.0), "arrival rate"),
]


@pytest.mark.parametrize(("args", "words"), BAD)
def test_K14_bad_input_is_a_clear_error(args: tuple[object, ...], words: str) -> None:
    with pytest.raises(SimConfigError, match=words):
        erlang_a(*args)  # type: ignore[arg-type]


def test_K14_bad_searches_are_clear_errors() -> None:
    for kwargs, words in (({"target": 1.0}, "target"), ({"target": 0.0}, "target"),
                          ({"target": 0.5, "max_abandon": 0.0}, "giving up"),
                          ({"target": 0.5, "limit": 0}, "limit"),
                          ({"target": 0.999999, "limit": 3}, "no server count")):
        with pytest.raises(SimConfigError, match=words):
            servers_for_a(1.0, 0.1, 0.1, 5.0, **kwargs)  # type: ignore[arg-type]


def test_K14_a_hopeless_queue_with_endless_patience_is_refused_not_looped() -> None:
    with pytest.raises(SimConfigError, match="out of range"):
        erlang_a(10, 100.0, 1.0, 1e-9)
    assert MAX_STATES >= 1_000_000


# -- the simulator against Erlang A -------------------------------------------------

AGENTS = 10
LOAD = 10.0  # erlangs: as many as the agents, so a queue forms and buyers give up
HANDLING = 30.0  # seconds
PATIENCE = 45.0  # mean seconds, exponential
DAYS = 8
HOURS = 8
WARM_UP = 30 * 60.0


def _one_day(seed: int) -> tuple[float, float, int]:
    """(share of buyers who waited, share who gave up, buyers) after warm-up, from the events.

    A buyer gave up when their session closed without ever being assigned.
    """
    cfg = SimConfig(
        workload=Workload(profile=Profile.flat(LOAD * 60 / HANDLING, HOURS * 60),
                          **mm1_workload(close_delay=Dist.exp(HANDLING),
                                         patience=Dist.exp(PATIENCE))),
        shop=ShopPlan(agents=AGENTS, cap=1, auto_close=None),
        seed=seed,
    )
    r = simulate(cfg, engine="py")
    opened: dict[str, float] = {}
    waited: set[str] = set()
    assigned: set[str] = set()
    gave_up: set[str] = set()
    for e in r.events:
        if isinstance(e, Opened):
            opened[e.session_id] = e.at
        elif isinstance(e, Queued):
            waited.add(e.session_id)
        elif isinstance(e, Assigned):
            assigned.add(e.session_id)
        elif isinstance(e, Closed) and e.session_id not in assigned:
            gave_up.add(e.session_id)
    kept = [s for s, t in opened.items() if t - r.t0 >= WARM_UP]
    assert r.abandoned == len(gave_up)  # the driver's count and the events agree
    return (sum(s in waited for s in kept) / len(kept),
            sum(s in gave_up for s in kept) / len(kept), len(kept))


def test_K14_simulator_with_exponential_patience_matches_erlang_a() -> None:
    days = [_one_day(seed) for seed in range(1, DAYS + 1)]
    p_sim = statistics.fmean(p for p, _, _ in days)
    a_sim = statistics.fmean(a for _, a, _ in days)
    p_se = statistics.stdev(p for p, _, _ in days) / math.sqrt(DAYS)
    a_se = statistics.stdev(a for _, a, _ in days) / math.sqrt(DAYS)
    fig = erlang_a(AGENTS, LOAD / HANDLING, 1 / HANDLING, 1 / PATIENCE)
    report = (f"P(wait) sim {p_sim:.4f} +- {p_se:.4f} vs Erlang A {fig.p_wait:.4f}; "
              f"gave up sim {a_sim:.4f} +- {a_se:.4f} vs {fig.p_abandon:.4f}; "
              f"{sum(n for _, _, n in days)} buyers")
    print(report)
    assert p_se < 0.05 * fig.p_wait and a_se < 0.08 * fig.p_abandon, "too noisy: " + report
    assert abs(p_sim - fig.p_wait) <= 4 * p_se, report
    assert abs(a_sim - fig.p_abandon) <= 4 * a_se, report
    # and Erlang C, which ignores patience, would be far off: the test can tell them apart
    assert abs(erlang_c(AGENTS, LOAD) - p_sim) > 10 * p_se
