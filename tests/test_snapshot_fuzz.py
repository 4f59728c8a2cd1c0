"""Snapshot-mutation fuzzer: every engine gives one verdict on any snapshot (R22, R23).

Real snapshots come from random command sequences (on a random engine);
random mutations then damage them: values replaced by junk of every type
(bools, floats, huge ints, NaN, inf, nested lists, objects whose methods
raise), keys removed or added, records duplicated, swapped or removed,
times shifted, numbers nudged, sessions moved between agents and pools,
the configuration and the time taken changed. Then, on every engine (c, py,
naive), either:

* ``restore_state`` raises InvalidSnapshot, with the same message
  everywhere, a bounded one; or
* the restore passes ``check()`` everywhere, snapshots back to exactly the
  data given, and the restored Assigners then behave identically under
  random commands (lockstep: events, errors and snapshots).

No other exception may escape. The checks here are explicit (``expect``),
not ``assert``, so the file means the same under ``python -O``.
"""

from __future__ import annotations

import copy
import itertools
import math
import sys
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, Cap, LadderStep, ManualClock, Strategy
from kefu._compat import REQUIRE_EXTENSIONS
from kefu.assigner import ENGINES
from kefu.errors import InvalidSnapshot, KefuError
from kefu.model import Config
from test_hostile import deep_list

AGENTS = ["A", "B", "C", "D"]
SESSIONS = [f"s{i}" for i in range(10)]
BUYERS = ["b1", "b2", "b3"]
GROUPS = [None, "pre", "post"]
MAX_MESSAGE = 1000

configs = st.fixed_dictionaries({
    "strategy": st.sampled_from([s.value for s in Strategy]),
    "offline_diversion": st.booleans(),
    "auto_close_after": st.sampled_from([None, 60.0, 60.0, 1200.0]),
    "first_response_timeout": st.sampled_from([None, 30.0, 30.0, 90.0]),
    "sticky_window": st.sampled_from([None, 300.0, 300.0]),
    # R24: waiting sessions carry a ladder state.
    "ladders": st.sampled_from([
        None, None, {"pre": [LadderStep(30.0, {"post"}), LadderStep(61.0, None)]},
        {"pre": [LadderStep(1.0, {"post", "vip"})], "post": [LadderStep(31.0, None)]}]),
    # R26: sessions carry a kind; loads are weight sums.
    "session_kinds": st.sampled_from([None, None, {"chat": 1, "dispute": 2}]),
})
FEATURE_SWITCHES = [("auto_close_after", None), ("first_response_timeout", None),
                    ("sticky_window", None), ("strategy", "weighted"), ("strategy", "least_load"),
                    ("strategy", "round_robin"), ("offline_diversion", True),
                    ("offline_diversion", False), ("auto_close_after", 30.0),
                    ("first_response_timeout", 90.0),
                    ("ladders", {"pre": [{"after": 30.0, "groups": ["post"]}]}),
                    ("ladders", {"pre": [{"after": 30.0, "groups": ["post"]},
                                         {"after": 60.0, "groups": None}]}),
                    ("ladders", {"post": [{"after": 1.0, "groups": None}]}),
                    ("session_kinds", {"chat": 1, "dispute": 2}),
                    ("session_kinds", {"chat": 2, "dispute": 1})]
caps = st.sampled_from([Cap.UNLIMITED, Cap.SUSPENDED, Cap.limit(1), Cap.limit(1), Cap.limit(2)])
group_sets = st.sampled_from([None, frozenset({"pre"}), frozenset({"post"}),
                              frozenset({"pre", "post"}), frozenset()])
agent_ids = st.sampled_from(AGENTS)
session_ids = st.sampled_from(SESSIONS)

# A command is (method, args, kwargs); "advance" moves the shared clock instead.
opens = st.tuples(st.just("open_session"),
                  st.tuples(session_ids, st.sampled_from([None, *BUYERS]), st.sampled_from(GROUPS),
                            st.integers(-1, 2)),
                  st.fixed_dictionaries({}, optional={
                      "kind": st.sampled_from(["chat", "dispute", "ghost"])}))
