"""Snapshot state: the one parser and validator every engine restores through.

An engine's ``snapshot()`` returns the plain-data form described in
docs/semantics.md; :func:`parse_state` checks that form completely and turns
it into typed records, or raises :class:`~kefu.errors.InvalidSnapshot` naming
the first field at fault (``snapshot sessions[3].auto_close: ...``). Engines
rebuild from the records without checking again, so every engine gives the
same verdict and the same message for the same input.

What is checked, in this order (docs/semantics.md, "Snapshot"):

1. Shape and types, exactly: dicts with exactly the documented keys, lists,
   ``bool`` (not an int), ``int`` (not a bool, not a float) within its range,
   ``float`` (not an int) and finite, non-empty ``str`` ids, sorted lists of
   distinct ids, known cap and pool names.
2. Each record against the configuration and the time the snapshot was
   taken: timers, R18 exclusions and sticky memory only when their feature
   is configured; ``opened_at <= first_unanswered <= last_buyer <= taken_at``;
   timer deadlines that an instant allowed by those times plus the configured
   duration can produce; ``pass``/``vt`` zero unless WEIGHTED.
3. Records against each other and the counters: distinct ids, registration
   and arrival numbers increasing and below their counters, distinct
   ``last_auto`` and timer numbers, the round-robin pointer after the agent
   of the last automatic assignment, references to known agents.
4. R06 in O(state): no waiting session has an eligible agent.

Nothing here calls code of the objects it is given (only ``type()`` and
comparisons of exact builtin types), nothing recurses into the input, and
every message quotes values through :func:`kefu._text.short_repr`. Cost:
O(state log state) (sorting checks), plus O(agents) once to name the agent
of an R06 violation.
"""

from __future__ import annotations

import itertools
import math
import operator
import sys
from collections import Counter
from typing import Any, NamedTuple

from kefu._checks import MAX_PRIORITY, MAX_WEIGHT
from kefu._ladder import Table, reached_all, reached_groups, table
from kefu._text import short_repr
from kefu.errors import InvalidSnapshot
from kefu.events import Pool
from kefu.model import MAX_CAP, MAX_DURATION, Cap, CapKind, Config, Strategy

__all__ = [
    "MAX_COUNTER",
    "AgentData",
    "LadderData",
    "SessionData",
    "StateData",
    "TimerData",
    "parse_state",
]

#: Upper bound of every counter, registration, arrival and timer number and of
#: ``pass``/``vt``: far beyond any reachable value, and leaves the compiled
#: engine's 64-bit counters room to keep counting.
MAX_COUNTER = 2**62

TimerData = tuple[float, int]

_FLOAT_MAX = sys.float_info.max

_STATE_KEYS = frozenset({"counters", "agents", "sessions", "sticky"})
_COUNTER_KEYS = frozenset({"next_reg", "arrival", "auto", "timer", "rr_pointer", "vt"})
_AGENT_KEYS = frozenset({"id", "reg", "cap", "groups", "weight", "online", "last_auto", "pass"})
#: R27 keys an agent record has only when set: ``"away": true`` and ``"grace": [deadline, seq]``
#: (so a shop that never uses them snapshots exactly as before).
_AGENT_OPTIONAL = frozenset({"away", "grace"})
_SESSION_ORDER = (
    "id", "buyer", "group", "priority", "arrival", "opened_at", "agent", "pool",
    "first_unanswered", "last_buyer", "timed_out", "auto_close", "first_response",
)
_SESSION_KEYS = frozenset(_SESSION_ORDER)
#: R24: a session waiting in a group with a ladder has ``"ladder": {"since", "step", "next"}``
#: (absent otherwise, so a shop without ladders snapshots exactly as before).
#: R26: a session opened with a kind has ``"kind": name`` (absent otherwise).
_SESSION_OPTIONAL = frozenset({"ladder", "kind"})
_LADDER_KEYS = frozenset({"since", "step", "next"})
_POOLS = {"queue": Pool.QUEUE, "offline": Pool.OFFLINE}
_EMPTY: frozenset[str] = frozenset()


class AgentData(NamedTuple):
    id: str
    reg: int
    cap: Cap
    groups: frozenset[str] | None
    weight: int
    online: bool
    last_auto: int
    pass_: int
    away: bool = False
    grace: TimerData | None = None


#: R24: (since, steps reached, the next step's timer or None).
LadderData = tuple[float, int, TimerData | None]


