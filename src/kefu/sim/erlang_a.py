"""Erlang A (M/M/n+M): the Erlang C queue with buyers who give up waiting.

Poisson arrivals at rate ``lam``, ``n`` servers each finishing at rate
``mu``, and buyers whose patience is exponential with rate ``theta`` (mean
patience ``1 / theta``): a buyer still waiting when their patience runs out
leaves. Erlang C is the limit ``theta -> 0``; unlike Erlang C the queue is
stable at any load, because the impatient leave (Garnett, Mandelbaum and
Reiman, "Designing a call center with impatient customers", 2002).

Method: the number of buyers in the system is a birth-death chain on
0, 1, 2, ... with birth rate ``lam`` and death rate ``min(k, n) mu +
max(k - n, 0) theta``. Its stationary weights are computed exactly from
the mode outwards (the chain is unimodal), each relative to the mode, so
nothing overflows for thousands of servers or erlangs, and the sweep stops
once a geometric bound on the rest is below 1e-17 of the mode: the figures
are exact to about 1e-15. By PASTA an arrival sees this distribution.

An arrival that finds ``j`` buyers queued ahead moves up as those ahead
leave (rate ``n mu + i theta`` with ``i`` ahead) while its own patience
runs; with ``x = n mu / theta``, ``exp(-theta V)`` of the time ``V`` it
would need to reach an agent is Beta(x, j + 1) distributed (the Renyi
representation of exponential order statistics), so

- P(served | j) = x / (x + j + 1);
- E[wait | j] = (j + 1) / (n mu + (j + 1) theta) (until served or gone);
- P(served within t | j) = x / (x + j + 1) * (1 - I_z(x + 1, j + 1)) and
  P(still waiting at t | j) = z I_z(x, j + 1), ``z = exp(-theta t)``, where
  the incomplete beta with a whole second argument is a negative binomial
  distribution function, summed term by term in logs.

Cost: O(S + J) for one call, where S is the number of states holding more
than 1e-17 of the mode (about 20 sqrt(lam / mu) below the servers plus the
queue's spread above) and J the longest queue among them: a few thousand
steps for 2,000 servers at 2,000 erlangs, whatever ``n``. A queue that would
need more than :data:`MAX_STATES` states (patience far longer than
handling at a hopeless overload) is refused with :class:`SimConfigError`.
"""

from __future__ import annotations

import math

import attrs

from kefu._text import short_repr
from kefu.sim.errors import SimConfigError
from kefu.sim.search import first_ok

__all__ = [
    "MAX_STATES",
    "ErlangA",
    "abandon_within_a",
    "erlang_a",
    "mean_wait_a",
    "p_abandon_a",
    "p_wait_a",
    "served_within_a",
    "servers_for_a",
]

#: The most chain states one evaluation may visit (about a second of work).
MAX_STATES = 2_000_000

_EPS = 1e-17  # weights below this share of the mode's (and their geometric tail) are dropped


@attrs.frozen(kw_only=True)
class ErlangA:
    """Erlang A figures of ``servers`` servers; shares are of all arrivals, times in seconds.

    ``served_within`` and ``abandoned_within`` are for the ``t`` given to
    :func:`erlang_a` (None when no ``t`` was given).
    """

    servers: int
    lam: float
    mu: float
    theta: float
    p_wait: float  # an arrival finds every server busy and waits
    p_abandon: float  # an arrival gives up before reaching a server
    mean_wait: float  # mean wait of every arrival (0 if not queued, until served or gone)
    mean_wait_served: float  # mean wait of the arrivals who are served (0 if not queued)
    mean_queue: float  # mean number waiting
    t: float | None
    served_within: float | None  # P(served after waiting at most t)
    abandoned_within: float | None  # P(gave up after waiting at most t)


def _rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise SimConfigError(f"Erlang A: {name} must be a finite number > 0, "
                             f"got {short_repr(value)}")
    return float(value)


def _check(n: int, lam: float, mu: float, theta: float, t: float | None) -> tuple[
        float, float, float, float | None]:
    if type(n) is not int or n < 1:
        raise SimConfigError(f"Erlang A: servers must be a whole number >= 1, "
                             f"got {short_repr(n)}")
    lam, mu, theta = _rate("arrival rate", lam), _rate("service rate", mu), _rate(
        "patience rate (1 / mean patience)", theta)
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))
                          or math.isnan(t) or t < 0):
        raise SimConfigError(f"Erlang A: the time t must be a number >= 0, got {short_repr(t)}")
    return lam, mu, theta, None if t is None else float(t)


