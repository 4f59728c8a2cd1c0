"""Records at the boundary: a KPI function computes only on records it has checked.

A record validates itself when it is made, but it can be changed afterwards
(``object.__setattr__`` defeats ``frozen``), be a subclass whose properties
run code, or be a look-alike of another class; its ids can be ``str``
subclasses whose ``__hash__``/``__eq__`` run arbitrary code (and could, say,
change the caller's list while it is read). So every KPI function first
takes the records through :func:`checked`, once, before computing anything:

- an input iterable is read once into a list of our own;
- a record of exactly the expected class whose fields have exact types and
  values in range is used as it is. This is the common case, and it is
  checked at C speed (no Python code per record): the compiled kernel reads
  each record's slots in one loop, the reference makes one ``map`` per field;
- otherwise each record is read field by field, once, into a new exact
  record: a ``str`` subclass id becomes the plain ``str`` of its characters
  (its own ``__hash__``/``__eq__`` are never called), and every value is
  validated as the constructor does, plus enum members by identity;
- anything else (not an instance of the class, a field missing or of the
  wrong type, a time outside [MIN_TIME, MAX_TIME), NaN, inf, a field whose
  reading raises) raises :class:`InvalidRecord`, naming the record.

Both KPI kernels compute on what this returns (the compiled message kernel
checks the same conditions itself and hands anything it has not checked to
the reference, which starts here), so a record is accepted or refused, with
the same error, whichever kernel runs. Cost: O(n) at C speed for clean input;
O(n) Python steps when some record has to be rebuilt.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any, TypeVar

from kefu._text import short_repr
from kefu.errors import ConcurrentCall
from kefu.kpi import kernel
from kefu.kpi.errors import InvalidRecord
from kefu.kpi.records import (
    MAX_AMOUNT,
    MAX_TIME,
    MIN_TIME,
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
    time_error,
)

__all__ = ["checked", "checked_field", "checked_one", "plain_str"]

R = TypeVar("R")

# Field kinds: what a field of a record class may hold.
_STR, _OPT_STR, _TIME, _OPT_TIME, _INT, _BOOL, _AMOUNT = range(7)
_Kind = int | type[enum.Enum]

_SPECS: dict[type, tuple[tuple[str, _Kind], ...]] = {
    Message: (("session_id", _STR), ("buyer_id", _STR), ("at", _TIME), ("sender", Sender),
              ("message_id", _STR), ("agent_id", _OPT_STR), ("seq", _INT)),
    Handover: (("session_id", _STR), ("buyer_id", _STR), ("agent_id", _STR), ("at", _TIME),
               ("group", _OPT_STR), ("seq", _INT)),
    Release: (("session_id", _STR), ("agent_id", _STR), ("at", _TIME), ("seq", _INT)),
    HumanRequest: (("session_id", _STR), ("buyer_id", _STR), ("at", _TIME), ("seq", _INT)),
    SessionEnd: (("session_id", _STR), ("at", _TIME), ("seq", _INT), ("group", _OPT_STR)),
    Evaluation: (("session_id", _STR), ("buyer_id", _STR), ("agent_id", _OPT_STR),
                 ("sent_at", _TIME), ("rating", Rating), ("source", EvalSource),
                 ("by_bot", _BOOL), ("card_id", _OPT_STR), ("rated_at", _OPT_TIME)),
    Order: (("order_id", _STR), ("buyer_id", _STR), ("at", _TIME), ("amount", _AMOUNT)),
    Exclusion: (("buyer_id", _STR), ("reason", _STR)),
    AgentStatus: (("agent_id", _STR), ("at", _TIME), ("online", _BOOL), ("seq", _INT)),
}

# Exact types a field of each kind may hold on the fast path (enums: their members).
_FAST_TYPES: dict[int, frozenset[type]] = {
    _STR: frozenset((str,)),
    _OPT_STR: frozenset((str, type(None))),
    _TIME: frozenset((float, int)),
    _OPT_TIME: frozenset((float, int, type(None))),
    _INT: frozenset((int,)),
    _BOOL: frozenset((bool,)),
    _AMOUNT: frozenset((float, int)),
}
_MEMBER_IDS: dict[type[enum.Enum], frozenset[int]] = {
    e: frozenset(map(id, e)) for e in (Sender, Rating, EvalSource)}



def checked(records: Iterable[R], cls: type[R]) -> list[R]:
    """``records`` as a list of our own, each an exact, valid ``cls`` (see the module doc).

    Raises InvalidRecord for a record that is not a ``cls`` or does not hold
    valid values. Cost: O(n) at C speed when all are clean, else O(n) Python
    steps.
    """
    recs = list(records)
    spec = _SPECS[cls]
    if not _all_clean(recs, cls, spec):
        recs = [_rebuild(r, cls, spec) for r in recs]
    return recs


def checked_one(record: object, cls: type[R]) -> R:
    """One record as :func:`checked` would return it, for callers that take records one
    at a time (the live tracker). Same checks, same errors; O(fields), a few hundred
    nanoseconds for a clean record instead of the list path's fixed cost."""
    if type(record) is cls and CLEAN_ONE[cls](record):
        return record
    return _rebuild(record, cls, _SPECS[cls])