class SessionData(NamedTuple):
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
    ladder: LadderData | None = None
    kind: str | None = None


class StateData(NamedTuple):
    next_reg: int
    arrival: int
    auto: int
    timer: int
    rr_pointer: int
    vt: int
    agents: tuple[AgentData, ...]
    sessions: tuple[SessionData, ...]
    sticky: tuple[tuple[str, str, float], ...]
    #: The latest instant the state records (opened_at, first_unanswered,
    #: last_buyer, sticky closed_at), or None: time must not run back behind it.
    #: (first_unanswered never exceeds last_buyer, so it need not be looked at.)
    latest: float | None


# -- step 1: shape and types ----------------------------------------------------------


def _fail(where: str, what: str, field: str = "") -> InvalidSnapshot:
    """The error for ``where`` (a record) and ``field`` (one of its fields, if any)."""
    name = where if not field else where + (field if field[0] == "[" else "." + field)
    return InvalidSnapshot(f"snapshot {name}: {what}")


_STRS = itertools.repeat(str)  # endless: zipped with any dict's keys


def _str_keys(v: dict[Any, Any]) -> bool:
    """Every key is exactly a ``str``: only ``type()`` and identity, no user code. O(len(v))."""
    return all(map(operator.is_, map(type, v), _STRS))


def _dict(where: str, v: object, keys: frozenset[str]) -> dict[str, Any]:
    """``v`` as a dict with exactly ``keys``. O(len(v))."""
    if type(v) is not dict:
        raise _fail(where, f"expected a dict, got {type(v).__name__}")
    if not _str_keys(v):
        odd = next(k for k in v if type(k) is not str)
        raise _fail(where, f"keys must be strings, got {short_repr(odd)}")
    if v.keys() != keys:
        missing = sorted(keys - v.keys())
        extra = sorted(v.keys() - keys)
        what = []
        if missing:
            what.append(f"missing keys {short_repr(missing)}")
        if extra:
            what.append(f"unexpected keys {short_repr(extra)}")
        raise _fail(where, f"expected keys {sorted(keys)}: " + ", ".join(what))
    return v


def _list(where: str, v: object, field: str = "") -> list[Any]:
    if type(v) is not list:
        raise _fail(where, f"expected a list, got {type(v).__name__}", field)
    return v


def _int(v: object, lo: int, hi: int, where: str, field: str = "") -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise _fail(where, f"expected an int in [{lo}, {hi}], got {short_repr(v)}", field)
    return v


def _count(v: object, where: str, field: str = "", lo: int = 0) -> int:
    return _int(v, lo, MAX_COUNTER, where, field)


def _time(v: object, where: str, field: str = "") -> float:
    if type(v) is not float or not math.isfinite(v):
        raise _fail(where, f"expected a finite float, got {short_repr(v)}", field)
    return v


def _opt_time(v: object, where: str, field: str) -> float | None:
    return None if v is None else _time(v, where, field)


def _id(v: object, where: str, field: str = "") -> str:
    if type(v) is not str or not v:
        raise _fail(where, f"expected a non-empty string, got {short_repr(v)}", field)
    return v


def _opt_id(v: object, where: str, field: str) -> str | None:
    return None if v is None else _id(v, where, field)


def _bool(v: object, where: str, field: str) -> bool:
    if type(v) is not bool:
        raise _fail(where, f"expected true or false, got {short_repr(v)}", field)
    return v


def _cap(v: object, where: str) -> Cap:
    if type(v) is str and v == "unlimited":
        return Cap.UNLIMITED
    if type(v) is str and v == "suspended":
        return Cap.SUSPENDED
    if type(v) is int and 1 <= v <= MAX_CAP:
        return Cap.limit(v)
    raise _fail(where, f"expected a cap ('unlimited', 'suspended' or an int in [1, {MAX_CAP}]),"
                       f" got {short_repr(v)}", "cap")


def _ids(v: object, where: str, field: str) -> frozenset[str]:
    """A sorted list of distinct non-empty strings. O(k)."""
    items = _list(where, v, field)
    for i, x in enumerate(items):
        _id(x, where, f"{field}[{i}]")
        if i and not items[i - 1] < x:
            raise _fail(where, f"expected a sorted list of distinct ids, got {short_repr(items)}",
                        field)
    return frozenset(items)


