"""R28 queue limits: example tests with exact events, on every engine (``make``)."""

from __future__ import annotations

import json
from collections.abc import Callable

import attrs
import pytest

from kefu import Assigner, Cap, Config, ManualClock, QueueLimit
from kefu.errors import InvalidArgument, InvalidSnapshot, UnknownSession
from kefu.events import (
    Assigned,
    AssignReason,
    Closed,
    CloseReason,
    Opened,
    Overflowed,
    Pool,
    Queued,
    Rejected,
    from_dict,
)

Make = Callable[..., Assigner]
NEW, DRAIN = AssignReason.NEW, AssignReason.DRAIN


def busy_shop(make: Make, **limits: QueueLimit) -> Assigner:
    """alice (presale, cap 1) and bob (general, cap 1) online, each holding one session."""
    a = make(queue_limits=limits, auto_close_after=None)
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", cap=1, groups={"general"}, online=True)
    a.open_session("p0", buyer="x", group="presale")
    a.open_session("g0", buyer="y", group="general")
    return a


def test_R28_count_limit_overflows_to_another_group(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, presale=QueueLimit(max_waiting=1, overflow="general"))
    assert a.open_session("p1", buyer="b1", group="presale") == [
        Opened("p1", "b1", "presale", 0, 0.0), Queued("p1", Pool.QUEUE, 0.0, "b1")]
    assert a.open_session("p2", buyer="b2", group="presale") == [
        Opened("p2", "b2", "presale", 0, 0.0),
        Overflowed("p2", "presale", "general", 0.0, "b2"),
        Queued("p2", Pool.QUEUE, 0.0, "b2")]
    assert a.session("p2").group == "general"
    assert a.waiting() == ["p1", "p2"]
    # bob frees up: the overflowed session is his (it is a general session now)
    assert a.close_session("g0")[1:] == [Assigned("p2", "bob", 0.0, DRAIN, "b2")]


def test_R28_overflow_goes_straight_to_a_free_agent(make: Make, clock: ManualClock) -> None:
    a = make(queue_limits={"presale": QueueLimit(max_waiting=0, overflow="general")})
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", groups={"general"}, online=True)
    a.open_session("p0", group="presale")
    assert a.open_session("p1", buyer="b1", group="presale")[1:] == [
        Overflowed("p1", "presale", "general", 0.0, "b1"),
        Assigned("p1", "bob", 0.0, NEW, "b1")]


def test_R28_rejection_with_a_rejected_event(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, presale=QueueLimit(max_waiting=1))
    a.open_session("p1", buyer="b1", group="presale")
    clock.advance(5)
    assert a.open_session("p2", buyer="b2", group="presale") == [
        Opened("p2", "b2", "presale", 0, 5.0), Rejected("p2", "presale", 5.0, "b2")]
    assert "p2" not in a.session_ids() and a.waiting() == ["p1"]
    with pytest.raises(UnknownSession):
        a.session("p2")
    # the id is free again: once there is room the same id opens and waits
    a.close_session("p1")
    assert a.open_session("p2", buyer="b2", group="presale")[1:] == [
        Queued("p2", Pool.QUEUE, 5.0, "b2")]


def test_R28_overflow_chain_ends_in_rejection(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, presale=QueueLimit(max_waiting=0, overflow="general"),
                  general=QueueLimit(max_waiting=1))
    a.open_session("g1", buyer="b1", group="general")  # general's queue is now full
    assert a.open_session("p1", buyer="b2", group="presale")[1:] == [
        Overflowed("p1", "presale", "general", 0.0, "b2"), Rejected("p1", "general", 0.0, "b2")]


def test_R28_limit_zero_never_lets_a_session_wait(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, presale=QueueLimit(max_waiting=0))
    assert a.open_session("p1", buyer="b1", group="presale")[1:] == [
        Rejected("p1", "presale", 0.0, "b1")]
    a.close_session("p0")  # alice has room: the next one is hers, not refused
    assert a.open_session("p2", buyer="b2", group="presale")[1:] == [
        Assigned("p2", "alice", 0.0, NEW, "b2")]


