"""``staff``: the answer meets the target on every seed, and one agent fewer misses it."""

from __future__ import annotations

import attrs
import pytest
from sim_helpers import config

from kefu.sim import SimConfigError, find_staff, reply_rate, simulate
from kefu.sim.staffing import erlang_guess

SEEDS = (1, 2)
TARGET = 0.9


def base() -> object:
    return config(per_minute=3, minutes=60, agents=1, cap=4)


def rate(agents: int, seed: int) -> float | None:
    cfg = base()
    cfg = attrs.evolve(cfg, seed=seed, shop=cfg.shop.with_agents(agents))  # type: ignore[misc]
    return reply_rate(simulate(cfg, engine="py"))


def test_staff_returns_the_smallest_count_meeting_the_target() -> None:
    result = find_staff(base(), target=TARGET, seeds=SEEDS, engine="py")  # type: ignore[arg-type]
    n = result.agents
    assert n is not None and n > 1
    # checked independently, on the same seeds: n meets on every seed, n - 1 misses on one
    assert all((r := rate(n, s)) is not None and r >= TARGET for s in SEEDS)
    assert any((r := rate(n - 1, s)) is None or r < TARGET for s in SEEDS)
    at = result.point(n)
    below = result.point(n - 1)
    assert at is not None and at.meets and at.rate is not None and at.rate >= TARGET
    assert below is not None and not below.meets
    assert [p.agents for p in result.curve] == sorted(p.agents for p in result.curve)
    assert result.cap == 4 and result.seeds == SEEDS


def test_staff_says_so_when_nothing_in_range_is_enough() -> None:
    result = find_staff(base(), target=0.999, seeds=(1,), max_agents=2,  # type: ignore[arg-type]
                        engine="py")
    assert result.agents is None
    assert all(not p.meets for p in result.curve)


def test_staff_can_also_bound_the_buyers_who_give_up() -> None:
    loose = find_staff(base(), target=0.5, seeds=(1,), engine="py")  # type: ignore[arg-type]
    strict = find_staff(base(), target=0.5, seeds=(1,), max_abandon=0.0,  # type: ignore[arg-type]
                        engine="py")
    assert loose.agents is not None and strict.agents is not None
    assert strict.agents >= loose.agents
    at = strict.point(strict.agents)
    assert at is not None and at.worst_gave_up == 0.0


def test_staff_checks_its_arguments() -> None:
    for kwargs in ({"target": 0.0}, {"target": 1.5}, {"seeds": ()},
                   {"min_agents": 5, "max_agents": 4}):
        args = {"target": 0.9, "seeds": (1,)} | kwargs
        with pytest.raises(SimConfigError):
            find_staff(base(), **args)  # type: ignore[arg-type]


def test_erlang_guess_is_in_the_right_range() -> None:
    """A first guess only, but it should be the right order of magnitude."""
    from kefu.sim import Profile, ShopPlan, SimConfig, Workload, expected_duration, for_peak

    wl = Workload(profile=Profile.flat(1.0))
    prof = for_peak(Profile.promo(1.0), 2000, expected_duration(wl, 1200.0))
    cfg = SimConfig(workload=Workload(profile=prof), shop=ShopPlan(agents=1, cap=50))
    assert 40 <= erlang_guess(cfg, 0.9) <= 50


def test_a_level_that_passes_the_first_seed_but_not_the_others_is_not_the_answer() -> None:
    """Phase 2: seeds (2, 3, 4) -- 5 agents meet on seed 2 and miss on seed 4."""
    seeds = (2, 3, 4)
    result = find_staff(base(), target=TARGET, seeds=seeds, engine="py")  # type: ignore[arg-type]
    n = result.agents
    assert n is not None
    below = result.point(n - 1)
    assert below is not None and below.meets is False and len(below.rates) > 1
    assert below.rates[0] is not None and below.rates[0] >= TARGET  # the first seed was fine
    assert all((r := rate(n, s)) is not None and r >= TARGET for s in seeds)
    assert any((r := rate(n - 1, s)) is None or r < TARGET for s in seeds)
