"""R24 escalation ladders: example tests with exact events, on every engine (``make``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from kefu import Assigner, Config, LadderStep, ManualClock, QueueLimit, Strategy
from kefu.assigner import ENGINES
from kefu.errors import InvalidArgument, InvalidSnapshot
from kefu.events import (
    Assigned,
    AssignReason,
    Escalated,
    Overflowed,
    Pool,
    Queued,
    Requeued,
    RequeueReason,
    from_dict,
)
from kefu.explain import Reason
from kefu.kpi import LiveTracker, Recorder, from_events
from kefu.kpi.adapter import Records

Make = Callable[..., Assigner]
DRAIN = AssignReason.DRAIN
#: presale -> presale + general after 60 s -> every agent after 180 s.
LADDER = {"presale": [LadderStep(60.0, {"general"}), LadderStep(180.0, None)]}
ALL_ENGINES = [e for e in ("c", "py", "naive") if e in ENGINES]


def busy_shop(make: Make, **config: Any) -> Assigner:
    """alice (presale), bob (general) and carol (aftersale), cap 1 each, all busy;
    p1 waits in presale since 0."""
    a = make(ladders=LADDER, auto_close_after=None, **config)
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", cap=1, groups={"general"}, online=True)
    a.add_agent("carol", cap=1, groups={"aftersale"}, online=True)
    a.open_session("p0", buyer="x", group="presale")
    a.open_session("g0", buyer="y", group="general")
    a.open_session("c0", buyer="z", group="aftersale")
    assert a.open_session("p1", buyer="b1", group="presale")[1:] == [
        Queued("p1", Pool.QUEUE, 0.0, "b1")]
    return a


def test_R24_widens_at_exactly_the_deadline_not_a_millisecond_early(
        make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    assert a.next_deadline() == 60.0
    clock.set(59.999)
    assert a.tick() == []
    assert a.session("p1").step == 0
    clock.set(60.0)
    assert a.tick() == [Escalated("p1", "presale", 1, ("general",), 60.0, "b1")]
    assert a.session("p1").step == 1
    assert a.next_deadline() == 180.0  # the next step, from the start of the wait


def test_R24_a_late_tick_stamps_the_deadline(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    clock.set(500.0)  # both steps are due: each fires at its own deadline, in order
    assert a.tick() == [Escalated("p1", "presale", 1, ("general",), 60.0, "b1"),
                        Escalated("p1", "presale", 2, None, 180.0, "b1")]
    assert a.next_deadline() is None


def test_R24_widening_drains_at_once_to_a_new_agent_with_room(
        make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    a.add_agent("dave", cap=1, groups={"general"}, online=True)  # room, but not presale
    assert a.waiting() == ["p1"]
    clock.set(60.0)
    assert a.tick() == [Escalated("p1", "presale", 1, ("general",), 60.0, "b1"),
                        Assigned("p1", "dave", 60.0, DRAIN, "b1")]
    assert a.next_deadline() is None  # an assigned session has no ladder timer
    a.check()


def test_R24_widening_picks_by_the_shops_strategy(make: Make, clock: ManualClock) -> None:
    a = make(ladders=LADDER, auto_close_after=None, strategy=Strategy.LEAST_LOAD)
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", cap=3, groups={"general"}, online=True)
    a.add_agent("dave", cap=3, groups={"general"}, online=True)
    a.open_session("p0", group="presale")
    a.open_session("g0", group="general")  # bob (first registered among equals)
    a.open_session("p1", buyer="b1", group="presale")
    clock.set(60.0)
    assert a.tick()[1:] == [Assigned("p1", "dave", 60.0, DRAIN, "b1")]  # fewest sessions


def test_R24_keeps_its_place_against_later_sessions_of_the_new_group(
        make: Make, clock: ManualClock) -> None:
    """An older widened presale session is served before general sessions that arrived
    after it, and after those that arrived before it (R07 across both lines)."""
    a = busy_shop(make)
    clock.set(10.0)
    a.open_session("g1", buyer="b2", group="general")  # before p2, after p1
    clock.set(20.0)
    a.open_session("p2", buyer="b3", group="presale")
    clock.set(30.0)
    a.open_session("g2", buyer="b4", group="general")
    clock.set(80.0)  # p1 widens at 60, p2 at 80: nobody has room
    assert [e.session_id for e in a.tick()] == ["p1", "p2"]
    assert a.close_session("g0")[1:] == [Assigned("p1", "bob", 80.0, DRAIN, "b1")]
    assert a.close_session("p1")[1:] == [Assigned("g1", "bob", 80.0, DRAIN, "b2")]
    assert a.close_session("g1")[1:] == [Assigned("p2", "bob", 80.0, DRAIN, "b3")]
    assert a.close_session("p2")[1:] == [Assigned("g2", "bob", 80.0, DRAIN, "b4")]


def test_R24_priority_still_comes_first(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    clock.set(30.0)
    a.open_session("g1", buyer="b2", group="general", priority=1)
    clock.set(60.0)
    a.tick()
    assert a.close_session("g0")[1:] == [Assigned("g1", "bob", 60.0, DRAIN, "b2")]


def test_R24_second_step_and_anyone(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    clock.set(60.0)
    a.tick()
    assert a.close_session("c0")[1:] == []  # carol is not in the ladder until 180
    assert a.explain("p1").of("carol").reasons == (Reason.NOT_YET,)
    clock.set(180.0)
    assert a.tick() == [Escalated("p1", "presale", 2, None, 180.0, "b1"),
                        Assigned("p1", "carol", 180.0, DRAIN, "b1")]


def test_R24_a_second_step_adds_its_groups_to_the_first(make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=None, ladders={"presale": [
        LadderStep(60.0, {"general"}), LadderStep(120.0, {"vip", "aftersale"})]})
    a.add_agent("bob", cap=1, groups={"general"}, online=True)
    a.add_agent("carol", cap=1, groups={"aftersale"}, online=True)
    a.open_session("g0", group="general")
    a.open_session("c0", group="aftersale")
    a.open_session("p1", buyer="b1", group="presale")
    clock.set(120.0)
    assert a.tick() == [Escalated("p1", "presale", 1, ("general",), 60.0, "b1"),
                        Escalated("p1", "presale", 2, ("aftersale", "vip"), 120.0, "b1")]
    assert a.close_session("g0")[1:] == [Assigned("p1", "bob", 120.0, DRAIN, "b1")]


def test_R24_steps_bring_in_online_agents_only(make: Make, clock: ManualClock) -> None:
    """Offline diversion is about the session's own group: an offline agent of a step's
    group never takes a widened session, but comes online to it."""
    a = make(ladders=LADDER, auto_close_after=None, offline_diversion=True)
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", cap=1, groups={"general"})  # offline, room
    a.open_session("p0", group="presale")
    a.open_session("p1", buyer="b1", group="presale")
    clock.set(60.0)
    assert a.tick() == [Escalated("p1", "presale", 1, ("general",), 60.0, "b1")]
    assert a.explain("p1").of("bob").reasons == (Reason.OFFLINE,)
    assert a.agent_online("bob") == [Assigned("p1", "bob", 60.0, DRAIN, "b1")]


def test_R24_no_ladder_for_the_group_or_no_group(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    a.open_session("g1", group="general")
    a.open_session("n1")  # no group: any agent may take it already
    clock.set(1000.0)
    assert [e.session_id for e in a.tick() if isinstance(e, Escalated)] == ["p1", "p1"]
    assert a.session("g1").step == 0 and a.session("n1").step == 0


def test_R24_options_off_give_todays_events(engine: str) -> None:
    def run(**config: Any) -> list[object]:
        clock = ManualClock(0.0)
        a = Assigner(clock, engine=engine, auto_close_after=None, **config)  # type: ignore[arg-type]
        a.add_agent("alice", cap=1, groups={"presale"}, online=True)
        a.add_agent("bob", cap=1, groups={"general"}, online=True)
        events: list[object] = []
        for n in range(4):
            events += a.open_session(f"p{n}", group="presale")
        clock.advance(500)
        events += a.tick()
        events += a.close_session("p0")
        return events

    plain = run()
    other = run(ladders={"aftersale": [LadderStep(1.0, None)]})
    assert plain == other
    assert not any(isinstance(e, Escalated) for e in plain)


def test_R24_requeued_session_starts_its_ladder_again(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    clock.set(60.0)
    a.tick()  # p1 at step 1
    a.close_session("p0")  # alice takes p1
    clock.set(100.0)
    events = a.remove_agent("alice")
    assert events == [Requeued("p1", "alice", 100.0, RequeueReason.AGENT_REMOVED, "b1"),
                      Queued("p1", Pool.OFFLINE, 100.0, "b1")]  # no presale agent left
    assert a.session("p1").step == 0
    assert a.next_deadline() == 160.0  # 60 s from the requeue


def test_R24_overflowed_session_follows_its_new_groups_ladder(
        make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=None,
             queue_limits={"presale": QueueLimit(max_waiting=0, overflow="general")},
             ladders={"presale": [LadderStep(10.0, None)],
                      "general": [LadderStep(30.0, {"aftersale"})]})
    a.add_agent("bob", cap=1, groups={"general"}, online=True)
    a.add_agent("carol", cap=1, groups={"aftersale"}, online=True)
    a.open_session("g0", group="general")
    a.open_session("c0", group="aftersale")
    clock.set(5.0)
    assert a.open_session("p1", buyer="b1", group="presale")[1:] == [
        Overflowed("p1", "presale", "general", 5.0, "b1"), Queued("p1", Pool.QUEUE, 5.0, "b1")]
    assert a.next_deadline() == 35.0
    a.close_session("c0")  # carol has room, but general does not reach her yet
    clock.set(35.0)
    assert a.tick() == [Escalated("p1", "general", 1, ("aftersale",), 35.0, "b1"),
                        Assigned("p1", "carol", 35.0, DRAIN, "b1")]


def test_R24_closing_a_widened_session_forgets_its_ladder(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    clock.set(60.0)
    a.tick()
    a.close_session("p1")
    assert a.next_deadline() is None
    assert a.close_session("g0")[1:] == []
    a.check()


def test_R24_explain_before_and_after_widening(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    a.add_agent("erin", cap=1, groups={"vip"}, online=True)
    before = a.explain("p1")
    assert before.of("bob").reasons == (Reason.NOT_YET, Reason.FULL)
    assert before.of("carol").reasons == (Reason.NOT_YET, Reason.FULL)
    assert before.of("erin").reasons == (Reason.NOT_YET,)  # erin would take it at 180
    assert a.explain("g0").of("alice").reasons == (Reason.WRONG_GROUP, Reason.FULL)
    clock.set(60.0)
    a.tick()
    after = a.explain("p1")
    assert after.of("bob").reasons == (Reason.FULL,)  # a reached step serves it
    assert after.of("erin").reasons == (Reason.NOT_YET,)
    assert after.eligible == ()


def test_R24_position_and_estimate_stay_in_the_groups_own_line(
        make: Make, clock: ManualClock) -> None:
    """A widened session competes for general agents too, but its line (R25) is its own
    group's: which line an agent serving both takes from next is not predictable."""
    a = busy_shop(make)
    a.open_session("p2", buyer="b2", group="presale")
    a.open_session("g1", buyer="b3", group="general")
    clock.set(60.0)
    a.tick()
    assert (a.position("p1"), a.position("p2"), a.position("g1")) == (1, 2, 1)
    assert a.estimated_wait("p2") is None
    clock.set(70.0)
    a.close_session("g0")  # bob takes p1 (older than g1): a hand-over of the presale line
    assert a.session("p1").agent_id == "bob"
    clock.set(80.0)
    assert a.position("p2") == 1
    assert a.estimated_wait("p2") == 10.0  # one place in the 10 s since the hand-over
    assert a.position("g1") == 1 and a.estimated_wait("g1") is None


