"""The compiled engine's session registry (id -> slot) against a model (R22, R23).

The compiled engine files its open sessions' ids in its own open-addressing
table (linear probing, entries shifted back on delete) instead of a dict,
and takes arrival order from the sessions' arrival numbers. These tests
drive many opens and closes through it, in random orders and in the orders
that stress a probing table (ids whose probes collide, deletes in the middle
of a run of entries, the table doubling), and compare every answer with the
pure engine's: the ids it knows, their order, each lookup, and the errors
for unknown or duplicate ids. ``check()`` verifies the table's own
invariants after each step.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, Cap, ManualClock
from kefu.errors import BatchAborted, DuplicateSession, InvalidArgument, UnknownSession


def _shops() -> list[Assigner]:
    shops = []
    for engine in ("py", require_engine("c")):
        shop = Assigner(ManualClock(0.0), engine=engine)  # type: ignore[arg-type]
        shop.add_agent("a", Cap.limit(3), online=True)
        shops.append(shop)
    return shops


def _outcome(call: Any) -> object:
    try:
        return ("ok", call())
    except (UnknownSession, DuplicateSession) as exc:
        return (type(exc).__name__, str(exc))


def _same(shops: list[Assigner], op: str, *args: object) -> None:
    outcomes = [_outcome(lambda shop=shop: getattr(shop, op)(*args)) for shop in shops]
    assert outcomes[1] == outcomes[0], (op, args)
    shops[1].check()


# Ids from a small alphabet: many opens of an id after its close, so entries of one id
# come and go at many places of the table while others sit beside them.
ids = st.sampled_from([f"s{i}" for i in range(40)])
steps = st.lists(st.tuples(st.sampled_from(["open", "close", "view", "message"]), ids),
                 max_size=120)


@settings(deadline=None)
@given(steps)
def test_r22_r23_registry_answers_as_the_pure_engine(plan: list[tuple[str, str]]) -> None:
    shops = _shops()
    for op, sid in plan:
        if op == "open":
            _same(shops, "open_session", sid)
        elif op == "close":
            _same(shops, "close_session", sid)
        elif op == "view":
            _same(shops, "session", sid)
        else:
            _same(shops, "buyer_message", sid)
        assert shops[1].session_ids() == shops[0].session_ids()
    assert shops[1].snapshot() == shops[0].snapshot()


def test_r22_registry_through_growth_and_mass_deletes() -> None:
    """Thousands of sessions (the table doubles many times), then closes from the middle,
    the ends and every other one (long runs of shifted entries), then reopens."""
    shops = _shops()
    n = 3000
    for shop in shops:
        shop.apply([("open_session", f"x{i}") for i in range(n)])
    order = list(range(n // 3, 2 * n // 3)) + list(range(0, n // 3, 2)) + list(
        range(n - 1, 2 * n // 3 - 1, -1))
    for shop in shops:
        shop.apply([("close_session", f"x{i}") for i in order])
        shop.apply([("open_session", f"x{i}") for i in range(n // 3, n // 2)])
    shops[1].check()
    assert shops[1].session_ids() == shops[0].session_ids()
    assert shops[1].snapshot() == shops[0].snapshot()
    for sid in ("x0", "x1", f"x{n // 3}", f"x{n - 1}", "nope"):
        _same(shops, "session", sid)


def test_r22_an_equal_id_that_is_another_object_is_the_same_session() -> None:
    shop = _shops()[1]
    shop.open_session("abc")
    other = "".join(["a", "bc"])
    assert other is not "abc"  # noqa: F632 (the point: another object)
    with pytest.raises(DuplicateSession):
        shop.open_session(other)
    assert shop.session(other).session_id == "abc"
    shop.close_session(other)
    assert shop.session_ids() == []
    shop.check()


class _Hostile(str):
    """A str subclass whose hashing and comparing raise: never an id."""

    def __hash__(self) -> int:
        raise AssertionError("hashed")

    def __eq__(self, other: object) -> bool:
        raise AssertionError("compared")


def test_r22_a_value_that_is_not_an_id_is_rejected_without_running_its_code() -> None:
    shop = _shops()[1]
    shop.open_session("abc")
    with pytest.raises(InvalidArgument):
        shop.open_session(_Hostile("abc"))
    with pytest.raises(BatchAborted) as caught:
        shop.apply([("close_session", _Hostile("abc"))])
    assert isinstance(caught.value.__cause__, InvalidArgument)
    assert shop.session_ids() == ["abc"]
    shop.check()


def test_r22_a_restored_shop_keeps_the_registry_and_its_order() -> None:
    shops = _shops()
    for shop in shops:
        shop.apply([("open_session", f"r{i}") for i in range(50)])
        shop.apply([("close_session", f"r{i}") for i in range(0, 50, 3)])
    restored = Assigner.restore(shops[1].snapshot(), ManualClock(0.0), engine="c")
    restored.check()
    assert restored.session_ids() == shops[0].session_ids()
    with pytest.raises(DuplicateSession):
        restored.open_session("r1")
    with pytest.raises(UnknownSession):
        restored.close_session("r0")


def _legacy_str(text: str) -> str:
    """An exact str made through the legacy C API (Python < 3.12): not "ready" (its
    length and hash not known) until first measured or hashed."""
    import ctypes
    api = ctypes.pythonapi
    make = api.PyUnicode_FromUnicode
    make.restype, make.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_ssize_t]
    buffer = api.PyUnicode_AsUnicode
    buffer.restype, buffer.argtypes = ctypes.c_void_p, [ctypes.py_object]
    value: str = make(None, len(text))
    chars = (ctypes.c_wchar * len(text)).from_address(buffer(value))
    for i, char in enumerate(text):
        chars[i] = char
    return value


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="every str is ready from 3.12 on")
@pytest.mark.filterwarnings("ignore:PyUnicode_FromUnicode:DeprecationWarning")
def test_r22_an_id_not_yet_ready_is_filed_and_found_as_any_other() -> None:
    """An id the engine is handed straight from the legacy C API (its hash not yet
    computed) is filed under its str hash, and found by an equal id of either kind."""
    engines = [shop._engine for shop in _shops()]  # type: ignore[attr-defined]
    for engine in engines:
        for i in range(5):
            engine.open_session(0.0, f"k{i}", None, None, 0)
        engine.open_session(0.0, _legacy_str("zz"), None, None, 0)
        engine.check()
        assert engine.session_ids() == ["k0", "k1", "k2", "k3", "k4", "zz"]
        assert engine.session("zz").session_id == "zz"
        engine.close_session(0.0, _legacy_str("k1"))
        assert engine.session_ids() == ["k0", "k2", "k3", "k4", "zz"]
        with pytest.raises(DuplicateSession):
            engine.open_session(0.0, _legacy_str("k2"), None, None, 0)
        engine.check()


def _homed(home: int, count: int, taken: set[str]) -> list[str]:
    """``count`` ids whose probe starts at entry ``home`` of the first table (16 entries)."""
    found = []
    i = 0
    while len(found) < count:
        sid = f"w{home}-{i}"
        i += 1
        if hash(sid) & 15 == home and sid not in taken:
            found.append(sid)
    taken.update(found)
    return found


@pytest.mark.parametrize("close", range(5))
def test_r22_a_delete_shifts_entries_back_across_the_end_of_the_table(close: int) -> None:
    """Two ids homed at the last entry and two at the first, one at the second: a run that
    wraps around the table's end. Closing any of them leaves every other one found."""
    taken: set[str] = set()
    last, first, second = _homed(15, 2, taken), _homed(0, 2, taken), _homed(1, 1, taken)
    ids = [last[0], first[0], last[1], second[0], first[1]]
    shops = _shops()
    for shop in shops:
        shop.apply([("open_session", sid) for sid in ids])
        shop.close_session(ids[close])
    shops[1].check()
    assert shops[1].session_ids() == shops[0].session_ids()
    for sid in ids:
        _same(shops, "session", sid)
    for shop in shops:
        shop.open_session(ids[close])
    shops[1].check()
    assert shops[1].session_ids() == shops[0].session_ids()
