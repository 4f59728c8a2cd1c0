"""Bad input gets a typed kefu error naming the culprit, and changes nothing (R01, R14, R22)."""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable
from typing import Any

import pytest

import kefu.errors as errors
from kefu import Assigner, Cap, ManualClock, Strategy
from kefu.errors import (
    DuplicateAgent,
    DuplicateSession,
    InvalidArgument,
    InvalidCap,
    InvalidSnapshot,
    InvalidWeight,
    KefuError,
    UnknownAgent,
    UnknownSession,
)

Make = Callable[..., Assigner]


@pytest.fixture
def shop(make: Make, clock: ManualClock) -> Assigner:
    a = make(first_response_timeout=60.0, sticky_window=300.0)
    a.add_agent("A", cap=2, groups={"pre"}, online=True)
    a.add_agent("B", cap=1)
    for n in range(4):
        clock.advance(1)
        a.open_session(f"s{n}", buyer=f"b{n}", group="pre")
    a.agent_message("s0")
    return a


def test_every_error_is_a_kefu_error() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, Exception) and c.__module__ == "kefu.errors"]
    assert len(classes) >= 12
    for cls in classes:
        assert issubclass(cls, KefuError), cls
    assert issubclass(InvalidCap, ValueError) and issubclass(InvalidSnapshot, ValueError)


BAD_CALLS: list[tuple[str, Callable[[Assigner], object], type[KefuError], str]] = [
    ("unknown agent", lambda a: a.set_cap("Z", 3), UnknownAgent, "'Z'"),
    ("unknown agent online", lambda a: a.agent_online("Z"), UnknownAgent, "'Z'"),
    ("unknown agent remove", lambda a: a.remove_agent("Z"), UnknownAgent, "'Z'"),
    ("unknown agent load", lambda a: a.load("Z"), UnknownAgent, "'Z'"),
    ("duplicate agent", lambda a: a.add_agent("A"), DuplicateAgent, "'A'"),
    ("unknown session", lambda a: a.close_session("nope"), UnknownSession, "'nope'"),
    ("unknown session msg", lambda a: a.agent_message("nope"), UnknownSession, "'nope'"),
    ("duplicate session", lambda a: a.open_session("s1"), DuplicateSession, "'s1'"),
    ("cap 0", lambda a: a.set_cap("A", 0), InvalidCap, "0"),
    ("cap 501", lambda a: a.add_agent("C", cap=501), InvalidCap, "501"),
    ("cap float", lambda a: a.set_cap("A", 2.5), InvalidCap, "2.5"),
    ("cap str", lambda a: a.set_cap("A", "20"), InvalidCap, "'20'"),
    ("cap bool", lambda a: a.set_cap("A", True), InvalidCap, "True"),
    ("weight negative", lambda a: a.set_weight("A", -1), InvalidWeight, "-1"),
    ("weight huge", lambda a: a.add_agent("C", weight=10_001), InvalidWeight, "10001"),
    ("weight bool", lambda a: a.set_weight("A", True), InvalidWeight, "True"),
    ("agent id int", lambda a: a.add_agent(7), InvalidArgument, "7"),
    ("agent id empty", lambda a: a.agent_online(""), InvalidArgument, "''"),
    ("session id None", lambda a: a.open_session(None), InvalidArgument, "None"),
    ("group int", lambda a: a.open_session("x", group=3), InvalidArgument, "3"),
    ("buyer int", lambda a: a.open_session("x", buyer=3), InvalidArgument, "3"),
    ("priority str", lambda a: a.open_session("x", priority="1"), InvalidArgument, "'1'"),
    ("priority huge", lambda a: a.open_session("x", priority=10**12), InvalidArgument,
     "1000000000000"),
    ("groups str", lambda a: a.add_agent("C", groups="pre"), InvalidArgument, "'pre'"),
    ("groups member", lambda a: a.add_agent("C", groups=["pre", 1]), InvalidArgument, "1"),
    ("requeue int", lambda a: a.agent_offline("A", requeue=1), InvalidArgument, "1"),
    ("auto str", lambda a: a.agent_message("s0", auto="yes"), InvalidArgument, "'yes'"),
    ("online None", lambda a: a.add_agent("C", online=None), InvalidArgument, "None"),
]


@pytest.mark.parametrize(("name", "call", "error", "text"), BAD_CALLS,
                         ids=[c[0] for c in BAD_CALLS])
