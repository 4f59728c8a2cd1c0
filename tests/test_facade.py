"""The compiled facade against the Python one (S01, S02, R20, R22, R23).

With the compiled engine built, an Assigner's hot calls (open_session,
close_session, buyer_message, agent_message, tick) and its clock read run in
C (``kefu._facade``); the Python methods of ``kefu.assigner`` stay the
reference. ``PyFacade`` is an Assigner that runs those Python methods, so
both facades run side by side, on every engine, and must agree exactly:
same results, same errors with the same messages, same state, same time.
Without the compiled module both are the Python facade, and the tests that
do not compare the two still run.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kefu import Assigner, ManualClock, SystemClock
from kefu._facade import COMPILED, HOT_CALLS, REFERENCE, python_facade
from kefu._text import short_repr
from kefu.errors import ConcurrentCall, InvalidArgument, KefuError
from test_hostile import (
    ALL_ENGINES,
    Boom,
    Call,
    RaisingFloat,
    calls,
    made,
    message,
    outcome,
    shop,
    state,
)

PyFacade = python_facade(Assigner)
FACADES = [Assigner, PyFacade]
needs_compiled = pytest.mark.skipif(not COMPILED, reason="the compiled facade is not built")
HOT = [name for name in HOT_CALLS if not name.startswith("_")]


def test_the_hot_calls_are_compiled_exactly_when_the_engine_module_is() -> None:
    for name in HOT_CALLS:
        method = Assigner.__dict__[name]
        assert (method is not REFERENCE[name]) == COMPILED, name
        assert method.__name__ == REFERENCE[name].__name__
        assert method.__doc__ == REFERENCE[name].__doc__
        assert inspect.signature(method) == inspect.signature(REFERENCE[name])


# -- the clock read (S01, R20) ------------------------------------------------------------


class FloatSub(float):
    pass


class IntSub(int):
    pass


class Script:
    """A clock that returns (or raises) the readings it is given, in order."""

    def __init__(self, readings: list[Any]) -> None:
        self.readings = readings

    def now(self) -> Any:
        reading = self.readings.pop(0)
        if isinstance(reading, BaseException):
            raise reading
        return reading


#: Clock readings: every kind the clock read must take or refuse exactly alike.
READINGS: st.SearchStrategy[Callable[[], Any]] = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: lambda: x),
    st.floats(-1e6, 1e6).map(lambda x: lambda: x),
    st.integers(-(2**1100), 2**1100).map(lambda n: lambda: n),
    st.integers(-100, 10**6).map(lambda n: lambda: n),
    st.booleans().map(lambda b: lambda: b),
    st.decimals(allow_nan=False).map(lambda d: lambda: d),
    st.floats(-1e6, 1e6).map(lambda x: lambda: FloatSub(x)),
    st.integers(-100, 10**6).map(lambda n: lambda: IntSub(n)),
    st.sampled_from([
        lambda: None, lambda: "1.0", lambda: Fraction(1, 3), lambda: Decimal("2"),
        lambda: RaisingFloat(1.0), lambda: object(), lambda: 1j, lambda: [1.0],
        lambda: Boom("clock"), lambda: ValueError("x" * 10_000), lambda: ConcurrentCall("tick"),
    ]),
)


def read(a: Assigner) -> tuple[str, Any, Any]:
    """The clock read's result (its type and repr) or its error (type and message)."""
    try:
        value = a._now()
    except KefuError as exc:
        return ("error", type(exc), message(exc))
    return ("ok", type(value), repr(value))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings=st.lists(READINGS, min_size=1, max_size=8))
def test_S01_R20_the_clock_read_is_the_same_on_both_facades(
    readings: list[Callable[[], Any]],
) -> None:
    seen = []
    for facade in FACADES:
        a = facade(Script([make() for make in readings]), engine="py")
        seen.append([(read(a), repr(a.time)) for _ in readings])
    assert seen[0] == seen[1]


@pytest.mark.parametrize("facade", FACADES)
def test_S01_R20_the_clock_read_takes_seconds_holds_time_and_refuses_the_rest(
    facade: type[Assigner],
) -> None:
    a = facade(Script([5.0, 7, 3.0, 2**2000, math.nan, True, Decimal(9), Boom("x"), 8.5]),
               engine="py")
    assert [read(a)[2] for _ in range(9)] == [
        "5.0", "7.0", "7.0",
        "clock.now() must be finite, got " + short_repr(2**2000),
        "clock.now() must be finite, got nan",
        "clock.now() must return seconds, got True",
        "clock.now() must return seconds, got Decimal('9')",
        "clock.now() raised Boom('x')",
        "8.5",
    ]
    assert a.time == 8.5


@pytest.mark.parametrize("facade", FACADES)
@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_S01_a_manual_clock_subclass_that_overrides_now_is_called(
    facade: type[Assigner], engine: str,
) -> None:
    class Late(ManualClock):
        __slots__ = ()

        def now(self) -> float:
            return super().now() + 5.0

    a = facade(Late(10.0), engine=engine)  # type: ignore[arg-type]
    events = a.open_session("s1")
    assert events[0].at == 15.0 and a.time == 15.0


@pytest.mark.parametrize("facade", FACADES)
def test_S01_a_manual_clock_is_read_as_its_now_says(facade: type[Assigner]) -> None:
    clock = ManualClock(3.0)
    a = facade(clock, engine="py")
    clock.advance(2.5)
    assert a.tick() == [] and a.time == clock.now() == 5.5
    blank = ManualClock.__new__(ManualClock)  # never initialised: its now() raises
    b = facade(blank, engine="py")
    with pytest.raises(InvalidArgument, match=r"^clock.now\(\) raised AttributeError"):
        b.tick()
    assert b.time == -math.inf