commands = st.one_of(
    opens, opens, opens,  # opening is the busiest command: build backlogs
    st.tuples(st.just("add_agent"), st.tuples(agent_ids, caps, group_sets, st.integers(0, 3)),
              st.fixed_dictionaries({"online": st.booleans()})),
    st.tuples(st.just("remove_agent"), st.tuples(agent_ids), st.just({})),
    st.tuples(st.just("agent_online"), st.tuples(agent_ids), st.just({})),
    st.tuples(st.just("agent_offline"), st.tuples(agent_ids),
              st.fixed_dictionaries({"requeue": st.booleans()})),
    st.tuples(st.just("agent_away"), st.tuples(agent_ids), st.just({})),  # R27
    st.tuples(st.just("agent_offline"), st.tuples(agent_ids),
              st.fixed_dictionaries({"grace": st.sampled_from([30.0, 61.0])})),
    st.tuples(st.just("set_cap"), st.tuples(agent_ids, caps), st.just({})),
    st.tuples(st.just("set_weight"), st.tuples(agent_ids, st.integers(0, 3)), st.just({})),
    st.tuples(st.just("buyer_message"), st.tuples(session_ids), st.just({})),
    st.tuples(st.just("agent_message"), st.tuples(session_ids),
              st.fixed_dictionaries({"auto": st.booleans()})),
    st.tuples(st.just("assign"), st.tuples(session_ids, agent_ids), st.just({})),
    st.tuples(st.just("transfer"), st.tuples(session_ids, agent_ids), st.just({})),
    st.tuples(st.just("close_session"), st.tuples(session_ids), st.just({})),
    st.tuples(st.just("tick"), st.just(()), st.just({})),
    st.tuples(st.just("advance"), st.tuples(st.sampled_from([1.0, 29.0, 31.0, 61.0, 301.0])),
              st.just({})),
)


class Hostile:
    """A value whose every method raises: the parser must never call into it."""

    def _boom(self, *args: object) -> Any:
        raise RuntimeError("hostile object called")

    __repr__ = __str__ = __lt__ = __gt__ = __le__ = __ge__ = __bool__ = __len__ = _boom
    __iter__ = __float__ = __int__ = __index__ = __format__ = _boom

    def __deepcopy__(self, memo: object) -> Hostile:
        return self


class HostileKey(Hostile):
    """A dict key that raises when compared (it hashes by identity, so no two collide)."""

    __eq__ = Hostile._boom  # type: ignore[assignment]
    __hash__ = object.__hash__