def _timer(v: object, where: str, field: str) -> TimerData | None:
    """None or ``[deadline, seq]``; the deadline may be +inf (an instant plus a huge duration)."""
    if v is None:
        return None
    items = _list(where, v, field)
    if len(items) != 2:
        raise _fail(where, f"a timer is [deadline, seq], got {short_repr(items)}", field)
    deadline, seq = items
    if type(deadline) is not float or math.isnan(deadline) or deadline == -math.inf:
        raise _fail(where, f"expected a float deadline, got {short_repr(deadline)}",
                    f"{field}[0]")
    return (deadline, _count(seq, where, f"{field}[1]", 1))


def _agent(where: str, v: object) -> AgentData:
    optional = v.keys() & _AGENT_OPTIONAL if type(v) is dict and _str_keys(v) else frozenset()
    d = _dict(where, v, _AGENT_KEYS | optional)
    groups = d["groups"]
    away = False
    if "away" in d:
        if d["away"] is not True:
            raise _fail(where, f"'away' is present only as true, got {short_repr(d['away'])}",
                        "away")
        away = True
    grace = _timer(d["grace"], where, "grace") if "grace" in d else None
    if "grace" in d and grace is None:
        raise _fail(where, "'grace' is present only as [deadline, seq], got null", "grace")
    return AgentData(
        id=_id(d["id"], where, "id"),
        reg=_count(d["reg"], where, "reg"),
        cap=_cap(d["cap"], where),
        groups=None if groups is None else _ids(groups, where, "groups"),
        weight=_int(d["weight"], 0, MAX_WEIGHT, where, "weight"),
        online=_bool(d["online"], where, "online"),
        last_auto=_count(d["last_auto"], where, "last_auto"),
        pass_=_count(d["pass"], where, "pass"),
        away=away,
        grace=grace,
    )


def _check_agent_status(i: int, a: AgentData, taken_at: float | None) -> None:
    """R27: an away agent is online; a grace deadline belongs to an offline agent and is an
    instant no later than ``taken_at`` plus at most the longest duration. O(1)."""
    where = f"agents[{i}]"
    if a.away and not a.online:
        raise _fail(where, "an away agent is online, but 'online' is false", "away")
    if a.grace is None:
        return
    if a.online:
        raise _fail(where, "a grace deadline belongs to an offline agent, but 'online' is true",
                    "grace")
    deadline = a.grace[0]
    latest = _FLOAT_MAX if taken_at is None else taken_at
    if not math.isfinite(deadline) or deadline > latest + MAX_DURATION:
        what = "the largest time" if taken_at is None else "taken_at"
        raise _fail(where, f"deadline {short_repr(deadline)} is after {what}"
                           f" {short_repr(latest)} plus the longest grace"
                           f" {short_repr(MAX_DURATION)}", "grace")


def _pool(v: object, where: str) -> Pool | None:
    if v is None:
        return None
    if type(v) is not str or v not in _POOLS:
        raise _fail(where, f"expected 'queue', 'offline' or null, got {short_repr(v)}", "pool")
    return _POOLS[v]


def _session(i: int, v: object) -> SessionData:
    """Session record ``i``: the common well-formed case in one expression, else field by field."""
    fast = _session_fast(v)
    return fast if fast is not None else _session_by_field(f"sessions[{i}]", v)


def _fast_time(t: object) -> bool:
    return type(t) is float and -_FLOAT_MAX <= t <= _FLOAT_MAX


def _fast_timer(t: object) -> bool:
    return t is None or (
        type(t) is list and len(t) == 2 and type(t[0]) is float
        and -_FLOAT_MAX <= t[0] <= math.inf and type(t[1]) is int and 1 <= t[1] <= MAX_COUNTER
    )


def _session_fast(v: object) -> SessionData | None:
    """The record if it is well formed with no R18 exclusions, else None (then the field-by-field
    checks name what is wrong). Accepts nothing :func:`_session_by_field` rejects. O(1)."""
    if not (type(v) is dict and len(v) == len(_SESSION_KEYS) and _str_keys(v)
            and v.keys() == _SESSION_KEYS):
        return None
    sid, buyer, group, priority, arrival, opened_at, agent, pool, fu, last_buyer, timed_out, \
        auto_close, first_response = map(v.__getitem__, _SESSION_ORDER)
    if not (
        type(sid) is str and sid != ""
        and (buyer is None or (type(buyer) is str and buyer != ""))
        and (group is None or (type(group) is str and group != ""))
        and type(priority) is int and -MAX_PRIORITY <= priority <= MAX_PRIORITY
        and type(arrival) is int and 1 <= arrival <= MAX_COUNTER
        and _fast_time(opened_at) and _fast_time(last_buyer) and (fu is None or _fast_time(fu))
        and (agent is None or (type(agent) is str and agent != ""))
        and (pool is None or (type(pool) is str and pool in _POOLS))
        and type(timed_out) is list and not timed_out
        and _fast_timer(auto_close) and _fast_timer(first_response)
    ):
        return None
    return SessionData(
        sid, buyer, group, priority, arrival, opened_at, agent,
        None if pool is None else _POOLS[pool], fu, last_buyer, _EMPTY,
        None if auto_close is None else (auto_close[0], auto_close[1]),
        None if first_response is None else (first_response[0], first_response[1]),
    )


