"""R25 queue position: example tests on every engine (``make``).

The lockstep machine (tests/test_stateful.py) checks every waiting session's
position against its group's line after every random step, on all engines.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from kefu import Assigner, ManualClock, QueueLimit
from kefu.assigner import ENGINES
from kefu.durable import DurableShop, SQLiteStore
from kefu.errors import InvalidArgument, UnknownSession
from kefu.host import Host

Make = Callable[..., Assigner]


def places(a: Assigner) -> dict[str, int | None]:
    """Every open session's position."""
    return {sid: a.position(sid) for sid in a.session_ids()}


def full_shop(make: Make, **config: object) -> Assigner:
    """alice (cap 1, every group) online, holding s0."""
    a = make(auto_close_after=None, **config)
    a.add_agent("alice", cap=1, online=True)
    a.open_session("s0")
    return a


def test_R25_arrivals_line_up_by_priority_then_arrival(make: Make) -> None:
    a = full_shop(make)
    a.open_session("s1")
    a.open_session("s2")
    a.open_session("vip", priority=5)
    a.open_session("s3")
    assert places(a) == {"s0": None, "s1": 2, "s2": 3, "vip": 1, "s3": 4}
    assert [a.position(s) for s in a.waiting()] == [1, 2, 3, 4]


def test_R25_each_group_is_its_own_line(make: Make) -> None:
    a = full_shop(make)
    a.open_session("p1", group="presale")
    a.open_session("n1")  # no group: the line of sessions without a group
    a.open_session("g1", group="general")
    a.open_session("p2", group="presale")
    a.open_session("n2")
    # alice serves every group, yet sessions of other groups are not counted
    assert places(a) == {"s0": None, "p1": 1, "n1": 1, "g1": 1, "p2": 2, "n2": 2}


def test_R25_a_drain_moves_the_line_up(make: Make) -> None:
    a = full_shop(make)
    for sid in ("s1", "s2", "s3"):
        a.open_session(sid)
    a.close_session("s0")  # alice takes s1
    assert places(a) == {"s1": None, "s2": 1, "s3": 2}


def test_R25_a_buyer_leaving_the_line_moves_those_behind(make: Make,
                                                         clock: ManualClock) -> None:
    a = full_shop(make)
    for sid in ("s1", "s2", "s3"):
        a.open_session(sid)
    a.close_session("s2")  # the buyer gave up
    assert places(a) == {"s0": None, "s1": 1, "s3": 2}
    with pytest.raises(UnknownSession):
        a.position("s2")


def test_R25_auto_close_of_a_waiting_session(make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=60.0)
    a.add_agent("alice", cap=1, online=True)
    for sid in ("s0", "s1", "s2"):
        a.open_session(sid)
    a.agent_message("s1", auto=True)  # an auto-reply starts s1's countdown
    clock.advance(60)
    assert [type(e).__name__ for e in a.tick()] == ["Closed"]
    assert places(a) == {"s0": None, "s2": 1}


def test_R25_manual_assign_takes_one_from_the_middle(make: Make) -> None:
    a = full_shop(make)
    a.add_agent("bob", cap=1, online=False)
    for sid in ("s1", "s2", "s3"):
        a.open_session(sid)
    a.agent_online("bob")  # bob takes s1
    a.assign("s3", "alice")
    assert places(a) == {"s0": None, "s1": None, "s2": 1, "s3": None}


def test_R25_a_transfer_frees_the_giver_who_takes_the_head(make: Make) -> None:
    a = full_shop(make)
    a.add_agent("bob", cap=1, groups=set(), online=True)  # serves no named group
    for sid in ("s1", "s2"):
        a.open_session(sid, group="g")
    a.transfer("s0", "bob")  # alice has room again: s1 is hers
    assert places(a) == {"s0": None, "s1": None, "s2": 1}


def test_R25_requeued_sessions_keep_their_arrival_in_the_line(make: Make) -> None:
    a = make(auto_close_after=None)
    a.add_agent("alice", cap=2, online=True)
    a.add_agent("bob", cap=1, online=True)
    for sid in ("s1", "s2", "s3", "s4", "s5"):
        a.open_session(sid)  # alice s1, bob s2, alice s3; s4, s5 wait
    assert places(a) == {"s1": None, "s2": None, "s3": None, "s4": 1, "s5": 2}
    a.agent_offline("alice", requeue=True)  # s1 and s3 come back ahead of s4
    assert places(a) == {"s1": 1, "s2": None, "s3": 2, "s4": 3, "s5": 4}


