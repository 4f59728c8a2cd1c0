"""``bulk``: run a KPI function with the cyclic garbage collector paused.

A day of a big shop allocates millions of small tuples and lists (sort keys,
waits, clocks). None of them form reference cycles, but while they are alive
every generation-2 collection rescans all of them, which profiling showed to
cost a third of the run. Pausing the collector for the duration of the call
(and restoring its previous state) removes that cost; reference counting
still frees everything as usual.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["bulk"]

P = ParamSpec("P")
R = TypeVar("R")


def bulk(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``fn`` to run with the cyclic GC paused (re-enabled after, if it was on)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        was_on = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_on:
                gc.enable()

    return wrapper
