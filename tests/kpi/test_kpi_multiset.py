"""The live tracker's sorted multiset: the same count, mean, median and p90 as Durations.

Random adds and removes, of values with every kind of fraction (whole
seconds, tiny and huge ones, ties), must always summarise exactly as
``Durations.of`` does over the values present; the exact sum must round like
``math.fsum``, whatever the order of the changes.
"""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.kpi import Durations
from kefu.kpi.multiset import BLOCK, Multiset, exact_sum

VALUES = st.one_of(st.integers(0, 400).map(float),
                   st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
                   st.floats(0, 1e-300, allow_nan=False), st.just(0.1))


@given(st.lists(st.tuples(st.booleans(), VALUES), max_size=3 * BLOCK),
       st.randoms(use_true_random=False))
def test_K08_K12_the_multiset_summarises_like_durations(
        changes: list[tuple[bool, float]], rnd: object) -> None:
    ms = Multiset()
    present: list[float] = []
    for add, x in changes:
        if add or not present:
            ms.add(x)
            present.append(x)
        else:
            y = present.pop(rnd.randrange(len(present)))  # type: ignore[attr-defined]
            ms.remove(y)
        assert ms.count == len(present)
    assert ms.durations() == Durations.of(sorted(present))


def test_K08_the_mean_is_the_correctly_rounded_sum_over_the_count() -> None:
    values = [1e16, 1.0, -1e16 + 2.0 ** 60, 0.1] * 3
    values = [abs(v) for v in values]
    ms = Multiset()
    for v in values:
        ms.add(v)
    for v in values[:4]:
        ms.remove(v)
    assert ms.durations() == Durations.of(sorted(values[4:]))
    assert ms.durations().mean == Durations.of([*values[4:]]).mean


@given(st.lists(st.tuples(st.sampled_from(["one", "bulk", "remove"]),
                          st.lists(VALUES, max_size=2 * BLOCK)), max_size=8),
       st.randoms(use_true_random=False))
def test_K12_bulk_adds_summarise_like_one_at_a_time(
        changes: list[tuple[str, list[float]]], rnd: object) -> None:
    """``update`` (a backfill's bulk insert, which may rebuild the blocks) leaves the
    multiset as adding each value would: same figures, and later removes still work."""
    ms = Multiset()
    present: list[float] = []
    for how, values in changes:
        if how == "bulk":
            ms.update(values)
            present.extend(values)
        elif how == "one":
            for x in values:
                ms.add(x)
            present.extend(values)
        else:
            for _ in range(min(len(values), len(present))):
                ms.remove(present.pop(rnd.randrange(len(present))))  # type: ignore[attr-defined]
        assert ms.count == len(present)
        assert [x for block in ms._blocks for x in block] == sorted(present)
        assert ms._maxes == [block[-1] for block in ms._blocks]
        assert all(0 < len(block) <= BLOCK for block in ms._blocks)
        assert ms.durations() == Durations.of(sorted(present))  # also a cached summary


@given(st.lists(st.tuples(st.lists(VALUES, max_size=20), st.integers(0, 20),
                          st.booleans()), max_size=8),
       st.randoms(use_true_random=False))