def _ladder(where: str, v: object) -> LadderData:
    d = _dict(f"{where}.ladder", v, _LADDER_KEYS)
    nxt = _timer(d["next"], f"{where}.ladder", "next")
    return (_time(d["since"], f"{where}.ladder", "since"),
            _count(d["step"], f"{where}.ladder", "step"), nxt)


def _session_by_field(where: str, v: object) -> SessionData:
    optional = v.keys() & _SESSION_OPTIONAL if type(v) is dict and _str_keys(v) else frozenset()
    d = _dict(where, v, _SESSION_KEYS | optional)
    return SessionData(
        id=_id(d["id"], where, "id"),
        buyer=_opt_id(d["buyer"], where, "buyer"),
        group=_opt_id(d["group"], where, "group"),
        priority=_int(d["priority"], -MAX_PRIORITY, MAX_PRIORITY, where, "priority"),
        arrival=_count(d["arrival"], where, "arrival", 1),
        opened_at=_time(d["opened_at"], where, "opened_at"),
        agent=_opt_id(d["agent"], where, "agent"),
        pool=_pool(d["pool"], where),
        first_unanswered=_opt_time(d["first_unanswered"], where, "first_unanswered"),
        last_buyer=_time(d["last_buyer"], where, "last_buyer"),
        timed_out=_ids(d["timed_out"], where, "timed_out"),
        auto_close=_timer(d["auto_close"], where, "auto_close"),
        first_response=_timer(d["first_response"], where, "first_response"),
        ladder=_ladder(where, d["ladder"]) if "ladder" in d else None,
        kind=_id(d["kind"], where, "kind") if "kind" in d else None,
    )


def _sticky(where: str, v: object) -> tuple[str, str, float]:
    items = _list(where, v)
    if len(items) != 3:
        raise _fail(where, f"expected [buyer, agent, closed_at], got {short_repr(items)}")
    return (_id(items[0], where, "[0]"), _id(items[1], where, "[1]"),
            _time(items[2], where, "[2]"))


# -- step 2: each record against the config and the time taken ------------------------


def _not_after(where: str, what: str, t: float, limit: float | None, limit_name: str) -> None:
    if limit is not None and t > limit:
        raise _fail(where, f"{what} {short_repr(t)} is after {limit_name} {short_repr(limit)}")


def _check_deadline(i: int, kind: str, deadline: float, duration: float,
                    earliest: tuple[str, float] | None, taken_at: float | None) -> None:
    """Session ``i``'s ``kind`` timer: ``deadline`` = an instant no earlier than ``earliest``
    (its name and value; None: no bound) and no later than ``taken_at``, plus ``duration``.

    Float addition is monotonic, so such deadlines lie between the sums at the two ends.
    """
    name = f"{kind}_after" if kind == "auto_close" else "first_response_timeout"
    if earliest is not None and deadline < earliest[1] + duration:
        raise _fail(f"sessions[{i}]", f"deadline {short_repr(deadline)} is before {earliest[0]}"
                                      f" {short_repr(earliest[1])} plus {name}"
                                      f" {short_repr(duration)}", kind)
    latest = _FLOAT_MAX if taken_at is None else taken_at
    if deadline > latest + duration:
        what = "the largest time" if taken_at is None else "taken_at"
        raise _fail(f"sessions[{i}]", f"deadline {short_repr(deadline)} is after {what}"
                                      f" {short_repr(latest)} plus {name} {short_repr(duration)}",
                    kind)


