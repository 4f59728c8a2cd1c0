"""The compiled KPI kernel and the pure-Python one agree exactly (R23 for the KPIs).

``scan_messages`` is the message pass every KPI starts from (K02 waits, and
the data-quality counts of SPEC part B: duplicates, conflicting copies,
unknown senders, out-of-order seq). The compiled kernel must give the same
MessageScan, field for field, on any input, including the inputs it hands
to the reference (conflicting or scattered copies, huge seq), and on the
edges of the supported time range.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import subprocess
import sys
import textwrap
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kpi_helpers import DAY, SH, at
from kpi_strategies import OPTIONS, WINDOWS, shop_day

from kefu import kpi
from kefu.kpi import Handover, InvalidRecord, Message, Release, Sender, Window, kernel
from kefu.kpi.measure import Measure, Samples
from kefu.kpi.options import make_options
from kefu.kpi.records import MAX_TIME
from kefu.kpi.timeline import (
    MessageScan,
    _Routes,
    build_timeline,
    human_reached,
    human_reached_py,
    scan_columns,
    scan_messages,
    scan_messages_py,
)

T = TypeVar("T")

BASE = at(8, 0)
TIMES = (st.integers(0, 40).map(lambda s: BASE + s)  # many exact ties
         | st.floats(0, 40).map(lambda s: BASE + s)
         | st.integers(0, 40).map(lambda s: int(BASE) + s))  # int seconds
# the edges of the supported range [MIN_TIME, MAX_TIME), as floats and ints
HARD_TIMES = TIMES | st.sampled_from([0, 0.0, -0.0, int(MAX_TIME) - 1, MAX_TIME - 2**-20])
SEQS = st.integers(-3, 3)
HARD_SEQS = SEQS | st.sampled_from([2**63, -(2**70), 2**63 - 1])  # beyond int64


@st.composite
def messages(draw: st.DrawFn) -> list[Message]:
    """Messages of a few sessions and buyers, with exact copies near and far; one list
    in ten is "hard" (edge times, huge seq, a differing copy; the kernel hands the
    last two to the reference), so most examples exercise its own path."""
    hard = draw(st.integers(0, 9)) == 0
    times, seqs = (HARD_TIMES, HARD_SEQS) if hard else (TIMES, SEQS)
    out: list[Message] = []
    for n in range(draw(st.integers(0, 30))):
        out.append(Message(
            f"s{draw(st.integers(0, 3))}", f"b{draw(st.integers(0, 2))}", draw(times),
            draw(st.sampled_from(list(Sender))), f"m{n}",
            agent_id=draw(st.sampled_from([None, "alice", "bob"])),
            seq=draw(seqs) if draw(st.booleans()) else 0,
        ))
    for _ in range(draw(st.integers(0, 6))):  # exact copies, anywhere
        if out:
            out.insert(draw(st.integers(0, len(out))), draw(st.sampled_from(out)))
    if hard and out and draw(st.booleans()):  # a conflicting copy: same id, other time
        m = draw(st.sampled_from(out))
        other = m.at + 1 if m.at < MAX_TIME - 1 else m.at - 1  # stay in range
        out.append(Message(m.session_id, m.buyer_id, other, m.sender, m.message_id))
    return out


def _fields(ms: MessageScan) -> tuple[object, ...]:
    return tuple(x.tolist() if isinstance(x, array) else x for x in ms.fields())


def _compiled(msgs: list[Message], as_of: float) -> MessageScan:
    saved = kernel.ACTIVE
    kernel.ACTIVE = "c"
    try:
        return scan_messages(msgs, as_of)
    finally:
        kernel.ACTIVE = saved


@pytest.fixture(autouse=True, scope="module")
def _need_compiled() -> None:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")


@given(messages(), st.sampled_from([math.inf, BASE + 20, BASE - 1, BASE + 20.5]))
def test_R23_K01_compiled_message_pass_equals_reference(msgs: list[Message],
                                                        as_of: float) -> None:
    assert _fields(_compiled(msgs, as_of)) == _fields(scan_messages_py(msgs, as_of))


@given(st.randoms(use_true_random=False), st.integers(64, 800))
def test_R23_K01_compiled_message_pass_equals_reference_at_size(rnd: random.Random,
                                                                n: int) -> None:
    """Big enough for the radix sort (64+ messages): near-sorted, with ties and copies."""
    msgs = [Message(f"s{rnd.randrange(n // 10 + 1)}", f"b{rnd.randrange(5)}",
                    BASE + rnd.choice([k // 3, k / 3.0, rnd.random() * n]),
                    rnd.choice(list(Sender)), f"m{k}", agent_id=rnd.choice([None, "alice"]),
                    seq=rnd.choice([0, 0, 1, -1]))
            for k in range(n)]
    for _ in range(n // 50):  # some neighbours swapped, some exact copies anywhere
        k = rnd.randrange(n - 1)
        msgs[k], msgs[k + 1] = msgs[k + 1], msgs[k]
        msgs.insert(rnd.randrange(n), msgs[rnd.randrange(n)])
    if rnd.random() < 0.5:
        msgs.append(Message("s0", "b0", -0.0, Sender.BUYER, "zero"))
        msgs.append(Message("s0", "b0", 0.0, Sender.AGENT, "zero2"))
    fast = kernel.compiled("scan")(msgs, math.inf)
    assert fast is not None  # the fast path decided it (no conflicting copies here)
    assert _fields(MessageScan(*fast)) == _fields(scan_messages_py(msgs))  # type: ignore[arg-type]


@settings(max_examples=8)
@given(st.randoms(use_true_random=False), st.integers(8000, 12000), st.booleans())
def test_R23_K01_compiled_pass_equals_reference_in_time_order_with_many_sessions(
        rnd: random.Random, sessions: int, swap: bool) -> None:
    """Input already in order (the pass leaves it unsorted) or one pair out of it (it
    sorts), with more sessions than the session table starts with room for (it
    grows): records and columns give the reference's fields."""
    msgs = [Message(f"s{k % sessions}", f"b{k % sessions}", BASE + k / 8.0,
                    Sender.AGENT if k // sessions % 2 else Sender.BUYER, f"m{k}",
                    agent_id=f"a{k % 7}")
            for k in range(2 * sessions + rnd.randrange(sessions))]
    if swap:
        k = rnd.randrange(len(msgs) - 1)
        msgs[k], msgs[k + 1] = msgs[k + 1], msgs[k]
    want = _fields(scan_messages_py(msgs))
    fast = kernel.compiled("scan")(msgs, math.inf)
    assert fast is not None
    assert _fields(MessageScan(*fast)) == want  # type: ignore[arg-type]
    table = kpi.MessageTable.from_records(msgs)
    columns = kernel.compiled("scan_columns")(
        table.at, table.session_id.tolist(), table.buyer_id.tolist(), table.sender,
        table.message_id.tolist(), table.agent_id.tolist(), table.seq, math.inf)
    assert columns is not None
    assert _fields(MessageScan(*columns)) == want  # type: ignore[arg-type]


ROUTE_SEQS = st.integers(-2, 2) | st.sampled_from([2**63 - 1, -(2**63), 2**64])
"""Seqs, some beyond what the compiled pass reads (it hands those to the reference)."""


@st.composite
def route_records(draw: st.DrawFn) -> tuple[list[Handover], list[Release]]:
    """Hand-overs and releases of a few sessions and agents, with exact ties in time
    (int and float seconds), seq, agent and group, in any order."""
    times = st.integers(0, 6).map(lambda s: BASE + s) | st.integers(0, 6).map(
        lambda s: int(BASE) + s)
    # Ids sharing their first 8 bytes or not, with NUL and past 8 characters (the sort
    # compares 8-byte prefixes first when every id is a 1-byte str), and a wider one.
    sids = st.sampled_from(["s1", "s2", "s10", "", "\u4e2d", "s1\x00", "session-1",
                            "session-10", "session-", "session-\x00", "sessiom-1"])
    agents = st.sampled_from(["alice", "bob", "al"])
    seqs = ROUTE_SEQS if draw(st.integers(0, 9)) == 0 else st.integers(-2, 2)
    hand = draw(st.lists(st.builds(Handover, sids, st.sampled_from(["b1", "b2"]), agents,
                                   times, st.sampled_from([None, "pre", "after"]), seqs),
                         max_size=14))
    rel = draw(st.lists(st.builds(Release, sids, agents, times, seqs), max_size=10))
    return hand, rel


