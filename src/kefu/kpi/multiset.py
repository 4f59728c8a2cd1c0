"""A sorted multiset of floats with exact sums, for live percentiles and means (K08, K12).

The live tracker adds and removes response-time samples as sessions are
measured again, and must answer count, mean, median and p90 exactly as
:meth:`kefu.kpi.Durations.of_sorted` computes them over the same values. So
the values live in sorted blocks (a list of sorted lists of at most
:data:`BLOCK` values, found by bisecting the blocks' maxima: O(log n + B)
per change), and their sum is kept exactly, as an integer count of
2**-1074 (the smallest float step), so that the mean is the correctly
rounded sum over the count, as ``math.fsum`` gives it, whatever the order
of changes. The k-th value costs O(n / B) block sizes summed.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from kefu.kpi.results import Durations

__all__ = ["BLOCK", "Multiset"]

# What an empty multiset's blocks, maxima and pending changes are until it gets some:
# one empty tuple (typed as the lists that replace it; nothing ever changes it in place).
_NONE: Any = ()

#: Values per block before it is split in two.
BLOCK = 512
_SCALE = 1074  # every finite float is an integer multiple of 2**-1074


def _exact(x: float) -> int:
    """``x`` as an exact multiple of 2**-1074. The common case first: a difference of
    two POSIX times of this era is a multiple of 2**-22 (their spacing)."""
    y = x * 4194304.0  # 2**22: exact, as any scaling by a power of two in range
    if y.is_integer():
        return int(y) << (_SCALE - 22)
    num, den = x.as_integer_ratio()
    return num << (_SCALE - den.bit_length() + 1)


#: From this many values on, :func:`exact_sum` adds them with numpy.
BULK = 64
_SCALE_22 = (4194304.0).__mul__  # x -> x * 2**22 (exact), as a C call


def exact_sum(values: Sequence[float]) -> int:
    """``sum(map(_exact, values))``: the values' exact sum in units of 2**-1074.

    Values whose every scaling by 2**22 is an integer (the common case: see
    :func:`_exact`) are summed without a big integer per value: many as int64
    with numpy, a few as floats (every partial sum an integer below 2**53,
    so each addition is exact); the bound on the largest keeps either sum
    from overflowing or rounding, so it is the same integer. Anything else
    goes value by value: a NaN or inf is no integer (and fails the bulk
    bound, but not always the few's: ``max`` skips a NaN after a number).
    O(n)."""
    if len(values) < BULK:
        few = list(map(_SCALE_22, values))  # each x * 2**22, at C speed
        if not few or (max(map(abs, few)) * len(few) < 2.0**53
                       and all(map(float.is_integer, few))):
            return int(sum(few)) << (_SCALE - 22)
    else:
        with np.errstate(over="ignore"):  # a huge value scales to inf: value by value
            scaled = np.asarray(values, dtype=np.float64) * 4194304.0
        largest = float(np.max(np.abs(scaled)))
        if largest * len(values) < 2.0**62 and np.array_equal(scaled, np.trunc(scaled)):
            return int(scaled.astype(np.int64).sum()) << (_SCALE - 22)
    return sum(map(_exact, values))


class Multiset:
    """Finite floats, each possibly many times, in order (see the module docstring).

    Bulk changes (:meth:`change`, what the live tracker's catch-up commits) are kept
    as they come and put into the sorted blocks only when something reads the
    values (:meth:`durations`, :meth:`kth`) or changes them one at a time: a
    tracker that is fed a day and asked only for reply rates never sorts or sums
    a response time, and the changes of several catch-ups are merged in one
    pass. What waits stays within twice the values held (plus a block), so a
    multiset nobody reads does not grow with its changes."""

    __slots__ = ("_bl", "_held", "_mx", "_pending", "_sum", "_summary", "count")

    def __init__(self) -> None:
        # The blocks and their maxima, and the changes waiting: an empty tuple, shared,
        # until the first value or change (a live tracker holds a multiset per agent
        # and kind, most of them small: fewer objects for the garbage collector to
        # visit, and to make).
        self._bl: list[list[float]] = _NONE
        self._mx: list[float] = _NONE
        self._sum = 0
        self.count = 0  # kept up to date by every change, pending or not
        self._summary: Durations | None = None  # durations() since the last change
        # Changes not yet in the blocks: (adds, removes) per ``change``, and their size.
        self._pending: list[tuple[Sequence[float], Sequence[float]]] = _NONE
        self._held = 0

    @property
    def _blocks(self) -> list[list[float]]:
        """The sorted blocks, with every pending change in them."""
        self._settle()
        return self._bl or []

    @property
    def _maxes(self) -> list[float]:
        """Each block's largest value, with every pending change in the blocks."""
        self._settle()
        return self._mx or []

    def add(self, x: float) -> None:
        """Add one value. O(log n + BLOCK)."""
        self._settle()
        self._sum += _exact(x)
        self.count += 1
        self._summary = None
        self._insert(x)

    def _insert(self, x: float) -> None:
        """Put ``x`` in its block (the sum and count are the caller's). O(log n + BLOCK)."""
        blocks, maxes = self._bl, self._mx
        if not blocks:  # maybe the shared empty tuple: lists of its own
            self._bl, self._mx = [[x]], [x]
            return
        i = min(bisect.bisect_left(maxes, x), len(blocks) - 1)
        block = blocks[i]
        bisect.insort(block, x)
        maxes[i] = block[-1]
        if len(block) > BLOCK:
            half = len(block) // 2
            blocks[i:i + 1] = [block[:half], block[half:]]
            maxes[i:i + 1] = [block[half - 1], block[-1]]

    def update(self, values: Sequence[float]) -> None:
        """Add many values (a list, or an array of doubles) now. O((n + m) log(n + m))
        at most (:meth:`_merge`)."""
        self._settle()
        self.count += len(values)
        self._summary = None
        self._merge(values)

    def _merge(self, values: Sequence[float]) -> None:
        """Put many values into the blocks and the sum (the count is the caller's). One
        at a time while they are few against the values held; else the blocks are
        rebuilt from one sort: O((n + m) log(n + m)) at C speed, which is what a
        backfill of a day costs."""
        if not values:
            return
        self._sum += exact_sum(values)
        if len(values) * 8 < self.count:
            for x in values:
                self._insert(x)
            return
        if self._bl:
            merged = [x for block in self._bl for x in block]
            merged += values
            merged.sort()
        else:  # the first values (a backfill's, for most keys): one sort of their own
            merged = sorted(values)
        step = BLOCK // 2  # half-full blocks: room to grow before a split
        if len(merged) <= step:  # one block (most keys): no slicing
            self._bl = [merged]
            self._mx = [merged[-1]]
            return
        self._bl = [merged[i:i + step] for i in range(0, len(merged), step)]
        self._mx = [block[-1] for block in self._bl]

    def change(self, adds: Sequence[float], removes: Sequence[float]) -> bool:
        """Add ``adds`` and remove ``removes`` (values present once the changes before
        are made): a value in both cancels out (a session measured again,
        unchanged). Whether the values changed. The sequences are kept as they are
        until the values are read (the class docstring): the caller hands them
        over and changes them no more.

        A dashboard's refresh measures again every session touched since the last
        one, and most give back the very samples they had: when ``adds`` and
        ``removes`` are the same values (sorted and compared at C speed,
        O(m log m)) nothing is kept at all, and the figures built from the values
        stay valid. Else O(1), plus, once what waits outgrows the values held,
        putting it all in (amortised O(log n) a value)."""
        if adds and removes:
            if len(adds) == len(removes) and sorted(adds) == sorted(removes):
                return False
        elif not adds and not removes:
            return False
        change = (adds or (), removes or ())  # an empty side kept as no object of its own
        if self._pending:
            self._pending.append(change)
        else:  # maybe the shared empty tuple: a list of its own
            self._pending = [change]
        self._held += len(adds) + len(removes)
        self.count += len(adds) - len(removes)
        self._summary = None
        if self._held > 2 * self.count + BLOCK:
            self._settle()
        return True

    def _settle(self) -> None:
        """Put the pending changes into the blocks: the removes net of the adds taken
        out one at a time, the rest added in bulk. A remove of a value not present
        raises ValueError and leaves the multiset as it was (the changes still
        waiting). A failure part-way (MemoryError, an interrupt) leaves it half
        changed: the live tracker, whose call it cut short, then makes its books
        (and multisets) again from its records. O((n + m) log(n + m)) at most."""
        pending = self._pending
        if not pending:
            return
        if len(pending) == 1:
            adds, removes = pending[0]
        else:
            adds = [x for a, _r in pending for x in a]
            removes = [x for _a, r in pending for x in r]
        if removes:
            net = Counter(adds)
            net.subtract(removes)
            adds = [x for x, k in net.items() for _ in range(k)]
            gone = [x for x, k in net.items() for _ in range(-k)]
            taken = 0
            try:
                for x in gone:
                    self._take(x)
                    taken += 1
            except ValueError:  # a value not present: put back what was taken
                for x in gone[:taken]:
                    self._sum += _exact(x)
                    self._insert(x)
                raise
        self._merge(adds)
        self._pending = _NONE
        self._held = 0

    def remove(self, x: float) -> None:
        """Remove one copy of a value that is present (ValueError, and no change, if it is
        not). O(log n + BLOCK)."""
        self._settle()
        self._take(x)
        self.count -= 1
        self._summary = None

    def _take(self, x: float) -> None:
        """Take one copy of ``x`` out of the blocks and the sum (the count is the
        caller's); ValueError, before any change, if it is not there. O(log n + BLOCK)."""
        i = bisect.bisect_left(self._mx, x)
        if i == len(self._mx):
            raise ValueError(f"{x!r} is not in the multiset")
        block = self._bl[i]
        j = bisect.bisect_left(block, x)  # < len(block): its last value is >= x
        if not block[j] == x:  # its first copy is in the first block reaching it, if any
            raise ValueError(f"{x!r} is not in the multiset")
        del block[j]
        self._sum -= _exact(x)
        if block:
            self._mx[i] = block[-1]
        else:
            del self._bl[i]
            del self._mx[i]

    def kth(self, k: int) -> float:
        """The value at 0-based rank ``k`` in ascending order. O(n / BLOCK)."""
        self._settle()
        for block in self._bl:
            if k < len(block):
                return block[k]
            k -= len(block)
        raise IndexError(k)

    def durations(self) -> Durations:
        """count, mean, median and p90, equal to ``Durations.of_sorted`` of the values.
        O(n / BLOCK) after a change, O(1) again until the next one."""
        if self._summary is not None:
            return self._summary
        self._settle()
        n = self.count
        if not n:
            self._summary = Durations()
            return self._summary
        mid = n // 2
        median = self.kth(mid) if n % 2 else (self.kth(mid - 1) + self.kth(mid)) / 2
        rank = -(-9 * n // 10)
        mean = (self._sum / (1 << _SCALE)) / n  # the exact sum, rounded once, as fsum
        self._summary = Durations(n, mean, median, self.kth(rank - 1))
        return self._summary