def _check_session_times(i: int, s: SessionData, config: Config, ladders: Table,
                         taken_at: float | None) -> None:
    """Times of session ``i``: their order, and timers only as the config sets them. O(1)."""
    fu = s.first_unanswered
    if fu is not None and not s.opened_at <= fu <= s.last_buyer:
        raise _fail(f"sessions[{i}].first_unanswered",
                    f"{short_repr(fu)} is not between opened_at {short_repr(s.opened_at)}"
                    f" and last_buyer {short_repr(s.last_buyer)}")
    if s.last_buyer < s.opened_at:
        raise _fail(f"sessions[{i}]", f"{short_repr(s.last_buyer)} is before opened_at"
                                      f" {short_repr(s.opened_at)}", "last_buyer")
    if taken_at is not None and s.last_buyer > taken_at:
        _not_after(f"sessions[{i}].last_buyer", "last buyer message", s.last_buyer, taken_at,
                   "taken_at")
    if s.auto_close is not None:
        after = config.auto_close_after
        if after is None:
            raise _fail(f"sessions[{i}]", "an auto-close timer, but auto_close_after is off",
                        "auto_close")
        # Set by an agent message, which comes after the last buyer message
        # (a buyer message cancels the timer).
        _check_deadline(i, "auto_close", s.auto_close[0], after, ("last_buyer", s.last_buyer),
                        taken_at)
    if s.first_response is not None:
        timeout = config.first_response_timeout
        if timeout is None:
            raise _fail(f"sessions[{i}].first_response",
                        "a first-response timer, but first_response_timeout is off")
        if s.agent is None:
            raise _fail(f"sessions[{i}].first_response",
                        "a waiting session cannot have a first-response timer")
        # Set at a hand-over; one in tick() happens at a timer's deadline,
        # which may precede even this session's opening: no lower bound.
        _check_deadline(i, "first_response", s.first_response[0], timeout, None, taken_at)
    if s.timed_out and config.first_response_timeout is None:
        raise _fail(f"sessions[{i}].timed_out", "R18 exclusions, but first_response_timeout is off")
    _check_ladder(i, s, ladders, taken_at)
    if s.kind is not None and s.kind not in dict(config.session_kinds):
        raise _fail(f"sessions[{i}].kind", f"{short_repr(s.kind)} is not one of the configured"
                                           " session_kinds")


def _check_ladder(i: int, s: SessionData, ladders: Table, taken_at: float | None) -> None:
    """R24: a ladder state exactly on the sessions waiting in a group with a ladder; its
    step within the ladder; the next step's deadline the start of the wait plus that step's
    ``after``, to the bit; reached steps' deadlines no later than ``taken_at``. O(1)."""
    where = f"sessions[{i}]"
    rungs = ladders.get(s.group) if s.group is not None else None
    if s.ladder is None:
        if rungs and s.pool is not None:
            raise _fail(where, f"waits in group {short_repr(s.group)}, which has a ladder,"
                               " but has no ladder state", "ladder")
        return
    if not rungs:
        raise _fail(where, f"a ladder state, but group {short_repr(s.group)} has no ladder",
                    "ladder")
    if s.pool is None:
        raise _fail(where, "a ladder state, but the session is not waiting", "ladder")
    since, step, nxt = s.ladder
    if step > len(rungs):
        raise _fail(f"{where}.ladder", f"step {step}, but the ladder of"
                                       f" {short_repr(s.group)} has {len(rungs)}", "step")
    _not_after(f"{where}.ladder.since", "the start of the wait", since, taken_at, "taken_at")
    if step:
        _not_after(f"{where}.ladder.step", f"step {step}'s deadline",
                   since + rungs[step - 1].after, taken_at, "taken_at")
    if step == len(rungs):
        if nxt is not None:
            raise _fail(f"{where}.ladder", "the last step is reached: no next timer", "next")
        return
    if nxt is None:
        raise _fail(f"{where}.ladder", f"step {step + 1} is still to come, but no timer",
                    "next")
    expected = since + rungs[step].after
    if nxt[0] != expected:
        raise _fail(f"{where}.ladder", f"deadline {short_repr(nxt[0])} is not since"
                                       f" {short_repr(since)} plus step {step + 1}'s after"
                                       f" {short_repr(rungs[step].after)}", "next")


# -- step 3: records against each other and the counters ------------------------------