def test_R25_grace_requeue_and_away_agents(make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=None)
    a.add_agent("alice", cap=1, online=True)
    a.add_agent("bob", cap=1, online=True)
    a.open_session("s1")  # alice
    a.open_session("s2")  # bob
    a.open_session("s3")
    a.agent_away("bob")  # away keeps s2; the line stands
    assert places(a) == {"s1": None, "s2": None, "s3": 1}
    a.agent_offline("alice", grace=30.0)
    clock.advance(30)
    a.tick()  # s1 was never answered: back in line, ahead of s3
    assert places(a) == {"s1": 1, "s2": None, "s3": 2}
    a.agent_online("bob")  # nothing changes: bob is full
    a.close_session("s2")  # bob takes s1
    assert places(a) == {"s1": None, "s3": 1}


def test_R25_both_pools_are_one_line(make: Make) -> None:
    a = make(auto_close_after=None)
    a.add_agent("alice", cap=1, online=False)
    a.open_session("off1")  # nobody online: the offline pool
    a.agent_online("alice")  # takes off1
    a.open_session("q1")  # the queue pool
    a.open_session("q2", priority=1)
    a.agent_offline("alice")  # keeps off1; q1 and q2 stay reported in the queue pool
    a.open_session("off2")
    assert [a.session(s).pool.value for s in ("q2", "q1", "off2")] == [  # type: ignore[union-attr]
        "queue", "queue", "offline"]
    assert places(a) == {"off1": None, "q1": 2, "q2": 1, "off2": 3}


def test_R25_overflow_joins_the_new_groups_line_and_refusal_has_none(make: Make) -> None:
    a = make(auto_close_after=None, queue_limits={
        "presale": QueueLimit(max_waiting=1, overflow="general"),
        "general": QueueLimit(max_waiting=2)})
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", cap=1, groups={"general"}, online=True)
    a.open_session("p0", group="presale")
    a.open_session("g0", group="general")
    a.open_session("g1", group="general")
    a.open_session("p1", group="presale")
    a.open_session("p2", group="presale")  # overflows: a general session now
    assert places(a) == {"p0": None, "g0": None, "g1": 1, "p1": 1, "p2": 2}
    a.open_session("p3", group="presale")  # overflows, and general is full: refused
    with pytest.raises(UnknownSession):
        a.position("p3")


def test_R25_position_survives_snapshot_and_restore_on_any_engine(make: Make,
                                                                  clock: ManualClock) -> None:
    a = full_shop(make)
    for i, priority in enumerate((0, 2, 0, 1, 2)):
        a.open_session(f"s{i + 1}", group="g" if i % 2 else None, priority=priority)
    a.close_session("s3")
    data = json.loads(json.dumps(a.snapshot()))
    for engine in ("py", "naive", "c"):
        if engine not in ENGINES:
            continue
        b = Assigner.restore(data, clock, engine=engine)  # type: ignore[arg-type]
        assert places(b) == places(a)


def test_R25_options_off_nothing_changes(make: Make) -> None:
    """position() is a query: asking it changes no state, event or snapshot."""
    a = full_shop(make)
    a.open_session("s1")
    before = a.snapshot()
    assert a.position("s1") == 1
    assert a.snapshot() == before


@pytest.mark.parametrize("bad", [None, "", 5, b"s1", ["s1"], 1.5, object()])
def test_R25_hostile_session_ids_are_refused_alike(make: Make, bad: object) -> None:
    a = full_shop(make)
    with pytest.raises(InvalidArgument) as caught:
        a.position(bad)  # type: ignore[arg-type]
    assert str(caught.value).startswith("session id must be a non-empty str")


def test_R25_a_str_subclass_is_refused_without_calling_it(make: Make) -> None:
    class Sneaky(str):
        def __hash__(self) -> int:
            raise AssertionError("hashed")

        def __eq__(self, other: object) -> bool:
            raise AssertionError("compared")

    a = full_shop(make)
    with pytest.raises(InvalidArgument):
        a.position(Sneaky("s0"))


def test_R25_unknown_session_is_the_same_error_as_session(make: Make) -> None:
    a = full_shop(make)
    long_id = "x" * 10_000
    for sid in ("nope", long_id):
        with pytest.raises(UnknownSession) as by_position:
            a.position(sid)
        with pytest.raises(UnknownSession) as by_session:
            a.session(sid)
        assert str(by_position.value) == str(by_session.value)
        assert len(str(by_position.value)) < 400


