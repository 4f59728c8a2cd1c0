"""The compiled intake check agrees with the reference on every record (K12, R23).

``checked`` uses a list of records as it is when every record is an exact
record of its class holding exact, in-range values; the compiled kernel
decides that from the records' slots, the reference with one ``map`` per
field. Both must give the same answer on any list, spoiled records
(``object.__setattr__``, a deleted slot), subclasses and the edges of every
range included, or the kernels would hand different records on.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_fuzz import EvilStr, SubMessage

from kefu.kpi import InvalidRecord, MessageTable, kernel
from kefu.kpi.intake import _PLANS, _SPECS, _all_clean_py, checked
from kefu.kpi.records import (
    MAX_AMOUNT,
    MAX_TIME,
    AgentStatus,
    EvalSource,
    Evaluation,
    Exclusion,
    Handover,
    HumanRequest,
    Message,
    Order,
    Rating,
    Release,
    Sender,
    SessionEnd,
)

T0 = 1_700_000_000.0
CLEAN = [
    Message("s1", "b1", T0, Sender.BUYER, "m1", agent_id="a", seq=1),
    Handover("s1", "b1", "alice", T0, group="g"),
    Release("s1", "alice", T0, seq=2),
    HumanRequest("s1", "b1", T0),
    SessionEnd("s1", T0, group="g"),
    Evaluation("s1", "b1", "alice", T0, Rating.SATISFIED, EvalSource.BUYER, card_id="c",
               rated_at=T0 + 1),
    Order("o1", "b1", T0, 10.5),
    Exclusion("b1", "staff"),
    AgentStatus("alice", T0, True),
]
# Every value a field may or may not hold, the edges of each range on both sides.
VALUES: list[Any] = [
    None, "x", EvilStr("x"), True, False, 0, 1, -1, 0.0, -0.0, 1.5, T0, int(T0),
    math.nan, math.inf, -math.inf, MAX_TIME, int(MAX_TIME), int(MAX_TIME) - 1,
    MAX_TIME - 2**-20, MAX_AMOUNT, -MAX_AMOUNT, int(MAX_AMOUNT), -int(MAX_AMOUNT),
    int(MAX_AMOUNT) + 1, -int(MAX_AMOUNT) - 1, 2**63, -(2**63) - 1, 10**400,
    Sender.BOT, Rating.DISAPPOINTED, EvalSource.SYSTEM, object(),
]


def _compiled(recs: list[Any], cls: type, plan: object = None) -> object:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")
    return kernel.compiled("all_clean")(recs, cls, plan or _PLANS[cls])


@st.composite
def spoiled_lists(draw: st.DrawFn) -> tuple[list[Any], type]:
    proto = draw(st.sampled_from(CLEAN))
    cls = type(proto)
    recs = []
    for _ in range(draw(st.integers(1, 4))):
        rec = attrs.evolve(proto)
        for name in draw(st.lists(st.sampled_from([f.name for f in attrs.fields(cls)]),
                                  max_size=2, unique=True)):
            value = draw(st.sampled_from([*VALUES, "delete"]))
            if value == "delete" and type(value) is str:
                object.__delattr__(rec, name)
            else:
                object.__setattr__(rec, name, value)
        recs.append(rec)
    return recs, cls


@given(spoiled_lists())
def test_K12_compiled_intake_check_answers_as_the_reference(case: tuple[list[Any], type]) -> None:
    recs, cls = case
    assert _compiled(recs, cls) is _all_clean_py(recs, cls, _SPECS[cls])


@pytest.mark.parametrize("record", CLEAN, ids=lambda r: type(r).__name__)
def test_K12_compiled_intake_check_passes_clean_records_and_refuses_others(record: Any) -> None:
    cls = type(record)
    assert _compiled([record, attrs.evolve(record)], cls) is True
    assert _compiled([record, CLEAN[0] if cls is not Message else CLEAN[1]], cls) is False


def test_K12_compiled_intake_check_refuses_a_subclass() -> None:
    sub = SubMessage("s1", "b1", T0, Sender.BUYER, "m1")
    assert _compiled([CLEAN[0], sub], Message) is False


def test_K12_compiled_intake_check_leaves_a_class_without_slots_to_the_reference() -> None:
    @attrs.define(slots=False)
    class Loose:
        at: float

    assert _compiled([Loose(T0)], Loose, (("at", 2, ()),)) is None


@given(st.lists(st.sampled_from(["s1", "", EvilStr("s2"), None, 7, b"s"]), min_size=1,
                max_size=6),
       st.sampled_from(["session_id", "agent_id"]))
def test_K12_table_id_columns_are_checked_alike_by_both_kernels(values: list[Any],
                                                                name: str) -> None:
    """A MessageTable's id columns: the compiled one-pass check and store gives the very
    column, or the very error, the reference gives."""
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")
    n = len(values)
    columns: dict[str, Any] = {"at": [T0] * n, "session_id": ["s"] * n, "buyer_id": ["b"] * n,
                               "sender": [0] * n, "message_id": [str(k) for k in range(n)]}
    columns[name] = values
    saved = kernel.ACTIVE
    outcomes = []
    try:
        for name_ in ("c", "py"):
            kernel.ACTIVE = name_
            try:
                column = getattr(MessageTable(**columns), name).tolist()
                outcomes.append(([type(v) for v in column], column))
            except InvalidRecord as exc:
                outcomes.append(("error", str(exc)))
    finally:
        kernel.ACTIVE = saved
    assert outcomes[0] == outcomes[1]


def _nan_at(self: object, name: str) -> object:
    return math.nan if name == "at" else object.__getattribute__(self, name)


def test_K12_a_record_class_with_its_own_attribute_lookup_is_checked_as_read() -> None:
    """A record class given its own ``__getattribute__`` hands out values other than
    its slots hold: the reference checks what it reads (here a NaN time, refused), so
    the compiled check must not pass the record on the slots' word; both kernels then
    give the same error."""
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")
    record = Handover("s1", "b1", "alice", T0)
    saved = kernel.ACTIVE
    outcomes = []
    Handover.__getattribute__ = _nan_at  # type: ignore[assignment,method-assign]
    try:
        assert _compiled([record], Handover) is None
        for name in ("c", "py"):
            kernel.ACTIVE = name
            with pytest.raises(InvalidRecord) as caught:
                checked([record], Handover)
            outcomes.append(str(caught.value))
    finally:
        del Handover.__getattribute__
        kernel.ACTIVE = saved
    assert outcomes[0] == outcomes[1]
    assert _compiled([record], Handover) is True


class _TupleArray(np.ndarray):  # type: ignore[type-arg]
    """An array whose ``tolist`` gives a tuple, as a subclass's may."""

    def tolist(self) -> Any:  # type: ignore[override]
        return tuple(super().tolist())


def test_K12_table_id_column_from_an_array_subclass_is_built_alike_by_both_kernels() -> None:
    """An id column given as an ndarray subclass whose ``tolist`` is not a plain list:
    the compiled one-pass store must leave it to the reference, not fail with its own
    argument error."""
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")
    saved = kernel.ACTIVE
    columns = []
    try:
        for name in ("c", "py"):
            kernel.ACTIVE = name
            sids = np.array(["s1", "s2"], dtype=object).view(_TupleArray)
            table = MessageTable(at=[T0, T0], session_id=sids, buyer_id=["b", "b"],
                                 sender=[0, 0], message_id=["m1", "m2"])
            columns.append(table.session_id.tolist())
    finally:
        kernel.ACTIVE = saved
    assert columns == [["s1", "s2"], ["s1", "s2"]]