def _check_agents(state: StateData, strategy: Strategy) -> None:
    seen: set[str] = set()
    last_autos: set[int] = set()
    previous_reg = -1
    for i, a in enumerate(state.agents):
        where = f"agents[{i}]"
        if a.id in seen:
            raise _fail(f"{where}.id", f"duplicate agent id {short_repr(a.id)}")
        seen.add(a.id)
        if not previous_reg < a.reg < state.next_reg:
            raise _fail(f"{where}.reg", f"registration numbers must increase and stay below"
                                        f" counters.next_reg {state.next_reg}, got {a.reg}")
        previous_reg = a.reg
        if a.last_auto > state.auto:
            raise _fail(f"{where}.last_auto",
                        f"{a.last_auto} is above counters.auto {state.auto}")
        if a.last_auto:
            if a.last_auto in last_autos:
                raise _fail(f"{where}.last_auto", f"{a.last_auto} is another agent's last_auto")
            last_autos.add(a.last_auto)
        if a.pass_ and strategy is not Strategy.WEIGHTED:
            raise _fail(f"{where}.pass", f"{a.pass_} under {strategy.name}: only WEIGHTED uses it")
    if state.vt and strategy is not Strategy.WEIGHTED:
        raise _fail("counters.vt", f"{state.vt} under {strategy.name}: only WEIGHTED uses it")


def _check_rr_pointer(state: StateData) -> None:
    """The pointer is 0 before any automatic assignment, then the last one's agent reg + 1."""
    rr = state.rr_pointer
    if rr > state.next_reg:
        raise _fail("counters.rr_pointer", f"{rr} points past counters.next_reg {state.next_reg}")
    if state.auto == 0:
        if rr:
            raise _fail("counters.rr_pointer", f"{rr}, but no automatic assignment happened yet")
        return
    last = next((a for a in state.agents if a.last_auto == state.auto), None)
    at_pointer = next((a for a in state.agents if a.reg == rr - 1), None)
    if rr == 0 or last is not at_pointer:
        holder = "a removed agent" if last is None else f"agent {short_repr(last.id)}"
        raise _fail("counters.rr_pointer",
                    f"{rr} does not follow the last automatic assignment (to {holder})")


def _check_sessions(state: StateData, agent_ids: set[str]) -> None:
    seen: set[str] = set()
    seqs: set[int] = set()
    for i, a in enumerate(state.agents):
        if a.grace is not None:
            if a.grace[1] > state.timer or a.grace[1] in seqs:
                raise _fail(f"agents[{i}].grace", f"timer number {a.grace[1]} is taken or above"
                                                  f" counters.timer {state.timer}")
            seqs.add(a.grace[1])
    previous_arrival = 0
    previous_open = -math.inf
    for i, s in enumerate(state.sessions):
        if s.id in seen:
            raise _fail(f"sessions[{i}].id", f"duplicate session id {short_repr(s.id)}")
        seen.add(s.id)
        if not previous_arrival < s.arrival <= state.arrival:
            raise _fail(f"sessions[{i}].arrival", f"arrival numbers must increase and not exceed"
                                            f" counters.arrival {state.arrival}, got {s.arrival}")
        previous_arrival = s.arrival
        if s.opened_at < previous_open:
            raise _fail(f"sessions[{i}]", f"{short_repr(s.opened_at)} is before the opening"
                                          " of the session that arrived before it", "opened_at")
        previous_open = s.opened_at
        if (s.agent is None) == (s.pool is None):
            raise _fail(f"sessions[{i}]", "a session is either with an agent or in a pool,"
                               " never both or neither")
        if s.agent is not None and s.agent not in agent_ids:
            raise _fail(f"sessions[{i}].agent", f"unknown agent {short_repr(s.agent)}")
        for kind, timer in (("auto_close", s.auto_close), ("first_response", s.first_response),
                            ("ladder.next", None if s.ladder is None else s.ladder[2])):
            if timer is None:
                continue
            if timer[1] > state.timer or timer[1] in seqs:
                raise _fail(f"sessions[{i}].{kind}", f"timer number {timer[1]} is taken or above"
                                               f" counters.timer {state.timer}")
            seqs.add(timer[1])
    _check_auto_close_order(state)


def _check_auto_close_order(state: StateData) -> None:
    """Auto-close timers are set by agent messages at the call's time, which never runs back:
    in timer-number order their deadlines never decrease. O(t log t).

    (First-response timers have no such order: a hand-over in tick() happens at
    the deadline of the timer that caused it, earlier than calls before it.)
    """
    timers = sorted((s.auto_close[1], s.auto_close[0], i) for i, s in enumerate(state.sessions)
                    if s.auto_close is not None)
    for (_, before, _), (_, deadline, i) in itertools.pairwise(timers):
        if deadline < before:
            raise _fail(f"sessions[{i}]", f"deadline {short_repr(deadline)} is before"
                                          f" {short_repr(before)}, the deadline of an earlier"
                                          f" auto-close timer", "auto_close")