@pytest.mark.parametrize("target", ALL_ENGINES)
def test_R24_snapshot_in_the_middle_of_a_wait_restores_on_every_engine(
        make: Make, clock: ManualClock, target: str) -> None:
    a = busy_shop(make)
    clock.set(100.0)
    a.tick()  # p1 at step 1; step 2 due at 180
    data = json.loads(json.dumps(a.snapshot(), allow_nan=False))
    record = next(s for s in data["state"]["sessions"] if s["id"] == "p1")
    assert record["ladder"] == {"since": 0.0, "step": 1, "next": [180.0, record["ladder"]
                                                                  ["next"][1]]}
    assert "ladder" not in next(s for s in data["state"]["sessions"] if s["id"] == "p0")
    assert data["config"]["ladders"] == {"presale": [
        {"after": 60.0, "groups": ["general"]}, {"after": 180.0, "groups": None}]}
    b = Assigner.restore(data, clock, engine=target)  # type: ignore[arg-type]
    b.check()
    assert b.snapshot() == a.snapshot()
    assert b.next_deadline() == 180.0
    assert b.close_session("g0")[1:] == [Assigned("p1", "bob", 100.0, DRAIN, "b1")]


def tampered(a: Assigner, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = json.loads(json.dumps(a.snapshot()))
    change(data)
    return data


def p1_of(data: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in data["state"]["sessions"] if s["id"] == "p1")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["config"]["ladders"]["presale"].append({"after": 90.0, "groups": ["x"]}),
     "step 3: after 90.0 must be later than step 2's 180.0"),
    (lambda d: d["config"].update(ladders={"presale": []}), "needs at least one step"),
    (lambda d: d["config"]["ladders"]["presale"][0].update(groups="general"),
     "bad ladder step groups"),
    (lambda d: p1_of(d)["ladder"].update(step=3), "step 3, but the ladder of 'presale' has 2"),
    (lambda d: p1_of(d)["ladder"]["next"].__setitem__(0, 181.0),
     "deadline 181.0 is not since 0.0 plus step 2's after 180.0"),
    (lambda d: p1_of(d)["ladder"].update(since=150.0),
     "the start of the wait 150.0 is after taken_at 100.0"),
    (lambda d: p1_of(d)["ladder"].update(since=50.0),
     "step 1's deadline 110.0 is after taken_at 100.0"),
    (lambda d: p1_of(d).pop("ladder"), "has no ladder state"),
    (lambda d: d["config"].pop("ladders"), "has no ladder"),
    (lambda d: p1_of(d)["ladder"].update(step=0),
     "deadline 180.0 is not since 0.0 plus step 1's after 60.0"),
])
def test_R24_a_tampered_ladder_in_a_snapshot_is_a_clear_error(
        make: Make, clock: ManualClock, change: Callable[[dict[str, Any]], None],
        message: str) -> None:
    a = busy_shop(make)
    clock.set(100.0)
    a.tick()
    with pytest.raises(InvalidSnapshot, match=message.replace("(", r"\(")):
        Assigner.restore(tampered(a, change), ManualClock(0.0))


