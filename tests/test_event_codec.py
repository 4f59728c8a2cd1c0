"""S03: every event is plain JSON data on the wire, reads back exactly, and names its buyer.

``event.to_dict()`` gives ``{"kind", "v", <fields>}`` with only dict, str,
int, float, bool and None in it; ``kefu.events.from_dict`` reads it back
into an equal event (floats bit for bit, also through JSON text) and refuses
everything else with ``InvalidEvent``, a KefuError, whatever it is given.
"""

from __future__ import annotations

import contextlib
import doctest
import json
import math
import typing
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kefu.events as events_module
from kefu import Assigner, Cap, ManualClock, Strategy
from kefu._event_codec import MAX_STEP
from kefu._text import short_repr
from kefu.assigner import ENGINES
from kefu.errors import InvalidArgument, InvalidEvent, KefuError
from kefu.events import (
    EVENT_KINDS,
    EVENT_SCHEMA_VERSION,
    Assigned,
    AssignReason,
    Closed,
    CloseReason,
    Escalated,
    Event,
    Opened,
    Overflowed,
    Pool,
    Queued,
    Reassigned,
    Rejected,
    Requeued,
    RequeueReason,
    ResponseTimedOut,
    Transferred,
    from_dict,
)
from test_batch import EVERY_KIND_LADDERS, EVERY_KIND_LIMITS, every_event_kind
from test_hostile import deep_list

ROOT = Path(__file__).resolve().parent.parent
ALL_ENGINES = [e for e in ("c", "py", "naive") if e in ENGINES]
EVENT_CLASSES: tuple[type[Any], ...] = typing.get_args(Event)
JSON_SCALARS = (str, int, float, bool, type(None))


def plain_json(value: object) -> bool:
    """True if ``value`` is made only of exact dict (str keys), list and JSON scalars."""
    if type(value) is dict:
        return all(type(k) is str and plain_json(v) for k, v in value.items())
    if type(value) is list:
        return all(plain_json(v) for v in value)
    return type(value) in JSON_SCALARS


def same_event(a: object, b: object) -> bool:
    """Equal, of the same class, and every float field identical bit for bit (-0.0 too)."""
    if type(a) is not type(b) or a != b:
        return False
    return all(repr(getattr(a, f.name)) == repr(getattr(b, f.name))
               for f in attrs.fields(type(a)))


# -- generated events ---------------------------------------------------------------------

ids = st.text(min_size=1, max_size=12)
times = st.floats(allow_nan=False, allow_infinity=False)


def field_values(annotation: str) -> st.SearchStrategy[Any]:
    """Values for a field from its annotation; a new kind of field makes this fail loudly."""
    optional = annotation.endswith(" | None")
    base = annotation.removesuffix(" | None")
    simple: dict[str, st.SearchStrategy[Any]] = {
        "str": ids, "float": times, "int": st.integers(-10**9, 10**9),
        # R24: an Escalated event's groups, sorted and distinct.
        "tuple[str, ...]": st.lists(ids, min_size=1, max_size=4, unique=True).map(
            lambda names: tuple(sorted(names))),
    }
    if base in simple:
        strategy = simple[base]
    else:
        enum_cls = getattr(events_module, base)  # AttributeError: teach this test the type
        strategy = st.sampled_from(list(enum_cls))
    return st.one_of(st.none(), strategy) if optional else strategy


def events_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    fields = attrs.fields(cls)
    # An Escalated step counts from 1 (the wire form refuses anything else).
    special = {"step": st.integers(1, MAX_STEP)}
    return st.builds(cls, **{f.name: special.get(f.name, field_values(str(f.type)))
                             for f in fields})


any_event = st.one_of(*(events_of(cls) for cls in EVENT_CLASSES))


# -- the kinds ------------------------------------------------------------------------------


def test_S03_every_event_kind_has_a_wire_name_and_a_buyer_id() -> None:
    """A kind added to ``Event`` later cannot be forgotten: it needs a name, a buyer and a codec."""
    assert len(EVENT_CLASSES) == len(EVENT_KINDS) == len(set(EVENT_KINDS)) == 11
    assert [cls.kind for cls in EVENT_CLASSES] == list(EVENT_KINDS)
    for cls in EVENT_CLASSES:
        names = [f.name for f in attrs.fields(cls)]
        assert "session_id" in names and "buyer_id" in names and "at" in names, cls
        sample = from_dict({"kind": cls.kind, "v": EVENT_SCHEMA_VERSION,
                            **{n: _valid_value(cls, n) for n in names}})
        assert type(sample) is cls
        assert list(sample.to_dict())[2:] == _wire_order(names)