junk = st.one_of(
    st.none(), st.booleans(),
    st.sampled_from([0, 1, -1, 2, 500, 501, 10_000, 10_001, 10**9, 10**9 + 1, 2**62, 2**62 + 1,
                     2**63, 2**64, 10**400, -(10**400)]),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf]),
    st.text(max_size=4),
    st.sampled_from(["", "queue", "offline", "unlimited", "suspended", *AGENTS, *SESSIONS,
                     "pre", "x" * 100_000]),
    st.lists(st.one_of(st.none(), st.integers(-2, 2), st.floats(), st.text(max_size=2)),
             max_size=3),
    st.dictionaries(st.sampled_from(["id", "x"]), st.integers(0, 2), max_size=2),
    st.builds(deep_list, st.sampled_from([1, 5, 300])),
    st.builds(Hostile),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside dicts and lists, depth first."""
    found: list[tuple[Any, ...]] = []
    items = (node.items() if type(node) is dict
             else enumerate(node) if type(node) is list else ())
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        root = root[key]
    return root


class Mutator:
    """Applies one drawn mutation to a state, its config data and taken_at."""

    def __init__(self, data: st.DataObject, state: dict[str, Any], config: dict[str, Any],
                 taken_at: float | None) -> None:
        self.draw = data.draw
        self.state = state
        self.config = config
        self.taken_at = taken_at
        self.hostile = False

    def _pick(self, paths: list[tuple[Any, ...]]) -> tuple[Any, ...] | None:
        return self.draw(st.sampled_from(paths)) if paths else None

    def _leaves(self, kind: type) -> list[tuple[Any, ...]]:
        return [p for p in _paths(self.state) if type(_parent(self.state, p)[p[-1]]) is kind]

    def _junk(self) -> Any:
        value = self.draw(junk)
        self.hostile |= isinstance(value, Hostile)
        return value

    def replace(self) -> None:
        path = self._pick(_paths(self.state))
        if path is not None:
            _parent(self.state, path)[path[-1]] = self._junk()

    def delete(self) -> None:
        path = self._pick(_paths(self.state))
        if path is not None:
            del _parent(self.state, path)[path[-1]]

    def _node(self, kind: type) -> Any:
        """A random node of type ``kind`` (the state itself is a dict node too), or None."""
        nodes = [self.state] if kind is dict else []
        nodes += [n for p in _paths(self.state) if type(n := _parent(self.state, p)[p[-1]]) is kind]
        return nodes[self.draw(st.integers(0, len(nodes) - 1))] if nodes else None

    def add_key(self) -> None:
        target = self._node(dict)
        if self.draw(st.booleans()):
            self.hostile = True
            target[HostileKey()] = 1
        else:
            target[self.draw(st.sampled_from(["extra", "Id", "pass_"]))] = self._junk()

    def duplicate_or_swap(self) -> None:
        items = self._node(list)
        if not items:
            return
        i = self.draw(st.integers(0, len(items) - 1))
        j = self.draw(st.integers(0, len(items) - 1))
        if self.draw(st.booleans()):
            items.insert(j, copy.deepcopy(items[i]))
        else:
            items[i], items[j] = items[j], items[i]

    def shift_time(self) -> None:
        path = self._pick(self._leaves(float))
        if path is not None:
            delta = self.draw(st.sampled_from([-1000.0, -60.0, -1.0, -1e-9, 1e-9, 1.0, 60.0,
                                               1000.0]))
            _parent(self.state, path)[path[-1]] += delta

    def nudge_int(self) -> None:
        path = self._pick(self._leaves(int))
        if path is not None:
            _parent(self.state, path)[path[-1]] += self.draw(st.sampled_from([-2, -1, 1, 2]))

    def flip_bool(self) -> None:
        path = self._pick(self._leaves(bool))
        if path is not None:
            parent = _parent(self.state, path)
            parent[path[-1]] = not parent[path[-1]]

    def move_session(self) -> None:
        sessions = self.state.get("sessions")
        if type(sessions) is not list or not sessions or type(sessions[0]) is not dict:
            return
        s = sessions[self.draw(st.integers(0, len(sessions) - 1))]
        if type(s) is not dict:
            return
        place = self.draw(st.sampled_from([*AGENTS, "queue", "offline"]))
        s["agent"], s["pool"] = (None, place) if place in ("queue", "offline") else (place, None)
        if s["pool"] is not None or self.draw(st.booleans()):
            s["first_response"] = None

    def free_agent(self) -> None:
        """Give an agent room or eligibility: the mutations that can break R06 alone."""
        agents = self.state.get("agents")
        if type(agents) is not list or not agents:
            return
        a = agents[self.draw(st.integers(0, len(agents) - 1))]
        if type(a) is dict:
            key, value = self.draw(st.sampled_from([
                ("cap", "unlimited"), ("cap", 500), ("online", True), ("online", False),
                ("weight", 3), ("groups", None), ("groups", ["post", "pre"])]))
            a[key] = value

    def flip_config(self) -> None:
        key, value = self.draw(st.sampled_from(FEATURE_SWITCHES))
        self.config[key] = value

    def _records(self, key: str) -> list[Any]:
        records = self.state.get(key)
        return [r for r in records if type(r) is dict] if type(records) is list else []

    def nudge_counter(self) -> None:
        counters = self.state.get("counters")
        # Only plain-string keys: add_key may have put a hostile key in this dict.
        names = sorted(k for k in counters if type(k) is str) if type(counters) is dict else []
        if names:
            key = self.draw(st.sampled_from(names))
            if type(counters[key]) is int:
                counters[key] += self.draw(st.sampled_from([-1, 1, 5]))

    def nudge_agent(self) -> None:
        agents = self._records("agents")
        if agents:
            a = agents[self.draw(st.integers(0, len(agents) - 1))]
            key = self.draw(st.sampled_from(["reg", "last_auto", "pass", "weight", "away",
                                             "grace"]))
            if key == "away":  # R27: set, drop or spoil the away flag
                a["away"] = self.draw(st.sampled_from([True, False, None]))
                if a["away"] is None:
                    del a["away"]
            elif key == "grace":  # R27: a grace timer, sound or not
                a["grace"] = self.draw(st.sampled_from([[30.0, 1], [1e300, 2], None, [5.0, 0]]))
            elif type(a.get(key)) is int:
                a[key] += self.draw(st.sampled_from([-1, 1, 232792560]))

    def shift_timer(self) -> None:
        sessions = [s for s in self._records("sessions")
                    if type(s.get("auto_close")) is list or type(s.get("first_response")) is list]
        if sessions:
            s = sessions[self.draw(st.integers(0, len(sessions) - 1))]
            kind = "auto_close" if type(s.get("auto_close")) is list else "first_response"
            timer = s[kind]
            if timer and type(timer[0]) is float:
                timer[0] += self.draw(st.sampled_from([-30.0, -1e-6, 1e-6, 30.0, 61.0]))

    def exclude(self) -> None:
        """Add R18 exclusions: the way a waiting session legitimately has no one to go to."""
        sessions = self._records("sessions")
        if sessions:
            s = sessions[self.draw(st.integers(0, len(sessions) - 1))]
            s["timed_out"] = sorted(self.draw(st.sets(st.sampled_from(AGENTS), min_size=1)))

    def rekind(self) -> None:
        """R26: give a session another kind (known or not), or take its kind away."""
        sessions = self._records("sessions")
        if sessions:
            s = sessions[self.draw(st.integers(0, len(sessions) - 1))]
            kind = self.draw(st.sampled_from([None, "chat", "dispute", "ghost"]))
            if kind is None:
                s.pop("kind", None)
            else:
                s["kind"] = kind

    def move_taken_at(self) -> None:
        self.taken_at = self.draw(st.sampled_from([None, -1.0, 0.0, 1e9])) if self.draw(
            st.booleans()) else (self.taken_at or 0.0) + self.draw(st.sampled_from([-61.0, 61.0]))

    def mutate(self) -> None:
        """One targeted mutation (most restorable states come from these), or 1-3 of any kind."""
        targeted = [self.move_session, self.free_agent, self.flip_config, self.move_taken_at,
                    self.nudge_counter, self.nudge_agent, self.shift_timer, self.exclude,
                    self.rekind]
        generic = [self.replace, self.delete, self.add_key, self.duplicate_or_swap,
                   self.shift_time, self.nudge_int, self.flip_bool]
        if self.draw(st.booleans()):
            self.draw(st.sampled_from(targeted))()
            return
        for _ in range(self.draw(st.integers(1, 3))):
            self.draw(st.sampled_from(generic + targeted))()


# -- an independent verdict: which states can commands produce? ---------------------------
# Written from docs/semantics.md as plainly as possible (scans, no indexes), so
# that the fuzzer also catches states that every engine would accept alike
# but no sequence of commands can produce, and valid states rejected.


class _Impossible(Exception):
    pass


def _need(condition: bool) -> None:
    if not condition:
        raise _Impossible


def _is(v: object, kind: type, lo: float = -math.inf, hi: float = math.inf) -> bool:
    return type(v) is kind and lo <= v <= hi  # type: ignore[operator]


def _is_id(v: object) -> bool:
    return type(v) is str and v != ""


def _is_time(v: object) -> bool:
    return type(v) is float and math.isfinite(v)


def _record(v: object, keys: set[str]) -> dict[str, Any]:
    _need(type(v) is dict and all(type(k) is str for k in v) and set(v) == keys)  # type: ignore[union-attr]
    return v  # type: ignore[return-value]


def _id_list(v: object) -> list[str]:
    _need(type(v) is list and all(_is_id(x) for x in v))  # type: ignore[union-attr]
    _need(all(a < b for a, b in itertools.pairwise(v)))  # type: ignore[arg-type]
    return v  # type: ignore[return-value]


def _timer_ok(v: object, duration: float | None, earliest: float, latest: float) -> bool:
    if v is None:
        return True
    _need(type(v) is list and len(v) == 2)  # type: ignore[arg-type]
    deadline, seq = v  # type: ignore[misc]
    _need(type(deadline) is float and not math.isnan(deadline) and _is(seq, int, 1, 2**62))
    return duration is not None and earliest + duration <= deadline <= latest + duration


def _agents_possible(agents: list[dict[str, Any]], c: dict[str, int], weighted: bool) -> None:
    for a in agents:
        _need(_is_id(a["id"]) and _is(a["reg"], int, 0, c["next_reg"] - 1))
        _need((type(a["cap"]) is str and a["cap"] in ("unlimited", "suspended"))
              or _is(a["cap"], int, 1, 500))
        if a["groups"] is not None:
            _id_list(a["groups"])
        _need(_is(a["weight"], int, 0, 10_000) and type(a["online"]) is bool)
        _need(_is(a["last_auto"], int, 0, c["auto"]) and _is(a["pass"], int, 0, 2**62))
        _need(weighted or a["pass"] == 0)
    _need(len({a["id"] for a in agents}) == len(agents))
    _need(all(x["reg"] < y["reg"] for x, y in itertools.pairwise(agents)))
    autos = [a["last_auto"] for a in agents if a["last_auto"]]
    _need(len(set(autos)) == len(autos))
    _need(weighted or c["vt"] == 0)
    rr = c["rr_pointer"]
    if c["auto"] == 0:
        _need(rr == 0)
    else:
        _need(1 <= rr <= c["next_reg"])
        _need(all((a["reg"] == rr - 1) == (a["last_auto"] == c["auto"]) for a in agents))


def _session_possible(s: dict[str, Any], c: dict[str, int], agents: dict[str, Any],
                      config: Config, taken_at: float | None) -> None:
    _need(_is_id(s["id"]) and all(v is None or _is_id(v) for v in (s["buyer"], s["group"])))
    _need(_is(s["priority"], int, -(10**9), 10**9) and _is(s["arrival"], int, 1, c["arrival"]))
    _need(_is_time(s["opened_at"]) and _is_time(s["last_buyer"]))
    _need(s["first_unanswered"] is None or _is_time(s["first_unanswered"]))
    _need((s["agent"] is None) != (s["pool"] is None))
    _need(s["agent"] is None or (_is_id(s["agent"]) and s["agent"] in agents))
    _need(s["pool"] is None or (type(s["pool"]) is str and s["pool"] in ("queue", "offline")))
    last = s["last_buyer"]
    _need(s["opened_at"] <= last and (taken_at is None or last <= taken_at))
    _need(s["first_unanswered"] is None or s["opened_at"] <= s["first_unanswered"] <= last)
    _need(not _id_list(s["timed_out"]) or config.first_response_timeout is not None)
    latest = sys.float_info.max if taken_at is None else taken_at
    _need(_timer_ok(s["auto_close"], config.auto_close_after, last, latest))
    _need(s["first_response"] is None or s["agent"] is not None)
    _need(_timer_ok(s["first_response"], config.first_response_timeout, -sys.float_info.max,
                    latest))


def _ladder_possible(s: dict[str, Any], config: Config, taken_at: float | None) -> None:
    """R24: a ladder state exactly while waiting in a group with a ladder, its step within
    the ladder, reached steps due by ``taken_at``, the pending step's timer at
    ``since + after``."""
    steps = dict(config.ladders).get(s["group"], ()) if s["group"] is not None else ()
    _need(("ladder" in s) == bool(steps and s["pool"] is not None))
    if "ladder" not in s:
        return
    lad = _record(s["ladder"], {"since", "step", "next"})
    since, step, nxt = lad["since"], lad["step"], lad["next"]
    _need(_is_time(since) and _is(step, int, 0, len(steps)))
    _need(taken_at is None or since <= taken_at)
    _need(step == 0 or taken_at is None or since + steps[step - 1].after <= taken_at)
    if step == len(steps):
        _need(nxt is None)
        return
    _need(type(nxt) is list and len(nxt) == 2 and _is(nxt[1], int, 1, 2**62))
    _need(type(nxt[0]) is float and nxt[0] == since + steps[step].after)


def _reached(a: dict[str, Any], s: dict[str, Any], config: Config) -> bool:
    """R24: an online agent a reached ladder step of waiting session ``s`` brings in."""
    if "ladder" not in s or not a["online"]:
        return False
    for step in dict(config.ladders)[s["group"]][:s["ladder"]["step"]]:
        if step.groups is None or a["groups"] is None or set(a["groups"]) & step.groups:
            return True
    return False


def _serves(a: dict[str, Any], group: str | None) -> bool:
    return a["groups"] is None or group is None or group in a["groups"]


def _r06_possible(agents: list[dict[str, Any]], sessions: list[dict[str, Any]],
                  config: Config) -> None:
    """R06, with R26: an agent is eligible only when the session's weight fits its room."""
    kinds = dict(config.session_kinds)
    for s in sessions:
        if s["pool"] is None:
            continue
        nobody_online = not any(a["online"] and _serves(a, s["group"]) for a in agents)
        weight = kinds[s["kind"]] if "kind" in s else 1
        for a in agents:
            load = sum(kinds[x["kind"]] if "kind" in x else 1
                       for x in sessions if x["agent"] == a["id"])
            available = (not a.get("away") and a["cap"] != "suspended"
                         and (a["cap"] == "unlimited" or load + weight <= a["cap"])
                         and (a["weight"] > 0 or config.strategy is not Strategy.WEIGHTED))
            side = a["online"] or (config.offline_diversion and nobody_online)
            serves = (side and _serves(a, s["group"])) or _reached(a, s, config)
            _need(not (available and serves and a["id"] not in s["timed_out"]))


