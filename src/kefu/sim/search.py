"""Bisection for the fewest servers or agents that meet a target."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["first_ok"]


def first_ok(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest ``n`` in ``(lo, hi]`` with ``ok(n)``, given ``ok(hi)`` and not ``ok(lo)``
    (``ok`` monotone). O(log(hi - lo)) calls of ``ok``."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