@pytest.mark.parametrize("facade", FACADES)
def test_S01_the_system_clock_reads_time_time_as_patched(
    facade: type[Assigner], monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = facade(SystemClock(), engine="py")
    monkeypatch.setattr(time, "time", lambda: 1234.5)
    assert a.tick() == [] and a.time == 1234.5
    monkeypatch.setattr(time, "time", lambda: 1000.0)  # stepped back: held (S01)
    assert a.tick() == [] and a.time == 1234.5

    def broken() -> float:
        raise Boom("ntp")

    monkeypatch.setattr(time, "time", broken)
    with pytest.raises(InvalidArgument, match=r"^clock.now\(\) raised Boom\('ntp'\)$"):
        a.tick()


# -- the hot calls -------------------------------------------------------------------------


@needs_compiled
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(calls(HOT), min_size=1, max_size=6))
def test_R22_R23_hot_calls_agree_on_both_facades_with_hostile_arguments(
    steps: list[Call],
) -> None:
    for engine in ALL_ENGINES:
        shops = []
        for facade in FACADES:
            clock = ManualClock(100.0)
            a = shop(engine, clock)
            a.__class__ = facade
            results = []
            for step in steps:
                name, args, kwargs = made(step)
                before = state(a)
                result = outcome(a, lambda: getattr(a, name)(*args, **kwargs))  # noqa: B023
                if result[0] == "error":
                    assert state(a) == before, f"{facade.__name__}: {name} changed the state"
                clock.advance(7.0)
                results.append((result, a.time))
            a.check()
            shops.append((results, state(a)))
        assert shops[0] == shops[1], (engine, steps)


class CallingBack:
    """A clock whose now() calls a hot call of its Assigner (and swallows the refusal)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.target: Assigner | None = None
        self.refusals: list[str] = []

    def now(self) -> float:
        if self.target is not None:
            args = () if self.name == "tick" else ("s1",)
            try:
                getattr(self.target, self.name)(*args)
            except ConcurrentCall as exc:
                self.refusals.append(str(exc))
        return 50.0


OUTER_ARGS = {"open_session": ("s2", "b2"), "close_session": ("s1",), "buyer_message": ("s1",),
              "agent_message": ("s1",), "tick": ()}


@pytest.mark.parametrize("facade", FACADES)
@pytest.mark.parametrize("engine", ALL_ENGINES)
@pytest.mark.parametrize("inner", HOT)
@pytest.mark.parametrize("outer", HOT)
def test_S02_a_clock_calling_back_is_refused_and_changes_nothing(
    facade: type[Assigner], engine: str, inner: str, outer: str,
) -> None:
    runs = []
    for calls_back in (True, False):
        clock = CallingBack(inner)
        a = facade(clock, engine=engine)  # type: ignore[arg-type]
        a.add_agent("A", online=True)
        a.open_session("s1")
        a.agent_message("s1")
        clock.target = a if calls_back else None
        result = getattr(a, outer)(*OUTER_ARGS[outer])
        clock.target = None
        a.check()
        runs.append((result, state(a), a.time))
        assert clock.refusals == ([str(ConcurrentCall(inner))] if calls_back else [])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("facade", FACADES)
def test_S02_a_clock_letting_the_refusal_escape_fails_the_outer_call_cleanly(
    facade: type[Assigner],
) -> None:
    class Escaping(CallingBack):
        def now(self) -> float:
            if self.target is not None:
                self.target.close_session("s1")
            return 50.0

    clock = Escaping("close_session")
    a = facade(clock, engine="py")  # type: ignore[arg-type]
    a.open_session("s1")
    before, at = state(a), a.time
    clock.target = a
    with pytest.raises(InvalidArgument, match=r"^clock.now\(\) raised ConcurrentCall"):
        a.open_session("s2")
    clock.target = None
    assert state(a) == before and a.time == at and a.session_ids() == ["s1"]


@pytest.mark.parametrize("facade", FACADES)
def test_S01_a_system_clock_whose_now_is_replaced_is_called_as_replaced(
    facade: type[Assigner], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The compiled read must not bypass SystemClock.now: a patched method (mock.patch,
    # monkeypatch) or an instance's own ``now`` is what the Python reference calls.
    monkeypatch.setattr(SystemClock, "now", lambda self: 100.0)
    a = facade(SystemClock(), engine="py")
    assert a.open_session("s1")[0].at == 100.0 and a.time == 100.0
    monkeypatch.undo()
    clock = SystemClock()
    clock.now = lambda: 7.0  # type: ignore[method-assign]
    b = facade(clock, engine="py")
    assert b.open_session("s1")[0].at == 7.0 and b.time == 7.0


@pytest.mark.parametrize("facade", FACADES)
@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_S01_R20_a_first_reading_of_minus_infinity_is_refused_as_not_finite(
    facade: type[Assigner], engine: str,
) -> None:
    # Before any reading the held time is -inf: "at or after the last reading" must not
    # let -inf through (events at -inf do not convert to JSON, S03).
    a = facade(Script([-math.inf, -math.inf, 4.0]), engine=engine)
    with pytest.raises(InvalidArgument, match=r"^clock.now\(\) must be finite, got -inf$"):
        a.open_session("s1")
    assert a.time == -math.inf and a.session_ids() == []
    with pytest.raises(InvalidArgument, match=r"^clock.now\(\) must be finite, got -inf$"):
        a.tick()
    assert a.open_session("s1")[0].at == 4.0
