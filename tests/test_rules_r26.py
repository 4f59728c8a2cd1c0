"""R26 capacity weights: example tests with exact events, on every engine (``make``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from kefu import Assigner, Config, LadderStep, ManualClock, QueueLimit, Strategy
from kefu.assigner import ENGINES
from kefu.errors import BatchAborted, InvalidArgument, InvalidSnapshot, UnknownKind
from kefu.events import (
    Assigned,
    AssignReason,
    Opened,
    Pool,
    Queued,
    Requeued,
    RequeueReason,
    Transferred,
    from_dict,
)
from kefu.explain import Reason
from kefu.kpi import LiveTracker, Recorder, from_events

Make = Callable[..., Assigner]
NEW, DRAIN, MANUAL = AssignReason.NEW, AssignReason.DRAIN, AssignReason.MANUAL
KINDS = {"presale": 1, "dispute": 2}
ALL_ENGINES = [e for e in ("c", "py", "naive") if e in ENGINES]


def busy_shop(make: Make, **config: Any) -> Assigner:
    """alice (cap 3) online holding two presales: one unit of room left."""
    a = make(session_kinds=KINDS, auto_close_after=None, **config)
    a.add_agent("alice", cap=3, online=True)
    a.open_session("p0", buyer="x", kind="presale")
    a.open_session("p1", buyer="y", kind="presale")
    return a


def test_R26_a_dispute_does_not_fit_one_unit_of_room_and_a_presale_behind_it_goes_first(
        make: Make) -> None:
    a = busy_shop(make)
    assert a.load("alice") == 2
    assert a.open_session("d1", buyer="b1", kind="dispute") == [
        Opened("d1", "b1", None, 0, 0.0, "dispute"), Queued("d1", Pool.QUEUE, 0.0, "b1")]
    # a presale behind it in the line fits the one unit alice has: it is served first
    assert a.open_session("p2", buyer="b2", kind="presale")[1:] == [
        Assigned("p2", "alice", 0.0, NEW, "b2")]
    assert a.load("alice") == 3
    assert a.waiting() == ["d1"]
    a.check()


def test_R26_the_drain_skips_a_heavy_session_for_a_lighter_one_behind_it(make: Make) -> None:
    a = busy_shop(make)
    a.open_session("p2", buyer="b2", kind="presale")  # alice full (3)
    a.open_session("d1", buyer="b1", kind="dispute")
    a.open_session("p3", buyer="b3")  # no kind: weight 1
    assert a.waiting() == ["d1", "p3"]
    # one unit frees up: the dispute does not fit, the later p3 does (R06)
    assert a.close_session("p0")[1:] == [Assigned("p3", "alice", 0.0, DRAIN, "b3")]
    assert a.position("d1") == 1
    a.check()


def test_R26_the_dispute_is_served_when_two_units_free_up(make: Make) -> None:
    a = busy_shop(make)
    a.open_session("d1", buyer="b1", kind="dispute")
    assert a.close_session("p0")[1:] == [Assigned("d1", "alice", 0.0, DRAIN, "b1")]
    view = a.agent("alice")
    assert (view.load, view.sessions) == (3, 2)
    assert a.session("d1").kind == "dispute"
    assert a.session("p1").kind == "presale"


def test_R26_caps_bound_the_sum_of_weights(make: Make) -> None:
    a = make(session_kinds={"dispute": 2}, auto_close_after=None)
    a.add_agent("alice", cap=5, online=True)
    events = []
    for n in range(4):
        events += a.open_session(f"d{n}", kind="dispute")
    assert [type(e).__name__ for e in events[1::2]] == ["Assigned", "Assigned", "Queued",
                                                       "Queued"]
    assert a.load("alice") == 4 and a.agent("alice").sessions == 2
    # one unit of room: a dispute never fits it, however long it waits
    assert a.open_session("s", buyer="b")[1:] == [Assigned("s", "alice", 0.0, NEW, "b")]
    assert a.load("alice") == 5


def test_R26_least_load_picks_the_least_weighted_load(make: Make) -> None:
    a = make(session_kinds=KINDS, auto_close_after=None)
    a.add_agent("alice", cap=10, online=True)
    a.add_agent("bob", cap=10, online=True)
    a.open_session("d1", kind="dispute")  # alice: load 2, one session
    a.open_session("p1", kind="presale")  # bob: load 1
    a.open_session("p2", kind="presale")  # bob: load 2 (alice got the older assignment)
    # both hold load 2: alice's automatic assignment is the older one
    assert a.open_session("p3", buyer="b")[1:] == [Assigned("p3", "alice", 0.0, NEW, "b")]
    # alice 3 (two sessions) against bob 2 (two sessions): bob, by weighted load
    assert a.open_session("p4", buyer="b")[1:] == [Assigned("p4", "bob", 0.0, NEW, "b")]
    assert (a.load("alice"), a.load("bob")) == (3, 3)


def test_R26_least_load_passes_an_agent_the_session_does_not_fit(make: Make) -> None:
    a = make(session_kinds={"dispute": 3}, auto_close_after=None)
    a.add_agent("alice", cap=2, online=True)  # least loaded, but a dispute never fits her
    a.add_agent("bob", cap=10, online=True)
    a.open_session("s1")  # alice
    assert a.open_session("d1", buyer="b", kind="dispute")[1:] == [
        Assigned("d1", "bob", 0.0, NEW, "b")]


@pytest.mark.parametrize("strategy", [Strategy.ROUND_ROBIN, Strategy.WEIGHTED])
def test_R26_round_robin_and_weighted_skip_agents_without_room(
        make: Make, strategy: Strategy) -> None:
    a = make(session_kinds=KINDS, strategy=strategy, auto_close_after=None)
    a.add_agent("alice", cap=2, online=True)
    a.add_agent("bob", cap=2, online=True)
    a.open_session("p1", kind="presale")  # alice
    a.open_session("p2", kind="presale")  # bob
    a.open_session("p3", kind="presale")  # alice: full
    assert a.open_session("d1", buyer="b", kind="dispute")[1:] == [
        Queued("d1", Pool.QUEUE, 0.0, "b")]
    assert a.close_session("p1")[1:] == []  # alice has 1 unit: not enough
    assert a.close_session("p3")[1:] == [Assigned("d1", "alice", 0.0, DRAIN, "b")]


def test_R26_manual_assign_and_transfer_may_push_the_load_past_the_cap(make: Make) -> None:
    a = busy_shop(make)
    a.open_session("p2", buyer="b2", kind="presale")  # alice: 3 of 3
    a.add_agent("bob", cap=1, online=True)
    a.open_session("d1", buyer="b1", kind="dispute")  # fits nobody: waits
    assert a.assign("d1", "bob") == [Assigned("d1", "bob", 0.0, MANUAL, "b1")]
    assert a.load("bob") == 2  # past his cap of 1
    assert a.transfer("d1", "alice") == [Transferred("d1", "bob", "alice", 0.0, "b1")]
    assert a.load("alice") == 5
    a.open_session("p3", buyer="b3")
    assert a.explain("p3").of("alice").reasons == (Reason.FULL,)
    a.check()


def test_R26_no_kinds_gives_todays_events(engine: str) -> None:
    def run(**config: Any) -> list[object]:
        clock = ManualClock(0.0)
        a = Assigner(clock, engine=engine, auto_close_after=None, **config)  # type: ignore[arg-type]
        a.add_agent("alice", cap=2, online=True)
        a.add_agent("bob", cap=1, online=True)
        events: list[object] = []
        for n in range(5):
            events += a.open_session(f"s{n}", buyer=f"b{n}")
        events += a.close_session("s0")
        events += a.agent_offline("bob", requeue=True)
        return events

    plain = run()
    assert plain == run(session_kinds={"dispute": 2})
    assert plain == run(session_kinds={"chat": 1})
    assert all(getattr(e, "session_kind", None) is None for e in plain)


def test_R26_requeued_sessions_keep_their_kind(make: Make) -> None:
    a = make(session_kinds=KINDS, auto_close_after=None)
    a.add_agent("alice", cap=2, online=True)
    a.add_agent("bob", cap=3, online=True)
    a.open_session("p1", buyer="b1", kind="presale")  # alice
    a.open_session("d1", buyer="b2", kind="dispute")  # bob (alice has 1 unit)
    a.open_session("p2", buyer="b3", kind="presale")  # alice: full
    # bob leaves: the dispute waits (alice has no room), keeping its kind and weight
    assert a.remove_agent("bob") == [
        Requeued("d1", "bob", 0.0, RequeueReason.AGENT_REMOVED, "b2"),
        Queued("d1", Pool.QUEUE, 0.0, "b2")]
    assert a.session("d1").kind == "dispute"
    assert a.close_session("p1")[1:] == []  # one unit: still too heavy
    assert a.close_session("p2")[1:] == [Assigned("d1", "alice", 0.0, DRAIN, "b2")]
    assert a.load("alice") == 2


def test_R26_grace_requeue_keeps_the_kind(make: Make, clock: ManualClock) -> None:
    a = make(session_kinds=KINDS, auto_close_after=None)
    a.add_agent("alice", cap=4, online=True)
    a.open_session("d1", buyer="b1", kind="dispute")
    a.add_agent("bob", cap=1, online=True)
    a.agent_offline("alice", grace=10.0)
    clock.set(10.0)
    assert a.tick() == [Requeued("d1", "alice", 10.0, RequeueReason.AGENT_OFFLINE, "b1"),
                        Queued("d1", Pool.QUEUE, 10.0, "b1")]  # bob: room 1, weight 2
    assert a.set_cap("bob", 2) == [Assigned("d1", "bob", 10.0, DRAIN, "b1")]


def test_R26_a_widened_heavy_session_still_needs_room(make: Make, clock: ManualClock) -> None:
    a = make(session_kinds=KINDS, auto_close_after=None,
             ladders={"presale": [LadderStep(60.0, {"general"})]})
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", cap=2, groups={"general"}, online=True)
    a.open_session("p0", group="presale")  # alice
    a.open_session("g0", group="general")  # bob: one unit left
    a.open_session("d1", buyer="b1", group="presale", kind="dispute")
    clock.set(60.0)
    assert [type(e).__name__ for e in a.tick()] == ["Escalated"]  # bob has 1 unit only
    assert a.explain("d1").of("bob").reasons == (Reason.FULL,)
    assert a.close_session("g0")[1:] == [Assigned("d1", "bob", 60.0, DRAIN, "b1")]


def test_R26_queue_limits_count_sessions_not_weight(make: Make) -> None:
    a = make(session_kinds={"dispute": 3}, auto_close_after=None,
             queue_limits={"presale": QueueLimit(max_waiting=2)})
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.open_session("p0", group="presale")
    assert [type(e).__name__ for e in a.open_session("d1", group="presale", kind="dispute")] \
        == ["Opened", "Queued"]
    assert [type(e).__name__ for e in a.open_session("d2", group="presale", kind="dispute")] \
        == ["Opened", "Queued"]
    assert [type(e).__name__ for e in a.open_session("p1", group="presale")] \
        == ["Opened", "Rejected"]


def test_R26_position_is_the_place_in_the_line_and_a_heavy_session_may_be_passed(
        make: Make) -> None:
    a = busy_shop(make)
    a.open_session("p2", kind="presale")  # alice full
    a.open_session("d1", kind="dispute")
    a.open_session("p3", kind="presale")
    assert (a.position("d1"), a.position("p3")) == (1, 2)
    a.close_session("p0")  # p3 passes the dispute
    assert (a.position("d1"), a.position("p3")) == (1, None)


def test_R26_explain_says_full_when_the_weight_does_not_fit(make: Make) -> None:
    a = busy_shop(make)
    a.open_session("d1", kind="dispute")
    a.open_session("s1")  # fits: alice takes it
    a.close_session("s1")
    assert a.explain("d1").of("alice").reasons == (Reason.FULL,)
    assert a.explain("d1").eligible == ()
    a.open_session("p9", kind="presale")  # a presale would fit: it goes to alice
    assert a.session("p9").agent_id == "alice"


def test_R26_unknown_kind_is_an_error_that_changes_nothing(make: Make) -> None:
    a = busy_shop(make)
    before = a.snapshot()
    with pytest.raises(UnknownKind, match=r"unknown session kind 'refund'.*'dispute', 'presale'"):
        a.open_session("r1", kind="refund")
    with pytest.raises(InvalidArgument, match="kind must be a non-empty str"):
        a.open_session("r1", kind="")
    assert a.snapshot() == before
    plain = make()
    with pytest.raises(UnknownKind, match="none are configured"):
        plain.open_session("r1", kind="dispute")


@pytest.mark.parametrize(("kinds", "message"), [
    ({"dispute": 0}, r"session_kinds\['dispute'\] must be an integer weight from 1 to 500"),
    ({"dispute": 501}, "from 1 to 500, got 501"),
    ({"dispute": 2.0}, "got 2.0"),
    ({"dispute": True}, "got True"),
    ({"": 2}, "kind"),
    (["dispute"], "session_kinds must be a mapping"),
    ((("dispute",),), "session_kinds could not be read"),
])
def test_R26_bad_session_kinds_are_refused_at_configuration(kinds: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Assigner(ManualClock(0.0), session_kinds=kinds)  # type: ignore[arg-type]


def test_R26_config_keeps_kinds_sorted_and_round_trips() -> None:
    config = Config(session_kinds={"presale": 1, "dispute": 2})
    assert config.session_kinds == (("dispute", 2), ("presale", 1))
    assert Config.from_data(config.to_data()) == config
    assert attrs.evolve(config, strategy=Strategy.WEIGHTED).session_kinds == config.session_kinds
    assert "session_kinds" not in Config().to_data()


@pytest.mark.parametrize("target", ALL_ENGINES)
def test_R26_kinds_through_snapshot_and_restore_on_every_engine(
        make: Make, target: str) -> None:
    a = busy_shop(make)
    a.open_session("d1", buyer="b1", kind="dispute")
    data = json.loads(json.dumps(a.snapshot(), allow_nan=False))
    records = {s["id"]: s for s in data["state"]["sessions"]}
    assert records["d1"]["kind"] == "dispute"
    assert data["config"]["session_kinds"] == {"dispute": 2, "presale": 1}
    b = Assigner.restore(data, ManualClock(0.0), engine=target)  # type: ignore[arg-type]
    b.check()
    assert b.snapshot() == a.snapshot()
    assert b.load("alice") == 2
    assert b.close_session("p0")[1:] == [Assigned("d1", "alice", 0.0, DRAIN, "b1")]


def session_of(data: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in data["state"]["sessions"] if s["id"] == sid)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: session_of(d, "d1").update(kind="refund"),
     r"sessions\[2\].kind: 'refund' is not one of the configured session_kinds"),
    (lambda d: session_of(d, "d1").update(kind=7), r"sessions\[2\].kind"),
    (lambda d: d["config"]["session_kinds"].update(dispute=0), "from 1 to 500, got 0"),
    (lambda d: d["config"].update(session_kinds={}), "bad session_kinds"),
    # a dispute of weight 1 would fit alice's one unit: R06 is broken
    (lambda d: d["config"]["session_kinds"].update(dispute=1),
     "R06: waits in the queue pool but agent 'alice'"),
    # room for two units: alice could take the dispute
    (lambda d: d["state"]["agents"][0].update(cap=4),
     "R06: waits in the queue pool but agent 'alice'"),
])
def test_R26_a_tampered_kind_or_weight_in_a_snapshot_is_a_clear_error(
        make: Make, change: Callable[[dict[str, Any]], None], message: str) -> None:
    a = busy_shop(make)
    a.open_session("d1", buyer="b1", kind="dispute")
    data = json.loads(json.dumps(a.snapshot()))
    change(data)
    with pytest.raises(InvalidSnapshot, match=message):
        Assigner.restore(data, ManualClock(0.0))


def test_R26_batches_take_the_kind(make: Make) -> None:
    a = busy_shop(make)
    events = a.apply([("open_session", "d1", "b1", None, 0, "dispute"),
                      ("open_session", "p2", "b2", None, 0, "presale")])
    assert events[1] == Queued("d1", Pool.QUEUE, 0.0, "b1")
    assert events[3] == Assigned("p2", "alice", 0.0, NEW, "b2")
    with pytest.raises(BatchAborted) as caught:
        a.apply([("open_session", "r1", None, None, 0, "refund")])
    assert isinstance(caught.value.__cause__, UnknownKind)


def test_R26_opened_carries_the_kind_on_the_wire() -> None:
    kinded = Opened("d1", "b1", None, 0, 1.0, "dispute")
    assert kinded.to_dict()["session_kind"] == "dispute"
    assert from_dict(kinded.to_dict()) == kinded
    plain = Opened("s1", "b1", None, 0, 1.0)
    assert "session_kind" not in plain.to_dict()  # older wire forms stay exactly the same
    assert from_dict(plain.to_dict()) == plain


def test_R26_kpi_records_from_kinded_events(engine: str) -> None:
    """K11: ``from_events`` and the Recorder take kinded sessions as any other."""
    clock = ManualClock(0.0)
    recorder = Recorder(Assigner(clock, engine=engine, session_kinds=KINDS,  # type: ignore[arg-type]
                                 auto_close_after=None), LiveTracker())
    events = recorder.assigner.add_agent("alice", cap=2, online=True)
    events += recorder.open_session("d1", "b1", "m1", kind="dispute")
    events += recorder.open_session("p1", "b2", "m2", kind="presale")
    assert recorder.tracker.shop(0.0).waiting == 1  # p1: alice's two units are taken
    assert recorder.assigner.session("d1").kind == "dispute"
    assert [h.agent_id for h in from_events(events).handovers] == ["alice"]