def _weights(n: int, lam: float, mu: float, theta: float) -> tuple[int, list[float]]:
    """(first state, stationary weights relative to the mode) of the chain's significant states.

    O(states kept); every weight is at most 1, so nothing overflows.
    """
    a = lam / mu
    excess = (lam - n * mu) / theta  # queue length where arrivals and departures balance
    if not (n * mu / theta < 1e300 and _states(n, lam, mu, theta) < MAX_STATES):
        raise _too_many(n, lam, mu, theta)
    mode = int(a) if a < n else n + int(excess)

    def death(k: int) -> float:
        return k * mu if k <= n else n * mu + (k - n) * theta

    down: list[float] = []
    w, k = 1.0, mode
    while k > 0:
        r = death(k) / lam
        w *= r
        k -= 1
        down.append(w)
        if w < _EPS and r < 1 and w * r / (1 - r) < _EPS:
            break
        if len(down) > MAX_STATES:
            raise _too_many(n, lam, mu, theta)
    up: list[float] = []
    w, k = 1.0, mode
    while True:
        k += 1
        r = lam / death(k)
        w *= r
        up.append(w)
        if w < _EPS and r < 1 and w * r / (1 - r) < _EPS:
            break
        if len(up) > MAX_STATES:
            raise _too_many(n, lam, mu, theta)
    down.reverse()
    return mode - len(down), [*down, 1.0, *up]


def _states(n: int, lam: float, mu: float, theta: float) -> float:
    """A generous estimate of the states :func:`_weights` visits, to refuse at once. O(1).

    Below the servers the chain is Poisson-like, about 40 standard deviations
    wide; above them the queue either settles around its balance point
    (about 40 sqrt(lam / theta) wide) or decays at the ratio lam / (n mu +
    j theta), which falls below 1/e after about (e lam - n mu) / theta states.
    """
    a = lam / mu
    below = 40 * math.sqrt(min(a, n)) + 40
    if a >= n:
        return below + (lam - n * mu) / theta + 40 * math.sqrt(lam / theta) + 40
    first = lam / (n * mu + theta)  # the largest ratio above the servers
    geometric = 40 / -math.log(first) if 0 < first < 1 else 0.0
    return below + min(geometric, max(0.0, (math.e * lam - n * mu) / theta) + 40)


def _too_many(n: int, lam: float, mu: float, theta: float) -> SimConfigError:
    return SimConfigError(
        f"Erlang A: {n} servers with arrival rate {lam:.6g}, service rate {mu:.6g} and "
        f"patience rate {theta:.6g} need more than {MAX_STATES:,} queue states; a load this "
        "far from the servers, or patience this long against handling, is out of range"
    )


def erlang_a(n: int, lam: float, mu: float, theta: float, t: float | None = None) -> ErlangA:
    """All Erlang A figures of ``n`` servers (and those within ``t`` seconds if given).

    Rates are per second: ``lam`` arrivals, ``mu`` completions per server,
    ``theta`` = 1 / mean patience. Cost O(S + J), see the module docstring.
    """
    lam, mu, theta, t = _check(n, lam, mu, theta, t)
    first, weights = _weights(n, lam, mu, theta)
    total = math.fsum(weights)
    split = min(len(weights), max(0, n - first))  # weights[split:] are states >= n
    nmu = n * mu
    queued = _Queued(nmu, theta, t)
    for j in range(first + len(weights) - n):
        s = n + j
        queued.add(j, weights[s - first] / total if s >= first else 0.0)
    p_abandon = min(1.0, math.fsum(queued.abandon))
    served_t: float | None = None
    abandoned_t: float | None = None
    if t is not None:
        below = math.fsum(weights[:split]) / total
        if t == 0:
            served_t, abandoned_t = below, 0.0
        elif math.isinf(t):
            served_t, abandoned_t = 1 - p_abandon, p_abandon
        else:
            served_t = min(1.0, below + math.fsum(queued.served_t))
            abandoned_t = min(1.0, math.fsum(queued.abandoned_t))
    wait_served = math.fsum(queued.wait_served)
    return ErlangA(
        servers=n, lam=lam, mu=mu, theta=theta,
        p_wait=min(1.0, math.fsum(weights[split:]) / total),
        p_abandon=p_abandon,
        mean_wait=math.fsum(queued.wait),
        mean_wait_served=wait_served / (1 - p_abandon) if p_abandon < 1 else 0.0,
        mean_queue=math.fsum(queued.queue),
        t=t,
        served_within=served_t,
        abandoned_within=abandoned_t,
    )