def test_bad_input_is_typed_named_and_changes_nothing(
    shop: Assigner, name: str, call: Callable[[Assigner], object], error: type[KefuError],
    text: str,
) -> None:
    before = shop.snapshot()
    deadline = shop.next_deadline()
    with pytest.raises(error) as info:
        call(shop)
    assert text in str(info.value), (name, str(info.value))
    assert shop.snapshot() == before
    assert shop.next_deadline() == deadline
    shop.check()


@pytest.mark.parametrize("config", [
    {"strategy": "least_load"},
    {"offline_diversion": 1},
    {"auto_close_after": 0},
    {"auto_close_after": -5.0},
    {"first_response_timeout": float("nan")},
    {"sticky_window": "600"},
])
def test_bad_config_is_rejected(clock: ManualClock, config: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        Assigner(clock, **config)


def test_unknown_engine_is_rejected(clock: ManualClock) -> None:
    with pytest.raises(InvalidArgument, match="'turbo'"):
        Assigner(clock, engine="turbo")  # type: ignore[arg-type]


def test_clock_errors() -> None:
    clock = ManualClock(10.0)
    with pytest.raises(InvalidArgument):
        clock.advance(-1)
    with pytest.raises(InvalidArgument):
        clock.set(5.0)
    with pytest.raises(InvalidArgument):
        ManualClock(float("inf"))
    assert clock.now() == 10.0


# -- snapshots -------------------------------------------------------------


def corrupt(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


CORRUPTIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown version", corrupt(["version"], 99), "version 99"),
    ("wrong format", corrupt(["format"], "other"), "format"),
    ("missing state", corrupt(["state"], KeyError), "keys"),
    ("bad strategy", corrupt(["config", "strategy"], "fastest"), "fastest"),
    ("bad cap", corrupt(["state", "agents", 0, "cap"], 0), "cap"),
    ("agent id type", corrupt(["state", "agents", 0, "id"], 5), "agents[0].id"),
    ("unknown agent ref", corrupt(["state", "sessions", 0, "agent"], "ghost"), "ghost"),
    ("both agent and pool", corrupt(["state", "sessions", 0, "pool"], "queue"), "never both"),
    ("bad pool", corrupt(["state", "sessions", 3, "pool"], "lobby"), "lobby"),
    ("duplicate session", corrupt(["state", "sessions", 1, "id"], "s0"), "duplicate"),
    ("arrival order", corrupt(["state", "sessions", 1, "arrival"], 99), "arrival"),
    ("timer shape", corrupt(["state", "sessions", 0, "auto_close"], [1.0]), "timer"),
    ("counters missing", corrupt(["state", "counters", "vt"], KeyError), "counters"),
    ("extra key", corrupt(["state", "extra"], 1), "keys"),
    # Structurally fine but breaks R06: the waiting session would have an eligible agent.
    ("R06 broken", corrupt(["state", "agents", 0, "cap"], "unlimited"), "R06"),
    ("load over cap ok but index", corrupt(["state", "agents", 1, "online"], True), "R06"),
]


@pytest.mark.parametrize(("name", "damage", "text"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_corrupt_snapshot_is_rejected_naming_what(
    shop: Assigner, engine: str, clock: ManualClock, name: str,
    damage: Callable[[dict[str, Any]], None], text: str,
) -> None:
    data = copy.deepcopy(shop.snapshot())
    damage(data)
    with pytest.raises(InvalidSnapshot) as info:
        Assigner.restore(data, clock, engine=engine)  # type: ignore[arg-type]
    assert text in str(info.value), (name, str(info.value))


def test_snapshot_of_wrong_type_is_rejected(clock: ManualClock, engine: str) -> None:
    for data in (None, [], "snapshot", {"format": "kefu.assigner"}):
        with pytest.raises(InvalidSnapshot):
            Assigner.restore(data, clock, engine=engine)  # type: ignore[arg-type]


def test_snapshot_restores_across_engines(shop: Assigner, clock: ManualClock) -> None:
    data = json.loads(json.dumps(shop.snapshot()))
    for other in ("py", "naive"):
        restored = Assigner.restore(data, clock, engine=other)  # type: ignore[arg-type]
        assert restored.snapshot() == shop.snapshot()


def test_weighted_snapshot_keeps_stride_state(make: Make, clock: ManualClock) -> None:
    a = make(strategy=Strategy.WEIGHTED)
    a.add_agent("A", weight=2, online=True)
    a.add_agent("B", weight=1, cap=Cap.limit(100), online=True)
    for n in range(7):
        a.open_session(f"s{n}")
    b = Assigner.restore(a.snapshot(), clock, engine=a.engine)  # type: ignore[arg-type]
    for n in range(7, 20):
        assert a.open_session(f"s{n}") == b.open_session(f"s{n}")
