"""Restore rejects every impossible state, the same way on every engine (R22, R23).

Each case damages one field of a reachable snapshot and names the rule the
check defends. Every engine must raise InvalidSnapshot with one message,
naming the field; a rejected restore builds nothing. Reachable states that
look odd (sticky memory out of time order, a hand-over stamped before the
session opened) must keep restoring. The checks are explicit (``expect``) so
that this file means the same under ``python -O``.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from kefu import Assigner, ManualClock, Strategy
from kefu._snapshot import parse_state
from kefu.assigner import ENGINES
from kefu.errors import InvalidSnapshot, KefuError
from kefu.model import Config
from test_snapshot_fuzz import Hostile, engine_names, expect

TAKEN_AT = 55.0
Damage = Callable[[dict[str, Any]], None]


def base_snapshot() -> dict[str, Any]:
    """A reachable shop at TAKEN_AT:

    A (cap 1, "pre", online) holds s0 (answered, then the buyer wrote at 50);
    B (cap 1, every group, online) holds s2 (first-response timer 70 from the
    drain at 40); C (cap 1, "post") is offline; s3 ("pre") waits in the queue
    pool with an auto-close timer (115, from an auto-reply at 55); the sticky
    memory remembers b1 -> B, closed at 40.
    """
    clock = ManualClock(0.0)
    a = Assigner(clock, auto_close_after=60.0, first_response_timeout=30.0, sticky_window=300.0,
                 engine="py")
    a.add_agent("A", cap=1, groups={"pre"}, online=True)
    a.add_agent("B", cap=1, online=True)
    a.add_agent("C", cap=1, groups={"post"})
    clock.set(10.0)
    a.open_session("s0", buyer="b0", group="pre")
    clock.set(20.0)
    a.open_session("s1", buyer="b1")
    clock.set(25.0)
    a.agent_message("s0")
    clock.set(30.0)
    a.open_session("s2", buyer="b2", group="pre", priority=1)
    clock.set(40.0)
    a.close_session("s1")
    clock.set(50.0)
    a.open_session("s3", buyer="b3", group="pre")
    a.buyer_message("s0")
    clock.set(TAKEN_AT)
    a.agent_message("s3", auto=True)
    return json.loads(json.dumps(a.snapshot()))


def set_(*path_and_value: Any) -> Damage:
    *path, value = path_and_value

    def damage(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return damage


def both(*damages: Damage) -> Damage:
    def damage(data: dict[str, Any]) -> None:
        for d in damages:
            d(data)

    return damage


def restore_everywhere(data: dict[str, Any], taken_at: float | None) -> list[tuple[Any, ...]]:
    """Restore on every engine; each outcome is ("ok", snapshot) or ("error", type, message)."""
    outcomes: list[tuple[Any, ...]] = []
    for name in engine_names():
        engine = ENGINES[name](Config.from_data(data["config"]))
        try:
            engine.restore_state(copy.deepcopy(data["state"]), taken_at)
        except KefuError as exc:
            outcomes.append(("error", type(exc), str(exc)))
        else:
            engine.check()
            outcomes.append(("ok", engine.snapshot()))
    for name, outcome in zip(engine_names(), outcomes, strict=True):
        expect(outcome == outcomes[0], f"{name} disagrees: {outcome} != {outcomes[0]}")
    return outcomes


def rejected(damage: Damage, taken_at: float | None = TAKEN_AT) -> str:
    """The one InvalidSnapshot message every engine gives for the damaged base snapshot."""
    data = base_snapshot()
    damage(data)
    outcome = restore_everywhere(data, taken_at)[0]
    expect(outcome[0] == "error" and outcome[1] is InvalidSnapshot, f"not rejected: {outcome}")
    message: str = outcome[2]
    expect(len(message) < 1000, f"a {len(message)}-character message")
    return message


def accepted(damage: Damage, taken_at: float | None = TAKEN_AT) -> None:
    data = base_snapshot()
    damage(data)
    outcome = restore_everywhere(data, taken_at)[0]
    expect(outcome[0] == "ok", f"rejected: {outcome}")
    expect(outcome[1] == data["state"], "does not snapshot back to the data given")


def case(name: str, damage: Damage, text: str) -> Any:
    return pytest.param(damage, text, id=name)


def check_cases(damage: Damage, text: str) -> None:
    message = rejected(damage)
    expect(text in message, f"{text!r} not in {message!r}")


# -- types exactly right -------------------------------------------------------------


@pytest.mark.parametrize(("damage", "text"), [
    case("bool for int", set_("state", "agents", 0, "reg", False), "agents[0].reg"),
    case("float for int", set_("state", "sessions", 0, "arrival", 1.0), "sessions[0].arrival"),
    case("int for float", set_("state", "sessions", 0, "opened_at", 10), "sessions[0].opened_at"),
    case("int too big for a float", set_("state", "sessions", 1, "last_buyer", 10**400),
         "sessions[1].last_buyer: expected a finite float, got <int of"),
    case("counter beyond 64 bits", set_("state", "counters", "timer", 2**64), "counters.timer"),
    case("NaN time", set_("state", "sessions", 0, "first_unanswered", math.nan),
         "sessions[0].first_unanswered"),
    case("infinite closed_at", set_("state", "sticky", 0, 2, math.inf), "sticky[0][2]"),
    case("NaN deadline", set_("state", "sessions", 2, "auto_close", [math.nan, 5]),
         "sessions[2].auto_close[0]"),
    case("bool for bool is fine, int is not", set_("state", "agents", 0, "online", 1),
         "agents[0].online"),
    case("tuple for list", set_("state", "sessions", 0, "timed_out", ()),
         "sessions[0].timed_out"),
    case("dict subclass", lambda d: d["state"].update(
        sessions=[type("D", (dict,), {})(s) for s in d["state"]["sessions"]]), "sessions[0]"),
    case("priority above the API range", set_("state", "sessions", 1, "priority", 10**9 + 1),
         "sessions[1].priority"),
    case("priority beyond a C int", set_("state", "sessions", 1, "priority", -(2**31)),
         "sessions[1].priority"),
    case("weight above 10000", set_("state", "agents", 1, "weight", 10_001), "agents[1].weight"),
    case("empty id", set_("state", "sessions", 0, "buyer", ""), "sessions[0].buyer"),
    case("id not a str", set_("state", "sticky", 0, 1, 7), "sticky[0][1]"),
    case("unsorted groups", set_("state", "agents", 0, "groups", ["pre", "an"]),
         "agents[0].groups"),
    case("hostile value", set_("state", "agents", 2, "cap", Hostile()), "agents[2].cap"),
    case("deep nesting", set_("state", "sessions", 0, "timed_out", [[[[[[[[[[[]]]]]]]]]]]),
         "sessions[0].timed_out[0]"),
])
def test_R22_restore_rejects_wrong_types(damage: Damage, text: str) -> None:
    check_cases(damage, text)


def test_R22_restore_survives_huge_and_deep_input_with_a_short_message() -> None:
    nested: list[Any] = []
    for _ in range(200_000):
        nested = [nested]
    for damage, text in ((set_("state", "sessions", 0, "agent", "x" * 12_000_000), "agent"),
                         (set_("state", "sessions", 1, "timed_out", nested), "timed_out[0]"),
                         (set_("state", "agents", 0, "groups", nested), "groups[0]")):
        data = base_snapshot()
        damage(data)  # no deep copies: restore_state leaves its input alone
        messages = set()
        for name in engine_names():
            engine = ENGINES[name](Config.from_data(data["config"]))
            with pytest.raises(InvalidSnapshot) as info:
                engine.restore_state(data["state"], TAKEN_AT)
            messages.add(str(info.value))
        message = messages.pop()
        expect(not messages and text in message and len(message) < 400, message[:500])


class ArmedKey:
    """A key that hashes like "id" and raises when compared, once it is in its dict."""

    armed = False

    def __hash__(self) -> int:
        return hash("id")

    def __eq__(self, other: object) -> bool:
        if ArmedKey.armed:
            raise RuntimeError("compared a hostile key")
        return self is other


def test_R22_restore_never_calls_into_a_hostile_key() -> None:
    def damage(data: dict[str, Any]) -> None:
        record = data["state"]["agents"][0]
        data["state"]["agents"][0] = {ArmedKey(): 0, **{k: v for k, v in record.items()
                                                        if k != "id"}}

    data = base_snapshot()
    damage(data)
    ArmedKey.armed = True
    try:
        for name in engine_names():
            engine = ENGINES[name](Config.from_data(data["config"]))
            with pytest.raises(InvalidSnapshot, match=r"agents\[0\]: keys must be strings"):
                engine.restore_state(data["state"], TAKEN_AT)
    finally:
        ArmedKey.armed = False


# -- timers, exclusions and memory only when configured (R17, R18, R13) ---------------


@pytest.mark.parametrize(("damage", "text"), [
    case("auto close off", set_("config", "auto_close_after", None),
         "sessions[2].auto_close: an auto-close timer, but auto_close_after is off"),
    case("first response off", set_("config", "first_response_timeout", None),
         "sessions[1].first_response: a first-response timer, but"),
    case("R18 exclusions without timeouts", both(
        set_("config", "first_response_timeout", None),
        set_("state", "sessions", 1, "first_response", None),
        set_("state", "sessions", 0, "timed_out", ["B"])),
         "sessions[0].timed_out: R18 exclusions"),
    case("sticky off", set_("config", "sticky_window", None), "sticky: sticky memory, but"),
    case("first-response timer on a waiting session",
         set_("state", "sessions", 2, "first_response", [70.0, 3]),
         "sessions[2].first_response: a waiting session"),
])
def test_R17_R18_R13_restore_rejects_state_of_features_that_are_off(damage: Damage, text: str
                                                                     ) -> None:
    check_cases(damage, text)


# -- times in order, deadlines from the durations --------------------------------------


@pytest.mark.parametrize(("damage", "text"), [
    case("first unanswered before opening", set_("state", "sessions", 1, "first_unanswered", 29.0),
         "sessions[1].first_unanswered"),
    case("first unanswered after the last buyer message",
         set_("state", "sessions", 0, "first_unanswered", 51.0), "sessions[0].first_unanswered"),
    case("last buyer message before opening", both(
        set_("state", "sessions", 0, "first_unanswered", None),
        set_("state", "sessions", 0, "last_buyer", 9.0)), "sessions[0].last_buyer"),
    case("last buyer message after taken_at", both(
        set_("state", "sessions", 0, "last_buyer", 56.0)), "sessions[0].last_buyer"),
    case("opened out of arrival order", set_("state", "sessions", 1, "opened_at", 5.0),
         "sessions[1]"),
    case("closed after taken_at", set_("state", "sticky", 0, 2, 60.0), "sticky[0][2]"),
    case("auto close before last buyer message + duration",
         set_("state", "sessions", 2, "auto_close", [109.0, 5]), "sessions[2].auto_close"),
    case("auto close after taken_at + duration",
         set_("state", "sessions", 2, "auto_close", [115.5, 5]), "sessions[2].auto_close"),
    case("first response after taken_at + timeout",
         set_("state", "sessions", 1, "first_response", [85.5, 4]),
         "sessions[1].first_response: deadline 85.5 is after taken_at 55.0 plus"
         " first_response_timeout 30.0"),
    case("minus infinite deadline", set_("state", "sessions", 1, "first_response", [-math.inf, 4]),
         "sessions[1].first_response[0]"),
])
def test_R17_R19_R20_restore_rejects_impossible_times(damage: Damage, text: str) -> None:
    check_cases(damage, text)


def test_R17_restore_rejects_an_auto_close_set_before_the_last_buyer_message() -> None:
    damage = both(set_("state", "sessions", 2, "first_unanswered", 54.5),
                  set_("state", "sessions", 2, "last_buyer", 54.5))
    accepted(damage)  # set at 55: after the buyer's message at 54.5
    message = rejected(both(damage, set_("state", "sessions", 2, "auto_close", [114.0, 5])))
    expect(message == "snapshot sessions[2].auto_close: deadline 114.0 is before last_buyer 54.5"
                      " plus auto_close_after 60.0", message)


def test_R17_restore_rejects_auto_close_deadlines_out_of_timer_order() -> None:
    """Agent messages come in time order: a later-numbered timer never has an earlier deadline."""
    later = set_("state", "sessions", 0, "auto_close", [110.0, 6])  # set at 50, numbered after
    bump = set_("state", "counters", "timer", 6)
    accepted(both(bump, set_("state", "sessions", 0, "auto_close", [115.0, 6])))
    message = rejected(both(bump, later))
    expect(message.startswith("snapshot sessions[0].auto_close: deadline 110.0 is before 115.0"),
           message)


def test_R22_restore_skips_taken_at_checks_without_taken_at() -> None:
    damage = both(set_("state", "sessions", 0, "last_buyer", 1e6),
                  set_("state", "sessions", 2, "auto_close", [1e6, 5]))
    rejected(damage)
    accepted(damage, taken_at=None)


# -- counters against the records -------------------------------------------------------


@pytest.mark.parametrize(("damage", "text"), [
    case("duplicate agent", set_("state", "agents", 1, "id", "A"), "agents[1].id: duplicate"),
    case("registration order", set_("state", "agents", 1, "reg", 0), "agents[1].reg"),
    case("registration at next_reg", set_("state", "counters", "next_reg", 2), "agents[2].reg"),
    case("arrival above the counter", set_("state", "counters", "arrival", 3),
         "sessions[2].arrival"),
    case("duplicate session", set_("state", "sessions", 1, "id", "s0"), "sessions[1].id"),
    case("last_auto above the counter", set_("state", "agents", 2, "last_auto", 4),
         "agents[2].last_auto"),
    case("last_auto twice", set_("state", "agents", 2, "last_auto", 1), "agents[2].last_auto"),
    case("timer number twice", set_("state", "sessions", 2, "auto_close", [115.0, 4]),
         "sessions[2].auto_close: timer number 4"),
    case("timer number above the counter", set_("state", "counters", "timer", 4),
         "sessions[2].auto_close: timer number 5"),
    case("rr pointer not after the last automatic assignment",
         set_("state", "counters", "rr_pointer", 1), "counters.rr_pointer"),
    case("rr pointer before any automatic assignment", both(
        set_("state", "counters", "auto", 0), set_("state", "agents", 0, "last_auto", 0),
        set_("state", "agents", 1, "last_auto", 0)), "counters.rr_pointer"),
    case("rr pointer past next_reg", set_("state", "counters", "rr_pointer", 4),
         "counters.rr_pointer"),
    case("unknown agent", set_("state", "sessions", 0, "agent", "ghost"), "sessions[0].agent"),
    case("sticky entry for an unknown agent", set_("state", "sticky", 0, 1, "ghost"),
         "sticky[0][1]"),
    case("sticky buyer twice", lambda d: d["state"]["sticky"].append(["b1", "A", 41.0]),
         "sticky[1][0]"),
    case("agent and pool", set_("state", "sessions", 0, "pool", "queue"), "never both"),
])
def test_R22_restore_rejects_counters_and_records_that_disagree(damage: Damage, text: str
                                                                 ) -> None:
    check_cases(damage, text)


def test_R22_restore_accepts_the_agent_of_the_last_assignment_removed() -> None:
    """rr_pointer - 1 may be the reg of a removed agent (no one holds last_auto == auto)."""
    removed = both(set_("state", "counters", "next_reg", 4), set_("state", "counters",
                                                                  "rr_pointer", 4))
    accepted(both(removed, set_("state", "agents", 1, "last_auto", 2)))
    rejected(set_("state", "agents", 1, "last_auto", 2))  # B at the pointer is not the last


@pytest.mark.parametrize(("damage", "text"), [
    case("pass under LEAST_LOAD", set_("state", "agents", 0, "pass", 1), "agents[0].pass"),
    case("vt under ROUND_ROBIN", both(set_("config", "strategy", "round_robin"),
                                      set_("state", "counters", "vt", 5)), "counters.vt"),
])
def test_R11_restore_rejects_weighted_state_under_other_strategies(damage: Damage, text: str
                                                                    ) -> None:
    check_cases(damage, text)


def test_R11_restore_accepts_the_same_state_under_weighted() -> None:
    accepted(both(set_("config", "strategy", "weighted"), set_("state", "agents", 0, "pass", 1),
                  set_("state", "counters", "vt", 5)))


# -- R06 in O(state) --------------------------------------------------------------------------


@pytest.mark.parametrize(("damage", "text"), [
    case("room for the queue", set_("state", "agents", 0, "cap", 2), "agent 'A' is eligible"),
    case("an offline agent under diversion", both(
        set_("config", "offline_diversion", True), set_("state", "agents", 1, "online", False),
        set_("state", "sessions", 2, "group", "post"),
        set_("state", "sessions", 2, "pool", "offline")), "agent 'C' is eligible"),
    case("a session without a group", both(
        set_("state", "sessions", 2, "group", None), set_("state", "agents", 2, "online", True)),
         "agent 'C' is eligible"),
    case("one of two excluded", both(
        set_("state", "agents", 0, "cap", 2), set_("state", "agents", 1, "cap", "unlimited"),
        set_("state", "sessions", 2, "timed_out", ["A"])), "agent 'B' is eligible"),
])
def test_R06_restore_rejects_a_waiting_session_with_an_eligible_agent(damage: Damage, text: str
                                                                      ) -> None:
    message = rejected(damage)
    expect(message.startswith("snapshot sessions[2]: R06: waits in the") and text in message,
           message)


@pytest.mark.parametrize("damage", [
    pytest.param(set_("state", "agents", 2, "online", True), id="online agent of another group"),
    pytest.param(both(set_("state", "agents", 0, "cap", 2),
                      set_("state", "sessions", 2, "timed_out", ["A"])), id="timed out (R18)"),
    pytest.param(both(set_("config", "strategy", "weighted"), set_("state", "agents", 0, "cap", 2),
                      set_("state", "agents", 0, "weight", 0)), id="weight 0 under WEIGHTED"),
    pytest.param(both(set_("state", "agents", 0, "cap", "suspended")), id="suspended"),
    pytest.param(both(set_("state", "sessions", 2, "group", "post"),
                      set_("state", "sessions", 2, "pool", "offline")),
                 id="offline agent without diversion"),
])
def test_R06_restore_accepts_a_waiting_session_nobody_may_take(damage: Damage) -> None:
    accepted(damage)


def test_R06_restore_rejects_an_R06_violation_under_python_O() -> None:
    """The check is real code: ``python -O`` (no asserts) still rejects."""
    data = base_snapshot()
    data["state"]["agents"][0]["cap"] = 2
    script = (
        "import json, sys\n"
        "from kefu import Assigner\n"
        "from kefu.errors import InvalidSnapshot\n"
        "data = json.loads(sys.stdin.read())\n"
        "for engine in sys.argv[1:]:\n"
        "    try:\n"
        "        Assigner.restore(data, engine=engine)\n"
        "    except InvalidSnapshot as exc:\n"
        "        print(engine, 'R06' in str(exc))\n"
    )
    names = engine_names()
    done = subprocess.run([sys.executable, "-O", "-c", script, *names], input=json.dumps(data),
                          capture_output=True, text=True, timeout=120, check=True)
    expect(done.stdout.split() == [x for n in names for x in (n, "True")], done.stdout)


# -- reachable states that look odd keep restoring -------------------------------------------


def test_R13_restore_accepts_sticky_memory_out_of_time_order() -> None:
    """A tick closes at a timer's deadline, after a later manual close was remembered."""
    clock = ManualClock(0.0)
    a = Assigner(clock, auto_close_after=60.0, sticky_window=300.0, engine="py")
    a.add_agent("A", online=True)
    clock.set(100.0)
    a.open_session("s1", buyer="b1")
    a.agent_message("s1", auto=True)  # auto close at 160
    a.open_session("s2", buyer="b2")
    clock.set(200.0)
    a.close_session("s2")
    a.tick()
    data = a.snapshot()
    expect(data["state"]["sticky"] == [["b2", "A", 200.0], ["b1", "A", 160.0]], str(data))
    expect(restore_everywhere(data, clock.now())[0] == ("ok", data["state"]), "rejected")