def test_R25_a_durable_shop_and_the_host_answer_position_and_estimate(tmp_path: Path) -> None:
    clock = ManualClock(0.0)
    store = SQLiteStore(tmp_path / "shops.db")
    with DurableShop.open(store, "s", clock) as shop:
        shop.add_agent("alice", cap=1, online=True)
        for sid in ("s0", "s1", "s2"):
            shop.open_session(sid)
        assert [shop.position(s) for s in ("s0", "s1", "s2")] == [None, 1, 2]
        clock.advance(10)
        shop.close_session("s0")  # alice takes s1: a hand-over at 10
        clock.advance(10)
        assert shop.estimated_wait("s2") == 10.0  # the clock's now, not the last command's

    async def scenario() -> None:
        async with Host(store, clock=clock) as host:
            await host.call("s", "open_session", "s3")
            assert await host.call("s", "position", "s3") == 2
            assert await host.call("s", "estimated_wait", "s3", 1) is None  # reopened
            await host.call("s", "close_session", "s1")  # alice takes s2 at 20
            clock.advance(5)
            assert await host.call("s", "estimated_wait", "s3") == 5.0

    asyncio.run(scenario())
    store.close()


# -- estimated_wait ---------------------------------------------------------------------


def serving_line(make: Make, clock: ManualClock, **config: object) -> Assigner:
    """alice (cap 1) serves s0; s1..s6 wait. Every 30 s she closes one and takes the next:
    hand-overs at 30, 60 and 90; s4, s5, s6 still wait (positions 1, 2, 3); now = 90."""
    a = full_shop(make, **config)
    for n in range(1, 7):
        a.open_session(f"s{n}")
    for n in range(3):
        clock.advance(30)
        a.close_session(f"s{n}")
    return a


def test_R25_no_hand_over_yet_gives_no_estimate(make: Make, clock: ManualClock) -> None:
    a = full_shop(make)
    a.open_session("s1")
    clock.advance(100)
    assert a.position("s1") == 1
    assert a.estimated_wait("s1") is None
    assert a.estimated_wait("s0") is None  # assigned


def test_R25_estimate_is_the_lines_pace_times_the_position(make: Make,
                                                           clock: ManualClock) -> None:
    a = serving_line(make, clock)
    clock.advance(10)  # now 100: the 3 hand-overs since 30 took 70 s
    assert [a.estimated_wait(s) for s in ("s4", "s5", "s6")] == [
        70 * 1 / 3, 70 * 2 / 3, 70 * 3 / 3]
    # sample=2: the latest two, since 60: 40 s for 2 places
    assert [a.estimated_wait(s, 2) for s in ("s4", "s6")] == [40 * 1 / 2, 40 * 3 / 2]
    assert a.estimated_wait("s4", sample=1) == 10.0
    clock.advance(90)  # nothing moves: the estimate grows with the silence
    assert a.estimated_wait("s4") == 160 / 3


def test_R25_the_estimate_follows_every_change_of_position(make: Make,
                                                            clock: ManualClock) -> None:
    a = serving_line(make, clock)
    clock.advance(30)
    a.close_session("s5")  # a buyer gives up: no hand-over, but s6 moves up
    assert (a.position("s6"), a.estimated_wait("s6")) == (2, 90 * 2 / 3)
    a.open_session("vip", priority=9)  # jumps the line
    assert (a.position("s6"), a.estimated_wait("s6")) == (3, 90 * 3 / 3)
    a.assign("vip", "alice")  # by hand: a hand-over from the line
    assert (a.position("s6"), a.estimated_wait("s6")) == (2, 90 * 2 / 4)


def test_R25_a_burst_at_this_instant_gives_no_rate_yet(make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=None)
    a.add_agent("alice", cap=3, online=False)
    a.add_agent("bob", cap=1, online=True)
    for n in range(6):
        a.open_session(f"s{n}")  # bob takes s0; s1..s5 wait
    clock.advance(50)
    a.agent_online("alice")  # takes s1, s2, s3 at once
    assert a.position("s4") == 1 and a.estimated_wait("s4") is None
    clock.advance(6)
    assert a.estimated_wait("s4") == 6 * 1 / 3


