"""Messages as columns: a MessageTable gives every KPI exactly what its rows as records give.

The table's message pass (``kefu.kpi.table_scan``) is a separate
implementation of the record path's (ordering, one copy per message id,
waits per session), so these tests compare the two on the same days: the
MessageScan field for field, and the public KPI functions' results, on each
KPI kernel (tests/conftest.py runs every test here on both). Columns are
checked by the rules records are checked by (K00: the supported time range;
SPEC B: ids, senders, seq), with InvalidRecord naming the column and row.
"""

from __future__ import annotations

import math
import random
from array import array
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_fuzz import EvilStr
from kpi_helpers import DAY
from kpi_strategies import BASE, OPTIONS, shop_day
from test_kpi_kernel import messages

from kefu import kpi
from kefu.kpi import SENDER_CODES, InvalidRecord, Message, MessageTable, Sender
from kefu.kpi.records import MAX_TIME
from kefu.kpi.timeline import MessageScan, scan_messages, scan_messages_py


def _fields(ms: MessageScan) -> tuple[object, ...]:
    return tuple(x.tolist() if isinstance(x, array) else x for x in ms.fields())


@st.composite
def messy(draw: st.DrawFn, msgs: list[Message]) -> list[Message]:
    """``msgs`` shuffled, with exact copies, and copies that differ from the original
    (in time, agent, or only in an agent of None against "", which sort the same)."""
    out = list(msgs)
    rnd = draw(st.randoms(use_true_random=False))
    rnd.shuffle(out)
    for _ in range(draw(st.integers(0, 4)) if msgs else 0):
        m = rnd.choice(msgs)
        kind = rnd.randrange(4)
        if kind == 0:
            copy = m
        elif kind == 1:
            copy = Message(m.session_id, m.buyer_id, m.at + rnd.choice([-1, 1, 0.5]), m.sender,
                           m.message_id, m.agent_id, m.seq)
        elif kind == 2:
            copy = Message(m.session_id, m.buyer_id, m.at, m.sender, m.message_id,
                           "" if m.agent_id is None else None, m.seq)
        else:
            copy = Message(m.session_id, "b-other", m.at, m.sender, m.message_id,
                           m.agent_id, m.seq)
        out.insert(rnd.randrange(len(out) + 1), copy)
    return out


AS_OF = st.sampled_from([math.inf, BASE + 20, BASE - 1, BASE + 20.5, BASE + 600])


@given(messages(), AS_OF)
def test_K01_SPEC_B_a_table_scans_to_the_records_message_scan(msgs: list[Message],
                                                              as_of: float) -> None:
    table = MessageTable.from_records(msgs)
    assert _fields(scan_messages(table, as_of)) == _fields(scan_messages_py(msgs, as_of))


@given(shop_day().flatmap(lambda rec: st.tuples(st.just(rec), messy(rec["messages"]))),
       AS_OF)
def test_SPEC_B_copies_and_conflicts_are_resolved_as_for_records(
        pair: tuple[dict[str, list[Any]], list[Message]], as_of: float) -> None:
    msgs = pair[1]
    got = scan_messages(MessageTable.from_records(msgs), as_of)
    assert _fields(got) == _fields(scan_messages_py(msgs, as_of))


def _report(rec: dict[str, list[Any]], msgs: Any, opts: dict[str, Any]) -> kpi.DailyReport:
    return kpi.daily_report(msgs, rec["handovers"], rec["evaluations"], rec["orders"],
                            requests=rec["requests"], releases=rec["releases"],
                            ends=rec["ends"], day=DAY, as_of=opts["as_of"],
                            basis=opts["basis"], before_window=opts["before_window"],
                            detail=True)


@given(shop_day().flatmap(lambda rec: st.tuples(st.just(rec), messy(rec["messages"]))),
       OPTIONS)
def test_K03_K04_K08_K13_daily_report_from_a_table_equals_from_records(
        pair: tuple[dict[str, list[Any]], list[Message]], opts: dict[str, Any]) -> None:
    rec, msgs = pair
    assert _report(rec, MessageTable.from_records(msgs), opts) == _report(rec, msgs, opts)


@given(shop_day(), OPTIONS)
def test_K03_K04_K08_K13_each_kpi_function_takes_a_table(rec: dict[str, list[Any]],
                                                         opts: dict[str, Any]) -> None:
    table = MessageTable.from_records(rec["messages"])
    common = {"requests": rec["requests"], "releases": rec["releases"], "ends": rec["ends"],
              "day": DAY, "as_of": opts["as_of"], "before_window": opts["before_window"]}
    for fn, extra in ((kpi.shop_reply_rate, {"basis": opts["basis"], "detail": True}),
                      (kpi.agent_reply_rates, {"detail": True}),
                      (kpi.response_times, {}), (kpi.service_figures, {})):
        got = fn(table, rec["handovers"], **common, **extra)  # type: ignore[operator]
        assert got == fn(rec["messages"], rec["handovers"], **common, **extra)  # type: ignore[operator]


