"""``staff``: the fewest agents whose simulated day meets a reply-rate target.

Each staffing level is judged on several seeds and must meet the target on
every one, so the answer holds on every day tried, not just on average.

The search is cheap first, then exact. Phase 1 uses the first seed only: it
starts from a queueing-theory guess (every seat, agents x cap, as a server of
the peak load; Erlang A when buyers give up waiting, else Erlang C), gallops
away from it in doubling steps until it has a level that misses and one that
meets, and bisects between them. Phase 2 runs the other
seeds at the level found; if one misses there, it gallops and bisects upward
again with all seeds. A level that misses on any seed misses, so the
invariant "``lo`` misses, ``hi`` meets" holds throughout, which gives the
contract the tests check: the answer meets the target on every seed and
one agent fewer misses it, on the same seeds. Buyers are the same at every
level (common random numbers, see :mod:`kefu.sim.driver`), which keeps the
curve smooth.

Beside each level's simulated figures the result carries what queueing
theory says for that level at the busiest minute (:class:`Theory`), and the
simulated figures of the busiest hour, so the two can be read side by side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import attrs

from kefu.assigner import EngineName
from kefu.sim.config import MAX_AGENTS, SimConfig
from kefu.sim.driver import SimResult, simulate
from kefu.sim.erlang import erlang_c, mean_wait, servers_for, service_level
from kefu.sim.erlang_a import erlang_a, servers_for_a
from kefu.sim.errors import SimConfigError
from kefu.sim.report import reply_rate
from kefu.sim.search import first_ok
from kefu.sim.workload import expected_duration

__all__ = ["DayFigures", "Peak", "Point", "StaffResult", "Theory", "erlang_guess", "find_staff",
           "peak_of", "theory"]

#: Seats per agent assumed by the theory when the cap is unlimited.
UNLIMITED_SEATS = 50
#: The shortest mean patience the theory uses (seconds): buyers who leave at once are
#: modelled as leaving after this, as Erlang A needs a finite patience rate.
MIN_PATIENCE = 1e-3


@attrs.frozen
class Peak:
    """The busiest minute of a config as a queue: rates per second, seats per agent.

    ``theta`` is 1 / mean patience (None: buyers wait for ever). A patience that
    is not exponential is approximated by an exponential of the same mean.
    """

    lam: float  # sessions reaching an agent per second at the busiest minute
    mu: float  # 1 / mean open time of a session
    theta: float | None
    seats_per_agent: int
    threshold: float

    @property
    def load(self) -> float:
        """Offered load in erlangs: the seats the busiest minute keeps busy on average."""
        return self.lam / self.mu


def peak_of(config: SimConfig) -> Peak | None:
    """The busiest minute of ``config`` as a queue (None when no session reaches an agent). O(1)."""
    wl = config.workload
    per_arrival = expected_duration(wl, config.shop.auto_close)
    human = 1 - wl.bot_share * wl.bot_resolve
    lam = wl.profile.peak / 60.0 * human  # sessions per second at the busiest minute
    if lam <= 0 or per_arrival <= 0:
        return None
    theta = None if wl.patience is None else 1 / max(wl.patience.mean, MIN_PATIENCE)
    cap = config.shop.cap if config.shop.cap is not None else UNLIMITED_SEATS
    return Peak(lam=lam, mu=human / per_arrival, theta=theta, seats_per_agent=cap,
                threshold=config.threshold)


@attrs.frozen(kw_only=True)
class Theory:
    """Queueing theory for one staffing level, at the busiest minute's arrival rate.

    Shares are of the buyers who reach the queue; ``served_within`` counts a
    buyer who gives up as not served; ``mean_wait`` is over every buyer (0 for
    those taken at once), seconds; None when the queue has no steady state
    (Erlang C at or above capacity).
    """

    model: str  # "erlang_a" (buyers give up) or "erlang_c" (they wait for ever)
    servers: int  # agents x seats per agent
    load: float  # erlangs offered at the busiest minute
    p_wait: float
    p_abandon: float
    served_within: float
    mean_wait: float | None


def theory(peak: Peak, agents: int) -> Theory:
    """What Erlang A (or C, without patience) says for ``agents`` at the busiest minute.

    Cost: one :func:`kefu.sim.erlang_a.erlang_a` evaluation, O(S + J), or O(n) for Erlang C.
    """
    n = agents * peak.seats_per_agent
    if peak.theta is None:
        stable = peak.lam < n * peak.mu
        return Theory(
            model="erlang_c", servers=n, load=peak.load, p_wait=erlang_c(n, peak.load),
            p_abandon=0.0, served_within=service_level(n, peak.lam, peak.mu, peak.threshold),
            mean_wait=mean_wait(n, peak.lam, peak.mu) if stable else None,
        )
    fig = erlang_a(n, peak.lam, peak.mu, peak.theta, peak.threshold)
    return Theory(
        model="erlang_a", servers=n, load=peak.load, p_wait=fig.p_wait,
        p_abandon=fig.p_abandon,
        served_within=fig.served_within if fig.served_within is not None else 0.0,
        mean_wait=fig.mean_wait,
    )


@attrs.frozen(kw_only=True)
class DayFigures:
    """One simulated day at one staffing level: the day's figures and its busiest hour's.

    ``gave_up``, ``waited`` are shares of the sessions that reached the queue;
    ``mean_wait`` is their mean wait for a first agent (seconds, 0 for those
    taken at once, until taken or gone). The ``peak_`` figures are for the
    sessions opened in the busiest hour of the profile.
    """

    reply_rate: float | None
    gave_up: float
    waited: float
    mean_wait: float | None
    peak_gave_up: float | None
    peak_waited: float | None
    peak_mean_wait: float | None


def day_figures(result: SimResult, rate: float | None, peak_hour: int) -> DayFigures:
    """The figures of one run, from the driver's own session log. O(sessions)."""
    log = result.log
    n = len(log.opened)
    lo, hi = result.t0 + 3600.0 * peak_hour, result.t0 + 3600.0 * (peak_hour + 1)
    in_peak = [i for i, t in enumerate(log.opened) if lo <= t < hi]
    waits = [w for w in log.wait if w == w]
    peak_waits = [log.wait[i] for i in in_peak if log.wait[i] == log.wait[i]]
    m = len(in_peak)
    return DayFigures(
        reply_rate=rate,
        gave_up=result.abandoned / n if n else 0.0,
        waited=sum(log.queued) / n if n else 0.0,
        mean_wait=math.fsum(waits) / len(waits) if waits else None,
        peak_gave_up=sum(log.abandoned[i] for i in in_peak) / m if m else None,
        peak_waited=sum(log.queued[i] for i in in_peak) / m if m else None,
        peak_mean_wait=math.fsum(peak_waits) / len(peak_waits) if peak_waits else None,
    )