def test_R25_new_and_requeued_sessions_placed_at_once_are_no_hand_overs(
        make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=None)
    a.add_agent("alice", cap=1, online=True)
    a.add_agent("bob", cap=2, online=True)
    a.open_session("s1")  # alice: NEW
    a.open_session("s2")  # bob: NEW
    a.open_session("s3")  # bob: NEW
    a.open_session("s4")  # waits
    clock.advance(10)
    a.agent_offline("alice", requeue=True)  # s1 requeued; it waits ahead of s4
    a.close_session("s2")  # bob takes s1 from the line: the first hand-over
    clock.advance(10)
    assert a.estimated_wait("s4") == 10.0


def test_R25_each_line_has_its_own_pace(make: Make, clock: ManualClock) -> None:
    a = make(auto_close_after=None)
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", cap=1, groups={"general"}, online=True)
    for sid, group in (("p0", "presale"), ("g0", "general"), ("p1", "presale"),
                       ("g1", "general"), ("p2", "presale"), ("g2", "general")):
        a.open_session(sid, group=group)
    clock.advance(10)
    a.close_session("p0")  # alice takes p1
    clock.advance(10)
    assert a.estimated_wait("p2") == 10.0  # one place in the 10 s since p1 left
    assert a.estimated_wait("g1") is None  # nothing has left the general line yet


def test_R25_overflowed_sessions_take_the_pace_of_their_new_line(make: Make,
                                                                 clock: ManualClock) -> None:
    a = make(auto_close_after=None,
             queue_limits={"presale": QueueLimit(max_waiting=0, overflow="general")})
    a.add_agent("alice", cap=1, groups={"presale"}, online=True)
    a.add_agent("bob", cap=1, groups={"general"}, online=True)
    a.open_session("g0", group="general")
    a.open_session("g1", group="general")
    clock.advance(10)
    a.close_session("g0")  # bob takes g1: the general line moves
    a.open_session("p0", group="presale")  # alice takes it
    a.open_session("p1", group="presale")  # presale may not wait: a general session
    clock.advance(5)
    assert a.session("p1").group == "general"
    assert (a.position("p1"), a.estimated_wait("p1")) == (1, 5.0)


def test_R25_a_timer_at_an_earlier_deadline_counts_at_the_latest_time(
        make: Make, clock: ManualClock) -> None:
    """Hand-overs are kept in time order: one that a timer causes at its (earlier)
    deadline counts at the latest time already kept."""
    a = make(auto_close_after=60.0)
    a.add_agent("alice", cap=2, online=True)
    for n in range(6):
        a.open_session(f"s{n}")  # s0, s1 with alice; s2..s5 wait
    a.agent_message("s0", auto=True)  # s0 closes itself at 60
    clock.set(100.0)
    a.close_session("s1")  # alice takes s2 at 100
    assert [type(e).__name__ for e in a.tick()] == ["Closed", "Assigned"]  # s3, at 60
    assert a.estimated_wait("s4") is None  # both count at 100: no time has passed
    clock.advance(10)
    assert a.estimated_wait("s4") == 10 * 1 / 2


def test_R25_a_forgotten_group_forgets_its_pace(make: Make, clock: ManualClock) -> None:
    a = full_shop(make)  # alice serves every group; no agent names "g"
    a.open_session("g1", group="g")
    a.open_session("g2", group="g")
    clock.advance(10)
    a.close_session("s0")  # alice takes g1
    clock.advance(10)
    assert a.estimated_wait("g2") == 10.0
    a.close_session("g1")  # alice takes g2
    a.close_session("g2")  # no session of "g" is open: the group is forgotten
    a.open_session("s1")  # alice
    a.open_session("g3", group="g")
    clock.advance(10)
    assert a.position("g3") == 1 and a.estimated_wait("g3") is None


def test_R25_the_pace_of_a_named_group_outlives_its_sessions(make: Make,
                                                             clock: ManualClock) -> None:
    a = make(auto_close_after=None)
    a.add_agent("alice", cap=1, groups={"g"}, online=True)  # names "g": it stays known
    for n in range(3):
        a.open_session(f"g{n}", group="g")
    clock.advance(10)
    a.close_session("g0")
    a.close_session("g1")
    a.close_session("g2")
    a.open_session("g3", group="g")  # alice
    a.open_session("g4", group="g")
    clock.advance(10)
    assert a.estimated_wait("g4") == 10 * 1 / 2  # g1 and g2 left the line at 10