def _valid_value(cls: type[Any], name: str) -> object:
    annotation = str(attrs.fields_dict(cls)[name].type).removesuffix(" | None")
    values = {"str": "x", "float": 1.5, "int": 3, "tuple[str, ...]": ["x"]}
    if annotation in values:
        return values[annotation]
    return next(iter(getattr(events_module, annotation))).value


def _wire_order(names: list[str]) -> list[str]:
    """session_id, buyer_id, the kind's other fields in class order, at."""
    middle = [n for n in names if n not in ("session_id", "buyer_id", "at")]
    return ["session_id", "buyer_id", *middle, "at"]


def test_S03_wire_form_of_each_kind_pinned() -> None:
    """The documented wire form, written out by hand: kind, v, ids, enum values, at."""
    v = EVENT_SCHEMA_VERSION
    assert v == 1
    cases: list[tuple[object, dict[str, object]]] = [
        (Opened("s1", "b1", "pre", -2, 0.5),
         {"kind": "opened", "v": 1, "session_id": "s1", "buyer_id": "b1", "group": "pre",
          "priority": -2, "at": 0.5}),
        (Assigned("s1", "alice", 90.0, AssignReason.DRAIN, "b3"),
         {"kind": "assigned", "v": 1, "session_id": "s1", "buyer_id": "b3",
          "agent_id": "alice", "reason": "drain", "at": 90.0}),
        (Queued("s3", Pool.OFFLINE, 30.0),
         {"kind": "queued", "v": 1, "session_id": "s3", "buyer_id": None, "pool": "offline",
          "at": 30.0}),
        (Transferred("s1", "A", "B", 2.0, "b"),
         {"kind": "transferred", "v": 1, "session_id": "s1", "buyer_id": "b",
          "from_agent": "A", "to_agent": "B", "at": 2.0}),
        (ResponseTimedOut("s1", "A", 31.0, "b"),
         {"kind": "response_timed_out", "v": 1, "session_id": "s1", "buyer_id": "b",
          "agent_id": "A", "at": 31.0}),
        (Reassigned("s1", "A", "B", 31.0, "b"),
         {"kind": "reassigned", "v": 1, "session_id": "s1", "buyer_id": "b",
          "from_agent": "A", "to_agent": "B", "at": 31.0}),
        (Requeued("s1", "A", 4.0, RequeueReason.AGENT_OFFLINE, "b"),
         {"kind": "requeued", "v": 1, "session_id": "s1", "buyer_id": "b", "agent_id": "A",
          "reason": "agent_offline", "at": 4.0}),
        (Closed("s1", None, Pool.QUEUE, 5.0, CloseReason.AUTO, "b"),
         {"kind": "closed", "v": 1, "session_id": "s1", "buyer_id": "b", "agent_id": None,
          "pool": "queue", "reason": "auto", "at": 5.0}),
        (Overflowed("s1", "pre", "post", 6.0, "b"),
         {"kind": "overflowed", "v": 1, "session_id": "s1", "buyer_id": "b",
          "from_group": "pre", "to_group": "post", "at": 6.0}),
        (Rejected("s1", "post", 7.0, None),
         {"kind": "rejected", "v": 1, "session_id": "s1", "buyer_id": None,
          "group": "post", "at": 7.0}),
        (Escalated("s1", "pre", 2, ("general", "vip"), 60.0, "b"),
         {"kind": "escalated", "v": 1, "session_id": "s1", "buyer_id": "b", "group": "pre",
          "step": 2, "groups": ["general", "vip"], "at": 60.0}),
    ]
    assert {type(e) for e, _ in cases} == set(EVENT_CLASSES)
    for event, wire in cases:
        data = event.to_dict()  # type: ignore[attr-defined]
        assert data == wire and list(data) == list(wire), event
        assert same_event(from_dict(wire), event)