def busiest_hour(config: SimConfig) -> int:
    """The hour of the day (0-23, from local midnight) holding the profile's busiest minute."""
    rates = config.workload.profile.rates
    return rates.index(max(rates)) // 60


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
    days: tuple[DayFigures, ...] = ()  # each seed run's figures, in seed order
    theory: Theory | None = None  # queueing theory for this level (None: no session reaches it)

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
    guess_model: str = "erlang_c"  # the theory of ``guess``: "erlang_a" or "erlang_c"
    erlang_c_guess: int | None = None  # Erlang C's guess, which ignores giving up
    peak_hour: int | None = None  # the busiest hour of the profile (the DayFigures' peak_)

    def point(self, agents: int) -> Point | None:
        for p in self.curve:
            if p.agents == agents:
                return p
        return None


def erlang_guess(config: SimConfig, target: float, *, max_abandon: float | None = None,
                 model: str | None = None) -> int:
    """Agents for the busiest minute by queueing theory over seats (agents x cap): a first guess.

    Every seat is a server of the busiest minute's load. When buyers have a
    patience (the workload's is not None), Erlang A with patience rate 1 /
    mean patience (a patience that is not exponential is approximated by an
    exponential of the same mean): a buyer who gives up counts as missed, so
    the share taken by an agent within the threshold must reach ``target``,
    and with ``max_abandon`` (if above 0) the share giving up must stay
    within it. Without patience, Erlang C: the share whose wait is within the
    threshold. ``model`` ("erlang_a" or "erlang_c") forces one. Cost:
    O(log n) Erlang A evaluations, or O(n) Erlang C ones.
    """
    peak = peak_of(config)
    if peak is None:
        return 1
    if model not in (None, "erlang_a", "erlang_c"):
        raise SimConfigError(f"model must be 'erlang_a' or 'erlang_c', got {model!r}")
    target = min(target, 0.999)  # a share of exactly 1 is never reached in theory
    use_a = model == "erlang_a" or (model is None and peak.theta is not None)
    if use_a:
        theta = peak.theta if peak.theta is not None else 1 / MIN_PATIENCE
        bound = max_abandon if max_abandon is not None and max_abandon > 0 else None
        seats = servers_for_a(peak.lam, peak.mu, theta, peak.threshold, target,
                              max_abandon=bound)
    else:
        seats = servers_for(peak.lam, peak.mu, peak.threshold, target)
    return max(1, math.ceil(seats / peak.seats_per_agent))


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
    gave up in the queue (the reply rate counts them as missed too).
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
    figures: dict[int, list[DayFigures]] = {}
    peak = peak_of(base)
    hour = busiest_hour(base)
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
                figures.setdefault(n, []).append(day_figures(result, rate, hour))
                spent[n] = spent.get(n, 0.0) + time.perf_counter() - t
                if on_point is not None:
                    on_point(point(n))
            if not done[i][2]:
                return False
        return True

    def point(n: int) -> Point:
        return _point(n, runs[n], len(seeds), spent[n], tuple(figures.get(n, ())),
                      None if peak is None else theory(peak, n))

    guess = min(max(erlang_guess(base, target, max_abandon=max_abandon), min_agents), max_agents)
    hi = _bracket(lambda n: ok(n, 1), guess, min_agents - 1, max_agents)[1]
    if hi is not None and not ok(hi, len(seeds)):  # phase 2: another seed misses there
        hi = _bracket(lambda n: ok(n, len(seeds)), hi + 1, hi, max_agents)[1]
    curve = tuple(point(n) for n in sorted(runs) if runs[n])
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
        guess_model="erlang_a" if peak is not None and peak.theta is not None else "erlang_c",
        erlang_c_guess=erlang_guess(base, target, model="erlang_c"),
        peak_hour=hour,
    )


def _point(n: int, done: list[tuple[float | None, float, bool]], seeds: int, seconds: float,
           days: tuple[DayFigures, ...], fig: Theory | None) -> Point:
    meets = False if not all(good for _, _, good in done) else (True if len(done) == seeds
                                                                else None)
    return Point(n, tuple(r for r, _, _ in done), tuple(g for _, g, _ in done), meets, seconds,
                 days, fig)


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
    hi = first_ok(ok, lo, hi)
    return hi - 1, hi
