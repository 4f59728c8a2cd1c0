"""Distributions of the workload: durations in seconds and counts of questions.

A :class:`Dist` is a value (kind + parameters) so a workload can be printed,
compared and written to JSON; :meth:`Dist.sample` draws many samples at
once from a numpy ``Generator`` (what the simulator uses: a whole day's
worth in one call), :meth:`Dist.sampler` binds it to a ``random.Random``
for one plain call per sample.

Spec strings (command line): ``const:V``, ``exp:MEAN``, ``lognormal:MEDIAN:SIGMA``,
``uniform:LO:HI``, ``geometric:MEAN`` (whole numbers 1, 2, ... with that
mean). A bare number means the option's default kind centred there.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt

from kefu.sim.errors import SimConfigError

__all__ = ["KINDS", "Dist"]

#: kind -> names of its parameters, in spec order.
KINDS: dict[str, tuple[str, ...]] = {
    "const": ("value",),
    "exp": ("mean",),
    "lognormal": ("median", "sigma"),
    "uniform": ("low", "high"),
    "geometric": ("mean",),
}


def _check(inst: Dist, _attr: object, params: tuple[float, ...]) -> None:
    names = KINDS.get(inst.kind)
    if names is None:
        raise SimConfigError(f"unknown distribution {inst.kind!r}: use one of {', '.join(KINDS)}")
    if len(params) != len(names):
        raise SimConfigError(
            f"{inst.kind} takes {len(names)} parameter(s) ({', '.join(names)}), got {len(params)}"
        )
    for name, p in zip(names, params, strict=True):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or p < 0:
            raise SimConfigError(f"{inst.kind} {name} must be a finite number >= 0, got {p!r}")
    if inst.kind == "geometric" and params[0] < 1:
        raise SimConfigError(f"geometric mean must be >= 1, got {params[0]!r}")
    if inst.kind == "uniform" and params[0] > params[1]:
        raise SimConfigError(f"uniform needs low <= high, got {params[0]!r} > {params[1]!r}")
    if inst.kind in ("exp", "lognormal") and params[0] == 0:
        raise SimConfigError(f"{inst.kind} {names[0]} must be > 0 (use const:0 for zero)")


@attrs.frozen
class Dist:
    """A distribution of non-negative numbers (see the module docstring for the kinds)."""

    kind: str
    params: tuple[float, ...] = attrs.field(validator=_check)

    @classmethod
    def const(cls, value: float) -> Dist:
        return cls("const", (value,))

    @classmethod
    def exp(cls, mean: float) -> Dist:
        return cls("exp", (mean,))

    @classmethod
    def lognormal(cls, median: float, sigma: float) -> Dist:
        return cls("lognormal", (median, sigma))

    @classmethod
    def uniform(cls, low: float, high: float) -> Dist:
        return cls("uniform", (low, high))

    @classmethod
    def geometric(cls, mean: float) -> Dist:
        return cls("geometric", (mean,))

    @classmethod
    def parse(cls, spec: str, default: Dist) -> Dist:
        """``KIND:P[:P]``, or a bare number: ``default``'s kind, first parameter replaced."""
        text = spec.strip()
        try:
            if ":" not in text:
                kind, params = default.kind, (float(text), *default.params[1:])
            else:
                name, *rest = text.split(":")
                kind, params = name.strip().lower(), tuple(float(p) for p in rest)
        except ValueError:
            raise SimConfigError(
                f"bad distribution {spec!r}: use a number or KIND:PARAMS with KIND one of "
                f"{', '.join(KINDS)} (e.g. lognormal:30:0.8)"
            ) from None
        return cls(kind, params)

    @property
    def mean(self) -> float:
        """The expected value (used to scale arrivals to a peak of concurrent buyers)."""
        p = self.params
        if self.kind == "lognormal":
            return p[0] * math.exp(p[1] * p[1] / 2)
        if self.kind == "uniform":
            return (p[0] + p[1]) / 2
        return p[0]

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
        """``n`` samples drawn from ``rng`` in one call, as float64. O(n) at C speed."""
        p = self.params
        if self.kind == "const":
            return np.full(n, float(p[0]))
        if self.kind == "exp":
            return rng.exponential(p[0], n)
        if self.kind == "lognormal":
            return rng.lognormal(math.log(p[0]), p[1], n)
        if self.kind == "uniform":
            return rng.uniform(p[0], p[1], n)
        # Whole numbers 1, 2, ... with P(X > k) = (1 - 1 / mean)**k.
        return rng.geometric(1.0 / p[0], n).astype(np.float64)

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A function drawing one sample from ``rng`` per call."""
        p = self.params
        if self.kind == "const":
            value = p[0]
            return lambda: value
        if self.kind == "exp":
            rate = 1.0 / p[0]
            expo = rng.expovariate
            return lambda: expo(rate)
        if self.kind == "lognormal":
            mu, sigma = math.log(p[0]), p[1]
            gauss = rng.gauss  # Box-Muller with a cached pair: cheaper than lognormvariate
            exp = math.exp
            return lambda: exp(gauss(mu, sigma))
        if self.kind == "uniform":
            return lambda: rng.uniform(p[0], p[1])
        if p[0] == 1:
            return lambda: 1.0
        log_q = math.log(1.0 - 1.0 / p[0])  # P(X > k) = q**k, X in 1, 2, ...
        rand = rng.random
        return lambda: float(1 + int(math.log(1.0 - rand()) / log_q))

    def __str__(self) -> str:
        return f"{self.kind}:{':'.join(f'{p:g}' for p in self.params)}"
