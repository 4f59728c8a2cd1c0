"""K00: every record refuses a bad field where it is made, with the same error whatever path.

A record's constructor accepts the common case with one chained check of
exact types and falls back to the full checks for anything else; these
properties hold both paths to one rule: a record is made exactly when every
field is valid, and otherwise the error names the first bad field in field
order. The valid values and the hostile ones (subclasses, NaN, inf, bools
for ints, out-of-range times, look-alike enum values) are this file's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.kpi import (
    AgentStatus,
    EvalSource,
    Evaluation,
    Exclusion,
    Handover,
    HumanRequest,
    InvalidRecord,
    Message,
    Order,
    Rating,
    Release,
    Sender,
    SessionEnd,
)
from kefu.kpi.records import MAX_AMOUNT, MAX_TIME


class SubStr(str):
    """A str subclass: a valid id (the full checks take any str)."""


class SubFloat(float):
    """A float subclass: not a time (exact float or int only)."""


def _str_ok(v: object) -> bool:
    return isinstance(v, str)


def _opt_str_ok(v: object) -> bool:
    return v is None or isinstance(v, str)


def _time_ok(v: object) -> bool:
    return type(v) in (float, int) and 0 <= v < MAX_TIME  # type: ignore[operator]


def _opt_time_ok(v: object) -> bool:
    return v is None or _time_ok(v)


def _int_ok(v: object) -> bool:
    return type(v) is int


def _bool_ok(v: object) -> bool:
    return type(v) is bool


def _amount_ok(v: object) -> bool:
    return type(v) in (float, int) and -MAX_AMOUNT <= v <= MAX_AMOUNT  # type: ignore[operator]


def _member_ok(enum: type) -> Callable[[object], bool]:
    return lambda v: isinstance(v, enum)


JUNK = st.sampled_from([None, 0, 1, -1, True, 1.5, math.nan, math.inf, -math.inf, "x",
                        SubStr("s"), SubFloat(2.0), b"s", "buyer", 2**64, -0.0, MAX_TIME,
                        MAX_TIME - 1, 2**53, -(2**53), 3 * 2**53, [], object()])
STRS = st.one_of(st.text(max_size=5), st.builds(SubStr, st.text(max_size=3)))
TIMES = st.one_of(st.floats(0, MAX_TIME, exclude_max=True), st.integers(0, 2**32 - 1))
ENUMS = st.sampled_from([*Sender, *Rating, *EvalSource, "buyer"])

# (field, validity rule, valid values) of each record, in field order.
Field = tuple[str, Callable[[object], bool], st.SearchStrategy[Any]]
SPECS: dict[type, list[Field]] = {
    Message: [("session_id", _str_ok, STRS), ("buyer_id", _str_ok, STRS),
              ("at", _time_ok, TIMES), ("sender", _member_ok(Sender), st.sampled_from(Sender)),
              ("message_id", _str_ok, STRS), ("agent_id", _opt_str_ok, st.none() | STRS),
              ("seq", _int_ok, st.integers())],
    Handover: [("session_id", _str_ok, STRS), ("buyer_id", _str_ok, STRS),
               ("agent_id", _str_ok, STRS), ("at", _time_ok, TIMES),
               ("group", _opt_str_ok, st.none() | STRS), ("seq", _int_ok, st.integers())],
    Release: [("session_id", _str_ok, STRS), ("agent_id", _str_ok, STRS),
              ("at", _time_ok, TIMES), ("seq", _int_ok, st.integers())],
    HumanRequest: [("session_id", _str_ok, STRS), ("buyer_id", _str_ok, STRS),
                   ("at", _time_ok, TIMES), ("seq", _int_ok, st.integers())],
    SessionEnd: [("session_id", _str_ok, STRS), ("at", _time_ok, TIMES),
                 ("seq", _int_ok, st.integers())],
    AgentStatus: [("agent_id", _str_ok, STRS), ("at", _time_ok, TIMES),
                  ("online", _bool_ok, st.booleans()), ("seq", _int_ok, st.integers())],
    Evaluation: [("session_id", _str_ok, STRS), ("buyer_id", _str_ok, STRS),
                 ("agent_id", _opt_str_ok, st.none() | STRS), ("sent_at", _time_ok, TIMES),
                 ("rating", _member_ok(Rating), st.sampled_from(Rating)),
                 ("source", _member_ok(EvalSource), st.sampled_from(EvalSource)),
                 ("by_bot", _bool_ok, st.booleans()),
                 ("card_id", _opt_str_ok, st.none() | STRS),
                 ("rated_at", _opt_time_ok, st.none() | TIMES)],
    Order: [("order_id", _str_ok, STRS), ("buyer_id", _str_ok, STRS), ("at", _time_ok, TIMES),
            ("amount", _amount_ok, st.floats(-MAX_AMOUNT, MAX_AMOUNT) | st.integers(-5, 5))],
    Exclusion: [("buyer_id", _str_ok, STRS), ("reason", _str_ok, STRS)],
}


@st.composite
def fields(draw: st.DrawFn, cls: type) -> dict[str, object]:
    """Valid values, with each field spoiled by a hostile value now and then."""
    return {name: draw(JUNK | ENUMS) if draw(st.integers(0, 5)) == 0 else draw(valid)
            for name, _, valid in SPECS[cls]}


@pytest.mark.parametrize("cls", list(SPECS), ids=lambda c: c.__name__)
@given(data=st.data())
def test_K00_a_record_is_made_iff_every_field_is_valid(cls: type, data: st.DataObject) -> None:
    values = data.draw(fields(cls))
    bad = [name for name, ok, _ in SPECS[cls] if not ok(values[name])]
    if not bad:
        rec = cls(**values)
        assert [getattr(rec, name) for name in values] == list(values.values())
        for name in values:  # the very objects passed are stored
            assert getattr(rec, name) is values[name]
        return
    with pytest.raises(InvalidRecord) as caught:
        cls(**values)
    assert str(caught.value).startswith(f"{cls.__name__}.{bad[0]} must be")


@pytest.mark.parametrize("cls", list(SPECS), ids=lambda c: c.__name__)
@given(data=st.data())
def test_K00_positional_and_keyword_forms_agree(cls: type, data: st.DataObject) -> None:
    values = {name: data.draw(valid) for name, _, valid in SPECS[cls]}
    rec = cls(*values.values())
    assert rec == cls(**values)
    assert attrs.evolve(rec) == rec  # evolve rebuilds through the same constructor


def test_K00_records_stay_frozen() -> None:
    m = Message("s1", "b1", 10.0, Sender.BUYER, "m1")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        m.at = 20.0  # type: ignore[misc]
    assert Message("s1", "b1", 10, Sender.BUYER, "m1", None, 0) == m
    assert hash(Message("s1", "b1", 10, Sender.BUYER, "m1")) == hash(m)


def test_K00_defaults_are_the_documented_ones() -> None:
    assert Message("s", "b", 1.0, Sender.AGENT, "m").agent_id is None
    assert Handover("s", "b", "a", 1.0).group is None
    assert Exclusion("b").reason == "malicious"
    ev = Evaluation("s", "b", None, 1.0, Rating.NORMAL, EvalSource.BUYER)
    assert (ev.by_bot, ev.card_id, ev.rated_at) == (False, None, None)
    assert all(r.seq == 0 for r in (Release("s", "a", 1.0), HumanRequest("s", "b", 1.0),
                                    SessionEnd("s", 1.0), AgentStatus("a", 1.0, True)))


def test_K00_hostile_values_are_quoted_bounded() -> None:
    with pytest.raises(InvalidRecord, match=r"Message\.session_id must be a str, got .{1,200}$"):
        Message(b"x" * 10_000, "b", 1.0, Sender.BUYER, "m")  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord, match=r"Handover\.at must be POSIX seconds"):
        Handover("s", "b", "a", SubFloat(1.0))
    with pytest.raises(InvalidRecord, match=r"Order\.amount must be a finite float"):
        Order("o", "b", 1.0, math.nan)