@given(route_records())
def test_R23_K04_compiled_routes_equal_the_reference(
        records: tuple[list[Handover], list[Release]]) -> None:
    """The stretches the compiled pass makes from hand-overs and releases (K04) are the
    reference's, field by field; a seq beyond int64 goes to the reference."""
    hand, rel = records
    fields = kernel.compiled("routes")(hand, rel)
    big = any(not -(2**63) < r.seq < 2**63 for r in [*hand, *rel])
    assert (fields is None) == big
    saved = kernel.ACTIVE
    kernel.ACTIVE = "py"
    try:
        ref = _Routes(hand, rel)
    finally:
        kernel.ACTIVE = saved
    want = (ref.agents, ref.groups, ref.starts, ref.ends, ref.sids, ref.lo, ref.buyers,
            ref.entry_groups)
    # The handed-over sessions: each once, in id order, its stretches from lo on.
    assert ref.sids == sorted({h.session_id for h in hand})
    assert list(ref.lo) == sorted(ref.lo) and len(ref.lo) == len(ref.sids)
    if fields is not None:
        assert fields == want
        assert [type(x) for x in fields[2] + fields[3]] == [type(x) for x in want[2] + want[3]]


class _Renamed(Handover):
    """A hand-over whose agent and group read other than their slots hold (a subclass's
    own properties): what getattr gives is what counts."""

    __slots__ = ()

    @property
    def agent_id(self) -> str:
        return "renamed"

    @property
    def group(self) -> str:
        return "g-" + str(object.__getattribute__(self, "seq"))


@pytest.mark.skipif("c" not in kernel.AVAILABLE, reason="the compiled kernel is not built")
def test_R23_K04_compiled_routes_read_fields_as_getattr_does() -> None:
    """The compiled routes read exact hand-overs and releases straight from their slots,
    and any other record through getattr: a subclass's properties give the stretches
    the reference gives (not what the slots hold)."""
    hand = [Handover("s1", "b1", "alice", BASE, "pre"), _Renamed("s1", "b1", "bob", BASE + 5),
            _Renamed("s2", "b2", "bob", BASE + 1, None, 3)]
    rel = [Release("s1", "renamed", BASE + 9)]
    fields = kernel.compiled("routes")(hand, rel)
    saved = kernel.ACTIVE
    kernel.ACTIVE = "py"
    try:
        ref = _Routes(hand, rel)
    finally:
        kernel.ACTIVE = saved
    assert fields == (ref.agents, ref.groups, ref.starts, ref.ends, ref.sids, ref.lo,
                      ref.buyers, ref.entry_groups)
    assert ref.agents == ["alice", "renamed", "renamed"]
    assert ref.groups == ["pre", "g-0", "g-3"] and ref.entry_groups == ["pre", "g-3"]


def _routes_both(make: Callable[[], tuple[list[Handover], list[Release]]]) -> list[object]:
    """``_Routes`` of ``make()``'s records on each kernel (fresh records each): its
    fields, or the exception it raised."""
    out: list[object] = []
    for active in ("c", "py"):
        hand, rel = make()
        saved = kernel.ACTIVE
        kernel.ACTIVE = active
        try:
            r = _Routes(hand, rel)
            out.append((r.agents, r.groups, r.starts, r.ends, r.sids, list(r.lo), r.buyers,
                        r.entry_groups))
        except (KeyError, ValueError) as e:
            out.append(repr(e))
        finally:
            kernel.ACTIVE = saved
    return out


class _Counting(Handover):
    """A hand-over whose group is another each time it is read."""

    __slots__ = ()
    reads: ClassVar[list[int]] = [0]

    @property
    def group(self) -> str:
        _Counting.reads[0] += 1
        return f"g{_Counting.reads[0]}"


class _Refusing(Handover):
    """A hand-over whose group reads once, then raises, and whose buyer always raises."""

    __slots__ = ()
    reads: ClassVar[list[int]] = [0]

    @property
    def group(self) -> str:
        _Refusing.reads[0] += 1
        if _Refusing.reads[0] > 1:
            raise KeyError("group")
        return "g"

    @property
    def buyer_id(self) -> str:
        raise ValueError("buyer")


class _Patching(Release):
    """A release whose agent, once read, replaces Handover's group with a property."""

    __slots__ = ()

    @property
    def agent_id(self) -> str:
        Handover.group = property(lambda h: "patched")  # type: ignore[assignment]
        return str(Release.agent_id.__get__(self))  # type: ignore[attr-defined]


@pytest.mark.skipif("c" not in kernel.AVAILABLE, reason="the compiled kernel is not built")
def test_R23_K04_routes_read_each_hand_over_field_as_the_reference_does() -> None:
    """Both kernels read a hand-over's fields as often and in the same order: a group
    that changes on each read, or a buyer and group that raise, give the same stretches
    or the same error on both."""
    def counting() -> tuple[list[Handover], list[Release]]:
        _Counting.reads[0] = 0
        return [_Counting("s1", "b", "a", BASE), _Counting("s1", "b", "c", BASE + 1)], []

    def refusing() -> tuple[list[Handover], list[Release]]:
        _Refusing.reads[0] = 0
        return [_Refusing("s1", "b", "a", BASE)], []

    c, py = _routes_both(counting)
    assert c == py
    c, py = _routes_both(refusing)
    assert c == py


@pytest.mark.skipif("c" not in kernel.AVAILABLE, reason="the compiled kernel is not built")
def test_R23_K04_routes_see_a_class_patched_while_they_run() -> None:
    """A record's code that patches Handover while the compiled routes run: the exact
    hand-overs read after it are read as patched, as the reference reads them (not
    from their slots)."""
    original = Handover.__dict__["group"]

    def make() -> tuple[list[Handover], list[Release]]:
        Handover.group = original
        return [Handover("s1", "b", "a", BASE, "orig")], [_Patching("s0", "a", BASE)]

    try:
        c, py = _routes_both(make)
    finally:
        Handover.group = original
    assert c == py
    assert py[1] == ["patched"]  # type: ignore[index]


@given(route_records(), st.sets(st.sampled_from(["s1", "s2", "", "session-1", "x"])),
       st.sets(st.sampled_from(["s2", "s10", "\u4e2d", "y"])), st.sampled_from(["c", "py"]))
def test_R23_K04_each_session_gets_its_own_stretches_group_and_buyer(
        records: tuple[list[Handover], list[Release]], talked: set[str], switched: set[str],
        active: str) -> None:
    """Placed in a timeline, each session's stretches are those its own hand-overs and
    releases make alone, its group its first hand-over's, and a session known only
    from hand-overs has its first hand-over's buyer (recounted session by session, on
    both kernels; some sessions wrote messages, some were only switched)."""
    if active not in kernel.AVAILABLE:
        return
    hand, rel = records
    hand = list({attrs.astuple(h): h for h in hand}.values())
    rel = list({attrs.astuple(r): r for r in rel}.values())
    msgs = [Message(sid, "mb", BASE, Sender.BUYER, f"m-{sid}") for sid in sorted(talked)]
    reqs = [kpi.HumanRequest(sid, "rb", BASE + 9) for sid in sorted(switched)]
    saved = kernel.ACTIVE
    kernel.ACTIVE = active
    try:
        tl = build_timeline(msgs, hand, rel, reqs, threshold=180.0)
    finally:
        kernel.ACTIVE = saved
    for sid in {h.session_id for h in hand} | {r.session_id for r in rel} | talked | switched:
        j = tl.index.get(sid)
        own = [h for h in hand if h.session_id == sid]
        if j is None:  # known from releases alone: no session
            assert not own and sid not in talked and sid not in switched
            continue
        alone = _Routes(own, [r for r in rel if r.session_id == sid])
        got = slice(tl.s_lo[j], tl.s_hi[j])
        assert (tl.agents[got], tl.sgroups[got], tl.starts[got], tl.ends[got]) == (
            alone.agents, alone.groups, alone.starts, alone.ends)
        first = min(own, key=lambda h: (h.at, h.seq, h.agent_id, h.group or ""), default=None)
        assert tl.groups[j] == (first.group if first is not None else None)
        if sid not in talked:
            assert tl.buyers[j] == (first.buyer_id if first is not None else "rb")