def _possible(state: object, config: Config, taken_at: float | None) -> None:
    d = _record(state, {"counters", "agents", "sessions", "sticky"})
    c = _record(d["counters"], {"next_reg", "arrival", "auto", "timer", "rr_pointer", "vt"})
    _need(all(_is(v, int, 0, 2**62) for v in c.values()))
    _need(all(type(x) is list for x in (d["agents"], d["sessions"], d["sticky"])))
    base = {"id", "reg", "cap", "groups", "weight", "online", "last_auto", "pass"}
    agents = [_record(a, base | (set(a) & {"away", "grace"}) if type(a) is dict else base)
              for a in d["agents"]]
    latest = sys.float_info.max if taken_at is None else taken_at
    for a in agents:  # R27: "away" only as true, on an online agent; "grace" on an offline one
        _need(a.get("away", True) is True and (not a.get("away") or a["online"]))
        if "grace" in a:
            g = a["grace"]
            _need(type(g) is list and len(g) == 2 and _is_time(g[0]) and not a["online"])
            _need(g[0] <= latest + 1e9 and _is(g[1], int, 1, c["timer"]))
    _agents_possible(agents, c, config.strategy is Strategy.WEIGHTED)
    by_id = {a["id"]: a for a in agents}
    keys = {"id", "buyer", "group", "priority", "arrival", "opened_at", "agent", "pool",
            "first_unanswered", "last_buyer", "timed_out", "auto_close", "first_response"}
    sessions = [_record(s, keys | (set(s) & {"ladder", "kind"}) if type(s) is dict else keys)
                for s in d["sessions"]]
    kinds = dict(config.session_kinds)
    _need(all(type(s["kind"]) is str and s["kind"] in kinds for s in sessions if "kind" in s))
    for s in sessions:
        _session_possible(s, c, by_id, config, taken_at)
        _ladder_possible(s, config, taken_at)
    _need(len({s["id"] for s in sessions}) == len(sessions))
    _need(all(x["arrival"] < y["arrival"] and x["opened_at"] <= y["opened_at"]
              for x, y in itertools.pairwise(sessions)))
    seqs = [t[1] for s in sessions for t in (s["auto_close"], s["first_response"]) if t]
    seqs += [a["grace"][1] for a in agents if "grace" in a]
    seqs += [s["ladder"]["next"][1] for s in sessions if "ladder" in s and s["ladder"]["next"]]
    _need(len(set(seqs)) == len(seqs) and all(q <= c["timer"] for q in seqs))
    auto_closes = [s["auto_close"] for s in sessions if s["auto_close"]]
    _need(all(x[0] <= y[0] for x in auto_closes for y in auto_closes if x[1] < y[1]))
    for e in d["sticky"]:
        _need(type(e) is list and len(e) == 3 and _is_id(e[0]) and _is_id(e[1]))
        _need(e[1] in by_id and _is_time(e[2]) and (taken_at is None or e[2] <= taken_at))
    _need(not d["sticky"] or config.sticky_window is not None)
    _need(len({e[0] for e in d["sticky"]}) == len(d["sticky"]))
    _r06_possible(agents, sessions, config)