def test_R25_a_restored_shop_starts_without_hand_overs(make: Make, clock: ManualClock) -> None:
    a = serving_line(make, clock)
    clock.advance(10)
    assert a.estimated_wait("s4") is not None
    b = Assigner.restore(a.snapshot(), clock, engine=a.engine)  # type: ignore[arg-type]
    assert b.position("s4") == 1 and b.estimated_wait("s4") is None
    b.close_session("s3")
    clock.advance(4)
    assert b.estimated_wait("s5") == 4.0


def test_R25_asking_changes_nothing(make: Make, clock: ManualClock) -> None:
    a = serving_line(make, clock)
    before = a.snapshot()
    assert a.estimated_wait("s4") is not None and a.position("s4") == 1
    assert a.snapshot() == before


@pytest.mark.parametrize("bad", [0, 33, -1, True, 2.5, "3", None, 10**30])
def test_R25_hostile_sample_is_refused(make: Make, clock: ManualClock, bad: object) -> None:
    a = serving_line(make, clock)
    with pytest.raises(InvalidArgument) as caught:
        a.estimated_wait("s4", bad)  # type: ignore[arg-type]
    assert str(caught.value).startswith("sample must be an integer from 1 to 32, got ")
    assert a.estimated_wait("s4", 32) == a.estimated_wait("s4")  # fewer kept: all of them


def test_R25_estimate_checks_the_session_first(make: Make) -> None:
    a = full_shop(make)
    with pytest.raises(InvalidArgument, match="session id"):
        a.estimated_wait(5, 0)  # type: ignore[arg-type]
    with pytest.raises(UnknownSession):
        a.estimated_wait("nope")
    with pytest.raises(InvalidArgument, match="sample"):
        a.estimated_wait("nope", 0)


# -- the rank structures at depth ------------------------------------------------------------

opens = st.tuples(st.just("open"), st.sampled_from([None, "g", "h"]), st.integers(-2, 2))
step = st.one_of(
    opens, opens, opens,
    st.tuples(st.just("close"), st.integers(0, 10**6)),
    st.tuples(st.just("assign"), st.integers(0, 10**6)),
    st.tuples(st.just("free"), st.integers(0, 10**6)),
    st.tuples(st.just("requeue"), st.booleans()),
)


@settings(max_examples=40, deadline=None)
@given(prefix=st.lists(opens, min_size=100, max_size=300),
       steps=st.lists(step, max_size=300))
def test_R25_positions_and_estimates_agree_at_depth(
        prefix: list[tuple[object, ...]], steps: list[tuple[object, ...]]) -> None:
    """Hundreds of waiting sessions, any mix of priorities, abandonment, manual picks
    from the middle and requeues: every engine ranks every waiting session alike, and
    as the line read off ``waiting()``."""
    clock = ManualClock(0.0)
    shops = [Assigner(clock, engine=e, auto_close_after=None)  # type: ignore[arg-type]
             for e in ("c", "py", "naive") if e in ENGINES]
    for a in shops:
        a.add_agent("alice", cap=3, online=True)
        a.add_agent("bob", cap=2, groups={"g"}, online=True)
    opened = 0
    for kind, *args in prefix + steps:
        clock.advance(1.0)
        waiting = shops[0].waiting()
        assigned = [s for s in shops[0].session_ids() if shops[0].position(s) is None]
        for a in shops:
            if kind == "open":
                a.open_session(f"s{opened}", group=args[0], priority=args[1])  # type: ignore[arg-type]
            elif kind == "close" and waiting:
                a.close_session(waiting[args[0] % len(waiting)])  # type: ignore[operator]
            elif kind == "assign" and waiting:
                a.assign(waiting[args[0] % len(waiting)], "alice")  # type: ignore[operator]
            elif kind == "free" and assigned:
                a.close_session(assigned[args[0] % len(assigned)])  # type: ignore[operator]
            elif kind == "requeue":
                a.agent_offline("bob", requeue=True)
                a.agent_online("bob")
        opened += kind == "open"
    waiting = shops[0].waiting()
    for a in shops:
        a.check()
        groups = {s: a.session(s).group for s in waiting}
        lines = {g: [s for s in waiting if groups[s] == g] for g in set(groups.values())}
        assert [a.position(s) for s in waiting] == [lines[groups[s]].index(s) + 1
                                                    for s in waiting]
    estimates = [[a.estimated_wait(s, 7) for s in waiting] for a in shops]
    assert all(e == estimates[0] for e in estimates)
    event(f"waiting: {len(waiting) // 50 * 50}+")
