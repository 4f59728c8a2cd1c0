"""The compiled KPI kernel and the pure-Python one agree exactly (R23 for the KPIs).

``scan_messages`` is the message pass every KPI starts from (K02 waits, and
the data-quality counts of SPEC part B: duplicates, conflicting copies,
unknown senders, out-of-order seq). The compiled kernel must give the same
MessageScan, field for field, on any input, including the inputs it hands
to the reference (conflicting or scattered copies, huge seq or int times).
"""

from __future__ import annotations

import math
import random
from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_helpers import at

from kefu.kpi import Message, Sender, kernel
from kefu.kpi.timeline import MessageScan, scan_messages, scan_messages_py

BASE = at(8, 0)
TIMES = (st.integers(0, 40).map(lambda s: BASE + s)  # many exact ties
         | st.floats(0, 40).map(lambda s: BASE + s)
         | st.integers(0, 40).map(lambda s: int(BASE) + s)  # int seconds
         | st.sampled_from([2**60, -(2**60)]))  # ints a double cannot hold exactly
SEQS = st.integers(-3, 3) | st.sampled_from([2**63, -(2**70), 2**63 - 1])


@st.composite
def messages(draw: st.DrawFn) -> list[Message]:
    """Messages of a few sessions and buyers, with copies near and far, some differing."""
    out: list[Message] = []
    for n in range(draw(st.integers(0, 30))):
        out.append(Message(
            f"s{draw(st.integers(0, 3))}", f"b{draw(st.integers(0, 2))}", draw(TIMES),
            draw(st.sampled_from(list(Sender))), f"m{n}",
            agent_id=draw(st.sampled_from([None, "alice", "bob"])),
            seq=draw(SEQS) if draw(st.booleans()) else 0,
        ))
    for _ in range(draw(st.integers(0, 6))):  # exact copies, anywhere
        if out:
            out.insert(draw(st.integers(0, len(out))), draw(st.sampled_from(out)))
    if out and draw(st.booleans()):  # a conflicting copy: same id, other time
        m = draw(st.sampled_from(out))
        out.append(Message(m.session_id, m.buyer_id, m.at + 1, m.sender, m.message_id))
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


@given(st.lists(st.floats(0, 1e9) | st.integers(0, 10**6).map(float), max_size=200))
def test_R23_K08_compiled_sort_equals_sorted(values: list[float]) -> None:
    got = kernel.compiled("sorted_doubles")(array("d", values))
    assert isinstance(got, array)
    assert got.tolist() == sorted(values)


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
    assert scan([*plain, Message("s1", "b1", BASE, Sender.BUYER, "m3", seq=2**63)],
                math.inf) is None
    assert scan([*plain, Message("s1", "b1", 2**60, Sender.BUYER, "m3")], math.inf) is None
    # and the public entry point still answers them, as the reference does
    hard = [*plain, differing]
    assert _fields(_compiled(hard, math.inf)) == _fields(scan_messages_py(hard, math.inf))
    assert _compiled(hard, math.inf).conflicts == 1