def test_R18_restore_accepts_a_hand_over_stamped_before_the_session_opened() -> None:
    """A drain in tick() happens at the deadline that freed the agent: here before s3 opened."""
    clock = ManualClock(0.0)
    a = Assigner(clock, auto_close_after=60.0, first_response_timeout=30.0, engine="py")
    a.add_agent("A", cap=1, online=True)
    clock.set(100.0)
    a.open_session("s1")
    a.agent_message("s1", auto=True)  # auto close at 160
    clock.set(180.0)
    a.open_session("s3")
    clock.set(185.0)
    a.tick()  # s1 closes at 160; s3 goes to A "at 160": first response due 190
    data = a.snapshot()
    s3 = data["state"]["sessions"][0]
    expect(s3["opened_at"] == 180.0 and s3["first_response"] == [190.0, 3], str(s3))
    expect(restore_everywhere(data, clock.now())[0] == ("ok", data["state"]), "rejected")


# -- the interface ------------------------------------------------------------------------


def test_R22_restore_state_returns_the_latest_recorded_instant() -> None:
    data = base_snapshot()
    for name in engine_names():
        engine = ENGINES[name](Config.from_data(data["config"]))
        expect(engine.restore_state(copy.deepcopy(data["state"]), TAKEN_AT) == 50.0, name)
        empty = ENGINES[name](Config())
        state = Assigner(engine=name).snapshot()["state"]  # type: ignore[arg-type]
        expect(empty.restore_state(state, None) is None, name)


