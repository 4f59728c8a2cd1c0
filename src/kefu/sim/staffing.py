"""``staff``: the fewest agents whose simulated day meets a reply-rate target.

Each staffing level is judged on several seeds and must meet the target on
every one, so the answer holds on every day tried, not just on average.

The search is cheap first, then exact. Phase 1 uses the first seed only: it
starts from an Erlang C guess (every seat, agents x cap, as a server of the
peak load), gallops away from it in doubling steps until it has a level that
misses and one that meets, and bisects between them. Phase 2 runs the other
seeds at the level found; if one misses there, it gallops and bisects upward
again with all seeds. A level that misses on any seed misses, so the
invariant "``lo`` misses, ``hi`` meets" holds throughout, which gives the
contract the tests check: the answer meets the target on every seed and
one agent fewer misses it, on the same seeds. Buyers are the same at every
level (common random numbers, see :mod:`kefu.sim.driver`), which keeps the
curve smooth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import attrs

from kefu.assigner import EngineName
from kefu.sim.config import MAX_AGENTS, SimConfig
from kefu.sim.driver import simulate
from kefu.sim.erlang import servers_for
from kefu.sim.errors import SimConfigError
from kefu.sim.report import reply_rate
from kefu.sim.workload import expected_duration

__all__ = ["Point", "StaffResult", "erlang_guess", "find_staff"]


@attrs.frozen
class Point:
    """One staffing level tried: the rate and give-up share of each seed run, in seed order.

    Seeds run only as far as needed (a miss stops a level, and phase 1 runs
    one seed), so ``rates`` may be shorter than the seeds. ``meets`` is True
    when every seed met the target, False when one missed, None when the
    seeds run so far met but not all were run.
    """

    agents: int
    rates: tuple[float | None, ...]
    gave_up: tuple[float, ...]
    meets: bool | None
    seconds: float

    @property
    def rate(self) -> float | None:
        """The worst seed's reply rate (None if some seed had no decided unit)."""
        return None if None in self.rates else min(r for r in self.rates if r is not None)

    @property
    def worst_gave_up(self) -> float:
        return max(self.gave_up)


@attrs.frozen(kw_only=True)
class StaffResult:
    """The answer (None if even ``max_agents`` misses) and every level tried, by agents."""

    agents: int | None
    cap: int | None
    target: float
    max_abandon: float | None
    seeds: tuple[int, ...]
    guess: int
    curve: tuple[Point, ...]
    seconds: float
    engine: str  # the Assigner engine the days ran on ("cython" or "python")
    at_lower_bound: bool  # the answer is the smallest count allowed: fewer were not tried

    def point(self, agents: int) -> Point | None:
        for p in self.curve:
            if p.agents == agents:
                return p
        return None


def erlang_guess(config: SimConfig, target: float) -> int:
    """Agents for the peak minute by Erlang C over seats (agents x cap): a first guess only."""
    wl = config.workload
    cap = config.shop.cap if config.shop.cap is not None else 50
    per_arrival = expected_duration(wl, config.shop.auto_close)
    human = 1 - wl.bot_share * wl.bot_resolve
    lam = wl.profile.peak / 60.0 * human  # sessions per second at the busiest minute
    if lam <= 0 or per_arrival <= 0:
        return 1
    mu = human / per_arrival  # 1 / (mean open time of a session)
    seats = servers_for(lam, mu, config.threshold, target)
    return max(1, math.ceil(seats / cap))


Listener = Callable[[Point], None]