def test_K03_a_table_is_read_by_columns_not_rebuilt_into_records(
        monkeypatch: pytest.MonkeyPatch) -> None:
    msgs = [Message("s1", "b1", BASE + 300, Sender.BUYER, "m1"),
            Message("s1", "b1", BASE + 500, Sender.AGENT, "m2", "alice")]  # 200 s: missed
    table = MessageTable.from_records(msgs)
    want = kpi.shop_reply_rate(msgs, day=DAY)
    monkeypatch.setattr(MessageTable, "__iter__", lambda self: pytest.fail("read as records"))
    got = kpi.shop_reply_rate(table, day=DAY)
    assert got == want and got.missed == 1


def test_K03_a_big_shuffled_table_with_ties_and_copies_equals_records() -> None:
    rnd = random.Random(5)
    n = 3000
    msgs = [Message(f"s{rnd.randrange(300)}", f"b{rnd.randrange(50)}",
                    BASE + rnd.choice([k // 4, k / 3.0, rnd.random() * n]),
                    rnd.choice(list(Sender)), f"m{k}", agent_id=rnd.choice([None, "a", "b"]),
                    seq=rnd.choice([0, 0, 1, -1]))
            for k in range(n)]
    msgs += [rnd.choice(msgs) for _ in range(100)]
    rnd.shuffle(msgs)
    table = MessageTable.from_records(msgs)
    for as_of in (math.inf, BASE + 1000.5):
        assert _fields(scan_messages(table, as_of)) == _fields(scan_messages_py(msgs, as_of))


# Forms of the columns and round trips ---------------------------------------------------


def _columns(msgs: list[Message]) -> dict[str, Any]:
    return {"at": [m.at for m in msgs], "session_id": [m.session_id for m in msgs],
            "buyer_id": [m.buyer_id for m in msgs], "sender": [m.sender for m in msgs],
            "message_id": [m.message_id for m in msgs], "agent_id": [m.agent_id for m in msgs],
            "seq": [m.seq for m in msgs]}


MSGS = [Message("s1", "b1", BASE, Sender.BUYER, "m1", seq=2),
        Message("s1", "b1", BASE + 5, Sender.AGENT, "m2", "alice"),
        Message("s2", "b2", int(BASE) + 7, Sender.UNKNOWN, "m3", seq=2**70)]


def _same(a: MessageTable, b: MessageTable) -> bool:
    return all(getattr(a, f).tolist() == getattr(b, f).tolist()
               for f in ("at", "session_id", "buyer_id", "sender", "message_id", "agent_id",
                         "seq"))


@given(messages())
def test_SPEC_B_records_round_trip_through_a_table(msgs: list[Message]) -> None:
    table = MessageTable.from_records(msgs)
    assert table.to_records() == msgs
    assert list(table) == msgs and len(table) == len(msgs)
    assert _same(MessageTable.from_records(table.to_records()), table)
    assert _same(MessageTable.from_columns(**_columns(msgs)), table)


def test_SPEC_B_senders_as_members_values_or_codes_give_one_table() -> None:
    cols = _columns(MSGS)
    want = MessageTable(**cols)
    for senders in ([s.value for s in cols["sender"]],
                    [SENDER_CODES[s] for s in cols["sender"]],
                    np.array([SENDER_CODES[s] for s in cols["sender"]], dtype=np.int8),
                    [Sender.BUYER, "agent", 4]):
        assert _same(MessageTable(**{**cols, "sender": senders}), want)
    assert list(SENDER_CODES.values()) == [0, 1, 2, 3, 4]


def test_SPEC_B_numpy_columns_give_the_same_table() -> None:
    cols = _columns(MSGS[:2])
    table = MessageTable(
        at=np.array(cols["at"]), session_id=np.array(cols["session_id"]),
        buyer_id=np.array(cols["buyer_id"], dtype=object),
        sender=np.array([0, 1], dtype=np.uint8), message_id=np.array(cols["message_id"]),
        agent_id=np.array(cols["agent_id"], dtype=object), seq=np.array(cols["seq"]))
    assert _same(table, MessageTable(**cols))
    bare = MessageTable.from_columns(**{**cols, "agent_id": None, "seq": None})
    assert bare.agent_id.tolist() == [None, None] and bare.seq.tolist() == [0, 0]
    assert bare.seq.dtype == np.int64 and MessageTable.from_records(MSGS).seq.dtype == object


def test_SPEC_B_a_table_keeps_read_only_copies_of_its_columns() -> None:
    at = np.array([BASE, BASE + 1])
    table = MessageTable(at=at, session_id=["s", "s"], buyer_id=["b", "b"],
                         sender=np.array([0, 1]), message_id=["m1", "m2"])
    at[0] = math.nan  # the caller's array is not the table's
    assert table.at[0] == BASE
    with pytest.raises(ValueError, match="read-only"):
        table.at[0] = BASE + 1


def test_SPEC_B_str_subclass_ids_count_as_their_plain_strings() -> None:
    cols = _columns(MSGS)
    evil = {**cols, "session_id": [EvilStr(s) for s in cols["session_id"]],
            "agent_id": [None if a is None else EvilStr(a) for a in cols["agent_id"]]}
    table = MessageTable(**evil)  # EvilStr's hash/eq would raise or mutate if called
    assert {type(s) for s in table.session_id} == {str}
    assert _same(table, MessageTable(**cols))


# Refused columns --------------------------------------------------------------------------


def _with(**changes: Any) -> dict[str, Any]:
    return {**_columns(MSGS), **changes}


TIME_CASES = [
    ([BASE, math.nan, BASE], 1), ([math.inf, BASE, BASE], 0), ([BASE, BASE, -1.0], 2),
    ([BASE, MAX_TIME, BASE], 1), ([BASE, 2**32, BASE], 1), ([BASE, True, BASE], 1),
    ([BASE, "1", BASE], 1), ([BASE, BASE, 2**2000], 2), (np.array([BASE, BASE, np.nan]), 2),
    (np.array([BASE, -np.inf, BASE]), 1), (np.array([1, 2**40, 3]), 1),
    (np.array([True, True, True]), 0), ([BASE, np.float64(BASE), BASE], 1),
]


@pytest.mark.parametrize(("at", "row"), TIME_CASES)
def test_K00_times_outside_the_supported_range_are_refused_naming_the_row(at: Any,
                                                                          row: int) -> None:
    with pytest.raises(InvalidRecord, match=rf"MessageTable\.at\[{row}\] must be POSIX"):
        MessageTable(**_with(at=at))


@pytest.mark.parametrize(("column", "values", "row"), [
    ("session_id", ["s1", None, "s2"], 1), ("buyer_id", ["b", "b", b"b"], 2),
    ("message_id", [1, "m2", "m3"], 0), ("agent_id", [None, 5, None], 1),
    ("session_id", np.array([1, 2, 3]), 0), ("message_id", np.array([b"a", b"b", b"c"]), 0),
])
def test_SPEC_B_ids_that_are_not_str_are_refused_naming_column_and_row(
        column: str, values: Any, row: int) -> None:
    with pytest.raises(InvalidRecord, match=rf"MessageTable\.{column}\[{row}\] must be a str"):
        MessageTable(**_with(**{column: values}))


@pytest.mark.parametrize(("values", "row"), [
    (["buyer", "Buyer", "agent"], 1), ([0, 5, 1], 1), ([0, 1, -1], 2), ([True, 0, 0], 0),
    ([Sender.BUYER, None, 0], 1), (np.array([0, 1, 9]), 2), (np.array([0, -1, 1]), 1),
    (["buyer", "agent", 1.0], 2),
])
def test_SPEC_B_unknown_senders_are_refused(values: Any, row: int) -> None:
    with pytest.raises(InvalidRecord, match=rf"MessageTable\.sender\[{row}\] must be a Sender"):
        MessageTable(**_with(sender=values))


@pytest.mark.parametrize(("values", "row"), [
    ([0, True, 1], 1), ([0, 1, 1.0], 2), (np.array([0.0, 1.0, 2.0]), 0), ([None, 0, 0], 0),
])
def test_SPEC_B_seq_must_be_int(values: Any, row: int) -> None:
    with pytest.raises(InvalidRecord, match=rf"MessageTable\.seq\[{row}\] must be an int"):
        MessageTable(**_with(seq=values))


def test_SPEC_B_big_unsigned_seq_is_kept_exactly() -> None:
    table = MessageTable(**_with(seq=np.array([0, 2**64 - 1, 1], dtype=np.uint64)))
    assert table.seq.tolist() == [0, 2**64 - 1, 1]
    assert _fields(scan_messages(table)) == _fields(scan_messages_py(table.to_records()))


@pytest.mark.parametrize("column", ["session_id", "sender", "agent_id", "seq", "at"])
def test_SPEC_B_columns_of_unequal_length_are_refused(column: str) -> None:
    short = _columns(MSGS[:2])[column]
    with pytest.raises(InvalidRecord, match="columns differ in length"):
        MessageTable(**_with(**{column: short}))


@pytest.mark.parametrize("value", ["abc", 5, None, np.zeros((3, 1))])
def test_SPEC_B_a_column_that_is_not_a_sequence_is_refused(value: Any) -> None:
    with pytest.raises(InvalidRecord, match=r"MessageTable\.session_id must be"):
        MessageTable(**_with(session_id=value))


def test_SPEC_B_from_records_refuses_what_kpi_functions_refuse() -> None:
    with pytest.raises(InvalidRecord, match=r"expected a kefu\.kpi\.Message"):
        MessageTable.from_records([MSGS[0], ("s", "b")])  # type: ignore[list-item]


# Dataframes ----------------------------------------------------------------------------


def test_SPEC_B_from_pandas_reads_a_frame() -> None:
    pd = pytest.importorskip("pandas")
    cols = _columns(MSGS[:2])
    frame = pd.DataFrame({**cols, "ts": cols["at"], "sender": [0, 1],
                          "agent_id": [math.nan, "alice"]}).drop(columns=["at"])
    table = MessageTable.from_pandas(frame, at="ts")
    assert _same(table, MessageTable(**cols))
    assert table.to_records() == MSGS[:2]
    bare = MessageTable.from_pandas(frame.drop(columns=["agent_id", "seq"]), at="ts")
    assert bare.agent_id.tolist() == [None, None]
    with pytest.raises(InvalidRecord, match="no column 'at'"):
        MessageTable.from_pandas(frame)
    with pytest.raises(TypeError, match="not a MessageTable column"):
        MessageTable.from_pandas(frame, at="ts", when="ts")
    with pytest.raises(InvalidRecord, match=r"MessageTable\.at\[1\]"):
        MessageTable.from_pandas(frame.assign(ts=[BASE, math.nan]), at="ts")


def test_SPEC_B_from_arrow_reads_a_table() -> None:
    pa = pytest.importorskip("pyarrow")
    cols = _columns(MSGS[:2])
    arrow = pa.table({**cols, "sender": ["buyer", "agent"]})
    assert _same(MessageTable.from_arrow(arrow), MessageTable(**cols))
    coded = pa.table({**cols, "sender": pa.array([0, 1], pa.int8())}).drop_columns(["seq"])
    assert _same(MessageTable.from_arrow(coded), MessageTable(**{**cols, "seq": None}))
    with pytest.raises(InvalidRecord, match=r"MessageTable\.buyer_id\[0\] must be a str"):
        MessageTable.from_arrow(arrow.set_column(2, "buyer_id", pa.array([None, "b1"])))


@given(shop_day().flatmap(lambda rec: messy(rec["messages"])))
def test_SPEC_B_ids_whose_hashes_collide_are_still_told_apart(msgs: list[Message]) -> None:
    """The table finds repeated ids by their hashes; distinct ids with one hash are not
    copies. Every id hashing alike must change nothing."""
    import kefu.kpi.table_scan as table_scan

    table = MessageTable.from_records(msgs)
    want = _fields(scan_messages_py(msgs))
    saved = table_scan.__dict__.get("hash")
    table_scan.hash = lambda value: 7  # type: ignore[attr-defined]
    try:
        assert _fields(scan_messages(table)) == want
    finally:
        if saved is None:
            del table_scan.hash  # type: ignore[attr-defined]


def _compiled_columns(table: MessageTable) -> object:
    return kpi.kernel.compiled("scan_columns")(
        table.at, table.session_id.tolist(), table.buyer_id.tolist(), table.sender,
        table.message_id.tolist(), table.agent_id.tolist(), table.seq, math.inf)


def test_K01_the_compiled_kernel_scans_plain_columns_itself() -> None:
    """With the compiled kernel, a table's pass runs in C (None would mean it handed the
    table to the numpy pass), copies included, and hands over conflicting copies."""
    if "c" not in kpi.kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")
    plain = [*MSGS[:2], MSGS[0]]  # an exact copy of m1
    fields = _compiled_columns(MessageTable.from_records(plain))
    assert isinstance(fields, tuple)
    assert _fields(MessageScan(*fields)) == _fields(scan_messages_py(plain))
    differing = Message("s1", "b1", BASE + 1, Sender.BUYER, "m1")  # same id, later
    assert _compiled_columns(MessageTable.from_records([*plain, differing])) is None


@given(messages())
def test_K01_the_compiled_pass_reads_the_id_columns_in_place_as_it_reads_lists(
        msgs: list[Message]) -> None:
    """The compiled pass reads a table's object columns where they are (no list made):
    the same fields as from the columns' lists and as the reference; a column that is
    not a plain contiguous object array (a strided view put in its place) is not read
    in place but handed back (None), and the KPI functions then read it as its values."""
    if "c" not in kpi.kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")
    table = MessageTable.from_records(msgs)
    if table.seq.dtype != np.int64:
        return  # a seq beyond int64: the numpy pass reads the table, not the compiled one
    scan = kpi.kernel.compiled("scan_columns")
    in_place = scan(table.at, table.session_id, table.buyer_id, table.sender,
                    table.message_id, table.agent_id, table.seq, math.inf)
    assert in_place == _compiled_columns(table)
    if in_place is not None:
        assert _fields(MessageScan(*in_place)) == _fields(scan_messages_py(msgs))
    strided = np.repeat(table.session_id, 2)[::2]
    if len(msgs) > 1:  # (a view of one row or none is contiguous)
        assert scan(table.at, strided, table.buyer_id, table.sender, table.message_id,
                    table.agent_id, table.seq, math.inf) is None
    object.__setattr__(table, "session_id", strided)
    assert _fields(scan_messages(table)) == _fields(scan_messages_py(msgs))


def _tampered(name: str, row: int, value: Any) -> MessageTable:
    table = MessageTable(**_columns(MSGS))
    column = getattr(table, name)
    column.setflags(write=True)  # what the table cannot stop
    column[row] = value
    return table


@pytest.mark.parametrize(("name", "row", "value", "error"), [
    ("at", 1, math.nan, r"MessageTable\.at\[1\] must be POSIX"),
    ("at", 2, -5.0, r"MessageTable\.at\[2\] must be POSIX"),
    ("sender", 0, 9, r"MessageTable\.sender\[0\] must be a Sender"),
    ("session_id", 1, 7, r"MessageTable\.session_id\[1\] was changed"),
    ("agent_id", 2, b"x", r"MessageTable\.agent_id\[2\] was changed"),
    ("message_id", 0, EvilStr("m1"), r"MessageTable\.message_id\[0\] was changed"),
])
def test_K00_SPEC_B_a_table_changed_after_it_was_made_is_refused(
        name: str, row: int, value: Any, error: str) -> None:
    """As for records (whose frozen fields ``object.__setattr__`` gets past), what a table
    holds is checked again when a KPI function reads it; same error on both kernels."""
    with pytest.raises(InvalidRecord, match=error):
        kpi.shop_reply_rate(_tampered(name, row, value), day=DAY)


def test_SPEC_B_a_replaced_column_is_refused() -> None:
    table = MessageTable(**_columns(MSGS))
    object.__setattr__(table, "at", [BASE, BASE, BASE])
    with pytest.raises(InvalidRecord, match=r"MessageTable\.at was replaced"):
        kpi.shop_reply_rate(table, day=DAY)
    object.__setattr__(table, "at", np.array([BASE, BASE]))  # one row short
    with pytest.raises(InvalidRecord, match=r"MessageTable\.session_id was replaced"):
        kpi.shop_reply_rate(table, day=DAY)


def _fresh(s: str) -> str:
    """An equal str that is another object (the compiled pass caches by identity)."""
    return "".join(list(s))


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(list(Sender)), st.integers(0, 40),
                          st.booleans(), st.booleans()), max_size=40), AS_OF)
def test_K01_SPEC_B_session_ids_shared_or_not_by_rows_scan_alike(
        rows: list[tuple[int, Sender, int, bool, bool]], as_of: float) -> None:
    """The compiled pass reuses the hash and session of a row's session id when it is the
    very object of the row before; rows whose ids are one object, equal objects, or
    another session's, around exact copies and rows after ``as_of``, give the records'
    MessageScan (the pure reference), from a table and from records."""
    shared = [f"s{k}" for k in range(4)]
    msgs = []
    for n, (k, sender, dt_, same, again) in enumerate(rows):
        sid = shared[k] if same else _fresh(shared[k])
        m = Message(sid, f"b{k}", BASE + dt_, sender, f"m{n}",
                    "alice" if sender is Sender.AGENT else None)
        msgs += [m, m] if again else [m]
    want = _fields(scan_messages_py(msgs, as_of))
    assert _fields(scan_messages(msgs, as_of)) == want
    assert _fields(scan_messages(MessageTable.from_records(msgs), as_of)) == want