def _check_sticky(state: StateData, config: Config, agent_ids: set[str],
                  taken_at: float | None) -> None:
    if state.sticky and config.sticky_window is None:
        raise _fail("sticky", "sticky memory, but sticky_window is off")
    buyers: set[str] = set()
    for i, (buyer, agent, closed_at) in enumerate(state.sticky):
        if buyer in buyers:
            raise _fail(f"sticky[{i}][0]", f"duplicate buyer {short_repr(buyer)}")
        buyers.add(buyer)
        if agent not in agent_ids:
            raise _fail(f"sticky[{i}][1]", f"unknown agent {short_repr(agent)}")
        _not_after(f"sticky[{i}][2]", "closed_at", closed_at, taken_at, "taken_at")


# -- step 4: R06 in O(state) ----------------------------------------------------------


class _Eligibility:
    """Who may take a waiting session of each group, counted once per distinct session
    weight (R26). O(agents x groups each x weights)."""

    def __init__(self, state: StateData, config: Config) -> None:
        self.diversion = config.offline_diversion
        self.ladders = table(config)
        self.kinds = dict(config.session_kinds)
        weighted = config.strategy is Strategy.WEIGHTED
        self.agents = state.agents
        load: Counter[str] = Counter()
        for s in state.sessions:
            if s.agent is not None:
                load[s.agent] += self.weight(s)
        self.by_id = {a.id: a for a in state.agents}
        # R26: the room each agent has below its cap (None: UNLIMITED), or absent when it
        # takes no automatic assignment at all.
        self.room: dict[str, int | None] = {
            a.id: None if a.cap.value is None else a.cap.value - load[a.id]
            for a in state.agents
            if not a.away and a.cap.kind is not CapKind.SUSPENDED
            and (a.cap.value is None or load[a.id] < a.cap.value)
            and (a.weight > 0 or not weighted)
        }
        # online[None] counts every online agent; online[""] those serving every group.
        self.online: Counter[str | None] = Counter()
        for a in state.agents:
            if a.online:
                self.online[None] += 1
                self.online.update(("",) if a.groups is None else a.groups)
        self._free: dict[int, dict[bool, Counter[str | None]]] = {}

    def weight(self, s: SessionData) -> int:
        """R26: the capacity weight of ``s``."""
        return 1 if s.kind is None else self.kinds[s.kind]

    def fits(self, agent_id: str, weight: int) -> bool:
        """Available, with room for ``weight`` (R26). O(1)."""
        if agent_id not in self.room:
            return False
        room = self.room[agent_id]
        return room is None or weight <= room

    def free(self, weight: int) -> dict[bool, Counter[str | None]]:
        """free[side][None]: every agent of that side with room for ``weight``;
        free[side][""]: those serving every group; free[side][g]: those naming g.
        Counted once per weight: O(agents x groups each)."""
        free = self._free.get(weight)
        if free is None:
            free = self._free[weight] = {True: Counter(), False: Counter()}
            for a in self.agents:
                if self.fits(a.id, weight):
                    free[a.online][None] += 1
                    free[a.online].update(("",) if a.groups is None else a.groups)
        return free

    def _side(self, group: str | None) -> bool | None:
        """The side whose agents may take a session of ``group`` (R09), or None."""
        online = self.online[None] if group is None else self.online[""] + self.online[group]
        if online:
            return True
        return False if self.diversion else None

    def _takes(self, agent_id: str, s: SessionData, side: bool) -> bool:
        """Eligible for ``s`` on ``side``, R18 exclusions aside. O(1)."""
        a = self.by_id.get(agent_id)
        return (
            a is not None and self.fits(agent_id, self.weight(s)) and a.online == side
            and (a.groups is None or s.group is None or s.group in a.groups)
        )

    def _widened(self, s: SessionData, agents: tuple[AgentData, ...]) -> str | None:
        """R24: an online agent that a reached ladder step of ``s`` brings in, or None.

        Counted like the rest: the available online agents of the groups reached
        (an agent naming several is counted once per group, which only matters
        when ``s`` excludes some, R18: then the agents are scanned).
        O(groups reached); O(agents) to name one.
        """
        if s.ladder is None or not s.ladder[1]:
            return None
        rungs = self.ladders[s.group]  # type: ignore[index]
        step = s.ladder[1]
        free = self.free(self.weight(s))[True]
        anyone = reached_all(rungs, step)
        groups = reached_groups(rungs, step)
        total = free[None] if anyone else free[""] + sum(free[g] for g in groups)
        if total == 0:
            return None

        def takes(a: AgentData) -> bool:
            return (a.online and self.fits(a.id, self.weight(s)) and a.id not in s.timed_out
                    and (anyone or a.groups is None or bool(a.groups & groups)))

        return next((a.id for a in agents if takes(a)), None)

    def some_eligible(self, s: SessionData, agents: tuple[AgentData, ...]) -> str | None:
        """An agent eligible for waiting session ``s`` (the first registered), or None.

        Compares how many agents may take ``s`` with how many of them ``s``
        excludes (R18): O(|s.timed_out|); O(agents) only to name one.
        A session past a ladder step (R24) also counts the agents it brings in.
        """
        widened = self._widened(s, agents)
        if widened is not None:
            return widened
        side = self._side(s.group)
        if side is None:
            return None
        free = self.free(self.weight(s))[side]
        total = free[None] if s.group is None else free[""] + free[s.group]
        if total == 0:
            return None
        if total <= len(s.timed_out):
            excluded = sum(self._takes(x, s, side) for x in s.timed_out)
            if excluded == total:
                return None
        return next(a.id for a in agents
                    if self._takes(a.id, s, side) and a.id not in s.timed_out)