def test_R28_limit_counts_both_pools_and_ignores_other_groups(make: Make, clock: ManualClock
                                                              ) -> None:
    a = make(queue_limits={"presale": QueueLimit(max_waiting=2)})
    a.open_session("p1", group="presale")  # nobody online: offline pool
    a.add_agent("alice", cap=1, groups={"general"}, online=True)
    a.open_session("g1", group="general")
    a.open_session("g2", group="general")  # waits, but in general: not counted
    a.open_session("p2", group="presale")  # offline pool, second presale
    assert [type(e).__name__ for e in a.open_session("p3", group="presale")] == [
        "Opened", "Rejected"]


def test_R28_requeues_and_sticky_returns_are_not_limited(make: Make, clock: ManualClock
                                                         ) -> None:
    a = make(queue_limits={"presale": QueueLimit(max_waiting=0)}, auto_close_after=None)
    a.add_agent("alice", groups={"presale"}, online=True)
    a.open_session("p1", buyer="b1", group="presale")
    a.open_session("p2", buyer="b2", group="presale")
    events = a.agent_offline("alice", requeue=True)  # already admitted: they wait
    assert [type(e).__name__ for e in events] == ["Requeued", "Requeued", "Queued", "Queued"]
    assert a.waiting() == ["p1", "p2"]


def test_R28_options_off_give_todays_events(make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=None)
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    for n in range(5):
        assert [type(e).__name__ for e in a.open_session(f"p{n}", group="presale")] == (
            ["Opened", "Assigned"] if n == 0 else ["Opened", "Queued"])
    assert "queue_limits" not in a.snapshot()["config"]


def test_R28_limits_of_other_groups_change_nothing(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, aftersale=QueueLimit(max_waiting=0))
    assert [type(e).__name__ for e in a.open_session("p1", group="presale")] == [
        "Opened", "Queued"]
    assert [type(e).__name__ for e in a.open_session("n1")] == ["Opened", "Queued"]


def test_R28_oldest_wait_limit_acts_at_admission(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, presale=QueueLimit(max_wait=60.0, overflow="general"))
    a.open_session("p1", buyer="b1", group="presale", priority=0)
    clock.set(59.999)
    assert a.open_session("p2", buyer="b2", group="presale", priority=5)[1:] == [
        Queued("p2", Pool.QUEUE, 59.999, "b2")]
    clock.set(60.0)  # p1 has waited 60 s (p2, ahead of it by priority, only a moment)
    assert a.open_session("p3", buyer="b3", group="presale")[1:] == [
        Overflowed("p3", "presale", "general", 60.0, "b3"), Queued("p3", Pool.QUEUE, 60.0, "b3")]
    a.close_session("p1")  # the oldest left: p2 has waited 0.001 s
    assert a.open_session("p4", buyer="b4", group="presale")[1:] == [
        Queued("p4", Pool.QUEUE, 60.0, "b4")]
    assert a.waiting() == ["p2", "p3", "p4"]  # p3 waits as a general session


def test_R28_count_and_wait_limits_together(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, presale=QueueLimit(max_waiting=3, max_wait=30.0))
    a.open_session("p1", group="presale")
    clock.set(30.0)
    assert [type(e).__name__ for e in a.open_session("p2", group="presale")] == [
        "Opened", "Rejected"]


def test_R28_events_round_trip_on_the_wire() -> None:
    for event in (Overflowed("s1", "presale", "general", 1.5, "b1"),
                  Rejected("s1", "general", 2.5, None)):
        assert from_dict(json.loads(json.dumps(event.to_dict()))) == event