# Per field, for one record at a time: (name, enum members' ids or None, exact types
# allowed, range: 0 none, 1 a time, 2 an amount).
_Check = tuple[str, "frozenset[int] | None", "frozenset[type]", int]
_NO_RANGE, _TIME_RANGE, _AMOUNT_RANGE = range(3)


def _one_checks(spec: tuple[tuple[str, _Kind], ...]) -> tuple[_Check, ...]:
    out: list[_Check] = []
    for name, kind in spec:
        if isinstance(kind, type):
            out.append((name, _MEMBER_IDS[kind], frozenset(), _NO_RANGE))
        else:
            ranged = (_AMOUNT_RANGE if kind == _AMOUNT else
                      _TIME_RANGE if kind in (_TIME, _OPT_TIME) else _NO_RANGE)
            out.append((name, None, _FAST_TYPES[kind], ranged))
    return tuple(out)


def _one_clean(checks: tuple[_Check, ...]) -> Callable[[object], bool]:
    """:func:`_all_clean` for one record of the exact class, as straight-line code: per
    field one slot read and one test, no loop and no table lookup at run time
    (about 60 ns a field). Made once per class at import from the field table
    above, so it checks exactly what the list path checks; the names it reads are
    the record classes' own field names, never input."""
    env: dict[str, Any] = {"MIN_TIME": MIN_TIME, "MAX_TIME": MAX_TIME,
                           "MAX_AMOUNT": MAX_AMOUNT, "ConcurrentCall": ConcurrentCall}
    lines = ["def clean(r):", "    try:"]
    for n, (name, members, types, ranged) in enumerate(checks):
        lines.append(f"        v = r.{name}")
        if members is not None:  # an enum: its members, by identity
            env[f"m{n}"] = members
            lines.append(f"        if id(v) not in m{n}: return False")
            continue
        env[f"t{n}"] = types
        lines.append(f"        if type(v) not in t{n}: return False")
        if ranged == _TIME_RANGE:  # out of range, NaN (every comparison is false) or inf
            lines.append("        if v is not None and not MIN_TIME <= v < MAX_TIME: return False")
        elif ranged == _AMOUNT_RANGE:
            lines.append("        if not -MAX_AMOUNT <= v <= MAX_AMOUNT: return False")
    lines += ["    except ConcurrentCall:", "        raise",
              "    except Exception:",  # a slot deleted, a patched class's read raising
              "        return False  # the rebuild names the field",
              "    return True"]
    exec("\n".join(lines), env)  # our own field names: see the docstring
    clean: Callable[[object], bool] = env["clean"]
    return clean


#: Per record class, whether one record of exactly that class is clean (the fast path).
CLEAN_ONE: dict[type, Callable[[object], bool]] = {
    cls: _one_clean(_one_checks(spec)) for cls, spec in _SPECS.items()}


#: Per record class, its fields for the compiled kernel's ``all_clean``: (name, kind,
#: members), an enum's kind 7 with its members, any other's kind with ().
_PLANS: dict[type, tuple[tuple[str, int, tuple[object, ...]], ...]] = {
    cls: tuple((name, 7, tuple(kind)) if isinstance(kind, type) else (name, kind, ())
               for name, kind in spec)
    for cls, spec in _SPECS.items()}


def _all_clean(recs: list[Any], cls: type, spec: tuple[tuple[str, _Kind], ...]) -> bool:
    """Whether every record is an exact ``cls`` with exact, in-range fields. Runs no
    code of the records' (only exact types are looked into). O(n), C speed: the
    compiled kernel reads the slots in one loop (a few ns a field); the reference
    makes one ``map`` per field (about 90 ns a field)."""
    if not recs:
        return True
    if kernel.ACTIVE == "c":
        found = kernel.compiled("all_clean")(recs, cls, _PLANS[cls])
        if found is not None:
            return found is True
    return _all_clean_py(recs, cls, spec)


