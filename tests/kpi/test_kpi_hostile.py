"""Hostile input never crashes a KPI function nor makes the two kernels differ (R23, K00).

A record that reaches a KPI function may have been changed past its
constructor (``object.__setattr__``), be a subclass or a look-alike, or hold
str-subclass ids whose ``__hash__``/``__eq__`` run code. Whatever it holds,
each entry point either returns the same result on both kernels or raises
the same ``KefuError`` (type and message) on both; times outside
[MIN_TIME, MAX_TIME) are refused at once. The cases that crashed the process
run in a subprocess, in test_kpi_kernel.py, with the fuzz test.
"""

from __future__ import annotations

import math

import attrs
import pytest
from kpi_fuzz import EvilStr, LookAlike, SubMessage
from kpi_helpers import DAY, at

from kefu import kpi
from kefu.errors import KefuError
from kefu.kpi import (
    AgentStatus,
    EvalSource,
    Evaluation,
    Exclusion,
    Handover,
    HumanRequest,
    InvalidDay,
    InvalidRecord,
    InvalidTime,
    Message,
    Order,
    Rating,
    Release,
    Sender,
    SessionEnd,
)
from kefu.kpi.records import MAX_TIME

T0 = at(10)


def _plain(msgs: list[Message]) -> list[Message]:
    return [Message(str.__str__(m.session_id), str.__str__(m.buyer_id), m.at, m.sender,
                    str.__str__(m.message_id), m.agent_id and str.__str__(m.agent_id), m.seq)
            for m in msgs]


def _spoiled(name: str, value: object) -> list[Message]:
    msgs = [Message("s1", "b1", T0, Sender.BUYER, "m1"),
            Message("s1", "b1", T0 + 30, Sender.AGENT, "m2", agent_id="alice")]
    object.__setattr__(msgs[0], name, value)
    return msgs


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, MAX_TIME, 2**60,
                                   10**400, 3.2e12, True, None, "1"])
def test_K00_bad_message_times_are_refused_by_both_kernels(value: object) -> None:
    """NaN gave the compiled kernel another answer than the reference's; a time in
    year 10^5 took 48 s and ended in OverflowError. Both are refused at once."""
    with pytest.raises(InvalidRecord, match=r"Message\.at must be POSIX seconds"):
        Message("s1", "b1", value, Sender.BUYER, "m1")  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord, match=r"Message\.at must be POSIX seconds") as caught:
        kpi.shop_reply_rate(_spoiled("at", value))
    assert "in [0, 2**32)" in str(caught.value)


@pytest.mark.parametrize("kind", ["handover", "evaluation", "order"])
def test_K00_far_future_times_of_other_records_are_refused(kind: str) -> None:
    recs: dict[str, list[object]] = {"handover": [Handover("s1", "b1", "alice", T0)],
                                     "evaluation": [Evaluation("s1", "b1", "alice", T0,
                                                               Rating.NORMAL, EvalSource.BUYER)],
                                     "order": [Order("o1", "b1", T0, 5.0)]}
    rec = recs[kind][0]
    object.__setattr__(rec, "sent_at" if kind == "evaluation" else "at", 3.2e12)
    with pytest.raises(InvalidRecord, match="must be POSIX seconds"):
        kpi.daily_report([], recs["handover"], recs["evaluation"], recs["order"])


@pytest.mark.parametrize("as_of", [math.nan, math.inf, -1.0, 2.0**40, 10**400, True, "now"])
def test_K00_bad_as_of_is_refused(as_of: object) -> None:
    with pytest.raises(InvalidTime, match="as_of must be"):
        kpi.shop_reply_rate(_spoiled("seq", 0), as_of=as_of)  # type: ignore[arg-type]


def test_K00_days_outside_the_supported_range_are_refused() -> None:
    import datetime as dt

    for day in (dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1969, 12, 30)):
        with pytest.raises(InvalidDay, match="day must be from 1969-12-31 to 2106-02-07"):
            kpi.shop_reply_rate([], day=day)
        with pytest.raises(InvalidDay):  # date.max was an OverflowError here
            kpi.day_bounds(day)


def test_K00_the_edges_of_the_supported_range_are_accepted() -> None:
    """0 and just under 2**32 are instants; a calendar over all of them is cheap."""
    first = [Message("s1", "b1", 0, Sender.BUYER, "m1"),
             Message("s1", "b1", -0.0, Sender.BUYER, "m0"),
             Message("s1", "b1", 100.0, Sender.AGENT, "m2", agent_id="alice")]
    last = [Message("s2", "b2", int(MAX_TIME) - 100, Sender.BUYER, "m3"),
            Message("s2", "b2", MAX_TIME - 2**-20, Sender.AGENT, "m4", agent_id="alice")]
    r = kpi.shop_reply_rate(first + last, window=kpi.Window.whole_day())
    assert (r.met, r.missed, r.pending) == (2, 0, 0)