def test_R24_widened_session_that_restore_finds_an_eligible_agent_for_is_refused(
        make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    clock.set(100.0)
    a.tick()

    def give_bob_room(data: dict[str, Any]) -> None:
        bob = next(x for x in data["state"]["agents"] if x["id"] == "bob")
        bob["cap"] = 2

    with pytest.raises(InvalidSnapshot, match="R06: waits in the queue pool but agent 'bob'"):
        Assigner.restore(tampered(a, give_bob_room), ManualClock(0.0))


def test_R24_batch_ticks_widen_too(make: Make, clock: ManualClock) -> None:
    a = busy_shop(make)
    events = a.apply([("at", 59.0), ("tick",), ("at", 60.0), ("tick",),
                      ("add_agent", "dave", 1, ["general"], 1, True)])
    assert events == [Escalated("p1", "presale", 1, ("general",), 60.0, "b1"),
                      Assigned("p1", "dave", 60.0, DRAIN, "b1")]


def test_R24_escalated_round_trips_on_the_wire() -> None:
    for event in (Escalated("p1", "presale", 1, ("general",), 60.0, "b1"),
                  Escalated("p1", "presale", 2, None, 180.0, None)):
        data = event.to_dict()
        assert from_dict(json.loads(json.dumps(data))) == event
    assert Escalated("p1", "presale", 1, ("general",), 60.0).to_dict()["groups"] == ["general"]


@pytest.mark.parametrize(("ladders", "message"), [
    ({"presale": []}, "needs at least one step"),
    ({"presale": [LadderStep(60.0, {"general"}), LadderStep(60.0, None)]},
     "after 60.0 must be later than step 1's 60.0"),
    ({"presale": [LadderStep(60.0, None), LadderStep(90.0, {"x"})]},
     "step 2 follows a step that reached every agent"),
    ({"presale": [LadderStep(60.0, {"presale"})]}, r"\['presale'\] already serve"),
    ({"presale": [LadderStep(60.0, {"a"}), LadderStep(90.0, {"a", "b"})]},
     r"step 2: \['a'\] already serve"),
    ({"presale": LadderStep(60.0, None)}, "must be a sequence of kefu.LadderStep"),
    ({"presale": "x"}, "must be a sequence of kefu.LadderStep"),
    ({"presale": [(60.0, None)]}, "step 1 must be a kefu.LadderStep"),
    ({"": [LadderStep(60.0, None)]}, "group"),
    ([("presale", [LadderStep(60.0, None)])], "ladders must be a mapping"),
])
def test_R24_bad_ladders_are_refused_at_configuration(ladders: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Assigner(ManualClock(0.0), ladders=ladders)  # type: ignore[arg-type]


@pytest.mark.parametrize(("args", "message"), [
    ((0.0, None), "positive number of seconds"),
    ((-1.0, None), "positive number of seconds"),
    ((float("inf"), None), "positive number of seconds"),
    ((float("nan"), None), "positive number of seconds"),
    ((True, None), "positive number of seconds"),
    (("60", None), "positive number of seconds"),
    ((2e9, None), "positive number of seconds"),
    ((60.0, set()), "needs at least one group"),
    ((60.0, frozenset()), "needs at least one group"),
    ((60.0, "general"), "set of group names or None"),
    ((60.0, {"general": 1}), "set of group names or None"),
    ((60.0, {""}), "group"),
    ((60.0, {1}), "group"),
])
def test_R24_bad_ladder_step_is_refused(args: tuple[object, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        LadderStep(*args)  # type: ignore[arg-type]


def test_R24_config_keeps_ladders_sorted_and_through_evolve() -> None:
    config = Config(ladders={"b": [LadderStep(5, ["x", "y"])], "a": (LadderStep(1.0, None),)})
    assert config.ladders == (("a", (LadderStep(1.0, None),)),
                              ("b", (LadderStep(5, frozenset({"x", "y"})),)))
    assert attrs.evolve(config, sticky_window=10.0).ladders == config.ladders
    assert Config.from_data(config.to_data()) == config
    assert "ladders" not in Config().to_data()


def test_R24_kpi_records_ignore_escalations(engine: str) -> None:
    """K11: ``from_events`` and the Recorder take Escalated in their stride; the records are
    those of the same stream without it (positions in the stream aside)."""
    clock = ManualClock(0.0)
    recorder = Recorder(Assigner(clock, engine=engine, ladders=LADDER,  # type: ignore[arg-type]
                                 auto_close_after=None), LiveTracker())
    shop = recorder.assigner
    events = shop.add_agent("alice", cap=1, groups={"presale"}, online=True)
    events += shop.add_agent("bob", cap=1, groups={"general"}, online=True)
    for sid, group in (("p0", "presale"), ("g0", "general"), ("p1", "presale")):
        events += recorder.open_session(sid, f"b-{sid}", f"m-{sid}", group=group)
    clock.set(60.0)
    ticked = shop.tick()
    recorder.observe(ticked)
    events += ticked
    assert recorder.tracker.shop(60.0).waiting == 1  # p1, escalated, still waits
    clock.set(70.0)
    events += recorder.close_session("g0")
    assert any(isinstance(e, Escalated) for e in events)

    def unnumbered(records: Records) -> list[object]:
        return [attrs.evolve(r, seq=0) for r in (*records.handovers, *records.releases,
                                                 *records.ends)]

    plain = [e for e in events if not isinstance(e, Escalated)]
    assert unnumbered(from_events(events)) == unnumbered(from_events(plain))
    assert [h.agent_id for h in from_events(events).handovers] == ["alice", "bob", "bob"]
    assert recorder.tracker.shop(70.0).waiting == 0  # and bob took it