def _all_clean_py(recs: list[Any], cls: type, spec: tuple[tuple[str, _Kind], ...]) -> bool:
    """:func:`_all_clean` by the reference, at C speed with no compiled code."""
    if set(map(type, recs)) != {cls}:
        return False
    try:
        for name, kind in spec:
            get = attrgetter(name)
            if isinstance(kind, type):  # an enum: its members, by identity
                if not set(map(id, map(get, recs))) <= _MEMBER_IDS[kind]:
                    return False
                continue
            if not set(map(type, map(get, recs))) <= _FAST_TYPES[kind]:
                return False
            if kind in (_TIME, _OPT_TIME, _AMOUNT) and not _in_range(recs, get, kind):
                return False
    except ConcurrentCall:  # its code called the tracker reading it: say that
        raise
    except Exception:  # a slot deleted, an int beyond a float, a patched read raising:
        return False  # the rebuild reads each record and names the field
    return True


def _in_range(recs: list[Any], get: Callable[[Any], Any], kind: int) -> bool:
    """Whether every (exact float or int, or None) value is a supported time / amount."""
    values: array[float] = array("d", (v for v in map(get, recs) if v is not None)
                   if kind == _OPT_TIME else map(get, recs))
    if not values:
        return True
    total = sum(values)
    if total - total != 0.0:  # NaN or inf among them (in-range values cannot overflow)
        return False
    if kind == _AMOUNT:
        lo, hi = min(values), max(values)
        if lo < -MAX_AMOUNT or hi > MAX_AMOUNT:
            return False
        if lo == -MAX_AMOUNT or hi == MAX_AMOUNT:  # an int just past the limit rounds onto it
            return all(-MAX_AMOUNT <= v <= MAX_AMOUNT for v in map(get, recs))
        return True
    return min(values) >= MIN_TIME and max(values) < MAX_TIME


def _rebuild(r: object, cls: type[R], spec: tuple[tuple[str, _Kind], ...]) -> R:
    """A new exact ``cls`` from ``r``'s fields, each read once and validated."""
    owner = cls.__name__
    if not isinstance(r, cls):
        raise InvalidRecord(f"expected a kefu.kpi.{owner} record, got {short_repr(r)}")
    values: dict[str, object] = {}
    for name, kind in spec:
        try:
            value = getattr(r, name)
        except ConcurrentCall:  # its code called the tracker reading it: say that
            raise
        except Exception as exc:  # a deleted slot, a raising property
            raise InvalidRecord(f"{owner}.{name} cannot be read ({type(exc).__name__}) in"
                                f" {short_repr(r)}") from None
        values[name] = checked_field(owner, name, kind, value)
    return cls(**values)


def checked_field(owner: str, name: str, kind: _Kind, value: object) -> object:
    """``value`` checked for a field of ``kind``; a str subclass becomes a plain str."""
    if isinstance(kind, type):
        if id(value) not in _MEMBER_IDS[kind]:
            raise InvalidRecord(
                f"{owner}.{name} must be a {kind.__name__} member, got {short_repr(value)}")
        return value
    if kind in (_STR, _OPT_STR):
        if isinstance(value, str):
            return plain_str(value)
        if value is None and kind == _OPT_STR:
            return None
        need = "a str" if kind == _STR else "a str or None"
        raise InvalidRecord(f"{owner}.{name} must be {need}, got {short_repr(value)}")
    if kind in (_TIME, _OPT_TIME):
        if value is None and kind == _OPT_TIME:
            return None
        if (type(value) is float or type(value) is int) and (
                MIN_TIME <= value < MAX_TIME):
            return value
        raise time_error(owner, name, value)
    if kind == _AMOUNT:
        if (type(value) is float or type(value) is int) and (
                -MAX_AMOUNT <= value <= MAX_AMOUNT):
            return value
        raise InvalidRecord(f"{owner}.{name} must be a finite float or int of at most 2**53"
                            f" in absolute value, got {short_repr(value)}")
    wanted, need = (int, "an int") if kind == _INT else (bool, "a bool")
    if type(value) is not wanted:
        raise InvalidRecord(f"{owner}.{name} must be {need}, got {short_repr(value)}")
    return value


def plain_str(value: str) -> str:
    """The exact ``str`` of ``value``'s characters, running none of a subclass's code. O(len)."""
    return str.__str__(value)
