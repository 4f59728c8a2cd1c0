"""The workload model: distributions, profiles (promo, flat, CSV), shift plans and rosters."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.sim import Dist, Profile, ShopPlan, SimConfigError, Workload, parse_shifts, roster
from kefu.sim.config import Shift, largest_remainder
from kefu.sim.workload import PROMO_HOURLY, expected_duration, for_peak


@pytest.mark.parametrize(
    ("dist", "mean"),
    [(Dist.const(7), 7), (Dist.exp(30), 30), (Dist.lognormal(20, 0.5), 20 * 1.1331484530668263),
     (Dist.uniform(10, 20), 15), (Dist.geometric(3), 3), (Dist.geometric(1), 1)],
)
def test_samplers_draw_around_the_stated_mean(dist: Dist, mean: float) -> None:
    draw = dist.sampler(random.Random(5))
    sample = [draw() for _ in range(20_000)]
    assert dist.mean == pytest.approx(mean)
    assert statistics.fmean(sample) == pytest.approx(mean, rel=0.05)
    assert min(sample) >= 0


def test_geometric_counts_are_whole_numbers_from_one() -> None:
    draw = Dist.geometric(2.5).sampler(random.Random(1))
    sample = [draw() for _ in range(2000)]
    assert all(x == int(x) and x >= 1 for x in sample)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("45", Dist.lognormal(45, 0.8)), ("exp:12", Dist.exp(12)), ("CONST:0", Dist.const(0)),
     ("lognormal:10:0.3", Dist.lognormal(10, 0.3)), ("uniform:1:2", Dist.uniform(1, 2))],
)
def test_dist_specs_parse(spec: str, expected: Dist) -> None:
    assert Dist.parse(spec, Dist.lognormal(30, 0.8)) == expected
    assert Dist.parse(str(expected), Dist.exp(1)) == expected  # str() round-trips


@pytest.mark.parametrize(
    ("spec", "message"),
    [("abc", "bad distribution"), ("poisson:3", "unknown distribution"),
     ("exp:-1", "must be a finite number >= 0"), ("exp:0", "must be > 0"),
     ("lognormal:3", "takes 2 parameter"), ("uniform:5:1", "low <= high"),
     ("geometric:0.5", "must be >= 1"), ("exp:nan", "finite")],
)
def test_bad_dist_specs_say_why(spec: str, message: str) -> None:
    with pytest.raises(SimConfigError, match=message):
        Dist.parse(spec, Dist.exp(1))


def test_promo_profile_has_the_sources_shape() -> None:
    """Source 002: quiet at 13:00-14:00, the peak at 21:00; plus the midnight opening rush."""
    p = Profile.promo(100.0)
    assert p.minutes == 1440
    assert p.peak == pytest.approx(100.0)
    assert max(range(1440), key=lambda m: p.rates[m]) == 21 * 60
    assert p.rates[13 * 60 + 30] < p.rates[11 * 60] and p.rates[13 * 60 + 30] < p.rates[16 * 60]
    assert p.rates[4 * 60] < p.rates[0] / 5
    assert len(PROMO_HOURLY) == 25


def test_for_peak_scales_by_littles_law() -> None:
    wl = Workload(profile=Profile.flat(1.0))
    duration = expected_duration(wl, 1200.0)
    p = for_peak(Profile.promo(1.0), 2000, duration)
    assert p.peak * duration / 60 == pytest.approx(2000)
    assert p.peak_buyers == 2000
    # The built-in day at 2000 concurrent buyers is "about 100,000 sessions".
    assert 90_000 < p.expected_arrivals < 120_000


def test_expected_duration_counts_auto_close_and_bot_only_buyers() -> None:
    base = Workload(profile=Profile.flat(1.0), agent_close=0.0)
    assert expected_duration(base, 600.0) - expected_duration(base, None) == pytest.approx(600.0)
    bot = Workload(profile=Profile.flat(1.0), bot_share=1.0, bot_resolve=0.5)
    assert expected_duration(bot, 1200.0) == pytest.approx(
        expected_duration(Workload(profile=Profile.flat(1.0)), 1200.0) / 2)
    with pytest.raises(SimConfigError, match="no session ever reaches an agent"):
        for_peak(Profile.flat(1.0), 100, 0.0)


def test_csv_one_column_is_minutes_from_midnight(tmp_path: Path) -> None:
    f = tmp_path / "day.csv"
    f.write_text("arrivals\n# the night\n0\n1.5\n\n2\n")
    p = Profile.from_csv(f)
    assert p.rates == (0.0, 1.5, 2.0)
    assert p.name == "csv:day.csv" and p.peak_buyers is None


def test_csv_two_columns_take_minutes_or_clock_times(tmp_path: Path) -> None:
    f = tmp_path / "evening.csv"
    f.write_text("minute,arrivals\n20:59,3\n1261,4.5\n")
    p = Profile.from_csv(f)
    assert p.minutes == 1262
    assert p.rates[1259] == 3.0 and p.rates[1261] == 4.5
    assert sum(p.rates) == 7.5


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "no rows"), ("minute,arrivals\n", "no rows"), ("1,2,3\n", "3 columns"),
     ("5\nx\n", "not a number"), ("5\n-1\n", ">= 0"), ("1,2\n1,3\n", "listed twice"),
     ("25:00,1\n", "0..1439 or HH:MM"), ("1440,1\n", "0..1439"), ("0\n0\n", "no arrivals"),
     ("1\n" * 1441, "a day has 1440 minutes"), ("1,2\n3\n", "expected 2 column")],
)
def test_bad_csv_profiles_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(SimConfigError, match=message):
        Profile.from_csv(f)


def test_missing_csv_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SimConfigError, match="cannot read profile"):
        Profile.from_csv(tmp_path / "nope.csv")


def test_shift_specs() -> None:
    assert parse_shifts("08:00-17:00@3, 13:00-24:00") == (Shift(480, 1020, 3.0), Shift(780, 1440))
    night = parse_shifts("22:00-06:00")[0]
    assert night.intervals() == ((0, 360), (1320, 1440))
    for bad in ("8-17", "08:00-25:00", "10:00-10:00", "08:00-09:00@0", "08:00-24:30"):
        with pytest.raises(SimConfigError):
            parse_shifts(bad)


@given(st.integers(0, 500), st.lists(st.floats(0.01, 100), min_size=1, max_size=8))
def test_largest_remainder_splits_exactly(total: int, weights: list[float]) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    exact = [total * w / sum(weights) for w in weights]
    assert all(abs(p - e) < 1 + 1e-9 for p, e in zip(parts, exact, strict=True))


def test_roster_deals_agents_to_groups_then_shifts() -> None:
    plan = ShopPlan(agents=10, shifts=parse_shifts("08:00-17:00@1,13:00-24:00@1"))
    agents = roster(plan, (("presale", 7.0), ("aftersale", 3.0)))
    assert len(agents) == 10
    by_group = {g: [a for a in agents if a.group == g] for g in ("presale", "aftersale")}
    assert len(by_group["presale"]) == 7 and len(by_group["aftersale"]) == 3
    assert {a.intervals for a in by_group["aftersale"]} == {((480, 1020),), ((780, 1440),)}
    assert len({a.agent_id for a in agents}) == 10
    with pytest.raises(SimConfigError, match="cannot cover 3 groups"):
        roster(ShopPlan(agents=2), (("a", 1.0), ("b", 1.0), ("c", 1.0)))
