"""The compiled multiset nets each change in C: the same answers as the reference.

``_live_c.LazyMultiset.change`` takes the values present on both sides of a
change of arrays of doubles out of both before the reference multiset keeps
it (a session measured again gives back most of what it takes); lists and
tuples are handed over as they are. Driven side by side with
a reference :class:`kefu.kpi.multiset.Multiset` through random changes
(overlapping sides, duplicates, signed zeros, big and tiny values, arrays,
lists and tuples), every answer must be the
reference's: whether a change changed anything, the count, each value by
rank, the figures, the exact sum, the sorted values (to the bit while no
-0.0 is handed over), and the error for a value removed and not present.
"""

from __future__ import annotations

import importlib
import math
import random
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.kpi.multiset import BLOCK, Multiset


def _lazy() -> Any:
    """A new compiled multiset (``_live_c.LazyMultiset``), or a skip where the compiled
    modules are not built."""
    try:
        return importlib.import_module("kefu.kpi._live_c").LazyMultiset()
    except ImportError:
        pytest.skip("the compiled live module is not built")


#: Few values, so that sides overlap and repeat: zeros of both signs, a huge one, the
#: tiniest, whole and fractional seconds, one below zero.
POOL = [0.0, -0.0, 1.0, 2.5, 3.0, 0.1, 7.25, 1e300, 5e-324, 1e-300, 86399.5, -1.5]
SIDES: list[Callable[[list[float]], Sequence[float]]] = [
    lambda v: array("d", v), list, tuple]


def _answer(call: Callable[..., Any], *args: Any, exact: bool = True) -> tuple[str, Any]:
    """What ``call(*args)`` returns, to the bit (its repr: -0.0 is not 0.0) or, not
    ``exact``, as it is (compared by ``==``), or the error it raises, as (kind,
    text)."""
    try:
        got = call(*args)
    except (ValueError, IndexError, OverflowError, TypeError) as e:
        return type(e).__name__, str(e)
    return "ok", repr(got) if exact else got


def _values(ms: Any) -> list[float]:
    return [x for block in ms._blocks for x in block]


#: The reads compared after a change: of a multiset, and a rank for ``kth``.
READS: dict[str, Callable[[Any, int], Any]] = {
    "none": lambda ms, k: None, "durations": lambda ms, k: ms.durations(),
    "kth": lambda ms, k: ms.kth(k), "count": lambda ms, k: ms.count,
    "values": lambda ms, k: _values(ms), "sum": lambda ms, k: (ms.durations(), ms._sum)}

STEP = st.tuples(
    st.lists(st.sampled_from(POOL), max_size=40),  # values added besides those given back
    st.integers(0, 40),  # how many present values are taken back
    st.floats(0.0, 1.0),  # the share of them given back (a session measured again)
    st.sampled_from(sorted(READS)),
    st.integers(0, len(SIDES) - 1))


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=25), st.randoms(use_true_random=False),
       st.integers(0, 2 * BLOCK), st.booleans())
