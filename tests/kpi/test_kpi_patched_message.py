"""A patched Message class is read as patched, on either kernel (K12).

The compiled kernel reads an exact Message's fields straight from its slots.
That is only what the reference reads (``m.at``, through attribute lookup)
while the class looks its attributes up the ordinary way and each field's
descriptor is still the class's own slot. A class given its own
``__getattribute__`` or ``__getattr__``, or a field replaced by a property,
hands out other values: the reference then refuses them (InvalidRecord, the
same message) or computes on them, and so must the compiled kernel and the
compiled live feed, also when the class is patched after a first call has
seen it plain.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from kpi_helpers import DAY, agent, at, buyer, hand

from kefu.kpi import InvalidRecord, LiveTracker, Message, Sender, daily_report, kernel, live_feed

_AT = Message.__dict__["at"]
_SENDER = Message.__dict__["sender"]
DELAY = 120.0  # what the patched ``at`` adds to an agent's reply


def _shifted(self: Message) -> float:
    """An agent's reply DELAY seconds later than its slot says."""
    t: float = _AT.__get__(self)
    return t + DELAY if _SENDER.__get__(self) is Sender.AGENT else t


def _nan_at(self: object, name: str) -> object:
    return math.nan if name == "at" else object.__getattribute__(self, name)


def _raising(self: object, name: str) -> object:
    if name == "buyer_id":
        raise RuntimeError("no buyer today")
    return object.__getattribute__(self, name)


def _shifting(self: object, name: str) -> object:
    return _shifted(self) if name == "at" else object.__getattribute__(self, name)  # type: ignore[arg-type]


def _day() -> list[Message]:
    msgs = []
    for k in range(6):
        sid = f"s{k}"
        msgs.append(buyer(at(10, 5 * k), session=sid, who=f"b{k}"))
        msgs.append(agent(at(10, 5 * k) + 30 + 20 * k, session=sid, who=f"b{k}"))
    return msgs


def _moved(msgs: list[Message]) -> list[Message]:
    """Plain messages holding what the patched class hands out."""
    return [attrs.evolve(m, at=_shifted(m)) for m in msgs]


HANDS = [hand(at(10, 5 * k, 10), session=f"s{k}", who=f"b{k}") for k in range(6)]


def _report(msgs: list[Message], name: str) -> object:
    """daily_report on kernel ``name``: its figures, or its error's type and text."""
    saved = kernel.ACTIVE
    kernel.ACTIVE = name
    try:
        return daily_report(msgs, HANDS, day=DAY, threshold=60.0)
    except InvalidRecord as exc:
        return type(exc), str(exc)
    finally:
        kernel.ACTIVE = saved


@contextlib.contextmanager
def _patched(name: str, value: object) -> Iterator[None]:
    had = name in Message.__dict__
    saved = Message.__dict__.get(name)
    setattr(Message, name, value)
    try:
        yield
    finally:
        if had:
            setattr(Message, name, saved)
        else:
            delattr(Message, name)


@pytest.fixture(autouse=True)
def _compiled_kernel() -> None:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")


PATCHES: list[tuple[str, object, Callable[[list[Message]], object]]] = [
    ("__getattribute__", _nan_at, lambda msgs: InvalidRecord),
    ("__getattribute__", _raising, lambda msgs: InvalidRecord),
    ("__getattribute__", _shifting, lambda msgs: _report(_moved(msgs), "py")),
    ("__getattr__", lambda self, name: 0.0, lambda msgs: _report(msgs, "py")),
    ("at", property(_shifted), lambda msgs: _report(_moved(msgs), "py")),
]
PATCH_IDS = ["nan-getattribute", "raising-getattribute", "shifting-getattribute", "getattr",
             "at-property"]


@pytest.mark.parametrize(("name", "value", "expected"), PATCHES,
                         ids=PATCH_IDS)
def test_K12_both_kernels_read_a_patched_message_class_as_patched(
        name: str, value: object, expected: Callable[[list[Message]], object]) -> None:
    msgs = _day()
    plain = _report(msgs, "c")  # a first call sees the class plain
    assert plain == _report(msgs, "py")
    want = expected(msgs)  # plain records holding what the patched class hands out
    with _patched(name, value):
        compiled, reference = _report(msgs, "c"), _report(msgs, "py")
    assert compiled == reference
    if want is InvalidRecord:
        assert isinstance(compiled, tuple) and compiled[0] is InvalidRecord
    else:
        assert compiled == want
    assert _report(msgs, "c") == plain  # the class restored, its records read as before


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, v, _ in PATCHES],
                         ids=PATCH_IDS)
def test_K12_the_compiled_scan_leaves_a_patched_message_class_to_the_reference(
        name: str, value: object) -> None:
    msgs = _day()
    scan = kernel.compiled("scan")
    assert scan(msgs, math.inf) is not None
    with _patched(name, value):
        assert scan(msgs, math.inf) is None
    assert scan(msgs, math.inf) is not None


def test_K12_a_subclass_with_its_own_at_property_is_read_through_it_on_either_kernel() -> None:
    class Late(Message):
        __slots__ = ()

        @property
        def at(self) -> float:  # type: ignore[override]
            return _shifted(self)

    msgs = _day()
    late = [Late(m.session_id, m.buyer_id, m.at, m.sender, m.message_id, m.agent_id, m.seq)
            for m in msgs]
    assert late[1].at == msgs[1].at + DELAY
    compiled, reference = _report(late, "c"), _report(late, "py")
    assert compiled == reference == _report(_moved(msgs), "py")
    assert compiled != _report(msgs, "py")


def _live(feed: str, msgs: list[Message]) -> object:
    saved = kernel.ACTIVE
    kernel.ACTIVE = feed
    try:
        tracker = LiveTracker(tz="Asia/Shanghai", threshold=60.0)
    finally:
        kernel.ACTIVE = saved
    errors: list[Any] = []
    for m in msgs:
        try:
            tracker.add(m)
        except InvalidRecord as exc:
            errors.append((type(exc), str(exc)))
    for h in HANDS:
        tracker.add(h)
    return errors, tracker.shop(at(23)), tracker.agents(at(23))


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, v, _ in PATCHES],
                         ids=PATCH_IDS)
def test_K12_both_live_feeds_take_a_patched_message_class_as_patched(
        name: str, value: object) -> None:
    if live_feed._COMPILED is None:
        pytest.skip("the compiled live tracker feed is not built")
    msgs = _day()
    plain = _live("c", msgs)
    assert plain == _live("py", msgs)
    with _patched(name, value):
        compiled, reference = _live("c", msgs), _live("py", msgs)
    assert compiled == reference
    if name != "__getattr__":
        assert compiled != plain


def test_K12_a_patched_message_class_stays_patched_after_the_type_cache_is_cleared() -> None:
    """Python 3.10's ``sys._clear_type_cache()`` invalidates every class's version tag
    and numbers them again from the start, so Message may be given again the very tag
    a first call found it plain at: the same steps after each clear give it the same
    one. The patched class must still be left to the reference."""
    msgs = _day()
    scan = kernel.compiled("scan")
    sys._clear_type_cache()
    assert scan(msgs, math.inf) is not None  # plain: the verdict kept with its tag
    with _patched("at", property(_shifted)):
        sys._clear_type_cache()
        assert scan(msgs, math.inf) is None  # the lookups give Message its old tag
        assert scan(msgs, math.inf) is None
    assert scan(msgs, math.inf) is not None
