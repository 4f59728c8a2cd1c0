"""One or more example tests per rule of SPEC part A, named after it, with exact events."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from kefu import Assigner, Cap, ManualClock, SessionState, Strategy
from kefu.errors import (
    AgentOffline,
    InvalidAssign,
    InvalidCap,
    InvalidTransfer,
    SessionWaiting,
    UnknownAgent,
    UnknownSession,
)
from kefu.events import (
    Assigned,
    AssignReason,
    Closed,
    CloseReason,
    Opened,
    Pool,
    Queued,
    Reassigned,
    Requeued,
    RequeueReason,
    ResponseTimedOut,
    Transferred,
)
from kefu.model import CapKind

Make = Callable[..., Assigner]
NEW, DRAIN, MANUAL = AssignReason.NEW, AssignReason.DRAIN, AssignReason.MANUAL
REQUEUE, STICKY = AssignReason.REQUEUE, AssignReason.STICKY


def assigned(events: list[object]) -> list[tuple[str, str]]:
    """(session, agent) of every Assigned event, in order."""
    return [(e.session_id, e.agent_id) for e in events if isinstance(e, Assigned)]


def open_many(a: Assigner, clock: ManualClock, ids: list[str], **kw: object) -> list[object]:
    events: list[object] = []
    for sid in ids:
        clock.advance(1)
        events += a.open_session(sid, buyer="b-" + sid, **kw)  # type: ignore[arg-type]
    return events


# -- R01 cap modes ----------------------------------------------------------------------


def test_R01_new_agent_is_unlimited_and_presets_are_numbers(make: Make) -> None:
    a = make()
    a.add_agent("alice", online=True)
    assert a.agent("alice").cap == Cap.UNLIMITED
    for n in (1, 20, 50, 100, 200, 500):
        a.set_cap("alice", Cap.limit(n))
        assert a.agent("alice").cap == Cap.limit(n)
        a.set_cap("alice", n)  # a plain int is accepted too
        assert a.agent("alice").cap.value == n


def _tampered_cap() -> Cap:
    """An UNLIMITED cap that carries a number: only reachable by bypassing the constructor."""
    cap = Cap.limit(3)
    object.__setattr__(cap, "kind", CapKind.UNLIMITED)
    return cap


@pytest.mark.parametrize("bad", [0, 501, -1, 2.5, "20", True, None, _tampered_cap()])
def test_R01_invalid_caps_are_rejected_and_change_nothing(make: Make, bad: object) -> None:
    a = make()
    a.add_agent("alice", cap=5, online=True)
    before = a.snapshot()
    with pytest.raises(InvalidCap) as err:
        a.set_cap("alice", bad)  # type: ignore[arg-type]
    assert isinstance(err.value, ValueError)
    assert repr(bad) in str(err.value)
    with pytest.raises(InvalidCap):
        a.add_agent("bob", cap=bad)  # type: ignore[arg-type]
    assert a.snapshot() == before


@pytest.mark.parametrize("bad", [0, 501, -1, 2.5, "20", True])
def test_R01_cap_limit_constructor_rejects(bad: object) -> None:
    with pytest.raises(InvalidCap):
        Cap.limit(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "value"),
    [("bogus", None), (CapKind.UNLIMITED, 3), (CapKind.SUSPENDED, 0), (CapKind.LIMIT, None),
     (CapKind.LIMIT, 501), (CapKind.LIMIT, True), ("limit", 5)],
)
def test_R01_raw_cap_constructor_rejects_impossible_caps(kind: object, value: object) -> None:
    with pytest.raises(InvalidCap):
        Cap(kind, value)  # type: ignore[arg-type]


def test_R01_suspended_agent_gets_no_automatic_assignment(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("alice", cap=Cap.SUSPENDED, online=True)
    events = open_many(a, clock, ["s1"])
    assert events[1] == Queued("s1", Pool.QUEUE, 1.0, buyer_id="b-s1")


# -- R02 cap stops automatic assignment only --------------------------------------------


def test_R02_full_agent_still_takes_manual_assignment_and_transfer(
    make: Make, clock: ManualClock
) -> None:
    a = make()
    a.add_agent("alice", cap=1, online=True)
    a.add_agent("bob", cap=Cap.SUSPENDED, online=True)
    open_many(a, clock, ["s1", "s2"])
    assert a.session("s2").state is SessionState.WAITING
    assert a.assign("s2", "alice") == [Assigned("s2", "alice", 2.0, MANUAL, buyer_id="b-s2")]
    assert a.load("alice") == 2  # above its cap: manual assignment ignores it
    assert a.transfer("s1", "bob") == [Transferred("s1", "alice", "bob", 2.0, buyer_id="b-s1")]
    assert a.load("bob") == 1  # bob is SUSPENDED: transfer ignores that too


def test_R02_manual_assignment_to_offline_agent_is_an_error(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("alice", online=True)
    a.add_agent("bob")
    a.set_cap("alice", Cap.SUSPENDED)
    open_many(a, clock, ["s1"])
    before = a.snapshot()
    with pytest.raises(AgentOffline, match="'bob'"):
        a.assign("s1", "bob")
    assert a.snapshot() == before


# -- R03 immediate assignment -----------------------------------------------------------


def test_R03_new_session_is_assigned_at_once(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("alice", online=True)
    clock.set(100.0)
    assert a.open_session("s1", buyer="b1", group=None, priority=0) == [
        Opened("s1", "b1", None, 0, 100.0),
        Assigned("s1", "alice", 100.0, NEW, buyer_id="b1"),
    ]
    assert a.session("s1").agent_id == "alice"


# -- R04 queue pool ---------------------------------------------------------------------


def test_R04_session_waits_in_queue_pool_when_online_agents_are_full(
    make: Make, clock: ManualClock
) -> None:
    a = make()
    a.add_agent("alice", cap=1, online=True)
    events = open_many(a, clock, ["s1", "s2"])
    assert events[-1] == Queued("s2", Pool.QUEUE, 2.0, buyer_id="b-s2")
    view = a.session("s2")
    assert (view.state, view.pool, view.agent_id) == (SessionState.WAITING, Pool.QUEUE, None)


# -- R05 drain on room ------------------------------------------------------------------


def test_R05_source_000_example_cap_20_one_closed_oldest_queued_goes_at_once(
    make: Make, clock: ManualClock
) -> None:
    a = make()
    a.add_agent("A", cap=Cap.limit(20), online=True)
    open_many(a, clock, [f"s{i}" for i in range(20)])
    assert a.load("A") == 20
    open_many(a, clock, ["q1", "q2"])
    assert a.waiting() == ["q1", "q2"]
    clock.advance(10)
    events = a.close_session("s7")
    assert events == [
        Closed("s7", "A", None, clock.now(), CloseReason.MANUAL, buyer_id="b-s7"),
        Assigned("q1", "A", clock.now(), DRAIN, buyer_id="b-q1"),
    ]
    assert a.load("A") == 20 and a.waiting() == ["q2"]


def test_R05_raising_cap_and_unsuspending_drain_at_once(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=1, online=True)
    open_many(a, clock, ["s1", "s2", "s3", "s4"])
    assert assigned(a.set_cap("A", 3)) == [("s2", "A"), ("s3", "A")]
    a.set_cap("A", Cap.SUSPENDED)
    a.close_session("s1")
    assert a.waiting() == ["s4"]
    assert assigned(a.set_cap("A", Cap.UNLIMITED)) == [("s4", "A")]


def test_R05_transfer_gives_room_to_the_giver(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=1, online=True)
    a.add_agent("B", cap=1, online=True)
    open_many(a, clock, ["s1", "s2", "s3"])
    assert a.transfer("s1", "B") == [
        Transferred("s1", "A", "B", 3.0, buyer_id="b-s1"),
        Assigned("s3", "A", 3.0, DRAIN, buyer_id="b-s3"),
    ]


# -- R06 no idle room while anyone waits ------------------------------------------------


def test_R06_waiting_never_coexists_with_eligible_room(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=2, groups={"pre"}, online=True)
    a.add_agent("B", cap=1, online=True)
    open_many(a, clock, ["p1", "p2", "p3", "p4"], group="pre")
    a.check()
    assert a.waiting() == ["p4"]
    assert assigned(a.add_agent("C", cap=5, groups={"after"}, online=True)) == []
    assert a.waiting() == ["p4"]  # C does not serve "pre": no idle room for it
    assert assigned(a.add_agent("D", cap=5, online=True)) == [("p4", "D")]
    a.check()


# -- R07 waiting order ------------------------------------------------------------------


def test_R07_priority_first_then_fifo(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=Cap.SUSPENDED, online=True)
    for sid, prio in [("a", 0), ("b", 2), ("c", 0), ("d", 2), ("e", 1)]:
        clock.advance(1)
        a.open_session(sid, priority=prio)
    assert a.waiting() == ["b", "d", "e", "a", "c"]
    a.set_cap("A", 3)
    assert a.waiting() == ["a", "c"]
    assert [sid for sid, _ in assigned(a.set_cap("A", 5))] == ["a", "c"]


# -- R08 offline pool -------------------------------------------------------------------


def test_R08_offline_pool_drains_when_an_agent_comes_online(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=2)
    events = open_many(a, clock, ["s1", "s2", "s3"])
    assert [e for e in events if isinstance(e, Queued)] == [
        Queued("s1", Pool.OFFLINE, 1.0, buyer_id="b-s1"),
        Queued("s2", Pool.OFFLINE, 2.0, buyer_id="b-s2"),
        Queued("s3", Pool.OFFLINE, 3.0, buyer_id="b-s3"),
    ]
    clock.advance(5)
    assert a.agent_online("A") == [Assigned("s1", "A", 8.0, DRAIN, buyer_id="b-s1"),
                                   Assigned("s2", "A", 8.0, DRAIN, buyer_id="b-s2")]
    # s3 does not fit; it keeps waiting and is still reported in the pool it entered.
    assert a.session("s3").pool is Pool.OFFLINE
    clock.advance(1)
    assert a.open_session("s4")[-1] == Queued("s4", Pool.QUEUE, 9.0)
    assert a.waiting() == ["s3", "s4"]  # both pools served in one order
    assert assigned(a.close_session("s1")) == [("s3", "A")]


# -- R09 offline diversion --------------------------------------------------------------


def test_R09_offline_diversion_assigns_to_offline_agents_respecting_caps(
    make: Make, clock: ManualClock
) -> None:
    a = make(offline_diversion=True)
    a.add_agent("A", cap=1)
    a.add_agent("B", cap=1)
    events = open_many(a, clock, ["s1", "s2", "s3"])
    assert assigned(events) == [("s1", "A"), ("s2", "B")]
    assert events[-1] == Queued("s3", Pool.OFFLINE, 3.0, buyer_id="b-s3")
    clock.advance(1)
    assert a.close_session("s2") == [
        Closed("s2", "B", None, 4.0, CloseReason.MANUAL, buyer_id="b-s2"),
        Assigned("s3", "B", 4.0, DRAIN, buyer_id="b-s3"),
    ]


def test_R09_diversion_stops_once_an_agent_of_the_group_is_online(
    make: Make, clock: ManualClock
) -> None:
    a = make(offline_diversion=True)
    a.add_agent("off", cap=5)
    a.add_agent("on", cap=1, online=True)
    events = open_many(a, clock, ["s1", "s2"])
    assert assigned(events) == [("s1", "on")]
    assert events[-1] == Queued("s2", Pool.QUEUE, 2.0, buyer_id="b-s2")
    # The last online agent leaves: offline diversion applies again to the waiting one.
    clock.advance(1)
    assert a.agent_offline("on") == [Assigned("s2", "off", 3.0, DRAIN, buyer_id="b-s2")]


# -- R10 agent removal ------------------------------------------------------------------


def test_R10_removal_requeues_in_arrival_order_then_drains(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", online=True)
    open_many(a, clock, ["s1", "s2", "s3"])
    a.add_agent("B", cap=2, online=True)
    clock.advance(1)
    assert a.remove_agent("A") == [
        Requeued("s1", "A", 4.0, RequeueReason.AGENT_REMOVED, buyer_id="b-s1"),
        Requeued("s2", "A", 4.0, RequeueReason.AGENT_REMOVED, buyer_id="b-s2"),
        Requeued("s3", "A", 4.0, RequeueReason.AGENT_REMOVED, buyer_id="b-s3"),
        Assigned("s1", "B", 4.0, REQUEUE, buyer_id="b-s1"),
        Assigned("s2", "B", 4.0, REQUEUE, buyer_id="b-s2"),
        Queued("s3", Pool.QUEUE, 4.0, buyer_id="b-s3"),
    ]
    with pytest.raises(UnknownAgent):
        a.load("A")
    assert "A" not in a.agent_ids()


# -- R11 strategies ---------------------------------------------------------------------


def test_R11_least_load_ties_go_to_least_recent_then_registration(
    make: Make, clock: ManualClock
) -> None:
    a = make()
    for name in ("A", "B", "C"):
        a.add_agent(name, online=True)
    events = open_many(a, clock, ["s1", "s2", "s3", "s4"])
    assert assigned(events) == [("s1", "A"), ("s2", "B"), ("s3", "C"), ("s4", "A")]
    a.close_session("s4")
    a.close_session("s2")
    # Loads A 1, B 0, C 1 -> B. Then all have load 1; the least recent automatic
    # assignment is C's (s3), before A's (s4) and B's (s5).
    assert assigned(open_many(a, clock, ["s5", "s6"])) == [("s5", "B"), ("s6", "C")]
    a.close_session("s6")
    a.close_session("s5")
    a.close_session("s3")
    # A 1, B 0, C 0: B and C tie on load; C was assigned (s6) after B (s5) -> B.
    assert assigned(open_many(a, clock, ["s7"])) == [("s7", "B")]


def test_R11_round_robin_is_cyclic_and_skips_full_agents(make: Make, clock: ManualClock) -> None:
    a = make(strategy=Strategy.ROUND_ROBIN)
    a.add_agent("A", online=True)
    a.add_agent("B", cap=1, online=True)
    a.add_agent("C", online=True)
    events = open_many(a, clock, [f"s{i}" for i in range(6)])
    assert [agent for _, agent in assigned(events)] == ["A", "B", "C", "A", "C", "A"]


def test_R11_manual_assignment_does_not_move_the_round_robin_pointer(
    make: Make, clock: ManualClock
) -> None:
    a = make(strategy=Strategy.ROUND_ROBIN)
    for name in ("A", "B", "C"):
        a.add_agent(name, online=True)
    open_many(a, clock, ["s1"])  # -> A, pointer past A
    a.set_cap("B", Cap.SUSPENDED)
    open_many(a, clock, ["s2"])  # -> C
    a.set_cap("B", Cap.UNLIMITED)
    open_many(a, clock, ["w"])  # -> A (cyclic)
    a.transfer("w", "B")  # manual: the pointer stays after A
    assert assigned(open_many(a, clock, ["s3"])) == [("s3", "B")]


def test_R11_weighted_follows_ratios_smoothly(make: Make, clock: ManualClock) -> None:
    a = make(strategy=Strategy.WEIGHTED)
    a.add_agent("A", weight=3, online=True)
    a.add_agent("B", weight=1, online=True)
    a.add_agent("Z", weight=0, online=True)
    events = open_many(a, clock, [f"s{i}" for i in range(400)])
    order = [agent for _, agent in assigned(events)]
    assert Counter(order) == {"A": 300, "B": 100}
    for i in range(0, 400, 4):  # smooth: every run of 4 is 3 A and 1 B
        assert Counter(order[i:i + 4]) == {"A": 3, "B": 1}, order[i:i + 4]


def test_R11_weighted_agent_coming_online_gets_no_burst(make: Make, clock: ManualClock) -> None:
    a = make(strategy=Strategy.WEIGHTED)
    a.add_agent("A", weight=1, online=True)
    a.add_agent("B", weight=1)
    open_many(a, clock, [f"x{i}" for i in range(50)])
    a.agent_online("B")
    order = [agent for _, agent in assigned(open_many(a, clock, [f"y{i}" for i in range(10)]))]
    assert Counter(order) == {"A": 5, "B": 5}
    assert "BB" not in "".join(order) and "AA" not in "".join(order)


# -- R12 skill groups -------------------------------------------------------------------


def test_R12_groups_route_and_queue_per_group(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("pre", cap=1, groups={"presale"}, online=True)
    a.add_agent("after", cap=1, groups=["aftersale"], online=True)
    events = open_many(a, clock, ["p1", "p2"], group="presale")
    events += open_many(a, clock, ["a1"], group="aftersale")
    events += open_many(a, clock, ["n1"])
    assert assigned(events) == [("p1", "pre"), ("a1", "after")]
    assert a.waiting() == ["p2", "n1"]
    # An agent serving every group takes the best waiting session among all groups.
    assert assigned(a.add_agent("any", cap=1, online=True)) == [("p2", "any")]
    # "after" gains room: it takes the ungrouped n1 (it serves aftersale and ungrouped).
    assert assigned(a.close_session("a1")) == [("n1", "after")]


def test_R12_agent_takes_best_session_among_its_groups(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=Cap.SUSPENDED, groups={"x", "y"}, online=True)
    open_many(a, clock, ["x1"], group="x")
    open_many(a, clock, ["z1"], group="z")
    open_many(a, clock, ["y1"], group="y", priority=1)
    assert [sid for sid, _ in assigned(a.set_cap("A", 10))] == ["y1", "x1"]
    assert a.waiting() == ["z1"]


# -- R13 sticky return ------------------------------------------------------------------


def test_R13_returning_buyer_goes_back_to_last_agent_within_window(
    make: Make, clock: ManualClock
) -> None:
    a = make(sticky_window=600.0)
    a.add_agent("A", online=True)
    a.add_agent("B", online=True)
    a.open_session("s1", buyer="buyer")  # -> A
    a.open_session("other", buyer="x")  # -> B
    a.close_session("s1")
    clock.advance(600)
    assert a.open_session("s2", buyer="buyer")[-1] == Assigned("s2", "A", 600.0, STICKY,
                                                               buyer_id="buyer")
    a.close_session("s2")
    clock.advance(601)
    assert a.open_session("s3", buyer="buyer")[-1].reason is NEW  # type: ignore[union-attr]


def test_R13_sticky_agent_not_eligible_falls_back_to_strategy(
    make: Make, clock: ManualClock
) -> None:
    a = make(sticky_window=600.0)
    a.add_agent("A", online=True)
    a.add_agent("B", online=True)
    a.open_session("s1", buyer="buyer")
    a.close_session("s1")
    a.set_cap("A", Cap.SUSPENDED)
    assert a.open_session("s2", buyer="buyer")[-1] == Assigned("s2", "B", 0.0, NEW,
                                                               buyer_id="buyer")


# -- R14 manual assign and transfer -----------------------------------------------------


def test_R14_transfer_errors_change_nothing(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=1, online=True)
    a.add_agent("B", online=False)
    open_many(a, clock, ["s1", "s2"])
    before = a.snapshot()
    cases: list[tuple[type[Exception], Callable[[], object], str]] = [
        (InvalidTransfer, lambda: a.transfer("s1", "A"), "'s1'"),
        (InvalidTransfer, lambda: a.transfer("s2", "A"), "waiting"),
        (AgentOffline, lambda: a.transfer("s1", "B"), "'B'"),
        (UnknownAgent, lambda: a.transfer("s1", "nobody"), "'nobody'"),
        (UnknownSession, lambda: a.transfer("nope", "A"), "'nope'"),
        (InvalidAssign, lambda: a.assign("s1", "A"), "'s1'"),
    ]
    for error, call, text in cases:
        with pytest.raises(error, match=text):
            call()
        assert a.snapshot() == before
    a.close_session("s1")
    with pytest.raises(UnknownSession):
        a.transfer("s1", "A")


def test_R14_online_offline_twice_is_a_no_op(make: Make) -> None:
    a = make()
    a.add_agent("A")
    assert a.agent_offline("A") == []
    a.agent_online("A")
    before = a.snapshot()
    assert a.agent_online("A") == []
    assert a.snapshot() == before


# -- R15 agent goes offline -------------------------------------------------------------


def test_R15_offline_keeps_sessions_by_default(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", online=True)
    open_many(a, clock, ["s1", "s2"])
    assert a.agent_offline("A") == []
    assert a.load("A") == 2 and a.session("s1").agent_id == "A"


def test_R15_offline_with_requeue_reassigns_in_arrival_order(
    make: Make, clock: ManualClock
) -> None:
    a = make()
    a.add_agent("A", online=True)
    open_many(a, clock, ["s1", "s2", "s3"], priority=0)
    a.add_agent("B", cap=1, online=True)
    clock.advance(1)
    assert a.agent_offline("A", requeue=True) == [
        Requeued("s1", "A", 4.0, RequeueReason.AGENT_OFFLINE, buyer_id="b-s1"),
        Requeued("s2", "A", 4.0, RequeueReason.AGENT_OFFLINE, buyer_id="b-s2"),
        Requeued("s3", "A", 4.0, RequeueReason.AGENT_OFFLINE, buyer_id="b-s3"),
        Assigned("s1", "B", 4.0, REQUEUE, buyer_id="b-s1"),
        Queued("s2", Pool.QUEUE, 4.0, buyer_id="b-s2"),
        Queued("s3", Pool.QUEUE, 4.0, buyer_id="b-s3"),
    ]
    assert a.waiting() == ["s2", "s3"]


# -- R16 manual close -------------------------------------------------------------------


def test_R16_close_forgets_the_session_and_id_can_be_reused(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=Cap.SUSPENDED, online=True)
    open_many(a, clock, ["s1"])
    assert a.close_session("s1") == [
        Closed("s1", None, Pool.QUEUE, 1.0, CloseReason.MANUAL, buyer_id="b-s1")]
    assert a.waiting() == []
    with pytest.raises(UnknownSession, match="'s1'"):
        a.close_session("s1")
    with pytest.raises(UnknownSession):
        a.buyer_message("s1")
    assert a.open_session("s1")[0] == Opened("s1", None, None, 0, 1.0)


# -- R17 auto close ---------------------------------------------------------------------


def test_R17_auto_close_after_silence_following_agent_message(
    make: Make, clock: ManualClock
) -> None:
    a = make(auto_close_after=1200.0)
    a.add_agent("A", cap=1, online=True)
    open_many(a, clock, ["s1", "s2"])
    clock.set(10.0)
    a.agent_message("s1")
    assert a.next_deadline() == 1210.0
    clock.set(1209.9)
    assert a.tick() == []
    clock.set(1500.0)
    assert a.tick() == [
        Closed("s1", "A", None, 1210.0, CloseReason.AUTO, buyer_id="b-s1"),
        Assigned("s2", "A", 1210.0, DRAIN, buyer_id="b-s2"),
    ]


def test_R17_buyer_message_cancels_and_agent_message_restarts(
    make: Make, clock: ManualClock
) -> None:
    a = make()
    a.add_agent("A", online=True)
    open_many(a, clock, ["s1"])
    a.agent_message("s1")
    clock.set(600.0)
    a.buyer_message("s1")
    assert a.next_deadline() is None
    clock.set(3000.0)
    assert a.tick() == []
    a.agent_message("s1", auto=True)  # a system auto-reply also starts the countdown
    clock.set(4199.0)
    assert a.tick() == []
    clock.set(4200.0)
    assert a.tick() == [Closed("s1", "A", None, 4200.0, CloseReason.AUTO, buyer_id="b-s1")]


def test_R17_auto_reply_to_waiting_session_and_human_message_error(
    make: Make, clock: ManualClock
) -> None:
    a = make(auto_close_after=60.0)
    open_many(a, clock, ["s1"])
    with pytest.raises(SessionWaiting, match="'s1'"):
        a.agent_message("s1")
    a.agent_message("s1", auto=True)
    clock.advance(60)
    assert a.tick() == [Closed("s1", None, Pool.OFFLINE, 61.0, CloseReason.AUTO, buyer_id="b-s1")]


def test_R17_none_disables_auto_close(make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=None)
    a.add_agent("A", online=True)
    open_many(a, clock, ["s1"])
    a.agent_message("s1")
    assert a.next_deadline() is None
    clock.advance(10**6)
    assert a.tick() == []


# -- R18 first-response timeout ---------------------------------------------------------


def test_R18_reassigns_after_timeout_never_back(make: Make, clock: ManualClock) -> None:
    a = make(first_response_timeout=60.0, auto_close_after=None)
    a.add_agent("A", cap=1, online=True)
    a.add_agent("B", cap=1, online=True)
    open_many(a, clock, ["s1", "s2", "s3"])  # s1 -> A, s2 -> B, s3 waits
    a.agent_message("s2")  # B answers in time
    clock.set(61.0)
    assert a.tick() == [
        ResponseTimedOut("s1", "A", 61.0, buyer_id="b-s1"),
        # B is full and A timed out on s1: s1 stays, no further timer.
    ]
    a.close_session("s2")  # B gains room: s1 cannot go there (it is with A); s3 goes to B
    assert a.session("s3").agent_id == "B"
    a.close_session("s3")
    clock.set(100.0)
    assert a.tick() == []
    assert a.next_deadline() is None  # s1 stays with A and has no timer left
    assert a.session("s1").agent_id == "A"


def test_R18_reassignment_moves_and_giver_drains(make: Make, clock: ManualClock) -> None:
    a = make(first_response_timeout=30.0, auto_close_after=None)
    a.add_agent("A", cap=1, online=True)
    a.add_agent("B", cap=1, online=True)
    open_many(a, clock, ["s1", "s2", "s3"])  # s1 -> A (t1), s2 -> B (t2), s3 waits
    a.agent_message("s2")
    clock.set(10.0)
    a.close_session("s2")  # s3 -> B at 10
    a.agent_message("s3")
    clock.set(31.0)
    a.close_session("s3")  # B free
    assert a.tick() == [
        ResponseTimedOut("s1", "A", 31.0, buyer_id="b-s1"),
        Reassigned("s1", "A", "B", 31.0, buyer_id="b-s1"),
    ]
    open_many(a, clock, ["s4"])  # -> A
    clock.set(200.0)
    events = a.tick()
    # s1 times out on B at 61: A is full (s4) -> stays. s4 times out on A at 62: B is not
    # eligible (full)... every agent is full, so nothing moves and no timer is left.
    assert events == [ResponseTimedOut("s1", "B", 61.0, buyer_id="b-s1"),
                      ResponseTimedOut("s4", "A", 62.0, buyer_id="b-s4")]
    assert a.next_deadline() is None


def test_R18_human_reply_stops_timer_auto_reply_does_not(make: Make, clock: ManualClock) -> None:
    a = make(first_response_timeout=30.0, auto_close_after=None)
    a.add_agent("A", online=True)
    a.add_agent("B", online=True)
    open_many(a, clock, ["s1", "s2"])  # s1 -> A, s2 -> B
    a.agent_message("s1", auto=True)
    a.agent_message("s2")
    clock.set(40.0)
    assert a.tick() == [ResponseTimedOut("s1", "A", 31.0, buyer_id="b-s1"),
                        Reassigned("s1", "A", "B", 31.0, buyer_id="b-s1")]
    assert a.next_deadline() == 61.0  # B's own clock for s1 started at the reassignment


def test_R18_reply_before_transfer_does_not_count_for_new_agent(
    make: Make, clock: ManualClock
) -> None:
    a = make(first_response_timeout=30.0, auto_close_after=None)
    a.add_agent("A", online=True)
    a.add_agent("B", online=True)
    open_many(a, clock, ["s1"])
    a.agent_message("s1")
    clock.set(20.0)
    a.transfer("s1", "B")
    assert a.next_deadline() == 50.0
    clock.set(50.0)
    assert a.tick() == [ResponseTimedOut("s1", "B", 50.0, buyer_id="b-s1"),
                        Reassigned("s1", "B", "A", 50.0, buyer_id="b-s1")]


# -- R19 longest-wait order -------------------------------------------------------------


def test_R19_unanswered_first_by_first_unanswered_then_answered(
    make: Make, clock: ManualClock
) -> None:
    a = make()
    a.add_agent("A", online=True)
    open_many(a, clock, ["s1", "s2", "s3", "s4"])  # buyer messages at 1, 2, 3, 4
    clock.set(10.0)
    a.agent_message("s1")  # s1 answered; last buyer message at 1
    a.agent_message("s3", auto=True)  # an auto-reply answers nothing
    a.agent_message("s2")
    clock.set(11.0)
    a.buyer_message("s2")  # s2 unanswered again since 11
    a.buyer_message("s4")  # s4 still unanswered since 4
    assert a.reception_list("A") == ["s3", "s4", "s2", "s1"]
    a.agent_message("s4")  # answered, last buyer message at 11
    assert a.reception_list("A") == ["s3", "s2", "s1", "s4"]


# -- R20 time ---------------------------------------------------------------------------


def test_R20_timers_fire_only_in_tick_in_deadline_then_set_order(
    make: Make, clock: ManualClock
) -> None:
    a = make(auto_close_after=100.0)
    a.add_agent("A", online=True)
    open_many(a, clock, ["s1", "s2", "s3"])
    clock.set(10.0)
    a.agent_message("s2")
    a.agent_message("s1")  # same deadline as s2, set later
    clock.set(5.0 + 10.0)
    a.agent_message("s3")  # earlier? no: deadline 115 > 110
    assert a.next_deadline() == 110.0
    clock.set(1000.0)
    a.buyer_message("s3")  # timers only in tick: s3 was not closed yet; now cancelled
    assert a.tick() == [
        Closed("s2", "A", None, 110.0, CloseReason.AUTO, buyer_id="b-s2"),
        Closed("s1", "A", None, 110.0, CloseReason.AUTO, buyer_id="b-s1"),
    ]
    assert a.next_deadline() is None


def test_R20_clock_is_injected_and_never_runs_backwards(make: Make) -> None:
    class Stepping:
        def __init__(self) -> None:
            self.values = [50.0, 40.0]

        def now(self) -> float:
            return self.values.pop(0)

    a = Assigner(Stepping(), engine=make().engine)  # type: ignore[arg-type]
    assert a.open_session("s1")[0].at == 50.0
    assert a.open_session("s2")[0].at == 50.0  # a step back is held at the last value


# -- R21 events out ---------------------------------------------------------------------


def test_R21_events_are_values_in_causal_order(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("A", cap=1, online=True)
    open_many(a, clock, ["s1", "s2"])
    events = a.close_session("s1")
    assert [type(e).__name__ for e in events] == ["Closed", "Assigned"]
    assert events[0] == Closed("s1", "A", None, 2.0, CloseReason.MANUAL, buyer_id="b-s1")
    assert hash(events[0]) == hash(Closed("s1", "A", None, 2.0, CloseReason.MANUAL,
                                          buyer_id="b-s1"))
    with pytest.raises(AttributeError):
        events[0].at = 5.0  # type: ignore[misc]


def test_R21_no_io_no_threads_in_the_assigner() -> None:
    import kefu._batch
    import kefu._engine_naive
    import kefu._engine_py
    import kefu.assigner

    sources = [Path(m.__file__ or "") for m in
               (kefu.assigner, kefu._batch, kefu._engine_py, kefu._engine_naive)]
    compiled = Path(kefu.assigner.__file__ or "").with_name("_engine_c.pyx")
    if compiled.exists():  # a source checkout or an editable install
        sources.append(compiled)
    for path in sources:
        source = path.read_text()
        for forbidden in (r"import socket", r"import threading", r"import asyncio",
                          r"time\.time\(", r"(?<![\w.])open\(", r"(?<![\w.])print\("):
            assert not re.search(forbidden, source), (path.name, forbidden)


# -- R22 nothing lost, snapshot/restore -------------------------------------------------


def test_R22_snapshot_is_plain_data_and_restore_round_trips(make: Make, clock: ManualClock) -> None:
    a = make(first_response_timeout=30.0, sticky_window=300.0, strategy=Strategy.WEIGHTED)
    a.add_agent("A", cap=2, groups={"g"}, weight=2, online=True)
    a.add_agent("B", cap=1, weight=1)
    open_many(a, clock, ["s1", "s2", "s3"], group="g")
    a.agent_message("s1")
    a.close_session("s1")
    snap = a.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    b = Assigner.restore(json.loads(json.dumps(snap)), clock, engine=a.engine)  # type: ignore[arg-type]
    assert b.snapshot() == snap
    clock.advance(100)
    for x in (a, b):
        x.agent_online("B")
    assert a.tick() == b.tick()
    assert a.open_session("s4", buyer="b-s1") == b.open_session("s4", buyer="b-s1")
    assert a.snapshot() == b.snapshot()