def test_K08_K12_a_netted_change_answers_as_the_reference_at_every_read(
        steps: list[tuple[list[float], int, float, str, int]], rnd: random.Random,
        start: int, negative_zeros: bool) -> None:
    """Changes whose sides share values (most of what they take back given back),
    duplicates, zeros, huge and tiny values among the rest, as arrays, lists or
    tuples: every change says what the reference's says, and every read (count,
    figures, values by rank, exact sum, sorted values) gives the reference's
    answer to the bit. With -0.0s handed over too, the answers are equal
    values (the reference's Counter keeps, of equal zeros, the sign of the first
    it meets in a settling, and the netted multiset settles less often)."""
    lazy, reference = _lazy(), Multiset()
    present = [rnd.choice(POOL[2:]) for _ in range(start)]  # made already, or not yet
    assert lazy.change(array("d", present), []) == reference.change(list(present), [])
    exact = True
    for extra, taken, given_back, read, how in steps:
        if not negative_zeros:
            extra = [abs(x) if x == 0.0 else x for x in extra]
        removes = [present.pop(rnd.randrange(len(present)))
                   for _ in range(min(taken, len(present)))]
        adds = [x for x in removes if rnd.random() < given_back] + extra
        rnd.shuffle(adds)
        present += adds
        exact = exact and not any(x == 0.0 and math.copysign(1.0, x) < 0 for x in adds)
        side = SIDES[how]
        assert (_answer(lazy.change, side(adds), side(removes))
                == _answer(reference.change, list(adds), list(removes)))
        k = rnd.randrange(len(present) + 1)
        assert (_answer(READS[read], lazy, k, exact=exact)
                == _answer(READS[read], reference, k, exact=exact))
    for read in READS.values():
        assert _answer(read, lazy, 0, exact=exact) == _answer(read, reference, 0, exact=exact)
    assert _values(lazy) == sorted(present)


def test_K12_a_session_measured_again_leaves_only_its_change_waiting() -> None:
    """A change that gives back most of what it takes leaves the reference only the
    values that changed to keep; one that gives back all it takes leaves nothing
    and says so; a value added twice and given back once stays once."""
    lazy = _lazy()
    old = array("d", (float(k) + 0.5 for k in range(200)))
    assert lazy.change(old, array("d"))
    new = array("d", old)
    new[10] = 5000.25
    assert lazy.change(new, old)
    made = lazy.made()
    assert [(list(a), list(r)) for a, r in made._pending[1:]] == [([5000.25], [10.5])]
    assert made._held == 202
    assert not lazy.change(list(reversed(new)), tuple(new))
    assert lazy.change(array("d", [*new, 7.0, 7.0, 0.0]), array("d", [*new, 7.0]))
    assert [(list(a), list(r)) for a, r in made._pending[2:]] == [([0.0, 7.0], [])]
    assert repr(_values(lazy)) == repr(sorted([*new, 7.0, 0.0]))


@pytest.mark.parametrize("made", [False, True])
def test_K12_a_value_removed_and_not_present_raises_at_the_same_reads(made: bool) -> None:
    """A change that removes a value not present (and gives back another) raises the
    reference's ValueError, naming that value, at the next read, as the
    reference does, and changes nothing; a later change that adds it makes the
    values whole again."""
    lazy, reference = _lazy(), Multiset()
    for ms in (lazy, reference):
        ms.change([1.0, 2.0, 3.0], [])
    if made:
        lazy.made()
    for ms in (lazy, reference):
        assert ms.change([2.0, 4.0], [2.0, 9.5])
        assert ms.count == 3
    for read in READS.values():
        assert _answer(read, lazy, 0) == _answer(read, reference, 0)
    assert _answer(lazy.durations) == ("ValueError", "9.5 is not in the multiset")
    for ms in (lazy, reference):
        assert ms.change(array("d", [9.5]), array("d"))
    for read in READS.values():
        assert _answer(read, lazy, 1) == _answer(read, reference, 1)
    assert _values(lazy) == [1.0, 2.0, 3.0, 4.0]


