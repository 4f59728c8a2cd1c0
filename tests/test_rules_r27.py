"""R27 away and grace: example tests with exact events, on every engine (``make``)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kefu import Assigner, Cap, ManualClock, Strategy
from kefu._checks import MAX_GRACE
from kefu.errors import InvalidArgument, InvalidSnapshot, UnknownAgent
from kefu.events import (
    Assigned,
    AssignReason,
    Pool,
    Queued,
    Requeued,
    RequeueReason,
    Transferred,
)
from kefu.explain import Reason
from kefu.model import MAX_DURATION

Make = Callable[..., Assigner]
NEW, DRAIN, MANUAL = AssignReason.NEW, AssignReason.DRAIN, AssignReason.MANUAL
REQUEUE = AssignReason.REQUEUE
OFFLINE = RequeueReason.AGENT_OFFLINE


def shop_with_alice(make: Make, clock: ManualClock, sessions: int, **config: object) -> Assigner:
    """alice (unlimited) online, holding s1..s<sessions> opened one second apart."""
    a = make(**config)
    a.add_agent("alice", online=True)
    for n in range(1, sessions + 1):
        clock.advance(1)
        a.open_session(f"s{n}", buyer=f"b{n}")
    return a


# -- away --------------------------------------------------------------------------------


def test_R27_away_agent_keeps_sessions_and_gets_no_new_ones(make: Make, clock: ManualClock
                                                            ) -> None:
    a = shop_with_alice(make, clock, 2)
    a.add_agent("bob", cap=1, online=True)
    assert a.agent_away("alice") == []
    assert a.reception_list("alice") == ["s1", "s2"]
    view = a.agent("alice")
    assert view.away and view.online
    clock.advance(1)
    assert a.open_session("s3", buyer="b3")[1:] == [Assigned("s3", "bob", 3.0, NEW, "b3")]
    # bob is full, alice away: the next one waits in the queue pool (alice counts as online).
    assert a.open_session("s4", buyer="b4")[1:] == [Queued("s4", Pool.QUEUE, 3.0, "b4")]
    assert a.reception_list("alice") == ["s1", "s2"]
    assert a.agent_away("alice") == []  # already away: nothing


def test_R27_a_drain_skips_away_agents(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("alice", cap=1, online=True)
    a.add_agent("bob", cap=1, online=True)
    a.open_session("s1", buyer="b1")  # alice (least load, then registration)
    a.open_session("s2", buyer="b2")  # bob
    a.open_session("s3", buyer="b3")  # waits
    a.agent_away("alice")
    clock.advance(5)
    a.set_cap("alice", 3)  # room, but away: no drain
    assert a.close_session("s2")[1:] == [Assigned("s3", "bob", 5.0, DRAIN, "b3")]
    a.open_session("s4", buyer="b4")
    assert a.waiting() == ["s4"]
    assert a.explain("s4").of("alice").reasons == (Reason.AWAY,)
    assert a.explain("s4").of("bob").reasons == (Reason.FULL,)


def test_R27_back_online_drains_at_once(make: Make, clock: ManualClock) -> None:
    a = make()
    a.add_agent("alice", cap=2, online=True)
    a.agent_away("alice")
    a.open_session("s1", buyer="b1")
    a.open_session("s2", buyer="b2")
    clock.advance(7)
    assert a.agent_online("alice") == [Assigned("s1", "alice", 7.0, DRAIN, "b1"),
                                       Assigned("s2", "alice", 7.0, DRAIN, "b2")]
    assert a.agent_online("alice") == []  # online and not away: nothing


def test_R27_away_agent_may_write_and_take_sessions_by_hand(make: Make, clock: ManualClock
                                                           ) -> None:
    a = shop_with_alice(make, clock, 1)
    a.add_agent("bob", online=True)
    a.agent_away("bob")
    a.agent_message("s1", agent_id="alice")
    assert a.transfer("s1", "bob") == [Transferred("s1", "alice", "bob", 1.0, "b1")]
    a.agent_message("s1", agent_id="bob")  # the away holder may answer
    a.open_session("s2", buyer="b2")  # alice takes it
    a.agent_away("alice")
    a.open_session("s3", buyer="b3")
    assert a.waiting() == ["s3"]
    assert a.assign("s3", "bob") == [Assigned("s3", "bob", 1.0, MANUAL, "b3")]


def test_R27_offline_agent_logs_in_away(make: Make, clock: ManualClock) -> None:
    a = make(offline_diversion=True)
    a.add_agent("alice", cap=1)
    a.add_agent("bob", cap=1)
    a.agent_away("alice")  # alice is now online (away): nobody is diverted to bob
    events = a.open_session("s1", buyer="b1")
    assert events[1:] == [Queued("s1", Pool.QUEUE, 0.0, "b1")]
    assert a.explain("s1").of("bob").reasons == (Reason.OFFLINE,)
    assert a.agent_online("alice") == [Assigned("s1", "alice", 0.0, DRAIN, "b1")]


def test_R27_away_agent_going_offline_is_offline_not_away(make: Make, clock: ManualClock
                                                         ) -> None:
    a = make(offline_diversion=True)
    a.add_agent("alice", online=True)
    a.agent_away("alice")
    a.agent_offline("alice")
    assert not a.agent("alice").away and not a.agent("alice").online
    # nobody online: alice is eligible again through diversion
    assert a.open_session("s1", buyer="b1")[1:] == [Assigned("s1", "alice", 0.0, NEW, "b1")]


def test_R27_weighted_agent_back_from_away_claims_no_burst(make: Make, clock: ManualClock
                                                          ) -> None:
    a = make(strategy=Strategy.WEIGHTED, auto_close_after=None)
    a.add_agent("alice", online=True)
    a.add_agent("bob", online=True)
    a.agent_away("alice")
    for n in range(6):
        a.open_session(f"s{n}")
    a.agent_online("alice")
    got = [e.agent_id for e in (a.open_session(f"t{n}")[1] for n in range(4))]
    assert got.count("alice") == 2  # interleaved, not four owed sessions in a row


def test_R27_unknown_agent(make: Make) -> None:
    a = make()
    with pytest.raises(UnknownAgent):
        a.agent_away("ghost")


# -- grace -------------------------------------------------------------------------------


def answered_and_unanswered(make: Make, clock: ManualClock) -> Assigner:
    """alice holds s1..s4; she answered s2 and s4; bob, full, waits to take the rest."""
    a = shop_with_alice(make, clock, 4, auto_close_after=None)
    a.agent_message("s2")
    a.agent_message("s4")
    a.add_agent("bob", online=True)
    return a


def test_R27_grace_requeues_only_unanswered_in_arrival_order_at_the_deadline(
        make: Make, clock: ManualClock) -> None:
    a = answered_and_unanswered(make, clock)
    a.buyer_message("s4")  # the buyer writes again: s4 is unanswered once more
    clock.set(10.0)
    assert a.agent_offline("alice", grace=120.0) == []
    assert a.next_deadline() == 130.0
    clock.set(129.999)
    assert a.tick() == []
    assert sorted(a.reception_list("alice")) == ["s1", "s2", "s3", "s4"]
    clock.set(200.0)
    assert a.tick() == [
        Requeued("s1", "alice", 130.0, OFFLINE, "b1"),
        Requeued("s3", "alice", 130.0, OFFLINE, "b3"),
        Requeued("s4", "alice", 130.0, OFFLINE, "b4"),
        Assigned("s1", "bob", 130.0, REQUEUE, "b1"),
        Assigned("s3", "bob", 130.0, REQUEUE, "b3"),
        Assigned("s4", "bob", 130.0, REQUEUE, "b4"),
    ]
    assert a.reception_list("alice") == ["s2"]  # answered: it stays
    assert a.next_deadline() is None


def test_R27_grace_deadline_is_exact_not_a_millisecond_early(make: Make, clock: ManualClock
                                                             ) -> None:
    a = shop_with_alice(make, clock, 1, auto_close_after=None)
    a.add_agent("bob", online=True)
    a.agent_offline("alice", grace=60.0)  # at 1.0
    clock.set(60.999)
    assert a.tick() == []
    clock.set(61.0)
    assert a.tick() == [Requeued("s1", "alice", 61.0, OFFLINE, "b1"),
                        Assigned("s1", "bob", 61.0, REQUEUE, "b1")]


def test_R27_back_before_the_deadline_keeps_everything(make: Make, clock: ManualClock) -> None:
    a = answered_and_unanswered(make, clock)
    a.agent_offline("alice", grace=60.0)
    clock.advance(59)
    assert a.agent_online("alice") == []
    assert a.next_deadline() is None
    clock.advance(100)
    assert a.tick() == []
    assert sorted(a.reception_list("alice")) == ["s1", "s2", "s3", "s4"]


def test_R27_logging_in_away_or_removal_cancels_the_grace(make: Make, clock: ManualClock
                                                          ) -> None:
    a = answered_and_unanswered(make, clock)
    a.agent_offline("alice", grace=60.0)
    a.agent_away("alice")
    assert a.next_deadline() is None
    a.agent_offline("alice", grace=30.0)
    assert a.next_deadline() == 34.0
    a.remove_agent("alice")
    assert a.next_deadline() is None


def test_R27_unplaced_sessions_wait_in_their_pool(make: Make, clock: ManualClock) -> None:
    a = shop_with_alice(make, clock, 2, auto_close_after=None)
    a.agent_offline("alice", grace=5.0)  # at 2.0; nobody else: offline pool at 7.0
    clock.advance(10)
    assert a.tick() == [Requeued("s1", "alice", 7.0, OFFLINE, "b1"),
                        Requeued("s2", "alice", 7.0, OFFLINE, "b2"),
                        Queued("s1", Pool.OFFLINE, 7.0, "b1"),
                        Queued("s2", Pool.OFFLINE, 7.0, "b2")]
    assert a.waiting() == ["s1", "s2"]


def test_R27_already_offline_ignores_a_grace(make: Make, clock: ManualClock) -> None:
    a = shop_with_alice(make, clock, 1)
    a.agent_offline("alice")
    assert a.agent_offline("alice", grace=10.0) == []
    assert a.next_deadline() is None  # no grace period was started


@pytest.mark.parametrize("grace", [0, -1.0, 0.0, float("nan"), float("inf"), 1e9 + 1, "60",
                                   True])
def test_R27_bad_grace_is_refused_and_changes_nothing(make: Make, clock: ManualClock,
                                                      grace: object) -> None:
    a = shop_with_alice(make, clock, 1)
    before = a.snapshot()
    with pytest.raises(InvalidArgument, match="grace must be"):
        a.agent_offline("alice", grace=grace)  # type: ignore[arg-type]
    assert a.snapshot() == before


def test_R27_requeue_and_grace_exclude_each_other(make: Make, clock: ManualClock) -> None:
    a = shop_with_alice(make, clock, 1)
    with pytest.raises(InvalidArgument, match="not both"):
        a.agent_offline("alice", requeue=True, grace=30.0)
    assert a.agent("alice").online


def test_R27_grace_bound_is_the_longest_duration() -> None:
    assert MAX_GRACE == MAX_DURATION


def test_R27_options_off_give_todays_events(make: Make, clock: ManualClock) -> None:
    """Without away or grace, going offline keeps the sessions forever (R15)."""
    a = shop_with_alice(make, clock, 2, auto_close_after=None)
    a.add_agent("bob", online=True)
    a.agent_offline("alice")
    clock.advance(10**6)
    assert a.tick() == [] and a.next_deadline() is None
    assert a.reception_list("alice") == ["s1", "s2"]
    assert "away" not in json.dumps(a.snapshot()) and "grace" not in json.dumps(a.snapshot())


def test_R27_batch_and_snapshot_carry_away_and_grace(make: Make, clock: ManualClock) -> None:
    a = shop_with_alice(make, clock, 2, auto_close_after=None)
    a.apply([("add_agent", "bob", Cap.limit(1), None, 1, True), ("agent_away", "bob"),
             ("agent_offline", "alice", False, 50.0)])
    data = json.loads(json.dumps(a.snapshot()))
    agents = {x["id"]: x for x in data["state"]["agents"]}
    assert agents["bob"]["away"] is True and "grace" not in agents["bob"]
    assert agents["alice"]["grace"][0] == 52.0 and "away" not in agents["alice"]
    for engine in ("py", "naive"):
        b = Assigner.restore(data, ManualClock(60.0), engine=engine)
        assert b.snapshot()["state"] == data["state"]
        assert b.agent("bob").away
        events = b.tick()  # the restored grace fires; bob is away: the sessions wait
        assert [type(e).__name__ for e in events] == ["Requeued", "Requeued", "Queued", "Queued"]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("away", False, "agents[1].away: 'away' is present only as true"),
    ("away", 1, "agents[1].away: 'away' is present only as true"),
    ("grace", None, "agents[1].grace: 'grace' is present only as"),
    ("grace", [1e300, 1], "agents[1].grace: deadline"),
    ("grace", [70.0, 999], "agents[1].grace: timer number 999"),
    ("grace", "soon", "agents[1].grace: expected a list"),
])
def test_R27_tampered_snapshot_is_a_clear_error(make: Make, clock: ManualClock, field: str,
                                                value: object, message: str) -> None:
    a = shop_with_alice(make, clock, 1, auto_close_after=None)
    a.add_agent("bob")
    data = json.loads(json.dumps(a.snapshot()))
    data["state"]["agents"][1][field] = value
    with pytest.raises(InvalidSnapshot, match=message.replace("[", r"\[").replace("]", r"\]")):
        Assigner.restore(data, ManualClock(1.0))


def test_R27_snapshot_status_must_be_possible(make: Make, clock: ManualClock) -> None:
    a = shop_with_alice(make, clock, 1, auto_close_after=None)
    a.add_agent("bob")
    a.agent_offline("alice", grace=10.0)
    data = json.loads(json.dumps(a.snapshot()))
    away_offline = json.loads(json.dumps(data))
    away_offline["state"]["agents"][1]["away"] = True
    with pytest.raises(InvalidSnapshot, match=r"agents\[1\]\.away: an away agent is online"):
        Assigner.restore(away_offline, ManualClock(1.0))
    online_grace = json.loads(json.dumps(data))
    online_grace["state"]["agents"][0]["online"] = True
    with pytest.raises(InvalidSnapshot, match=r"agents\[0\]\.grace: a grace deadline belongs"):
        Assigner.restore(online_grace, ManualClock(1.0))


def test_R20_R27_a_late_tick_fires_every_due_timer_while_a_timer_compacts_the_heap(
        make: Make, clock: ManualClock) -> None:
    """A tick long after the deadlines: the grace expiry drops a timer, which compacts a
    heap full of stale entries while tick() walks it; the first-response timer the
    requeue sets in that same tick is still fired, at its own deadline (R20, R23)."""
    a = make(auto_close_after=1000.0, first_response_timeout=100.0)
    a.add_agent("X", online=True)
    a.add_agent("B", cap=2, online=True)
    a.open_session("s1", buyer="b1")  # to X, unanswered
    a.open_session("s3", buyer="b3")
    a.agent_message("s3")
    a.agent_offline("X", grace=30.0)
    a.next_deadline()
    for _ in range(64):  # every reply leaves a stale timer entry behind
        a.agent_message("s3")
        clock.advance(0.001)
    a.buyer_message("s3")
    clock.set(500.0)
    fired = [(type(e).__name__, e.session_id, e.at) for e in a.tick()]
    assert fired == [("Requeued", "s1", 30.0), ("Assigned", "s1", 30.0),
                     ("ResponseTimedOut", "s1", 130.0)]
    assert a.next_deadline() is None or a.next_deadline() > 500.0