IDS = st.text(st.sampled_from("ab\xe9\u4e2d\U0001f600"), max_size=17)
"""Ids of every str kind (1, 2 and 4 bytes per character), of lengths around 8 and 16."""


@given(st.lists(st.tuples(IDS, IDS, st.integers(0, 5), st.sampled_from(list(Sender))),
                max_size=40), st.randoms(use_true_random=False))
def test_R23_K01_compiled_pass_tells_ids_of_every_kind_apart(
        rows: list[tuple[str, str, int, Sender]], rnd: random.Random) -> None:
    """The compiled pass hashes and compares ids by their bytes: ids equal as str
    are one id (copies, sessions), ids that differ in any character or length
    are two, whatever characters they hold."""
    msgs = [Message(f"s{sid}", "b", BASE + t, sender, mid) for mid, sid, t, sender in rows]
    msgs += [msgs[rnd.randrange(len(msgs))] for _ in range(len(msgs) // 4)]
    assert _fields(_compiled(msgs, math.inf)) == _fields(scan_messages_py(msgs))


@given(st.lists(st.floats(0, 1e9) | st.integers(0, 10**6).map(float), max_size=200))
def test_R23_K08_compiled_sort_equals_sorted(values: list[float]) -> None:
    got = kernel.compiled("sorted_doubles")(array("d", values))
    assert isinstance(got, array)
    assert got.tolist() == sorted(values)


def _fsum_outcome(sum_of: Callable[[Any], float], values: Any) -> tuple[str, str]:
    """What a sum gives: its float's exact bits, or its error's type and message."""
    try:
        return ("value", sum_of(values).hex())
    except (OverflowError, ValueError) as e:
        return (type(e).__name__, str(e))


_EXTREMES = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e16, -1e16, 1e-16, 5e-324, -5e-324,
                             2.0**1023, -(2.0**1023), 1.7976931348623157e308, 2.0**-1022,
                             0.1, 1e308, -1e308, math.inf, -math.inf])


@given(st.lists(st.floats() | _EXTREMES, max_size=60))
def test_R23_K08_compiled_exact_sum_is_fsum_bit_for_bit(values: list[float]) -> None:
    """The compiled sum of K08's means is math.fsum's algorithm over the doubles: the
    same float, bit for bit, on huge, tiny, cancelling and special values, and the same
    errors (intermediate overflow, -inf + inf)."""
    compiled = kernel.compiled("exact_sum")
    assert _fsum_outcome(compiled, array("d", values)) == _fsum_outcome(math.fsum, values)


@given(st.lists(st.floats(-1e300, 1e300) | _EXTREMES.filter(math.isfinite), max_size=60),
       st.lists(st.integers(0, 7), max_size=60))
def test_R23_K08_exact_sum_keeps_fsum_partials_past_their_first_block(
        values: list[float], scales: list[int]) -> None:
    """Values spread over many binades keep many partials at once (more than the first
    block the compiled sum holds them in): still math.fsum's float."""
    spread = [v * 2.0 ** (-130 * k) for v, k in zip(values, scales * 9, strict=False)]
    compiled = kernel.compiled("exact_sum")
    assert _fsum_outcome(compiled, array("d", spread)) == _fsum_outcome(math.fsum, spread)


def test_R23_K08_exact_sum_many_partials_and_its_dispatch() -> None:
    """A sum holding 34 partials at once (one per 2**-60 step of a wide range), the kernel's
    ``exact_sum`` on both kernels, and only exact arrays of doubles compiled."""
    values = [2.0 ** (1000 - 60 * k) for k in range(34)] + [-(2.0 ** 1000)]
    assert kernel.compiled("exact_sum")(array("d", values)).hex() == math.fsum(values).hex()
    saved = kernel.ACTIVE
    try:
        for active in kernel.AVAILABLE:
            kernel.ACTIVE = active
            assert kernel.exact_sum(array("d", values)).hex() == math.fsum(values).hex()
            assert kernel.exact_sum(values).hex() == math.fsum(values).hex()
    finally:
        kernel.ACTIVE = saved
    with pytest.raises(TypeError):
        kernel.compiled("exact_sum")(array("f", [1.0]))
    with pytest.raises(TypeError):
        kernel.compiled("exact_sum")([1.0])


def test_fast_path_really_runs_and_hands_hard_cases_to_the_reference() -> None:
    """The compiled scan decides plain input itself, copies included (None means it
    handed the input to the reference), and hands over exactly the hard cases."""
    scan = kernel.compiled("scan")
    plain = [Message("s1", "b1", BASE, Sender.BUYER, "m1"),
             Message("s1", "b1", BASE + 5, Sender.AGENT, "m2", agent_id="alice")]
    fields = scan([*plain, plain[0]], math.inf)  # a copy of m1, far from it in input
    assert isinstance(fields, tuple)
    assert MessageScan(*fields).repeats == 1  # type: ignore[arg-type]
    differing = Message("s1", "b1", BASE + 1, Sender.BUYER, "m1")  # same id, later
    assert scan([*plain, differing], math.inf) is None
    scattered = Message("s1", "b1", BASE + 10, Sender.BUYER, "m1")  # not next to m1
    assert scan([*plain, scattered], math.inf) is None
    assert scan([*plain, Message("s1", "b1", BASE, Sender.BUYER, "m3", seq=2**63)],
                math.inf) is None
    far = Message("s1", "b1", BASE, Sender.BUYER, "m3")
    object.__setattr__(far, "at", 2**60)  # past the constructor's check
    assert scan([*plain, far], math.inf) is None
    with pytest.raises(InvalidRecord, match=r"Message\.at must be POSIX seconds"):
        _compiled([*plain, far], math.inf)
    # and the public entry point still answers them, as the reference does
    for hard in ([*plain, differing], [*plain, scattered]):
        assert _fields(_compiled(hard, math.inf)) == _fields(scan_messages_py(hard, math.inf))
        assert _compiled(hard, math.inf).conflicts == 1


class _DuckMessage:
    """Looks like a Message, but makes a new id string on every read."""

    def __init__(self, m: Message) -> None:
        self._m = m

    def __getattr__(self, name: str) -> object:
        value = getattr(self._m, name)
        return "".join(["", value]) if name == "message_id" else value


def test_only_exact_message_records_take_the_compiled_path() -> None:
    """Anything else (a subclass, a look-alike) goes to the reference: the compiled
    path keeps borrowed pointers to ids, valid only while records hold them."""
    scan = kernel.compiled("scan")
    msgs = [Message(f"s{k % 7}", "b1", BASE + k, Sender.BUYER if k % 2 else Sender.AGENT,
                    f"m{k}") for k in range(200)]
    ducks: list[object] = [_DuckMessage(m) for m in msgs]
    ducks.append(_DuckMessage(msgs[3]))  # a scattered copy: must not read a freed id
    assert scan(ducks, math.inf) is None
    assert scan(msgs, math.inf) is not None


@given(st.lists(st.floats(0, 1e9), max_size=200), st.lists(st.floats(0, 1e9), max_size=60))
def test_R23_K08_compiled_sort_of_a_sorted_run_and_a_tail(head: list[float],
                                                          tail: list[float]) -> None:
    """Samples in order with others appended (K08's late replies): sorted as by sorted()."""
    values = sorted(head) + tail
    got = kernel.compiled("sorted_doubles")(array("d", values))
    assert got.tolist() == sorted(values)


