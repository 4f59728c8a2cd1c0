"""Smoke tests of the naive reference engine (kefu._engine_naive) through the facade."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kefu.assigner import Assigner
from kefu.clock import ManualClock
from kefu.errors import (
    AgentOffline,
    InvalidAssign,
    InvalidSnapshot,
    InvalidTransfer,
    KefuError,
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
from kefu.model import Cap, Strategy

NEW, DRAIN, STICKY = AssignReason.NEW, AssignReason.DRAIN, AssignReason.STICKY
REQUEUE, MANUAL = AssignReason.REQUEUE, AssignReason.MANUAL


def make(clock: ManualClock | None = None, **kw: Any) -> Assigner:
    return Assigner(clock or ManualClock(0.0), engine="naive", **kw)


def who(a: Assigner, sids: list[str]) -> list[str | None]:
    return [a.session(s).agent_id for s in sids]


def test_R03_R04_R05_new_queue_and_drain_on_close() -> None:
    a = make()
    assert a.engine == "naive"
    a.add_agent("A", cap=1, online=True)
    assert a.open_session("s1", buyer="b") == [
        Opened("s1", "b", None, 0, 0.0), Assigned("s1", "A", 0.0, NEW, buyer_id="b")]
    assert a.open_session("s2") == [Opened("s2", None, None, 0, 0.0), Queued("s2", Pool.QUEUE, 0.0)]
    assert a.close_session("s1") == [
        Closed("s1", "A", None, 0.0, CloseReason.MANUAL, buyer_id="b"),
        Assigned("s2", "A", 0.0, DRAIN)]
    a.check()


def test_R07_R08_offline_pool_drained_in_priority_then_fifo_order() -> None:
    a = make()
    a.add_agent("A", cap=2)
    for sid, prio in [("s1", 0), ("s2", 5), ("s3", 0)]:
        assert a.open_session(sid, priority=prio)[-1] == Queued(sid, Pool.OFFLINE, 0.0)
    assert a.waiting() == ["s2", "s1", "s3"]
    assert a.agent_online("A") == [Assigned("s2", "A", 0.0, DRAIN), Assigned("s1", "A", 0.0, DRAIN)]
    assert a.agent_online("A") == []
    assert a.session("s3").pool is Pool.OFFLINE  # keeps the pool it entered
    a.check()


def test_R09_offline_diversion_and_R12_groups() -> None:
    a = make(offline_diversion=True)
    a.add_agent("pre", groups=["presale"])
    a.add_agent("after", groups=["aftersale"], online=True)
    assert a.open_session("s1", group="presale")[-1] == Assigned("s1", "pre", 0.0, NEW)
    assert a.open_session("s2", group="aftersale")[-1] == Assigned("s2", "after", 0.0, NEW)
    # "after" goes offline: nobody online for aftersale any more, but it keeps its session.
    assert a.agent_offline("after") == []
    a.check()


def test_R10_remove_requeues_in_arrival_order_then_places() -> None:
    a = make()
    a.add_agent("A", online=True)
    a.open_session("s1")
    a.open_session("s2")
    a.add_agent("B", cap=1, online=True)
    assert a.remove_agent("A") == [
        Requeued("s1", "A", 0.0, RequeueReason.AGENT_REMOVED),
        Requeued("s2", "A", 0.0, RequeueReason.AGENT_REMOVED),
        Assigned("s1", "B", 0.0, REQUEUE),
        Queued("s2", Pool.QUEUE, 0.0),
    ]
    with pytest.raises(UnknownAgent):
        a.load("A")
    a.check()


def test_R11_least_load_ties_by_last_auto_then_reg() -> None:
    a = make()
    a.add_agent("A", online=True)
    a.add_agent("B", online=True)
    a.open_session("s1")
    a.open_session("s2")
    a.close_session("s1")
    a.open_session("s3")  # A has load 0
    a.open_session("s4")  # both load 1: B got its automatic assignment longer ago
    assert who(a, ["s2", "s3", "s4"]) == ["B", "A", "B"]


def test_R11_round_robin_skips_full_agents() -> None:
    a = make(strategy=Strategy.ROUND_ROBIN)
    a.add_agent("A", online=True)
    a.add_agent("B", cap=1, online=True)
    a.add_agent("C", online=True)
    for i in range(5):
        a.open_session(f"s{i}")
    assert who(a, [f"s{i}" for i in range(5)]) == ["A", "B", "C", "A", "C"]


def test_R11_weighted_stride_interleaves_two_to_one() -> None:
    a = make(strategy=Strategy.WEIGHTED)
    a.add_agent("A", weight=2, online=True)
    a.add_agent("B", weight=1, online=True)
    a.add_agent("Z", weight=0, online=True)
    for i in range(6):
        a.open_session(f"s{i}")
    assert who(a, [f"s{i}" for i in range(6)]) == ["A", "A", "B", "A", "A", "B"]
    a.check()


def test_R11_weighted_newcomer_is_normalised_and_gets_no_burst() -> None:
    a = make(strategy=Strategy.WEIGHTED)
    a.add_agent("A", online=True)
    for i in range(5):
        a.open_session(f"old{i}")
    a.add_agent("B", online=True)  # pass = vt + stride, not 0
    for i in range(4):
        a.open_session(f"s{i}")
    assert who(a, [f"s{i}" for i in range(4)]) == ["A", "B", "A", "B"]
    state = a.snapshot()["state"]
    assert state["counters"]["vt"] == 7 * 232792560
    assert [ag["pass"] for ag in state["agents"]] == [8 * 232792560, 8 * 232792560]


def test_R13_sticky_return_within_window() -> None:
    clock = ManualClock(0.0)
    a = make(clock, sticky_window=60)
    a.add_agent("A", online=True)
    a.add_agent("B", online=True)
    a.open_session("s1", buyer="b")
    a.open_session("x")  # B
    a.close_session("s1")
    a.open_session("y")  # A (load 0)
    clock.advance(60)
    assert a.open_session("s2", buyer="b")[-1] == Assigned("s2", "A", 60.0, STICKY, buyer_id="b")
    a.close_session("s2")
    clock.advance(60.5)
    assert a.open_session("s3", buyer="b")[-1] == Assigned("s3", "B", 120.5, NEW, buyer_id="b")
    assert a.snapshot()["state"]["sticky"] == []


def test_R14_errors_change_nothing() -> None:
    a = make()
    a.add_agent("A", online=True)
    a.add_agent("off")
    a.open_session("s1")
    a.add_agent("S", cap=Cap.SUSPENDED, online=True)
    a.open_session("s2")  # A
    a.set_cap("A", 2)
    a.open_session("w")  # waits: A full, S suspended
    before = a.snapshot()
    cases: list[tuple[Any, type[KefuError], str]] = [
        (lambda: a.transfer("w", "S"), InvalidTransfer, "it is waiting in a pool (use assign)"),
        (lambda: a.transfer("s1", "A"), InvalidTransfer, "it is already with agent 'A'"),
        (lambda: a.transfer("s1", "off"), AgentOffline, "'off' is offline"),
        (lambda: a.transfer("nope", "x"), UnknownSession, "'nope'"),
        (lambda: a.assign("s1", "x"), UnknownAgent, "'x'"),
        (lambda: a.assign("s1", "S"), InvalidAssign, "already with agent 'A'"),
        (lambda: a.assign("w", "off"), AgentOffline, "'off'"),
        (lambda: a.agent_message("w"), SessionWaiting, "'w'"),
    ]
    for call, error, text in cases:
        with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
            call()
        assert a.snapshot() == before
    assert a.assign("w", "S") == [Assigned("w", "S", 0.0, MANUAL)]  # ignores SUSPENDED
    assert a.transfer("s1", "S") == [Transferred("s1", "A", "S", 0.0)]
    a.check()


def test_R17_R20_auto_close_stamped_with_deadline_and_drains() -> None:
    clock = ManualClock(0.0)
    a = make(clock, auto_close_after=100)
    a.add_agent("A", cap=1, online=True)
    a.open_session("s1")
    a.open_session("s2")
    a.agent_message("s1")
    a.agent_message("s2", auto=True)  # system auto-reply to a waiting session
    clock.advance(10)
    a.buyer_message("s2")  # cancels s2's countdown
    assert a.next_deadline() == 100.0
    clock.advance(500)
    assert a.tick() == [
        Closed("s1", "A", None, 100.0, CloseReason.AUTO), Assigned("s2", "A", 100.0, DRAIN)]
    assert a.next_deadline() is None


def test_R18_first_response_timeout_reassigns_then_stays() -> None:
    clock = ManualClock(0.0)
    a = make(clock, first_response_timeout=30, auto_close_after=None)
    a.add_agent("A", online=True)
    a.add_agent("B", online=True)
    a.open_session("s1")  # A
    a.open_session("s2")  # B
    a.agent_message("s2")  # B answers: its timer stops
    clock.advance(100)
    assert a.tick() == [
        ResponseTimedOut("s1", "A", 30.0),
        Reassigned("s1", "A", "B", 30.0),
        ResponseTimedOut("s1", "B", 60.0),  # nobody else eligible: stays with B, no timer
    ]
    assert a.session("s1").agent_id == "B"
    assert a.next_deadline() is None
    a.transfer("s1", "A")  # manual transfer may pick an agent who timed out
    assert a.next_deadline() == 130.0


def test_R19_reception_list_longest_wait_order() -> None:
    clock = ManualClock(0.0)
    a = make(clock)
    a.add_agent("A", online=True)
    for sid in ["s1", "s2", "s3", "s4"]:
        a.open_session(sid)
        clock.advance(1)
    a.agent_message("s1")  # answered; last buyer message at 0
    a.agent_message("s2")
    a.buyer_message("s2")  # unanswered since 4
    a.agent_message("s3")  # answered; last buyer message at 2
    assert a.reception_list("A") == ["s4", "s2", "s1", "s3"]


def _random_op(a: Assigner, clock: ManualClock, rng: random.Random, n: int) -> Any:
    agents = [f"a{i}" for i in range(6)]
    sessions = [f"s{i}" for i in range(12)]
    op = rng.choice([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11, 11, 12, 12, 13])
    aid = rng.choice(agents if rng.random() < 0.3 else a.agent_ids() or agents)
    sid = rng.choice(sessions if rng.random() < 0.3 else a.session_ids() or sessions)
    clock.advance(rng.choice([0, 0, 1, 5, 50]))
    calls = [
        lambda: a.add_agent(aid, cap=rng.choice([Cap.UNLIMITED, Cap.SUSPENDED, 1, 2, 3]),
                            groups=rng.choice([None, ["g"], ["h"], ["g", "h"]]),
                            weight=rng.choice([0, 1, 2, 3]), online=rng.random() < 0.5),
        lambda: a.remove_agent(aid),
        lambda: a.agent_online(aid),
        lambda: a.agent_offline(aid, requeue=rng.random() < 0.5),
        lambda: a.set_cap(aid, rng.choice([Cap.UNLIMITED, Cap.SUSPENDED, 1, 2, 3])),
        lambda: a.set_weight(aid, rng.choice([0, 1, 2, 5])),
        lambda: a.open_session(sid, buyer=rng.choice([None, "b1", "b2", "b3"]),
                               group=rng.choice([None, "g", "h"]), priority=rng.choice([0, 1])),
        lambda: a.open_session(f"n{n}", buyer=rng.choice([None, "b1", "b2"])),
        lambda: a.buyer_message(sid),
        lambda: a.agent_message(sid, auto=rng.random() < 0.3),
        lambda: a.assign(sid, aid),
        lambda: a.transfer(sid, aid),
        lambda: a.close_session(sid),
        lambda: a.tick(),
    ]
    try:
        return calls[op]()
    except KefuError as exc:
        return type(exc)


@pytest.mark.parametrize("strategy", list(Strategy))
@pytest.mark.parametrize("diversion", [False, True])
def test_R06_R22_random_ops_keep_invariants_and_restore_round_trips(
    strategy: Strategy, diversion: bool
) -> None:
    rng = random.Random(f"{strategy}-{diversion}")
    clock = ManualClock(0.0)
    a = make(clock, strategy=strategy, offline_diversion=diversion, auto_close_after=120,
             first_response_timeout=40, sticky_window=200)
    for n in range(600):
        _random_op(a, clock, rng, n)
        a.check()
        if n % 50 == 0:  # a restored copy must answer the next calls exactly alike
            b = Assigner.restore(a.snapshot(), clock, engine="naive")
            seed = rng.random()
            for k in range(20):
                r1, r2 = random.Random(seed + k), random.Random(seed + k)
                assert _random_op(a, clock, r1, n) == _random_op(b, ManualClock(0.0), r2, n)
                assert a.snapshot() == b.snapshot()


def test_R22_restore_rejects_an_R06_violation() -> None:
    a = make()
    a.add_agent("A", cap=1, online=True)
    a.open_session("s1")
    a.open_session("s2")
    data = a.snapshot()
    data["state"]["agents"][0]["cap"] = 5  # now A has room while s2 waits
    with pytest.raises(InvalidSnapshot, match="R06"):
        Assigner.restore(data, engine="naive")