class _Queued:
    """Per-state terms of the arrivals who find ``j`` queued ahead, added in order of ``j``.

    Keeps the running sums over ``j`` that the formulas of the module
    docstring need (harmonic sum of stage rates, the two negative binomial
    distribution functions, summed in logs so nothing underflows); O(1) per
    state.
    """

    def __init__(self, nmu: float, theta: float, t: float | None) -> None:
        self.nmu, self.theta = nmu, theta
        self.x = nmu / theta
        self.harmonic = 0.0  # sum over i = 0..j of 1 / (n mu + (i + 1) theta)
        self.timed = t is not None and 0 < t < math.inf
        tt = t if t is not None and self.timed else 0.0
        y = theta * tt
        # log(1 - z); for a tiny theta t, 1 - z = theta t to double precision, and may underflow
        self.log_q = _log(-math.expm1(-y)) if y > 1e-290 else _log(theta) + _log(tt)
        self.z = math.exp(-theta * tt)
        self.log_c1 = -(nmu + theta) * tt  # NB(x + 1, 1 - z) at 0: z^(x + 1)
        self.log_c0 = -nmu * tt  # NB(x, 1 - z) at 0: z^x
        self.cum1 = self.cum0 = 0.0
        self.abandon: list[float] = []
        self.wait: list[float] = []
        self.wait_served: list[float] = []
        self.queue: list[float] = []
        self.served_t: list[float] = []
        self.abandoned_t: list[float] = []

    def add(self, j: int, p: float) -> None:
        """State ``n + j`` holds share ``p`` of arrivals (0 when below the kept states)."""
        r_j = self.nmu + (j + 1) * self.theta
        self.harmonic += 1.0 / r_j
        if self.timed:
            self.cum1 += math.exp(self.log_c1)
            self.cum0 += math.exp(self.log_c0)
            self.log_c1 += _log((self.x + 1 + j) / (j + 1)) + self.log_q
            self.log_c0 += _log((self.x + j) / (j + 1)) + self.log_q
        if p == 0.0:
            return
        served = self.x / (self.x + j + 1)
        self.abandon.append(p * (1 - served))
        self.wait.append(p * (j + 1) / r_j)
        self.wait_served.append(p * self.nmu / r_j * self.harmonic)
        self.queue.append(p * j)
        if self.timed:
            done = served * max(0.0, 1 - self.cum1)
            self.served_t.append(p * done)
            self.abandoned_t.append(p * max(0.0, 1 - done - self.z * min(1.0, self.cum0)))


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def servers_for_a(lam: float, mu: float, theta: float, t: float, target: float, *,
                  max_abandon: float | None = None, limit: int = 10**6) -> int:
    """The fewest servers whose share served within ``t`` reaches ``target``.

    Buyers who give up count as not served. With ``max_abandon`` the share
    who give up must also be at most that. Both figures improve with every
    server added, so the search gallops up from the bound ``target * lam /
    mu`` (no fewer servers can serve that share) and bisects: O(log n)
    evaluations of :func:`erlang_a`.
    """
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
        raise SimConfigError(f"Erlang A: target must be between 0 and 1, got {short_repr(target)}")
    if max_abandon is not None and (
            isinstance(max_abandon, bool) or not isinstance(max_abandon, (int, float))
            or not 0 < max_abandon <= 1):
        raise SimConfigError(f"Erlang A: the bound on giving up must be in (0, 1], "
                             f"got {short_repr(max_abandon)}")
    if type(limit) is not int or limit < 1:
        raise SimConfigError(f"Erlang A: limit must be a whole number >= 1, "
                             f"got {short_repr(limit)}")
    lam, mu, theta, t_ = _check(1, lam, mu, theta, t)
    if t_ is None:
        raise SimConfigError("Erlang A: the time t must be a number >= 0, got None")

    def ok(n: int) -> bool:
        fig = erlang_a(n, lam, mu, theta, t_)
        return (fig.served_within is not None and fig.served_within >= target
                and (max_abandon is None or fig.p_abandon <= max_abandon))

    share = max(target, 1 - max_abandon if max_abandon is not None else 0.0)
    lo = min(limit, max(0, math.ceil(share * lam / mu) - 1))  # lo servers cannot serve enough
    step = 1
    while True:
        hi = min(lo + step, limit)
        if ok(hi):
            break
        if hi >= limit:
            raise SimConfigError(f"Erlang A: no server count up to {limit:,} reaches {target}")
        lo, step = hi, step * 2
    return first_ok(ok, lo, hi)


def p_wait_a(n: int, lam: float, mu: float, theta: float) -> float:
    """Share of arrivals who find every server busy (and so wait). O(S + J)."""
    return erlang_a(n, lam, mu, theta).p_wait


def p_abandon_a(n: int, lam: float, mu: float, theta: float) -> float:
    """Share of arrivals who give up before a server takes them. O(S + J)."""
    return erlang_a(n, lam, mu, theta).p_abandon


def mean_wait_a(n: int, lam: float, mu: float, theta: float) -> float:
    """Mean wait of every arrival, seconds (0 for those served at once). O(S + J)."""
    return erlang_a(n, lam, mu, theta).mean_wait


def served_within_a(n: int, lam: float, mu: float, theta: float, t: float) -> float:
    """Share of arrivals served after waiting at most ``t`` s (who gives up misses). O(S + J)."""
    fig = erlang_a(n, lam, mu, theta, _time(t))
    return fig.served_within if fig.served_within is not None else 0.0


def abandon_within_a(n: int, lam: float, mu: float, theta: float, t: float) -> float:
    """Share of arrivals who give up after waiting at most ``t`` seconds. O(S + J)."""
    fig = erlang_a(n, lam, mu, theta, _time(t))
    return fig.abandoned_within if fig.abandoned_within is not None else 0.0


def _time(t: float) -> float:
    if t is None:
        raise SimConfigError("Erlang A: the time t must be a number >= 0, got None")
    return t