def possible(state: object, config: Config, taken_at: float | None) -> bool:
    """Could commands produce ``state`` under ``config`` by ``taken_at``? (None: unknown.)"""
    try:
        _possible(state, config, taken_at)
    except _Impossible:
        return False
    return True


def expect(condition: bool, message: str) -> None:
    """A check that ``python -O`` cannot strip."""
    if not condition:
        raise AssertionError(message)


def engine_names() -> list[str]:
    if REQUIRE_EXTENSIONS:
        require_engine("c")
    return [name for name in ("c", "py", "naive") if name in ENGINES]


def run(shop: Assigner, clock: ManualClock, command: tuple[str, tuple[Any, ...], dict[str, Any]]
        ) -> tuple[Any, ...]:
    name, args, kwargs = command
    if name == "advance":
        clock.advance(args[0])
        return ("ok",)
    try:
        return ("ok", getattr(shop, name)(*args, **kwargs))
    except KefuError as exc:
        return ("error", type(exc), str(exc))


def source_snapshot(data: st.DataObject) -> tuple[dict[str, Any], float]:
    """A real snapshot: random commands on a random engine. Returns it and the clock then."""
    config = data.draw(configs)
    clock = ManualClock(data.draw(st.sampled_from([0.0, 1000.0])))
    shop = Assigner(clock, engine=data.draw(st.sampled_from(engine_names())),
                    **_config_kwargs(config))
    # A staffed shop with a backlog first, so that short runs reach rich states.
    for agent, cap, groups, online in data.draw(st.lists(
            st.tuples(agent_ids, caps, group_sets, st.booleans()), min_size=1, max_size=4)):
        run(shop, clock, ("add_agent", (agent, cap, groups, 1), {"online": online}))
    for sid in SESSIONS[:data.draw(st.integers(0, len(SESSIONS)))]:
        group = data.draw(st.sampled_from(GROUPS))
        run(shop, clock, ("open_session", (sid, data.draw(st.sampled_from(BUYERS)), group), {}))
        if data.draw(st.booleans()):  # an auto-reply: an auto-close timer
            run(shop, clock, ("agent_message", (sid,), {"auto": True}))
        clock.advance(1.0)
    for command in data.draw(st.lists(commands, max_size=30)):
        run(shop, clock, command)
    return shop.snapshot(), clock.now()


