"""R25's wait estimate: one formula, shared by every engine so all give the same float.

Each waiting line (the waiting sessions of one group, or of no group) keeps
the times of its latest hand-overs: a waiting session of the line given to
an agent, by a drain or by ``assign()``. Times are kept non-decreasing (a
hand-over that a timer causes at an earlier deadline counts at the latest
time already kept), at most :data:`MAX_SAMPLE` of them per line.

For a session at position ``p`` of its line, with ``k`` = min(sample, kept)
and ``t`` the oldest of those ``k`` latest hand-overs, the line moved ``k``
places in the ``now - t`` seconds up to now: a rate of ``k / (now - t)``
hand-overs per second, and an estimated wait of ``p / rate``::

    estimated_wait = (now - t) * p / k

None without a hand-over kept, or when ``now == t`` (every one of them
happened this very instant: no time has passed to measure a rate over).
Cost: O(1).
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_SAMPLE", "MAX_SAMPLE", "estimate"]

#: The hand-overs an estimate uses unless told otherwise.
DEFAULT_SAMPLE: Final = 20
#: The most hand-overs kept per line, and the largest ``sample``.
MAX_SAMPLE: Final = 32


def estimate(position: int, now: float, oldest: float, k: int) -> float | None:
    """``(now - oldest) * position / k`` seconds, or None when no time has passed."""
    span = now - oldest
    if span <= 0.0:
        return None
    return span * position / k
