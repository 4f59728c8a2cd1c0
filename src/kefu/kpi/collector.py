"""Python's cyclic garbage collector held off for the length of one KPI call.

A report over millions of messages makes hundreds of thousands of container
objects (lists of ids, per-session and per-key records) that all live until
it returns. Each batch of new containers triggers a collection that looks
into every young one, and every tenth one looks into the older ones too: a
tenth of a report's work, spent proving that nothing it made is garbage.
Nothing it makes is: its objects form no reference cycles (lists, dicts and
tuples of ids and numbers, frozen result records), so reference counting
frees them as soon as they are dropped, collector or not.

:func:`paused` turns the collector off for the call and back on when it
ends, however it ends (a result, an error, KeyboardInterrupt, MemoryError).
It is switched back on only if it was on when the call began, so a caller
that keeps it off keeps it off. With calls in several threads at once, the
first to end switches it back on while the others still run (they then
run with it on: slower, never wrong). A program that turns the collector
off from another thread while a call runs finds it on again when the call
ends. Cost: two C calls per KPI call.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["paused"]

P = ParamSpec("P")
R = TypeVar("R")


def paused(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run with the cyclic garbage collector off, restored after (see the module doc).

    ``fn`` must make no reference cycles that matter before it returns: those
    it makes wait for the first collection after it. O(1) added per call."""
    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()  # an interrupt before the try has changed nothing
        try:
            gc.disable()
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()
    return call
