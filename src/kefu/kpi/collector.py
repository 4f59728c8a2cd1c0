"""The cyclic garbage collector held off while a bulk catch-up builds its tables.

CPython's collector runs a full pass over every tracked object each time the
objects that survived its young passes reach a quarter of the old ones. A
live tracker's first query after a backfill measures every session at once:
its walk keeps each session's units and samples alive until the whole batch
is placed, so all of them survive the young passes, and three or four full
passes over the day's messages (millions of objects, none of them garbage)
follow within one query: about a third of its time. The collector is held
off for that query only (the pattern Mercurial's ``nogc`` uses to build
large containers); afterwards its next young pass looks at what the query
kept, once. Cost: O(1).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BULK", "paused"]

# Sessions measured in one query from which the collector is held off: a backfill's
# catch-up, not a dashboard's refresh (a few dozen sessions), which runs as usual.
BULK = 4096


@contextmanager
def paused(sessions: int) -> Iterator[None]:
    """Hold the collector off while measuring ``sessions`` sessions, if they are
    ``BULK`` or more and it is on; it is switched back on however the block ends.
    A collector the program turned off stays off."""
    if sessions < BULK or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