def find_staff(
    base: SimConfig,
    *,
    target: float,
    seeds: Sequence[int],
    min_agents: int = 1,
    max_agents: int = MAX_AGENTS,
    max_abandon: float | None = None,
    engine: EngineName = "auto",
    on_point: Listener | None = None,
    on_run: Callable[[int, int], None] | None = None,
) -> StaffResult:
    """The fewest agents (``min_agents`` .. ``max_agents``) meeting ``target`` on every seed.

    ``max_abandon`` optionally also bounds the share of sessions whose buyer
    gave up in the queue (the reply rate does not count them: K02).
    ``on_run`` hears about each simulated day as it starts (agents, seed),
    ``on_point`` about its level after it (with every seed run so far).
    """
    if not 0 < target <= 1:
        raise SimConfigError(f"target must be a share in (0, 1], got {target!r}")
    if not seeds:
        raise SimConfigError("staff needs at least one seed")
    if not 1 <= min_agents <= max_agents <= MAX_AGENTS:
        raise SimConfigError(
            f"need 1 <= min agents <= max agents <= {MAX_AGENTS}, got {min_agents}..{max_agents}"
        )
    started = time.perf_counter()
    runs: dict[int, list[tuple[float | None, float, bool]]] = {}  # agents -> (rate, gave up, ok)
    spent: dict[int, float] = {}
    engines: list[str] = []

    def ok(n: int, k: int) -> bool:
        """Do the first ``k`` seeds all meet the target with ``n`` agents? Runs what is missing."""
        done = runs.setdefault(n, [])
        for i in range(k):
            if i == len(done):
                t = time.perf_counter()
                if on_run is not None:
                    on_run(n, seeds[i])
                cfg = attrs.evolve(base, seed=seeds[i], shop=base.shop.with_agents(n))
                result = simulate(cfg, engine=engine)
                engines.append(result.engine)
                rate = reply_rate(result)
                share = result.abandoned / result.sessions if result.sessions else 0.0
                good = rate is not None and rate >= target and (
                    max_abandon is None or share <= max_abandon)
                done.append((rate, share, good))
                spent[n] = spent.get(n, 0.0) + time.perf_counter() - t
                if on_point is not None:
                    on_point(_point(n, done, len(seeds), spent[n]))
            if not done[i][2]:
                return False
        return True

    guess = min(max(erlang_guess(base, target), min_agents), max_agents)
    hi = _bracket(lambda n: ok(n, 1), guess, min_agents - 1, max_agents)[1]
    if hi is not None and not ok(hi, len(seeds)):  # phase 2: another seed misses there
        hi = _bracket(lambda n: ok(n, len(seeds)), hi + 1, hi, max_agents)[1]
    curve = tuple(_point(n, runs[n], len(seeds), spent[n]) for n in sorted(runs) if runs[n])
    return StaffResult(
        agents=hi,
        cap=base.shop.cap,
        target=target,
        max_abandon=max_abandon,
        seeds=tuple(seeds),
        guess=guess,
        curve=curve,
        seconds=time.perf_counter() - started,
        engine=engines[-1],
        at_lower_bound=hi is not None and hi == min_agents and min_agents > 1,
    )


def _point(n: int, done: list[tuple[float | None, float, bool]], seeds: int,
           seconds: float) -> Point:
    meets = False if not all(good for _, _, good in done) else (True if len(done) == seeds
                                                                else None)
    return Point(n, tuple(r for r, _, _ in done), tuple(g for _, g, _ in done), meets, seconds)


def _bracket(ok: Callable[[int], bool], start: int, lo: int, top: int) -> tuple[int, int | None]:
    """Gallop from ``start`` then bisect: (lo, hi) with ``ok(hi)``, not ``ok(lo)``, hi = lo + 1.

    ``lo`` is known to miss (or lies below the range); ``hi`` is None when even
    ``top`` misses.
    """
    if start > top:
        return lo, None
    hi: int | None = None
    step = 1
    if ok(start):
        hi = start
        while hi - 1 > lo:
            cand = max(hi - step, lo + 1)
            if not ok(cand):
                lo = cand
                break
            hi = cand
            step *= 2
    else:
        lo = start
        while hi is None:
            cand = min(lo + step, top)
            if cand <= lo:
                return lo, None
            if ok(cand):
                hi = cand
            else:
                lo = cand
                step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return lo, hi