_ZEROS_AND_ONES = st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0]), max_size=120)


@given(_ZEROS_AND_ONES, _ZEROS_AND_ONES)
def test_R23_K08_compiled_sorts_keep_signed_zeros_in_order_as_sorted_does(
        head: list[float], tail: list[float]) -> None:
    """0.0 and -0.0 compare equal but print (and divide) differently: the compiled sorts
    of doubles are stable, as Python's sort is, so a median or p90 that is a zero has
    the same sign on both kernels, whether the run is sorted with a tail or not."""
    for values in (head + tail, sorted(head) + tail):
        want = [repr(v) for v in sorted(values)]
        for active in kernel.AVAILABLE:
            got = _on(active, lambda v=values: kernel.sorted_doubles(array("d", v)))
            assert [repr(v) for v in got] == want
        got = kernel.compiled("sorted_floats")(values)
        assert [repr(v) for v in got] == want


class _Float(float):
    """A float subclass: not an exact float to the compiled kernel."""


@given(st.lists(st.floats(0, 1e9) | st.integers(0, 10**6) | st.just(math.nan)
                | st.floats(0, 1e9).map(_Float), max_size=80))
def test_R23_K13_compiled_sorted_floats_takes_exact_floats_only(values: list[Any]) -> None:
    """K13's durations as doubles: a sorted array when every value is an exact float and
    none is NaN, else None (the caller sorts the list itself, an int staying an int)."""
    got = kernel.compiled("sorted_floats")(values)
    if all(type(v) is float and not math.isnan(v) for v in values):
        assert isinstance(got, array) and got.tolist() == sorted(values)
    else:
        assert got is None


def test_R23_K08_sorted_doubles_refuses_other_arrays_and_nan() -> None:
    sort = kernel.compiled("sorted_doubles")
    with pytest.raises(TypeError):
        sort(array("i", [3, 1, 2]))
    with pytest.raises(ValueError):
        sort(array("d", [1.0, math.nan]))


# Hostile input, in a subprocess: a crash of the compiled kernel fails the test ------------
# (kpi_fuzz.py builds the records; test_kpi_hostile.py pins the in-process cases.)

HERE = Path(__file__).parent