def test_S03_old_call_forms_still_build_events() -> None:
    """buyer_id is the last field with a default: positional and keyword forms keep working."""
    old = Assigned("s1", "A", 1.0, AssignReason.NEW)
    assert old.buyer_id is None and old == Assigned(session_id="s1", agent_id="A", at=1.0,
                                                    reason=AssignReason.NEW)
    assert Closed("s1", "A", None, 1.0, CloseReason.MANUAL).buyer_id is None
    assert Opened("s1", "b", None, 0, 1.0).buyer_id == "b"
    assert Queued("s", Pool.QUEUE, 1.0, "b") == Queued("s", Pool.QUEUE, 1.0, buyer_id="b")
    assert Queued("s", Pool.QUEUE, 1.0, "b") != Queued("s", Pool.QUEUE, 1.0)


# -- round trips -----------------------------------------------------------------------------


@settings(max_examples=400)
@given(event=any_event)
def test_S03_generated_events_round_trip_exactly(event: Any) -> None:
    data = event.to_dict()
    assert plain_json(data), data
    assert data["kind"] == event.kind and data["v"] == EVENT_SCHEMA_VERSION
    assert same_event(from_dict(data), event)
    text = json.dumps(data, allow_nan=False)
    assert same_event(from_dict(json.loads(text)), event)


_AGENTS, _SESSIONS = ["A", "B", "C"], [f"s{i}" for i in range(6)]
_pick = st.sampled_from
_buyers = _pick([None, "b1", "b2", "买家"])
one_command = st.one_of(
    st.tuples(st.just("open_session"), _pick(_SESSIONS), _buyers, _pick([None, "pre"])),
    st.tuples(st.just("close_session"), _pick(_SESSIONS)),
    st.tuples(st.just("agent_message"), _pick(_SESSIONS), st.booleans()),
    st.tuples(st.just("buyer_message"), _pick(_SESSIONS)),
    st.tuples(st.just("add_agent"), _pick(_AGENTS), _pick([1, 2, Cap.UNLIMITED]),
              _pick([None, ["pre"]]), st.just(1), st.booleans()),
    st.tuples(st.just("remove_agent"), _pick(_AGENTS)),
    st.tuples(st.just("agent_offline"), _pick(_AGENTS), st.booleans()),
    st.tuples(st.just("agent_online"), _pick(_AGENTS)),
    st.tuples(st.just("transfer"), _pick(_SESSIONS), _pick(_AGENTS)),
    st.tuples(st.just("assign"), _pick(_SESSIONS), _pick(_AGENTS)),
    st.just(("tick",)),
)
steps = _pick([0.0, 1.0, 29.0, 31.0, 61.0, 700.0])