def _config_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "strategy": Strategy(config["strategy"])}


def restore_everywhere(state: dict[str, Any], config: dict[str, Any], taken_at: float | None,
                       plain: bool) -> tuple[Any, ...]:
    """Restore on every engine; require one verdict. Returns it."""
    outcomes = []
    for name in engine_names():
        given_state = copy.deepcopy(state)
        engine = ENGINES[name](Config.from_data(config))
        try:
            latest = engine.restore_state(given_state, taken_at)
        except InvalidSnapshot as exc:
            message = str(exc)
            expect(len(message) <= MAX_MESSAGE, f"{name}: a {len(message)}-char message")
            outcomes.append(("rejected", message))
        else:
            engine.check()
            outcomes.append(("restored", engine.snapshot(), latest))
        if plain:
            expect(given_state == state, f"{name}: restore_state changed its input")
    for name, outcome in zip(engine_names(), outcomes, strict=True):
        expect(outcome == outcomes[0],
               f"{name} disagrees: {outcome!r:.300} != {outcomes[0]!r:.300}")
    return outcomes[0]


def lockstep(data: st.DataObject, state: dict[str, Any], config: dict[str, Any],
             start: float) -> None:
    """Restored Assigners on every engine answer random commands identically."""
    clock = ManualClock(start)
    snapshot = {"format": "kefu.assigner", "version": 1, "config": config, "state": state}
    shops = [Assigner.restore(copy.deepcopy(snapshot), clock, engine=name)  # type: ignore[arg-type]
             for name in engine_names()]
    for command in data.draw(st.lists(commands, max_size=15)):
        if command[0] == "advance":
            clock.advance(command[1][0])
            continue
        outcomes = [run(shop, clock, command) for shop in shops]
        snapshots = [shop.snapshot() for shop in shops]
        for shop, outcome, snap in zip(shops, outcomes, snapshots, strict=True):
            shop.check()
            expect(outcome == outcomes[0], f"{shop.engine} differs on {command}: {outcome}")
            expect(snap == snapshots[0], f"{shop.engine}: snapshot differs after {command}")