def test_K12_a_change_of_values_given_back_changes_nothing_and_says_so(
        steps: list[tuple[list[float], int, bool]], rnd: object) -> None:
    """``change(adds, removes)``, as a dashboard's refresh commits a session measured
    again: its old values taken back (``removes``, some of those present), its new
    ones added (the same, shuffled, or others): the values present after it are the
    multiset difference, and it says whether they changed."""
    ms = Multiset()
    present: list[float] = []
    for extra, taken, same in steps:
        removes = [present[k] for k in sorted(rnd.sample(  # type: ignore[attr-defined]
            range(len(present)), min(taken, len(present))))]
        adds = list(removes) if same else list(removes[: len(removes) // 2]) + extra
        rnd.shuffle(adds)  # type: ignore[attr-defined]
        before = sorted(present)
        for x in removes:
            present.remove(x)
        present.extend(adds)
        changed = ms.change(adds, removes)
        assert changed == (sorted(present) != before)
        assert [x for block in ms._blocks for x in block] == sorted(present)
        assert ms.durations() == Durations.of(sorted(present))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_K08_every_finite_value_is_summed_exactly(x: float) -> None:
    """The exact sum's unit (2**-1074) holds every float, by the fast path or not."""
    from fractions import Fraction

    from kefu.kpi.multiset import _exact

    assert Fraction(_exact(x), 2**1074) == Fraction(x)


@given(st.lists(st.one_of(VALUES, st.floats(allow_nan=False, allow_infinity=False)),
                max_size=70))
def test_K08_a_few_values_are_summed_exactly(values: list[float]) -> None:
    """Below the bulk size, durations are summed as floats (each partial sum an exact
    integer multiple of 2**-22): the very integer the value-by-value sum gives,
    and any value it cannot hold exactly (huge, tiny, not such a multiple) sends
    the whole list value by value."""
    from kefu.kpi.multiset import _exact, exact_sum

    assert exact_sum(values) == sum(map(_exact, values))


@given(st.lists(st.integers(0, 2**20).map(lambda k: (2**52 + 2 * k + 1) / 4194304.0),
                min_size=1, max_size=5))
def test_K08_a_few_values_past_the_float_sum_s_bound_are_summed_exactly(
        values: list[float]) -> None:
    """Odd multiples of 2**-22 near 2**52 of them (about 1e9 s): their float sum
    would round from the third on, so the bound sends them value by value."""
    from kefu.kpi.multiset import _exact, exact_sum

    assert exact_sum(values) == sum(map(_exact, values))


@given(st.lists(st.one_of(VALUES, st.floats(allow_nan=False, allow_infinity=False)),
                min_size=60, max_size=300))
def test_K08_many_values_are_summed_exactly_in_bulk(values: list[float]) -> None:
    """The bulk sum (numpy, from 64 values on) is the very integer the value-by-value
    sum gives, for durations and for any finite floats (huge, tiny, not multiples of
    2**-22), so a mean does not depend on how its samples were added."""
    from kefu.kpi.multiset import _exact, exact_sum

    assert exact_sum(values) == sum(map(_exact, values))


@given(st.lists(VALUES, max_size=2 * BLOCK), st.lists(VALUES, max_size=2 * BLOCK),
       st.integers(0, 2 * BLOCK))
def test_K08_K12_values_given_as_an_array_of_doubles_count_as_the_same_list(
        held: list[float], adds: list[float], cut: int) -> None:
    """The live tracker hands a commit its values as arrays of doubles (no float object
    per value): the multiset ends as it would with the same values in lists, whether
    they go in one at a time or in bulk, and with some taken back."""
    removes = held[:cut]
    by_list, by_array = Multiset(), Multiset()
    by_list.update(held)
    by_array.update(array("d", held))
    assert (by_list.change(adds, removes)
            == by_array.change(array("d", adds), array("d", removes)))
    assert by_array.durations() == by_list.durations()
    assert by_array._blocks == by_list._blocks


@given(st.lists(VALUES, max_size=BLOCK),
       st.lists(st.tuples(st.lists(VALUES, max_size=40), st.integers(0, 40)), max_size=12),
       st.randoms(use_true_random=False))
def test_K12_changes_waiting_to_be_read_give_the_same_figures(
        held: list[float], steps: list[tuple[list[float], int]], rnd: object) -> None:
    """Bulk changes are kept until the values are read: many commits in a row (some
    taking back values an earlier pending one added) end as the values present,
    the count is right after each, and what waits stays within twice the values
    held plus a block, however long nobody reads."""
    ms = Multiset()
    ms.update(held)
    present = list(held)
    for extra, taken in steps:
        removes = [present.pop(rnd.randrange(len(present)))  # type: ignore[attr-defined]
                   for _ in range(min(taken, len(present)))]
        adds = array("d", extra)
        present.extend(extra)
        ms.change(adds, removes)
        assert ms.count == len(present)
        assert ms._held <= 2 * ms.count + BLOCK
    assert ms.durations() == Durations.of(sorted(present))
    assert [x for block in ms._blocks for x in block] == sorted(present)
    assert ms._held == 0


def test_K12_a_multiset_nobody_reads_keeps_no_more_than_its_values() -> None:
    """A session measured again and again with new samples, never read: the changes
    are put in once they outweigh the values, not kept for ever."""
    ms = Multiset()
    ms.change([1.0, 2.0], [])
    for k in range(5 * BLOCK):
        ms.change([float(k + 3)], [float(k + 2) if k else 2.0])
        assert ms._held <= 2 * ms.count + BLOCK
    assert ms.count == 2
    assert ms.durations() == Durations.of([1.0, float(5 * BLOCK + 2)])


@pytest.mark.parametrize("removes", [[2.0], [1.0, 2.0], [3.0, 3.0, 3.0], [1.0, 9.0], [0.5]])
def test_K12_a_remove_of_a_value_not_present_is_refused_and_changes_nothing(
        removes: list[float]) -> None:
    """Taking out a value the multiset does not hold (below its largest, between two
    it holds, or one copy too many) raises ValueError and leaves every value and the
    exact sum as they were: it never takes out a neighbour instead. A bulk change
    waits until the values are read, so the read refuses, and keeps refusing."""
    held = [1.0, 3.0, 3.0, 7.5]
    ms = Multiset()
    ms.update(held)
    for absent in (2.0, 0.5, 9.0):
        with pytest.raises(ValueError, match="not in the multiset"):
            ms.remove(absent)
    assert ms.count == len(held) and ms.durations() == Durations.of(held)
    ms.change([5.0], removes)
    for _ in range(2):
        with pytest.raises(ValueError, match="not in the multiset"):
            ms.durations()
        assert [x for block in ms._bl for x in block] == held
        assert ms._sum == exact_sum(held)
    assert ms.count == len(held) + 1 - len(removes)


@given(st.lists(st.tuples(st.sampled_from(["add", "change", "remove", "read"]), VALUES),
                max_size=12))
def test_K12_empty_multisets_share_nothing_that_changes(steps: list[tuple[str, float]]
                                                        ) -> None:
    """An empty multiset holds no list of its own until its first value or change (a
    live tracker holds many, most small or empty): whatever one of them goes
    through, a multiset made before it and one made after are still empty, and it
    summarises as a fresh multiset given the same steps would."""
    before, ms = Multiset(), Multiset()
    present: list[float] = []
    for op, x in steps:
        if op == "read":
            assert ms.durations() == Durations.of(present)
        elif op != "remove":  # a value in: alone, or as a bulk change
            present.append(x)
            if op == "add":
                ms.add(x)
            else:
                ms.change([x], [])
        elif x in present:
            ms.remove(x)
            present.remove(x)
        for empty in (before, Multiset()):
            assert empty.count == 0 and empty.durations() == Durations()
            assert empty._blocks == [] and empty._maxes == [] and not empty._pending
    assert ms.durations() == Durations.of(present)
    ms.change([], present)  # every value out again: empty, its lists its own
    assert ms.durations() == Durations() and before.durations() == Durations()