@st.composite
def command_lists(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Random commands over a few agents, sessions and buyers, with time moving on."""
    out: list[tuple[Any, ...]] = [("add_agent", "A", 1, None, 1, True)]
    at = 0.0
    for _ in range(draw(st.integers(1, 40))):
        at += draw(steps)
        out += [("at", at), draw(one_command)]
    return out


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(commands=command_lists(), strategy=st.sampled_from(list(Strategy)))
def test_S03_engine_events_carry_their_buyer_and_round_trip(
    commands: list[tuple[Any, ...]], strategy: Strategy,
) -> None:
    streams = []
    for engine in ALL_ENGINES:
        a = Assigner(ManualClock(0.0), strategy=strategy, first_response_timeout=30.0,
                     sticky_window=300.0, engine=engine)  # type: ignore[arg-type]
        got: list[Any] = []
        for command in commands:
            with contextlib.suppress(KefuError):
                got += a.apply([command])
        buyer: dict[str, str | None] = {}
        for event in got:
            if isinstance(event, Opened):
                buyer[event.session_id] = event.buyer_id
            assert event.buyer_id == buyer[event.session_id], event
            data = json.loads(json.dumps(event.to_dict(), allow_nan=False))
            assert same_event(from_dict(data), event)
        streams.append(got)
    assert all(s == streams[0] for s in streams)


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_S03_every_kind_an_engine_emits_round_trips_through_json_text(engine: str) -> None:
    a = Assigner(ManualClock(0.0), first_response_timeout=30.0, auto_close_after=60.0,
                 queue_limits=EVERY_KIND_LIMITS, ladders=EVERY_KIND_LADDERS,
                 engine=engine)  # type: ignore[arg-type]
    emitted = every_event_kind(a)
    assert {type(e) for e in emitted} == set(EVENT_CLASSES)
    buyer = {e.session_id: e.buyer_id for e in emitted if isinstance(e, Opened)}
    assert {None, "b1", "b2"} <= set(buyer.values())
    for event in emitted:
        assert event.buyer_id == buyer[event.session_id], event
        text = json.dumps(event.to_dict(), allow_nan=False)
        assert same_event(from_dict(json.loads(text)), event)


# -- refusals --------------------------------------------------------------------------------


class OddStr(str):
    """A str look-alike whose comparisons and hash raise: from_dict must never call them."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("__eq__ called")

    def __ne__(self, other: object) -> bool:
        raise AssertionError("__ne__ called")

    def __hash__(self) -> int:
        raise AssertionError("__hash__ called")


class HashableOddStr(str):
    """Hashes like its text (so it can be a dict key) but raises on comparison."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        raise AssertionError("__eq__ called")


class OddFloat(float):
    """A float look-alike whose comparisons and hash raise."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("__eq__ called")

    def __hash__(self) -> int:
        raise AssertionError("__hash__ called")


def valid(cls: type[Any]) -> dict[str, Any]:
    return {"kind": cls.kind, "v": EVENT_SCHEMA_VERSION,
            **{f.name: _valid_value(cls, f.name) for f in attrs.fields(cls)}}


#: Wrong values by field type; None is added for required fields.
BAD_BY_TYPE: dict[str, list[object]] = {
    "str": ["", 1, 1.5, True, b"x", ["x"], {"x": 1}, OddStr("x")],
    "float": [1, 0, True, False, "1.5", math.nan, math.inf, -math.inf, OddFloat(1.5), [1.5],
              10**400],
    "int": [True, False, 1.0, "1", 10**9 + 1, -(10**9) - 1, 10**400, OddStr("1")],
    "enum": ["X", "", 1, True, ["queue"], OddStr("queue")],
    # R24: groups are a sorted list of distinct non-empty names (or null: every agent).
    "tuple[str, ...]": [[], ["b", "a"], ["a", "a"], [""], ["x", 1], "x", ("x",),
                        [OddStr("x")], {"x": 1}],
}


def bad_field_cases() -> list[tuple[str, str, object]]:
    cases = []
    for cls in EVENT_CLASSES:
        for f in attrs.fields(cls):
            annotation = str(f.type)
            base = annotation.removesuffix(" | None")
            kind = base if base in BAD_BY_TYPE else "enum"
            bad = list(BAD_BY_TYPE[kind])
            if kind == "enum":
                enum_cls = getattr(events_module, base)
                member = next(iter(enum_cls))
                # The member itself, its name, and the value in other case are not its value.
                bad += [member, member.name, str(member.value).upper()]
            if not annotation.endswith(" | None"):
                bad.append(None)
            cases += [(cls.kind, f.name, value) for value in bad]
    return cases


_CLASS_OF = {cls.kind: cls for cls in EVENT_CLASSES}


@pytest.mark.parametrize(("kind", "name", "value"), bad_field_cases(),
                         ids=lambda v: short_repr(v, 20))
def test_S03_from_dict_refuses_a_field_of_the_wrong_type_or_value(
    kind: str, name: str, value: object,
) -> None:
    data = valid(_CLASS_OF[kind])
    data[name] = value
    with pytest.raises(InvalidEvent) as info:
        from_dict(data)
    assert f"{kind} event field {name!r}" in str(info.value)
    assert short_repr(value) in str(info.value)


#: Fields added to a kind later, left out of the wire form while None (R26's session kind).
OPTIONAL_FIELDS = frozenset({"session_kind"})


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_S03_from_dict_refuses_missing_and_extra_fields(kind: str) -> None:
    cls = _CLASS_OF[kind]
    for f in attrs.fields(cls):
        data = valid(cls)
        del data[f.name]
        if f.name in OPTIONAL_FIELDS:  # may be absent: then it is None
            assert getattr(from_dict(data), f.name) is None
            continue
        with pytest.raises(InvalidEvent, match=f"lacks.*{f.name}"):
            from_dict(data)
    for extra in ("extra", "Kind", "kind ", "buyer", "V"):
        data = valid(cls)
        data[extra] = 1
        with pytest.raises(InvalidEvent, match="unexpected fields") as info:
            from_dict(data)
        assert repr(extra) in str(info.value)
    # A field of another kind is extra here, even with a valid value.
    own = {f.name for f in attrs.fields(cls)}
    for other in EVENT_CLASSES:
        for name in sorted({f.name for f in attrs.fields(other)} - own):
            data = valid(cls)
            data[name] = _valid_value(other, name)
            with pytest.raises(InvalidEvent, match="unexpected"):
                from_dict(data)


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda d: d.pop("kind"), "no 'kind'"),
    (lambda d: d.update(kind="Assigned"), "unknown event kind 'Assigned'"),
    (lambda d: d.update(kind="ASSIGNED"), "unknown event kind"),
    (lambda d: d.update(kind=""), "unknown event kind ''"),
    (lambda d: d.update(kind=None), "unknown event kind None"),
    (lambda d: d.update(kind=1), "unknown event kind 1"),
    (lambda d: d.update(kind=["assigned"]), "unknown event kind"),
    (lambda d: d.update(kind=OddStr("assigned")), "unknown event kind"),
    (lambda d: d.update(kind=HashableOddStr("assigned")), "unknown event kind"),
    (lambda d: d.pop("v"), "no 'v'"),
    (lambda d: d.update(v=2), "'v' 2"),
    (lambda d: d.update(v=0), "'v' 0"),
    (lambda d: d.update(v=True), "'v' True"),
    (lambda d: d.update(v=1.0), "'v' 1.0"),
    (lambda d: d.update(v="1"), "'v' '1'"),
    (lambda d: d.update(v=None), "'v' None"),
])
def test_S03_from_dict_refuses_unknown_kinds_and_versions(
    change: Callable[[dict[str, Any]], object], fragment: str,
) -> None:
    data = valid(Assigned)
    change(data)
    with pytest.raises(InvalidEvent) as info:
        from_dict(data)
    assert fragment in str(info.value)
    assert isinstance(info.value, InvalidArgument) and isinstance(info.value, KefuError)


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("__repr__ failed")