def fuzz_one(data: st.DataObject) -> None:
    snapshot, now = source_snapshot(data)
    state, config = snapshot["state"], snapshot["config"]
    taken_at: float | None = now
    mutator = Mutator(data, state, config, taken_at)
    mutator.mutate()
    outcome = restore_everywhere(mutator.state, mutator.config, mutator.taken_at,
                                 plain=not mutator.hostile)
    verdict = possible(mutator.state, Config.from_data(mutator.config), mutator.taken_at)
    expect(verdict == (outcome[0] == "restored"),
           f"the plain reading of the rules says possible={verdict}, restore says {outcome!r:.300}")
    if outcome[0] == "rejected":
        event("rejected")
        return
    event("restored")
    if any(s["pool"] is not None for s in mutator.state["sessions"]):
        event("restored with sessions waiting")
    expect(outcome[1] == mutator.state, "the restored state snapshots back to other data")
    latest = outcome[2]
    start = max(t for t in (latest, mutator.taken_at, 0.0) if t is not None)
    lockstep(data, mutator.state, mutator.config, start)


@settings(max_examples=settings.default.max_examples * 6)
@given(data=st.data())
def test_R22_R23_mutated_snapshots_restore_alike_or_fail_alike(data: st.DataObject) -> None:
    fuzz_one(data)


@pytest.mark.soak
@settings(max_examples=settings.default.max_examples * 60)
@given(data=st.data())
def test_R22_R23_mutated_snapshots_soak(data: st.DataObject) -> None:
    fuzz_one(data)