@pytest.mark.parametrize(("limits", "message"), [
    ({"a": QueueLimit(max_waiting=1, overflow="a")}, "overflow from 'a' comes back to 'a'"),
    ({"a": QueueLimit(max_waiting=1, overflow="b"), "b": QueueLimit(max_waiting=1, overflow="c"),
      "c": QueueLimit(max_waiting=1, overflow="a")}, "'a' -> 'b' -> 'c' -> 'a'"),
    ({"": QueueLimit(max_waiting=1)}, "group id must be a non-empty str"),
    ({"a": 5}, "must be a kefu.QueueLimit"),
    ([("a", QueueLimit(max_waiting=1))], "queue_limits must be a mapping"),
    ((("a", QueueLimit(max_waiting=1), "extra"),), "queue_limits could not be read"),
])
def test_R28_bad_limits_are_refused_at_configuration(limits: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(">", ">")):
        Assigner(ManualClock(0.0), queue_limits=limits)  # type: ignore[arg-type]


def test_R28_config_keeps_limits_sorted_and_through_evolve() -> None:
    config = Config(queue_limits={"b": QueueLimit(max_waiting=1), "a": QueueLimit(max_wait=5)})
    assert [g for g, _ in config.queue_limits] == ["a", "b"]
    assert attrs.evolve(config, sticky_window=60.0).queue_limits == config.queue_limits
    assert Config.from_data(config.to_data()) == config


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "a queue limit needs max_waiting, max_wait or both"),
    ({"max_waiting": -1}, "max_waiting must be an int"),
    ({"max_waiting": True}, "max_waiting must be an int"),
    ({"max_waiting": 1.0}, "max_waiting must be an int"),
    ({"max_wait": 0.0}, "max_wait must be a positive number"),
    ({"max_wait": float("inf")}, "max_wait must be a positive number"),
    ({"max_waiting": 1, "overflow": ""}, "overflow group id must be a non-empty str"),
])
def test_R28_bad_queue_limit_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        QueueLimit(**kwargs)  # type: ignore[arg-type]


def test_R28_snapshot_carries_the_limits_across_engines(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, presale=QueueLimit(max_waiting=1, overflow="general"),
                  general=QueueLimit(max_wait=90.0))
    a.open_session("p1", group="presale")
    data = json.loads(json.dumps(a.snapshot()))
    assert data["config"]["queue_limits"] == {
        "general": {"max_waiting": None, "max_wait": 90.0, "overflow": None},
        "presale": {"max_waiting": 1, "max_wait": None, "overflow": "general"}}
    for engine in ("py", "naive"):
        b = Assigner.restore(data, ManualClock(0.0), engine=engine)
        assert b.config == a.config
        assert [type(e).__name__ for e in b.open_session("p2", group="presale")] == [
            "Opened", "Overflowed", "Queued"]
    data["config"]["queue_limits"]["general"]["overflow"] = "presale"
    with pytest.raises(InvalidSnapshot, match="overflow from 'general' comes back to 'general'"):
        Assigner.restore(data, ManualClock(0.0))


def test_R28_batch_and_close_of_a_rejected_id(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make, presale=QueueLimit(max_waiting=0))
    events = a.apply([("open_session", "p1", "b1", "presale"), ("open_session", "p1", "b1")])
    assert events[1] == Rejected("p1", "presale", 0.0, "b1")
    assert events[2:] == [Opened("p1", "b1", None, 0, 0.0), Queued("p1", Pool.QUEUE, 0.0, "b1")]
    assert a.close_session("p1") == [Closed("p1", None, Pool.QUEUE, 0.0, CloseReason.MANUAL,
                                            "b1")]


def test_R28_caps_do_not_count_as_limits(make: Make) -> None:
    a = make(queue_limits={"presale": QueueLimit(max_waiting=0)})
    a.add_agent("alice", cap=Cap.SUSPENDED, groups={"presale"}, online=True)
    assert [type(e).__name__ for e in a.open_session("p1", group="presale")] == [
        "Opened", "Rejected"]
    a.set_cap("alice", 1)  # now alice has room: nothing is judged against the limit
    assert [type(e).__name__ for e in a.open_session("p1", group="presale")] == [
        "Opened", "Assigned"]