class DictSub(dict):  # type: ignore[type-arg]
    def __getitem__(self, key: object) -> Any:
        raise AssertionError("__getitem__ called")


@pytest.mark.parametrize("data", [
    None, 1, "assigned", b"{}", [], [("kind", "assigned")], deep_list(100_000),
    OrderedDict(valid(Assigned)), DictSub(valid(Assigned)),
    {1: "x", **valid(Assigned)}, {("kind",): "assigned"}, {None: 1},
    {HashableOddStr("kind"): "assigned", "v": 1},
    {**valid(Assigned), HashableOddStr("extra"): 1},
    {**valid(Assigned), "at": deep_list(100_000)},
    {**valid(Assigned), "reason": BadRepr()}, {"no kind": BadRepr()},
    {**valid(Assigned), "session_id": "x" * 1_000_000},
    {**valid(Assigned), **{f"k{i}": i for i in range(100_000)}},
], ids=lambda v: short_repr(v, 24))
def test_S03_from_dict_refuses_hostile_input_with_a_short_message(data: object) -> None:
    try:
        from_dict(data)
    except InvalidEvent as exc:
        assert len(str(exc)) < 1000
    else:  # the one valid case here: a huge but well-formed id
        assert type(data) is dict and len(data["session_id"]) == 1_000_000  # type: ignore[index]


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
              st.builds(OddStr, st.text(max_size=4)), st.builds(HashableOddStr, st.just("at")),
              st.builds(OddFloat, st.floats())),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300)
@given(event=any_event, key=st.text(max_size=12), value=json_values, drop=st.booleans())
def test_S03_from_dict_of_mangled_data_returns_an_event_or_raises_invalid_event(
    event: Any, key: str, value: object, drop: bool,
) -> None:
    """Whatever is changed, from_dict gives a well-formed event or an InvalidEvent."""
    data = event.to_dict()
    if drop:
        data.pop(key, None)
    else:
        data[key] = value
    try:
        back = from_dict(data)
    except InvalidEvent:
        return
    assert type(back).kind == data["kind"]
    assert back.to_dict() == data


# -- the docs -------------------------------------------------------------------------------


def test_S03_semantics_page_examples_run() -> None:
    """docs/semantics.md's examples (the wire format, agent messages) run as written."""
    result = doctest.testfile(str(ROOT / "docs" / "semantics.md"), module_relative=False)
    assert result.attempted >= 5
    assert result.failed == 0