class _Odd(float):
    """A float that equals every value: a change of it must be the reference's."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = float.__hash__


class _Lying(list):  # type: ignore[type-arg]
    """A list that says it is longer than it is."""

    def __len__(self) -> int:
        return 10**6


class _DoubleArray(array):  # type: ignore[type-arg]
    """An array of doubles of a subclass (its reads are its own)."""


HOSTILE: list[tuple[Any, Any]] = [
    ([1.0, 2], [2.0]),  # an int among floats
    ([1.0, "2.0"], [1.0]),
    ([1.0, None], [1.0]),
    ([_Odd(3.0), 1.0], [1.0, 2.0]),
    ([float("nan"), 1.0], [1.0]),
    ([1.0, 2.0], [float("nan")]),
    ([float("inf"), 1.0], [1.0]),
    ([float("inf"), 1.0], [float("inf")]),
    ([1.0, 2.0], [-0.0, 2.0]),
    (array("d", [float("nan"), 1.0]), array("d", [1.0])),  # arrays with a NaN, a -0.0
    (array("d", [1.0, 2.0]), array("d", [-0.0, 2.0])),
    (array("f", [1.0, 2.0]), array("f", [2.0])),
    (array("q", [1, 2]), array("q", [2])),
    (_DoubleArray("d", [1.0, 2.0]), _DoubleArray("d", [2.0])),
    (_Lying([1.0, 2.0]), [2.0]),
    ({1.0: 0, 2.0: 0}, [2.0]),
    (iter([1.0, 2.0]), [2.0]),
    (b"\x00" * 16, [2.0]),
    (None, [1.0]),
    (3.0, [1.0]),
]


@pytest.mark.parametrize("made", [False, True])
@pytest.mark.parametrize(("adds", "removes"), HOSTILE)
def test_K12_a_hostile_change_is_the_reference_s_never_a_crash(
        adds: Any, removes: Any, made: bool) -> None:
    """Sides that are not arrays of doubles (lists and tuples of anything: ints,
    strings, a float subclass that equals everything, NaN, inf, other arrays, a
    list that lies about its length, an iterator, bytes) are handed to the
    reference as they are: the same answer or error, before or after the
    reference is made, and the same answers after (after an error, the reference
    may have kept half the change: answers, whatever they are, and no crash).
    Never a read past an end."""
    lazy, reference = _lazy(), Multiset()
    for ms in (lazy, reference):
        ms.change([1.0, 2.0, 3.0, 4.0], [])
    if made:
        lazy.made()
    answer = _answer(reference.change, adds, removes)
    assert _answer(lazy.change, adds, removes) == answer
    for read in READS.values():
        if answer[0] == "ok":
            assert _answer(read, lazy, 0) == _answer(read, reference, 0)
        else:  # the reference may have kept half of it: answers, whatever they are
            _answer(read, lazy, 0)


def test_K08_a_change_with_a_negative_zero_is_handed_over_as_it_is() -> None:
    """-0.0 equals 0.0, and the reference keeps, of equal zeros, the first it meets: a
    change holding a -0.0 (or a NaN) is kept as it came, for the reference to
    settle, and its values are the reference's."""
    lazy, reference = _lazy(), Multiset()
    changes = [([5.0, 0.0], []), ([5.0, -0.0, 1.0], [5.0, 0.0]), ([2.0, 1.0], [1.0])]
    for adds, removes in changes:
        assert (lazy.change(array("d", adds), array("d", removes))
                == reference.change(adds, removes))
    made = lazy.made()
    assert [(list(a), list(r)) for a, r in made._pending] == [
        ([5.0, 0.0], []), ([5.0, -0.0, 1.0], [5.0, 0.0]), ([2.0], [])]
    assert repr(_values(lazy)) == repr(_values(reference)) == "[0.0, 1.0, 2.0, 5.0]"


@pytest.mark.parametrize("made", [False, True])
def test_K08_K12_equal_waits_of_int_and_float_times_read_as_the_reference_s(
        made: bool) -> None:
    """A service key's waits are lists, and a wait between two int times is an int: 2 and
    2.0 are equal values the reference's Counter keeps as the first it meets (or
    not at all, when no change of a settling removes anything). Netting a list
    of floats would change which of them a figure is: lists are handed over as
    they are, and the figures are the reference's to the type."""
    lazy, reference = _lazy(), Multiset()
    if made:
        lazy.made()
    for ms in (lazy, reference):
        assert ms.change([2, 2.0], [])
        assert ms.change([1.0, 2.0, 2.0], [2.0])
    assert repr(lazy.durations()) == repr(reference.durations())
    assert repr(_values(lazy)) == repr(_values(reference)) == "[1.0, 2, 2, 2]"