def _run(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that can import the test helpers."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=HERE,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _fuzz(first: int, cases: int) -> dict[str, object]:
    proc = _run(f"import kpi_fuzz; kpi_fuzz.main([{first!r}, {cases!r}])", timeout=600)
    assert proc.returncode == 0, f"the fuzz process died ({proc.returncode}): {proc.stderr[-2000:]}"
    counts: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    assert counts["mismatch"] == [], counts["mismatch"]
    assert counts["foreign_error"] == [], counts["foreign_error"]
    assert counts["cases"] == cases
    return counts


def test_R23_K00_hostile_records_never_crash_and_both_kernels_agree() -> None:
    counts = _fuzz(0, 400)
    # the cases are mixed: both outcomes must be well represented
    assert counts["equal"] >= 100 and counts["rejected"] >= 100, counts  # type: ignore[operator]


@pytest.mark.soak
def test_R23_K00_hostile_records_soak() -> None:
    _fuzz(10_000, 30_000)


# Pinned examples of each defect found ---------------------------------------------------

_HEAD = """
import math
from kpi_fuzz import Box, EvilStr, EvilInt, EvilFloat
from kefu.kpi import Message, Sender, kernel, shop_reply_rate
from kefu.errors import KefuError
from kefu.kpi.timeline import scan_messages
base = 1794391200.0
"""

# Runs shop_reply_rate and scan_messages (and, compiled, the kernel itself) on a
# day with EVILS' record appended, on each kernel; the outcomes must agree.
_BODY = """
def day(evil):
    msgs = [Message(f"s{k % 5}", "b", base + k, Sender.BUYER if k % 2 else Sender.AGENT,
                    f"m{k}", agent_id="a") for k in range(100)]
    msgs.append(evil(msgs))
    Box.items = msgs
    return msgs
out = []
for name in kernel.AVAILABLE:
    kernel.ACTIVE = name
    for evil in EVILS:
        try:
            out.append(repr(shop_reply_rate(day(evil))))
            out.append(repr(scan_messages(day(evil)).fields()))
            if name == "c":
                kernel.compiled("scan")(day(evil), math.inf)
        except KefuError as exc:
            out.append(type(exc).__name__ + ": " + str(exc))
half = len(out) // len(kernel.AVAILABLE)
assert out[:half] == out[half:] or len(kernel.AVAILABLE) == 1, out
print(out[0])
"""


def _evil_id(how: int) -> str:
    return f"""
def evil(msgs):
    s = EvilStr("evil")
    s.how = {how}
    return Message("s1", "b", base + 200, Sender.BUYER, s)
EVILS = [evil]
"""


@pytest.mark.parametrize("how", [0, 1, 2, 4])  # clear, extend, truncate the list; raise
def test_R23_id_whose_hash_or_eq_mutates_the_list_or_raises_never_runs(how: int) -> None:
    """It crashed the compiled kernel (exit 139): a str-subclass id's ``__hash__``
    cleared the list the kernel was indexing. Ids are now read as plain str."""
    proc = _run(_HEAD + _evil_id(how) + _BODY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ShopReplyRate("), proc.stdout  # computed, not refused


def test_R23_seq_or_time_whose_conversion_mutates_the_list_is_refused() -> None:
    """An int-subclass seq (``__index__``) or float-subclass time (``__float__``, ``<=``)
    set past the constructor ran code inside the kernel; now the record is refused."""
    evils = """
def with_field(name, value):
    def evil(msgs):
        m = Message("s1", "b", base + 200, Sender.BUYER, "evil")
        object.__setattr__(m, name, value)
        return m
    return evil
EVILS = [with_field("seq", EvilInt(3)), with_field("at", EvilFloat(base)),
         with_field("at", EvilInt(int(base)))]
"""
    proc = _run(_HEAD + evils + _BODY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("InvalidRecord: Message.seq must be an int"), proc.stdout


def test_R23_sorted_doubles_takes_only_exact_arrays() -> None:
    """An array subclass could lie about its length to the compiled sort."""

    class Lying(array):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return 10**6

    with pytest.raises(TypeError):
        kernel.compiled("sorted_doubles")(Lying("d", [1.0]))


_BROKEN_TIMELINE = """
import math
from kefu.kpi import Handover, Message, Sender, kernel
from kefu.kpi.measure import Measure
from kefu.kpi.options import make_options
from kefu.kpi.service import service_result
from kefu.kpi.timeline import build_timeline, human_reached

base = 1794391200.0
msgs = [Message("s1", "b1", base, Sender.BUYER, "m1"),
        Message("s1", "b1", base + 60, Sender.AGENT, "m2", agent_id="a"),
        Message("s2", "b2", base + 5, Sender.BUYER, "m3")]
hand = [Handover("s1", "b1", "a", base + 1)]


def broken(how):
    tl = build_timeline(msgs, hand, (), (), threshold=180.0)
    if how == "stretch":
        tl.s_lo, tl.s_hi = [10**6, 0], [10**6 + 1, 0]
    elif how == "negative stretch":
        tl.s_lo = [-10**6, 0]
    elif how == "waits":
        tl.wlo = [0, -10**6, len(tl.us)]
    elif how == "short sessions":
        tl.human = tl.human[:1]
    elif how == "reply order":
        tl._rorder[0] = -10**6
    return tl


def outcome(fn):
    try:
        return repr(fn())
    except Exception as exc:
        return type(exc).__name__


out = []
for name in kernel.AVAILABLE:
    kernel.ACTIVE = name
    for how in ("stretch", "negative stretch", "waits", "short sessions", "reply order"):
        tl = broken(how)
        opts = make_options(day=None, tz="Asia/Shanghai", window=None, as_of=None)
        cal = opts.calendar(tl.first, tl.last)
        out.append((how, outcome(lambda: human_reached(tl, [math.inf] * len(tl.ids))),
                    outcome(lambda: Measure(tl, opts, cal).session_tallies[0].counts),
                    outcome(lambda: service_result(tl, opts, cal, answer_within=180.0,
                                                   short_abandon=5.0))))
half = len(out) // len(kernel.AVAILABLE)
assert out[:half] == out[half:], out
print("same")
"""


def test_R23_compiled_walks_hand_a_timeline_with_indices_past_its_columns_to_the_reference(
        ) -> None:
    """Session or stretch indices past the columns (or a column too short) made the
    compiled human_reached and walk read out of bounds (a segfault where the reference
    raises IndexError); they now leave such a timeline to the reference."""
    proc = _run(_BROKEN_TIMELINE)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "same", proc.stdout


# The per-session walk (Measure) and the whole report: compiled against the reference.

SHIFTS = st.sampled_from([0.0, 16 * 3600.0 - 300.0, 16 * 3600.0 - 300.5])
"""Move a day's records: none, or so that they span local midnight (07:58 + 16 h - 5 min)."""


def _shifted(rec: dict[str, list[Any]], by: float) -> dict[str, list[Any]]:
    def move(r: Any) -> Any:
        changes = {"at": r.at + by} if hasattr(r, "at") else {"sent_at": r.sent_at + by}
        if getattr(r, "rated_at", None) is not None:
            changes["rated_at"] = r.rated_at + by
        return attrs.evolve(r, **changes)
    return {kind: [move(r) for r in items] for kind, items in rec.items()}


def _on(name: str, fn: Callable[[], T]) -> T:
    saved = kernel.ACTIVE
    kernel.ACTIVE = name
    try:
        return fn()
    finally:
        kernel.ACTIVE = saved


def _walked(m: Measure) -> tuple[object, ...]:
    """Everything a walk leaves behind, as plain values (arrays as lists)."""
    def plain(s: Samples) -> tuple[list[float], ...]:
        return tuple(getattr(s, name).tolist() for name in Samples.__slots__)
    return (
        [t.counts for t in m.session_tallies], [t.units for t in m.session_tallies],
        {a: (t.counts, t.units) for a, t in m.agent_tallies.items()},
        list(m.agent_tallies), plain(m.shop_samples),
        {a: plain(s) for a, s in m.agent_samples.items()}, list(m.agent_samples),
        m.unanswered, m.dropped, m.waiting, m.consults(), m.session_fates,
        [(t.counts, t.units) for t in (m.buyer_days(True), m.buyer_days(False))],
        m.buyer_fates,
    )


@given(shop_day(), OPTIONS, WINDOWS, SHIFTS, st.sampled_from([frozenset(), frozenset({"b1"})]),
       st.booleans())
def test_R23_K02_K08_compiled_walk_and_report_equal_the_reference(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None, shift: float,
        excluded: frozenset[str], detail: bool) -> None:
    """Hand-overs, releases, bot messages, switches, seq numbers, ends, ratings, days
    across midnight, windows closing mid-wait, both before-window policies, live
    ``as_of``: every count, unit and sample of the compiled walk, and then every
    figure of ``daily_report``, equal the reference's."""
    rec = _shifted(rec, shift)
    as_of = None if opts["as_of"] is None else opts["as_of"] + shift
    options = make_options(day=None, tz=SH, window=window, as_of=as_of,
                           before_window=opts["before_window"], excluded_buyers=excluded,
                           detail=detail)
    tl = build_timeline(rec["messages"], rec["handovers"], rec["releases"], rec["requests"],
                        options.as_of, ends=rec["ends"], threshold=options.threshold)
    walked = {name: _on(name, lambda: _walked(Measure(tl, options,
                                                      options.calendar(tl.first, tl.last))))
              for name in ("c", "py")}
    assert walked["c"] == walked["py"]

    def report() -> kpi.DailyReport:
        return kpi.daily_report(
            rec["messages"], rec["handovers"], rec["evaluations"], rec["orders"],
            requests=rec["requests"], releases=rec["releases"], ends=rec["ends"], day=None,
            tz=SH, window=window, as_of=as_of, basis=opts["basis"],
            before_window=opts["before_window"], excluded_buyers=excluded, detail=detail)
    assert _on("c", report) == _on("py", report)


@given(shop_day(), st.lists(st.just(math.inf) | TIMES, max_size=8), st.booleans())
def test_R23_K02_compiled_human_reached_equals_the_reference(
        rec: dict[str, list[Any]], early: list[float], whole: bool) -> None:
    """When each session's human service began and an agent first reached it: the same
    values, and the same objects' types (an int stays an int), on both kernels."""
    if whole:
        rec = _whole_seconds(rec)
    tl = build_timeline(rec["messages"], rec["handovers"], rec["releases"], rec["requests"],
                        ends=rec["ends"], threshold=180.0)
    n = len(tl.ids)
    early = (early + [math.inf] * n)[:n]
    compiled = _on("c", lambda: human_reached(tl, early))
    reference = human_reached_py(tl, early)
    assert [list(map(repr, col)) for col in compiled] == [
        list(map(repr, col)) for col in reference]


@given(shop_day(), OPTIONS, st.booleans())
def test_R23_K02_K04_compiled_timeline_equals_the_reference(
        rec: dict[str, list[Any]], opts: dict[str, Any], whole: bool) -> None:
    """Every column of the timeline (sessions, waits, stretches, when human service
    began and an agent first reached each session), values and types, on both kernels."""
    if whole:
        rec = _whole_seconds(rec)

    def columns() -> list[str]:
        tl = build_timeline(rec["messages"], rec["handovers"], rec["releases"],
                            rec["requests"], opts["as_of"] or math.inf, ends=rec["ends"],
                            threshold=180.0)
        return [repr(getattr(tl, name)) for name in sorted(tl.__slots__)]
    assert _on("c", columns) == _on("py", columns)


def _whole_seconds(rec: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The records with every time an int (the strategies' times are whole seconds)."""
    def whole(r: Any) -> Any:
        names = ("at", "sent_at", "rated_at")
        return attrs.evolve(r, **{n: int(getattr(r, n)) for n in names
                                  if getattr(r, n, None) is not None})
    return {kind: [whole(r) for r in items] for kind, items in rec.items()}


def _unit_times(rep: kpi.DailyReport) -> list[tuple[str, str, str]]:
    """Every unit's kind, start and end as written (an int and a float differ here)."""
    rates = [rep.agents_total, rep.satisfaction, rep.conversion, *rep.agents.values()]
    for shop in rep.shop_by_basis.values():
        rates += [shop, shop.per_session]
    return [(u.kind, repr(u.start), repr(u.end)) for r in rates for u in r.units]


@given(shop_day(), OPTIONS, WINDOWS)
def test_R23_K08_compiled_units_keep_the_records_int_times(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None) -> None:
    """With int times, a unit clocked by a switch or a hand-over starts at that record's
    int on both kernels (equal values alone would hide a float in its place)."""
    rec = _whole_seconds(rec)
    as_of = None if opts["as_of"] is None else int(opts["as_of"])

    def report() -> kpi.DailyReport:
        return kpi.daily_report(
            rec["messages"], rec["handovers"], rec["evaluations"], rec["orders"],
            requests=rec["requests"], releases=rec["releases"], ends=rec["ends"], day=None,
            tz=SH, window=window, as_of=as_of, basis=opts["basis"],
            before_window=opts["before_window"], detail=True)
    assert _unit_times(_on("c", report)) == _unit_times(_on("py", report))


@given(shop_day(), OPTIONS, WINDOWS, SHIFTS, st.sampled_from([frozenset(), frozenset({"b0"})]),
       st.sampled_from([60.0, 120.0, 180.0]), st.sampled_from([0.0, 60.0, 120.0]),
       st.booleans())
def test_R23_K13_compiled_service_walk_equals_the_reference(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None, shift: float,
        excluded: frozenset[str], answer_within: float, short_abandon: float,
        detail: bool) -> None:
    """Service figures (answered, within target, abandoned, short, waiting, transfers,
    exclusions, per day, hour, group and agent) from the compiled contact walk equal
    the reference's, for any target and short-abandon limit (whole minutes: the
    scenarios' waits often end exactly on one), and so do its contacts (detail)."""
    rec = _shifted(rec, shift)

    def figures() -> kpi.ServiceReport:
        return kpi.service_figures(
            rec["messages"], rec["handovers"], requests=rec["requests"],
            releases=rec["releases"], ends=rec["ends"], day=None, tz=SH, window=window,
            answer_within=answer_within, short_abandon=short_abandon,
            as_of=None if opts["as_of"] is None else opts["as_of"] + shift,
            before_window=opts["before_window"], excluded_buyers=excluded, detail=detail)
    compiled = _on("c", figures)
    assert compiled == _on("py", figures)
    assert len(compiled.contacts) == (compiled.offered + compiled.excluded if detail else 0)


@given(shop_day(), OPTIONS, WINDOWS, st.floats(0.0, 0.75))
def test_R23_K13_compiled_service_durations_keep_their_types(
        rec: dict[str, list[Any]], opts: dict[str, Any], window: Window | None,
        part: float) -> None:
    """The service's durations (speed of answer, time to abandon; shop and every
    breakdown) are the same values of the same types on both kernels, when some or all
    times are ints (an int median stays an int) and when all are floats (the compiled
    kernel sorts and sums those as doubles): reprs compared, not values."""
    if part:
        rec = _whole_seconds(rec)
        cut = int(part * len(rec["messages"]))
        rec["messages"] = [attrs.evolve(m, at=float(m.at)) if k < cut else m
                           for k, m in enumerate(rec["messages"])]

    def figures() -> list[str]:
        rep = kpi.service_figures(
            rec["messages"], rec["handovers"], requests=rec["requests"],
            releases=rec["releases"], ends=rec["ends"], day=None, tz=SH, window=window,
            as_of=None if opts["as_of"] is None else int(opts["as_of"]),
            before_window=opts["before_window"])
        parts = [rep, *rep.by_day.values(), *rep.by_hour.values(), *rep.by_group.values(),
                 *rep.by_agent.values()]
        return [repr((f.speed_of_answer, f.time_to_abandon)) for f in parts]
    assert _on("c", figures) == _on("py", figures)


def test_R23_K13_int_waits_keep_an_int_median_on_both_kernels() -> None:
    """Sessions switched to human service at int times and taken at int times wait an
    int each: the speed of answer's median and p90 stay ints on both kernels (the
    compiled one sorts as doubles only waits that are all floats)."""
    t = int(BASE)
    msgs, hand, reqs = [], [], []
    for k in range(3):
        msgs += [Message(f"s{k}", f"b{k}", t + k, Sender.BUYER, f"m{k}"),
                 Message(f"s{k}", f"b{k}", t + 30 + k, Sender.AGENT, f"r{k}", agent_id="a1")]
        hand.append(Handover(f"s{k}", f"b{k}", "a1", t + 10 + 3 * k))
        reqs.append(kpi.HumanRequest(f"s{k}", f"b{k}", t + 5 + k))

    def speed() -> kpi.Durations:
        return kpi.service_figures(msgs, hand, requests=reqs, day=None, tz=SH).speed_of_answer
    for got in (_on("c", speed), _on("py", speed)):
        assert (got.count, got.median, got.p90) == (3, 7, 9)
        assert type(got.median) is int and type(got.p90) is int


def _int_timed_day() -> dict[str, Any]:
    """A day whose records all have int times: one session answered after a switch to
    human service (its clock the switch's int time), one abandoned, and an order."""
    t = int(BASE)
    return {
        "messages": [Message("s1", "b1", t, Sender.BUYER, "m1"),
                     Message("s1", "b1", t + 30, Sender.AGENT, "m2", agent_id="a1"),
                     Message("s2", "b2", t + 40, Sender.BUYER, "m3")],
        "handovers": [Handover("s1", "b1", "a1", t + 10)],
        "orders": [kpi.Order("o1", "b1", t + 100, 5)],
        "requests": [kpi.HumanRequest("s1", "b1", t + 5), kpi.HumanRequest("s2", "b2", t + 40)],
        "ends": [kpi.SessionEnd("s2", t + 47)],
    }


def test_R23_K10_K13_compiled_detail_keeps_the_references_int_times() -> None:
    """With detail, the compiled contacts (K13) and inquiry units (K10) hold the time
    objects the reference does (an int time stays an int: a contact's start and wait,
    an inquiry's order time), and so do the waits behind the durations (their median).
    As on main, where detail took the reference: its JSON and repr do not change."""
    rec = _int_timed_day()

    def report() -> kpi.DailyReport:
        return kpi.daily_report(**rec, day=None, tz=SH, as_of=int(BASE) + 3600,
                                detail=True)
    compiled, reference = _on("c", report), _on("py", report)
    assert len(compiled.service.contacts) == 2
    assert repr(compiled.service.contacts) == repr(reference.service.contacts)
    assert repr(compiled.service) == repr(reference.service)
    assert [repr(u.end) for u in compiled.conversion.units] == [
        repr(u.end) for u in reference.conversion.units]
    assert [type(u.end) for u in compiled.conversion.units] == [int, type(None)]


def _zero_reply_day() -> list[Message]:
    """A buyer at 0.0 answered at -0.0: the same instant, so the buyer sorts first (K01)."""
    return [Message("s", "b", -0.0, Sender.AGENT, "m0", agent_id="a"),
            Message("s", "b", 0.0, Sender.BUYER, "m1"),
            Message("s", "b", 0.0, Sender.BUYER, "m2", seq=1),
            Message("s", "b", -0.0, Sender.AGENT, "m3", agent_id="a", seq=2)]


def test_R23_K01_message_pass_keeps_each_message_its_own_time_in_ties() -> None:
    """-0.0 and 0.0 tie in the sort but are different floats: every kernel and input form
    gives a wait the start and reply times of its own two messages."""
    msgs = _zero_reply_day()
    want = ([0.0, 0.0], [-0.0, -0.0])
    got = scan_messages_py(msgs)
    assert ([repr(v) for v in got.us], [repr(v) for v in got.rs]) == tuple(
        [repr(v) for v in w] for w in want)
    for active in kernel.AVAILABLE:
        for form in (msgs, kpi.MessageTable.from_records(msgs)):
            tl = _on(active, lambda f=form: build_timeline(f, threshold=180.0))
            assert [repr(v) for v in tl.us] == ["0.0", "0.0"]
            assert [repr(v) for v in tl.rs] == ["-0.0", "-0.0"]


def test_R23_K08_a_zero_response_time_is_plus_zero_on_both_kernels() -> None:
    """A reply at the instant of the wait's start (-0.0 - 0.0) is a response time of 0.0,
    not -0.0, on both kernels, from records and from a table, at a window's opening."""
    msgs = _zero_reply_day()
    for active in kernel.AVAILABLE:
        for form in (msgs, kpi.MessageTable.from_records(msgs)):
            for policy in ("exclude", "open"):
                r = _on(active, lambda f=form, p=policy: kpi.daily_report(
                    f, day=dt.date(1970, 1, 1), tz="UTC", window=Window.whole_day(),
                    before_window=p))
                for stats in (r.response_times.first, r.response_times.replies,
                              r.response_times.by_agent["a"].replies):
                    assert stats.calendar.count >= 1
                    assert repr(stats.calendar.median) == "0.0", (active, form, policy)
                    assert repr(stats.calendar.p90) == "0.0"


@settings(max_examples=12)
@given(st.randoms(use_true_random=False), st.integers(1000, 3000),
       st.sampled_from(["swaps", "late copies", "far moves", "shuffled", "reversed"]))
def test_R23_K01_compiled_pass_sorts_nearly_ordered_and_disordered_input_as_reference(
        rnd: random.Random, n: int, shape: str) -> None:
    """The compiled pass sorts keys nearly in order in one pass (a key more than a few
    places back waits aside and is merged in) and gives up for the radix sort when too
    many wait: every shape, on both sides of that limit, gives the reference's fields,
    from records and from columns."""
    msgs = [Message(f"s{rnd.randrange(n // 8 + 1)}", "b", BASE + k // 2 + 0.25 * (k % 2),
                    Sender.AGENT if k % 3 else Sender.BUYER, f"m{k}", agent_id="a")
            for k in range(n)]
    moved = n // 40 if rnd.random() < 0.5 else n // 8  # fewer or more than n/16
    if shape == "swaps":
        for _ in range(moved):
            k = rnd.randrange(n - 1)
            msgs[k], msgs[k + 1] = msgs[k + 1], msgs[k]
    elif shape == "late copies":
        msgs += [msgs[rnd.randrange(n)] for _ in range(moved)]
    elif shape == "far moves":
        for _ in range(moved):
            msgs.insert(rnd.randrange(n), msgs.pop(rnd.randrange(n)))
    elif shape == "shuffled":
        rnd.shuffle(msgs)
    else:
        msgs.reverse()
    want = _fields(scan_messages_py(msgs))
    assert _fields(_compiled(msgs, math.inf)) == want
    table = kpi.MessageTable.from_records(msgs)
    got = _on("c", lambda: scan_columns(table))
    assert _fields(got) == want


@settings(max_examples=15)
@given(st.randoms(use_true_random=False), st.integers(64, 3000), st.integers(1, 500))
def test_R23_K01_compiled_pass_merges_sessions_handed_one_after_another_as_reference(
        rnd: random.Random, n: int, sessions: int) -> None:
    """A live tracker's walk hands the pass its sessions' messages one session after
    another, each session's in time order: the compiled pass merges such runs (up to
    128 of them and an eighth of the keys; more go to the radix sort), with equal times, seqs and
    senders across sessions (the whole key, then the place, decides), and gives the
    reference's fields."""
    ranks = {Sender.BUYER: 0, Sender.AGENT: 1, Sender.SYSTEM: 3}
    by_session: dict[int, list[Message]] = {}
    for k in range(n):
        j = rnd.randrange(sessions)
        by_session.setdefault(j, []).append(Message(
            f"s{j}", f"b{j}", BASE + rnd.randrange(max(1, n // 4)) * 0.5,
            rnd.choice(list(ranks)), f"m{k}", agent_id="a",
            seq=rnd.choice([0, 0, 0, 1, 2])))
    msgs = [m for j in sorted(by_session)
            for m in sorted(by_session[j], key=lambda m: (m.at, m.seq, ranks[m.sender]))]
    want = _fields(scan_messages_py(msgs))
    assert _fields(_compiled(msgs, math.inf)) == want


@settings(max_examples=10)
@given(st.integers(0, 2**32), st.integers(2048, 6000))
def test_R23_K08_compiled_sort_of_a_big_run_is_sorted_as_sorted_does(seed: int,
                                                                      n: int) -> None:
    """A day's samples (thousands, in no order) are radix-sorted: the order of sorted(),
    -0.0 and 0.0 kept in their order, inf last, tiny and huge values in place."""
    rnd = random.Random(seed)
    pool = [0.0, -0.0, math.inf, 5e-324, 1e-300, 1e300, 180.0, 180.00000000000003]
    values = [rnd.choice(pool) if rnd.random() < 0.3 else rnd.random() * 600
              for _ in range(n)]
    want = [repr(v) for v in sorted(values)]
    got = kernel.compiled("sorted_doubles")(array("d", values))
    assert [repr(v) for v in got] == want
    got = kernel.compiled("sorted_floats")(values)
    assert [repr(v) for v in got] == want


class _Id(str):
    """An id equal to, and hashing as, the plain str it spells: a distinct object."""


def test_R23_K02_compiled_walk_counts_equal_ids_of_distinct_objects_as_one_key() -> None:
    """The compiled walk counts units by key in C; groups and agents equal by value but
    of distinct objects (a str subclass, plain copies) are one key, as the reference's
    dict makes them: the same rates by group and by agent, from records and a table."""
    base = at(9, 0)
    msgs: list[Message] = []
    hand: list[Handover] = []
    for s in range(18):
        t = base + 100 * s
        agent = _Id("a") if s % 2 else "".join(["a"])
        msgs += [Message(f"s{s}", f"b{s}", t, Sender.BUYER, f"m{s}q"),
                 Message(f"s{s}", f"b{s}", t + 40 * (s % 7), Sender.AGENT, f"m{s}r",
                         agent_id=agent)]
        group = _Id("g") if s % 3 == 0 else ("h" if s % 3 == 1 else "".join(["g"]))
        hand.append(Handover(f"s{s}", f"b{s}", agent, t - 1, group=group))
    want = attrs.asdict(_on("py", lambda: kpi.daily_report(msgs, hand, day=DAY, tz=SH)))
    assert want["shop"]["by_group"]["g"]["met"] + want["shop"]["by_group"]["g"][
        "missed"] == 12
    for form in (msgs, kpi.MessageTable.from_records(msgs)):
        got = attrs.asdict(_on("c", lambda f=form: kpi.daily_report(f, hand, day=DAY,
                                                                      tz=SH)))
        assert repr(got) == repr(want)


_TICK = 2.0**-22  # the spacing of POSIX seconds near today's (a day's durations are multiples)


@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=400),
       st.integers(-40, 20), st.integers(0, 30))
def test_R23_K08_exact_sum_of_durations_is_fsum_bit_for_bit(
        ticks: list[int], scale: int, repeat: int) -> None:
    """Durations on a grid (the compiled sum adds them as one 128-bit integer): sums that
    round up, down and to even, that cancel to zero, of thousands of values and of
    signed ones, are math.fsum's float bit for bit."""
    values = [t * _TICK * 2.0**scale for t in ticks] * (repeat + 1)
    values += [-v for v in values[: repeat % 3]]  # some cancel
    compiled = kernel.compiled("exact_sum")
    for some in (values, values * (300 // len(values) + 1)):  # few, and enough to count
        assert _fsum_outcome(compiled, array("d", some)) == _fsum_outcome(math.fsum, some)


@pytest.mark.parametrize("values", [
    [2.0**53, 1.0, 1.0],  # 2**53 + 2: exact, though a running float sum gives 2**53
    [2.0**53, 1.0],  # a tie: to even (2**53)
    [2.0**53 + 2, 1.0],  # a tie: to even (2**53 + 4)
    [1e16, 1.0, -1e16, 0.5],  # cancelling big values
    [2.0**-1000, 1.0],  # a span beyond 128 bits: the partials decide
    [2.0**-1020, 2.0**-1021],  # tiny values (near the subnormals): the partials decide
    [2.0**950, 2.0**950],  # huge values: the partials decide
    [1e308, 1e308, -1e308],  # fsum's intermediate overflow stays an error
    [-0.0], [-0.0, -0.0], [0.0, -0.0], [], [5e-324, 1.0],
    [1.5, math.inf], [math.inf, -math.inf], [math.nan, 1.0],
])
def test_R23_K08_exact_sum_edges_are_fsum_bit_for_bit(values: list[float]) -> None:
    """Where the compiled sum's integer path ends (spans, tiny and huge values, zeros,
    specials, rounding ties), its result or error is math.fsum's."""
    compiled = kernel.compiled("exact_sum")
    for some in (values, values + [0.0] * 300, [0.0] * 300 + values + [-0.0] * 300):
        assert _fsum_outcome(compiled, array("d", some)) == _fsum_outcome(math.fsum, some)


@settings(max_examples=20)
@given(st.integers(0, 2**32), st.integers(2048, 6000))
def test_R23_K08_radix_sort_of_big_runs_equals_sorted(seed: int, n: int) -> None:
    """Runs big enough for the radix sort (every digit of the doubles varies: signs,
    exponents, signed zeros): stably sorted, as sorted() gives them, zeros' signs too."""
    rnd = random.Random(seed)
    pool = [0.0, -0.0, 1.0, -1.0, 5e-324, 1e300]
    values = [rnd.choice(pool) if rnd.random() < 0.2
              else rnd.uniform(-1e3, 1e3) * 2.0 ** rnd.randrange(-60, 60) for _ in range(n)]
    got = kernel.compiled("sorted_doubles")(array("d", values))
    assert [repr(v) for v in got] == [repr(v) for v in sorted(values)]


def test_R23_timeline_long_columns_are_out_of_the_collectors_sight() -> None:
    """The timeline's columns of str and numbers (as long as a day's waits or sessions)
    cannot hold a reference cycle: with the compiled kernel the collector does not visit
    them (each collection while they are young used to walk every item); the results
    are the reference's (the tests above), and a list holding a container is left
    tracked."""
    msgs = [Message(f"s{k % 7}", "b", BASE + k, Sender.AGENT if k % 2 else Sender.BUYER,
                    f"m{k}", agent_id="alice") for k in range(60)]
    hand = [Handover("s1", "b", "bob", BASE + 3, "g")]
    saved = kernel.ACTIVE
    try:
        kernel.ACTIVE = "c"
        tl = build_timeline(msgs, hand, threshold=180.0)
    finally:
        kernel.ACTIVE = saved
    import gc
    for name in ("ids", "buyers", "_ragents", "wlo", "human", "reached", "bot_at", "ended",
                 "s_lo", "s_hi", "groups", "agents", "sgroups", "starts", "ends"):
        assert not gc.is_tracked(getattr(tl, name)), name
    untrack = kernel.compiled("untrack_atoms")
    held = [1, "a", None, 2.5, True, (1, 2)]
    assert untrack(held, "not a list") == 0 and gc.is_tracked(held)
    assert untrack(held[:5]) == 1


def _apart(s: str) -> str:
    """``s`` as a new str object: equal, yet not the same object (as ids read row by row
    from a database are)."""
    return "".join(list(s))


def _day_of_distinct_ids() -> dict[str, Any]:
    """Sessions whose groups, agents and buyers are equal strings of distinct objects,
    answered, abandoned and waiting across hours and two groups, with orders."""
    msgs, hand, orders, ends = [], [], [], []
    for k in range(40):
        sid, buyer, t = f"s{k}", _apart(f"b{k % 7}"), BASE + 1800.0 * (k % 9) + k
        agent, group = _apart(f"a{k % 3}"), _apart("presale" if k % 2 else "aftersale")
        msgs.append(Message(sid, buyer, t, Sender.BUYER, f"m{k}"))
        if k % 5:
            hand.append(Handover(sid, buyer, agent, t + 20 + k, group))
            if k % 4:
                msgs.append(Message(sid, buyer, t + 40 + k, Sender.AGENT, f"r{k}",
                                    agent_id=_apart(agent)))
        elif k % 2:
            ends.append(kpi.SessionEnd(sid, t + 3 + k % 4))
        if k % 3 == 0:
            orders.append(kpi.Order(f"o{k}", _apart(buyer), t + 600, 10))
    return {"messages": msgs, "handovers": hand, "orders": orders, "ends": ends}


def _plain_accs(accs: dict[Any, Any]) -> list[tuple[Any, ...]]:
    return [(key, acc.counts, acc.excluded_by, acc.waits, acc.abandons)
            for key, acc in accs.items()]


class _Hour(int):
    """An hour that is no exact int: the compiled walk keys it through ``accs`` alone."""


@pytest.mark.parametrize("hours", ["table", "hour_of", "int subclass"])
def test_R23_K13_compiled_contacts_key_equal_ids_of_distinct_objects_as_one(hours: str) -> None:
    """The compiled contact walk finds a key's accumulator by a C map of the key's parts;
    groups and agents that are equal strings of distinct objects are one key there, as
    in the reference's dict: the same accumulators in the same order, counted alike;
    and an hour that is not an exact int (a hostile ``hour_of``) goes by the dict."""
    from kefu.kpi.hours import hour_table
    from kefu.kpi.service import ContactOutcome, _contacts
    day = _day_of_distinct_ids()
    tl = build_timeline(day["messages"], day["handovers"], ends=day["ends"], threshold=180.0)
    opts = make_options(day=None, tz=SH, excluded_buyers={_apart("b3"): "test"},
                        as_of=BASE + 86400.0)
    cal = opts.calendar(tl.first, tl.last)
    want = _plain_accs(_contacts(tl, opts, cal, 60.0, 5.0, None))

    def hour_of(c: float) -> int:
        h = dt.datetime.fromtimestamp(c, SH).hour
        return _Hour(h) if hours == "int subclass" else h
    table = hour_table(SH, min(cal.opens), max(cal.closes)) if hours == "table" else None
    got = kernel.compiled("contacts")(tl, opts, cal, 60.0, 5.0, kernel.compiled("ContactAcc"),
                                      hour_of, None, None, tuple(ContactOutcome), table)
    assert _plain_accs(got) == want
    assert len(want) < 40  # keys shared by several contacts: the map was asked again
    if hours == "int subclass":
        assert {type(key[1]) for key in got} == {_Hour}


def test_R23_K10_compiled_consults_count_equal_ids_of_distinct_objects_as_one() -> None:
    """The compiled inquiry count keys each buyer-day in C and adds the counts to the
    tally's dict at the end: equal groups and agents of distinct objects are one key,
    the dict's keys come in the order the reference first adds them, with its counts."""
    from kefu.kpi.clocks import MET, MISSED, PENDING
    from kefu.kpi.conversion import _consults, _Orders, dedupe_orders
    from kefu.kpi.results import EXCLUDED_CODE, Tally
    day = _day_of_distinct_ids()
    tl = build_timeline(day["messages"], day["handovers"], threshold=180.0)
    opts = make_options(day=None, tz=SH, excluded_buyers={_apart("b2"): "test"},
                        as_of=BASE + 7200.0)
    cal = opts.calendar(tl.first, tl.last)
    m = _on("py", lambda: Measure(tl, opts, cal, agents=False, times=False))
    orders, _quality = dedupe_orders(day["orders"], opts.as_of)
    bought = _Orders(orders)
    want, got = Tally(False), Tally(False)
    _consults(m, bought, 3600.0, want)
    kernel.compiled("consults")(m, bought.at, bought.lo, bought.hi, 3600.0, got.counts,
                                MET, MISSED, PENDING, EXCLUDED_CODE)
    assert list(got.counts.items()) == list(want.counts.items())
    assert sum(want.counts.values()) > len(want.counts) > 1


@settings(max_examples=30)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.5, 3.0, 180.0]), min_size=17, max_size=600),
       st.randoms(use_true_random=False))
def test_R23_K08_compiled_sort_of_hundreds_keeps_signed_zeros_as_sorted_does(
        values: list[float], rnd: random.Random) -> None:
    """Runs of hundreds of samples, many equal: with a -0.0 among them the order of equal
    zeros shows (a median of 0.0 or -0.0), so the compiled sort keeps them as Python's
    stable sort does; without one (the usual day) it may take an unstable sort, whose
    result has the same bits. Checked on the values, and on them with every -0.0
    turned to 0.0 (then put into a sorted head with a tail, as K08's late replies)."""
    for vals in (values, [v + 0.0 for v in values]):
        for form in (vals, sorted(vals[: len(vals) // 2 + 1]) + vals[len(vals) // 2 + 1:]):
            want = [repr(v) for v in sorted(form)]
            got = kernel.compiled("sorted_doubles")(array("d", form))
            assert [repr(v) for v in got] == want
            shuffled = form[:]
            rnd.shuffle(shuffled)
            assert [repr(v) for v in kernel.compiled("sorted_floats")(shuffled)] == [
                repr(v) for v in sorted(shuffled)]