def test_R22_restore_state_needs_a_fresh_engine() -> None:
    data = base_snapshot()
    for name in engine_names():
        shop = Assigner(engine=name)  # type: ignore[arg-type]
        shop.add_agent("Z")
        with pytest.raises(KefuError, match="fresh engine"):
            shop._engine.restore_state(data["state"], None)
        expect(shop.agent_ids() == ["Z"], name)


@pytest.mark.parametrize("name", ["py", "naive"])
def test_R22_restore_does_not_run_check(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """check() is the tests' O(agents x waiting) verifier: restore must not need it."""

    def refuse(self: object) -> None:
        raise AssertionError("check() ran during restore")

    monkeypatch.setattr(ENGINES[name], "check", refuse)
    data = base_snapshot()
    engine = ENGINES[name](Config.from_data(data["config"]))
    engine.restore_state(data["state"], TAKEN_AT)


def test_R22_parse_state_leaves_its_input_alone() -> None:
    data = base_snapshot()
    before = copy.deepcopy(data)
    parse_state(data["state"], Config.from_data(data["config"]), TAKEN_AT)
    expect(data == before, "parse_state changed its input")


def test_R22_restored_shop_carries_on_like_the_original() -> None:
    clock = ManualClock(TAKEN_AT)
    data = base_snapshot()
    shops = [Assigner.restore(copy.deepcopy(data), clock, engine=n)  # type: ignore[arg-type]
             for n in engine_names()]
    original = Assigner.restore(copy.deepcopy(data), clock, engine="naive")
    for step in (lambda a: a.close_session("s0"), lambda a: a.agent_online("C"),
                 lambda a: a.tick(), lambda a: a.open_session("s9", buyer="b1")):
        clock.advance(30.0)
        expected = step(original)
        for shop in shops:
            expect(step(shop) == expected, shop.engine)
            expect(shop.snapshot() == original.snapshot(), shop.engine)
    expect(Strategy.LEAST_LOAD is original.config.strategy, "config kept")
