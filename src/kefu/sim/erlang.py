"""The Erlang C queue (M/M/c): the theory the simulator is checked against.

With Poisson arrivals at rate ``lam``, exponential handling at rate ``mu``
per agent and ``c`` agents who each take one buyer at a time (cap 1), the
chance that a buyer has to wait, the mean wait and the share answered
within ``t`` have closed forms. ``staff`` also uses them for its first guess,
treating every seat (agents x cap) as a server.
"""

from __future__ import annotations

import math

from kefu.sim.errors import SimConfigError

__all__ = ["erlang_b", "erlang_c", "mean_wait", "servers_for", "service_level"]


def _check(c: int, load: float) -> None:
    if type(c) is not int or c < 1:
        raise SimConfigError(f"servers must be a whole number >= 1, got {c!r}")
    if not (math.isfinite(load) and load >= 0):
        raise SimConfigError(f"offered load must be a finite number >= 0, got {load!r}")


def erlang_b(c: int, load: float) -> float:
    """Blocking probability of c servers offered ``load`` = lam/mu erlangs (stable recursion)."""
    _check(c, load)
    b = 1.0
    for k in range(1, c + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(c: int, load: float) -> float:
    """Probability that an arrival waits (M/M/c); 1.0 when the queue is unstable (load >= c)."""
    _check(c, load)
    if load >= c:
        return 1.0
    b = erlang_b(c, load)
    return c * b / (c - load * (1 - b))


def mean_wait(c: int, lam: float, mu: float) -> float:
    """Mean wait in the queue over all arrivals: C(c, a) / (c mu - lam); inf if unstable."""
    if not (lam > 0 and mu > 0):
        raise SimConfigError(f"rates must be > 0, got lam={lam!r}, mu={mu!r}")
    if lam >= c * mu:
        return math.inf
    return erlang_c(c, lam / mu) / (c * mu - lam)


def service_level(c: int, lam: float, mu: float, t: float) -> float:
    """Share of arrivals whose wait is at most ``t``: 1 - C e^(-(c mu - lam) t)."""
    if lam >= c * mu:
        return 0.0
    return 1.0 - erlang_c(c, lam / mu) * math.exp(-(c * mu - lam) * t)


def servers_for(lam: float, mu: float, t: float, target: float, limit: int = 10**6) -> int:
    """The fewest servers whose service level within ``t`` reaches ``target``."""
    if not 0 < target < 1:
        raise SimConfigError(f"target must be between 0 and 1, got {target!r}")
    c = max(1, math.floor(lam / mu) + 1)
    while service_level(c, lam, mu, t) < target:
        c += 1
        if c > limit:
            raise SimConfigError(f"no server count up to {limit} reaches {target}")
    return c