def _check_r06(state: StateData, config: Config) -> None:
    eligibility = _Eligibility(state, config)
    for i, s in enumerate(state.sessions):
        if s.pool is None:
            continue
        agent = eligibility.some_eligible(s, state.agents)
        if agent is not None:
            raise _fail(f"sessions[{i}]", f"R06: waits in the {s.pool.value} pool but agent"
                                          f" {short_repr(agent)} is eligible for it")


# -- the parser ----------------------------------------------------------------------


def _latest(state: StateData) -> float | None:
    times = [t for s in state.sessions for t in (s.opened_at, s.last_buyer)]
    times.extend(closed_at for _, _, closed_at in state.sticky)
    return max(times, default=None)


def parse_state(data: object, config: Config, taken_at: float | None) -> StateData:
    """Check an engine snapshot completely and return it as typed records.

    ``config`` is the (already checked) configuration the state is restored
    under; ``taken_at`` is the clock reading when the snapshot was taken, or
    None when unknown (version 1 snapshots), which skips the checks against
    it. Raises :class:`~kefu.errors.InvalidSnapshot` naming the first field
    at fault; the input is not modified. The records carry ``latest``, the
    latest instant they mention. Cost: O(state log state).
    """
    if taken_at is not None and (type(taken_at) is not float or not math.isfinite(taken_at)):
        raise _fail("taken_at", f"expected a finite float, got {short_repr(taken_at)}")
    d = _dict("state", data, _STATE_KEYS)
    c = _dict("counters", d["counters"], _COUNTER_KEYS)
    counters = {key: _count(c[key], "counters", key) for key in sorted(_COUNTER_KEYS)}
    agents = tuple(_agent(f"agents[{i}]", a) for i, a in enumerate(_list("agents", d["agents"])))
    sessions = tuple(_session(i, s) for i, s in enumerate(_list("sessions", d["sessions"])))
    sticky = tuple(_sticky(f"sticky[{i}]", e) for i, e in enumerate(_list("sticky", d["sticky"])))
    ladders = table(config)
    for i, s in enumerate(sessions):
        _check_session_times(i, s, config, ladders, taken_at)
    for i, a in enumerate(agents):
        _check_agent_status(i, a, taken_at)
    state = StateData(
        next_reg=counters["next_reg"], arrival=counters["arrival"], auto=counters["auto"],
        timer=counters["timer"], rr_pointer=counters["rr_pointer"], vt=counters["vt"],
        agents=agents, sessions=sessions, sticky=sticky, latest=None,
    )
    _check_agents(state, config.strategy)
    _check_rr_pointer(state)
    agent_ids = {a.id for a in agents}
    _check_sessions(state, agent_ids)
    _check_sticky(state, config, agent_ids, taken_at)
    _check_r06(state, config)
    return state._replace(latest=_latest(state))