@pytest.mark.parametrize("name, value", [
    ("sender", "buyer"), ("sender", None), ("sender", object.__new__(Sender)),
    ("seq", True), ("seq", 1.5), ("session_id", None), ("message_id", 5),
    ("agent_id", b"alice"), ("buyer_id", ["b"]),
], ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_R23_fields_set_past_the_constructor_are_refused_by_both_kernels(
        name: str, value: object) -> None:
    """A non-member sender was a TypeError on the compiled kernel and silently
    ignored by the reference; now every such field is an InvalidRecord on both."""
    with pytest.raises(InvalidRecord, match=rf"Message\.{name} must be"):
        kpi.shop_reply_rate(_spoiled(name, value))


def test_R23_a_deleted_field_is_refused() -> None:
    msgs = _spoiled("seq", 0)
    object.__delattr__(msgs[1], "agent_id")
    with pytest.raises(InvalidRecord, match=r"Message\.agent_id cannot be read"):
        kpi.daily_report(msgs)


def test_R23_look_alikes_are_refused_and_subclasses_read_once() -> None:
    msgs = _spoiled("seq", 0)
    with pytest.raises(InvalidRecord, match=r"expected a kefu\.kpi\.Message record"):
        kpi.shop_reply_rate([msgs[0], LookAlike(msgs[1])])
    sub = SubMessage("s1", "b1", T0 + 30, Sender.AGENT, "m2", agent_id="alice")
    r = kpi.shop_reply_rate([msgs[0], sub], detail=True)
    assert r.met == 1 and r.units is not None and r.units[0].start == T0


def test_R23_str_subclass_ids_count_as_their_characters() -> None:
    """The result is that of the same records with plain str ids, on both kernels,
    and no id's own ``__hash__``/``__eq__`` runs (these would raise)."""
    def evil(text: str) -> str:
        s = EvilStr(text)
        s.how = 4  # raise if called
        return s

    msgs = [Message(evil("s1"), evil("b1"), T0, Sender.BUYER, evil("m1")),
            Message(evil("s1"), "b1", T0 + 30, Sender.AGENT, "m2", agent_id=evil("alice")),
            Message("s1", evil("b1"), T0 + 400, Sender.BUYER, evil("m3"))]
    hand = [Handover(evil("s1"), evil("b1"), evil("alice"), T0 + 1, group=evil("g"))]
    got = kpi.daily_report(msgs, hand, excluded_buyers=[evil("b9")], day=DAY)
    assert got == kpi.daily_report(_plain(msgs), [Handover("s1", "b1", "alice", T0 + 1, "g")],
                                   excluded_buyers=["b9"], day=DAY)
    assert type(next(iter(got.agents))) is str


def test_K10_order_amounts_beyond_2_53_are_refused() -> None:
    """A huge int amount was an OverflowError, not a KefuError."""
    for amount in (10**400, 2.0**54, math.nan, True):
        with pytest.raises(InvalidRecord, match=r"Order\.amount must be a finite"):
            Order("o1", "b1", T0, amount)  # type: ignore[arg-type]


def test_R23_every_refusal_is_a_kefu_error_with_a_short_message() -> None:
    huge = "x" * 100_000
    with pytest.raises(KefuError) as caught:
        kpi.shop_reply_rate(_spoiled("at", huge))
    assert len(str(caught.value)) < 600


def test_K11_from_events_checks_the_messages_it_is_given() -> None:
    with pytest.raises(InvalidRecord, match=r"Message\.at must be POSIX seconds"):
        kpi.from_events([], _spoiled("at", math.nan))
    s = EvilStr("s1")
    s.how = 4  # raise if its hash or equality is ever called
    recs = kpi.from_events([], [Message(s, "b1", T0, Sender.BUYER, "m1")])
    assert type(recs.messages[0].session_id) is str


_SPOILS = [math.nan, math.inf, -math.inf, -1.0, MAX_TIME, 2**60, 10**400, 3.2e12, True, None,
           "1", 1.5, EvilStr("x"), -(2.0**54), 2**53 + 1, -(2**53) - 1, Sender.BOT, object()]


@pytest.mark.parametrize("value", _SPOILS, ids=repr)
@pytest.mark.parametrize("record", [
    Message("s1", "b1", T0, Sender.BUYER, "m1", agent_id="a", seq=1),
    Handover("s1", "b1", "alice", T0, group="g"),
    Evaluation("s1", "b1", "alice", T0, Rating.SATISFIED, EvalSource.BUYER, card_id="c",
               rated_at=T0 + 1),
    Order("o1", "b1", T0, 10.5),
    Release("s1", "alice", T0, seq=2),
    HumanRequest("s1", "b1", T0),
    SessionEnd("s1", T0, group="g"),
    Exclusion("b1", "staff"),
    AgentStatus("alice", T0, True),
], ids=lambda r: type(r).__name__)
def test_K12_one_record_at_a_time_is_checked_as_a_list_of_records_is(
        record: object, value: object) -> None:
    """The live tracker checks records one by one (``checked_one``): every spoiled field
    gives the very error (type and message) the list path gives, and a clean record
    passes as it is."""
    from kefu.kpi.intake import checked, checked_one

    cls = type(record)
    assert checked_one(record, cls) is record
    for name in (f.name for f in attrs.fields(cls)):
        spoiled = attrs.evolve(record)  # type: ignore[misc]
        object.__setattr__(spoiled, name, value)
        try:
            want: object = checked([spoiled], cls)[0]
        except KefuError as exc:
            with pytest.raises(type(exc)) as caught:
                checked_one(spoiled, cls)
            assert str(caught.value) == str(exc)
        else:
            assert checked_one(spoiled, cls) == want
    with pytest.raises(InvalidRecord, match=r"expected a kefu\.kpi\.Message record"):
        checked_one(LookAlike(Message("s1", "b1", T0, Sender.BUYER, "m1")), Message)
