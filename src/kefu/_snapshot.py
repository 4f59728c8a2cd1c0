"""Snapshot state: one parser and structural check shared by every engine.

An engine's ``snapshot()`` returns the plain-data form described in
docs/semantics.md; ``parse_state`` turns that form back into typed records,
rejecting anything malformed with :class:`~kefu.errors.InvalidSnapshot`. An
engine rebuilds itself from the records and then runs its own ``check()``,
so rule-level inconsistencies (a load above an eligible waiting session, a
session in two places) are caught too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from kefu.errors import InvalidSnapshot, KefuError
from kefu.events import Pool
from kefu.model import Cap

__all__ = ["AgentData", "SessionData", "StateData", "TimerData", "parse_state"]

T = TypeVar("T")
TimerData = tuple[float, int]


@attrs.frozen
class AgentData:
    id: str
    reg: int
    cap: Cap
    groups: frozenset[str] | None
    weight: int
    online: bool
    last_auto: int
    pass_: int


@attrs.frozen
class SessionData:
    id: str
    buyer: str | None
    group: str | None
    priority: int
    arrival: int
    opened_at: float
    agent: str | None
    pool: Pool | None
    first_unanswered: float | None
    last_buyer: float
    timed_out: frozenset[str]
    auto_close: TimerData | None
    first_response: TimerData | None


@attrs.frozen
class StateData:
    next_reg: int
    arrival: int
    auto: int
    timer: int
    rr_pointer: int
    vt: int
    agents: tuple[AgentData, ...]
    sessions: tuple[SessionData, ...]
    sticky: tuple[tuple[str, str, float], ...]


def _fail(where: str, what: str) -> InvalidSnapshot:
    return InvalidSnapshot(f"snapshot {where}: {what}")


def _int(where: str, v: object, lo: int = 0) -> int:
    if type(v) is not int or v < lo:
        raise _fail(where, f"expected an int >= {lo}, got {v!r}")
    return v


def _any_int(where: str, v: object) -> int:
    if type(v) is not int:
        raise _fail(where, f"expected an int, got {v!r}")
    return v


def _float(where: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _fail(where, f"expected a finite number, got {v!r}")
    return float(v)


def _str(where: str, v: object) -> str:
    if type(v) is not str or not v:
        raise _fail(where, f"expected a non-empty string, got {v!r}")
    return v


def _bool(where: str, v: object) -> bool:
    if type(v) is not bool:
        raise _fail(where, f"expected true/false, got {v!r}")
    return v


def _opt(check: Callable[[str, object], T]) -> Callable[[str, object], T | None]:
    def inner(where: str, v: object) -> T | None:
        return None if v is None else check(where, v)

    return inner


def _keys(where: str, v: object, keys: set[str]) -> dict[str, Any]:
    if not isinstance(v, dict) or set(v) != keys:
        got = sorted(map(str, v)) if isinstance(v, dict) else type(v).__name__
        raise _fail(where, f"expected keys {sorted(keys)}, got {got}")
    return v


def _list(where: str, v: object) -> list[Any]:
    if not isinstance(v, list):
        raise _fail(where, f"expected a list, got {type(v).__name__}")
    return v


def _timer(where: str, v: object) -> TimerData | None:
    if v is None:
        return None
    items = _list(where, v)
    if len(items) != 2:
        raise _fail(where, f"a timer is [deadline, seq], got {v!r}")
    return (_float(where, items[0]), _int(where, items[1], 1))


def _sorted_ids(where: str, v: object) -> frozenset[str]:
    items = [_str(where, x) for x in _list(where, v)]
    if items != sorted(set(items)):
        raise _fail(where, f"expected a sorted list of distinct ids, got {v!r}")
    return frozenset(items)


def _agent(i: int, v: object) -> AgentData:
    where = f"agents[{i}]"
    d = _keys(where, v, {"id", "reg", "cap", "groups", "weight", "online", "last_auto", "pass"})
    try:
        cap = Cap.from_data(d["cap"])
    except KefuError as exc:
        raise _fail(where, f"bad cap {d['cap']!r}") from exc
    weight = _int(f"{where}.weight", d["weight"])
    if weight > 10_000:
        raise _fail(f"{where}.weight", f"weight {weight} above 10000")
    return AgentData(
        id=_str(f"{where}.id", d["id"]),
        reg=_int(f"{where}.reg", d["reg"]),
        cap=cap,
        groups=None if d["groups"] is None else _sorted_ids(f"{where}.groups", d["groups"]),
        weight=weight,
        online=_bool(f"{where}.online", d["online"]),
        last_auto=_int(f"{where}.last_auto", d["last_auto"]),
        pass_=_int(f"{where}.pass", d["pass"]),
    )


_SESSION_KEYS = {
    "id", "buyer", "group", "priority", "arrival", "opened_at", "agent", "pool",
    "first_unanswered", "last_buyer", "timed_out", "auto_close", "first_response",
}


def _session(i: int, v: object) -> SessionData:
    where = f"sessions[{i}]"
    d = _keys(where, v, _SESSION_KEYS)
    pool: Pool | None = None
    if d["pool"] is not None:
        try:
            pool = Pool(d["pool"])
        except ValueError as exc:
            raise _fail(f"{where}.pool", f"unknown pool {d['pool']!r}") from exc
    agent = _opt(_str)(f"{where}.agent", d["agent"])
    if (agent is None) == (pool is None):
        raise _fail(where, "a session is either with an agent or in a pool, never both or neither")
    first_response = _timer(f"{where}.first_response", d["first_response"])
    if first_response is not None and agent is None:
        raise _fail(where, "a waiting session cannot have a first-response timer")
    return SessionData(
        id=_str(f"{where}.id", d["id"]),
        buyer=_opt(_str)(f"{where}.buyer", d["buyer"]),
        group=_opt(_str)(f"{where}.group", d["group"]),
        priority=_any_int(f"{where}.priority", d["priority"]),
        arrival=_int(f"{where}.arrival", d["arrival"], 1),
        opened_at=_float(f"{where}.opened_at", d["opened_at"]),
        agent=agent,
        pool=pool,
        first_unanswered=_opt(_float)(f"{where}.first_unanswered", d["first_unanswered"]),
        last_buyer=_float(f"{where}.last_buyer", d["last_buyer"]),
        timed_out=_sorted_ids(f"{where}.timed_out", d["timed_out"]),
        auto_close=_timer(f"{where}.auto_close", d["auto_close"]),
        first_response=first_response,
    )


def _sticky(i: int, v: object) -> tuple[str, str, float]:
    where = f"sticky[{i}]"
    items = _list(where, v)
    if len(items) != 3:
        raise _fail(where, f"expected [buyer, agent, closed_at], got {v!r}")
    return (_str(where, items[0]), _str(where, items[1]), _float(where, items[2]))


def parse_state(data: object) -> StateData:
    """Check the structure of an engine snapshot and return it as typed records.

    Checks types, key sets, uniqueness of ids, registration and arrival
    numbers against the counters, and references between records. Rule-level
    invariants are left to the engine's ``check()``.
    """
    d = _keys("state", data, {"counters", "agents", "sessions", "sticky"})
    c = _keys("counters", d["counters"], {"next_reg", "arrival", "auto", "timer",
                                          "rr_pointer", "vt"})
    state = StateData(
        next_reg=_int("counters.next_reg", c["next_reg"]),
        arrival=_int("counters.arrival", c["arrival"]),
        auto=_int("counters.auto", c["auto"]),
        timer=_int("counters.timer", c["timer"]),
        rr_pointer=_int("counters.rr_pointer", c["rr_pointer"]),
        vt=_int("counters.vt", c["vt"]),
        agents=tuple(_agent(i, a) for i, a in enumerate(_list("agents", d["agents"]))),
        sessions=tuple(_session(i, s) for i, s in enumerate(_list("sessions", d["sessions"]))),
        sticky=tuple(_sticky(i, s) for i, s in enumerate(_list("sticky", d["sticky"]))),
    )
    _check_references(state)
    return state


def _check_references(state: StateData) -> None:
    agent_ids = [a.id for a in state.agents]
    if len(set(agent_ids)) != len(agent_ids):
        raise _fail("agents", "duplicate agent id")
    regs = [a.reg for a in state.agents]
    if regs != sorted(set(regs)) or (regs and regs[-1] >= state.next_reg):
        raise _fail("agents", "registration numbers must increase and stay below next_reg")
    if state.rr_pointer > state.next_reg:
        raise _fail("counters.rr_pointer", "points past the last registration")
    if any(a.last_auto > state.auto for a in state.agents):
        raise _fail("agents", "last_auto above the automatic-assignment counter")
    session_ids = [s.id for s in state.sessions]
    if len(set(session_ids)) != len(session_ids):
        raise _fail("sessions", "duplicate session id")
    arrivals = [s.arrival for s in state.sessions]
    if arrivals != sorted(set(arrivals)) or (arrivals and arrivals[-1] > state.arrival):
        raise _fail("sessions", "arrival numbers must increase and not exceed the counter")
    known = set(agent_ids)
    seqs: list[int] = []
    for s in state.sessions:
        if s.agent is not None and s.agent not in known:
            raise _fail(f"session {s.id!r}", f"with unknown agent {s.agent!r}")
        for timer in (s.auto_close, s.first_response):
            if timer is not None:
                seqs.append(timer[1])
    if len(set(seqs)) != len(seqs) or any(q > state.timer for q in seqs):
        raise _fail("sessions", "timer numbers must be distinct and not above the counter")
    buyers = [b for b, _, _ in state.sticky]
    if len(set(buyers)) != len(buyers):
        raise _fail("sticky", "duplicate buyer")
    if any(a not in known for _, a, _ in state.sticky):
        raise _fail("sticky", "entry for an unknown agent")
