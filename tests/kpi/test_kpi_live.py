"""K12: the live tracker equals the pure functions at every ``as_of`` at or after its last record.

Random small days (tests/kpi/kpi_strategies.py: sessions with bots, switches,
transfers, releases, ends, ties and window edges) are fed one record at a
time in a random order, with repeats; after random prefixes and at the end
the tracker's shop (both bases) and agent figures are compared with
``shop_reply_rate`` / ``agent_reply_rates`` over the records fed so far, at
several ``as_of`` from the last record to the end of the day. Both KPI
kernels run it (the pure functions use the active one).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from kpi_helpers import DAY, SH, agent, at, buyer, hand, release
from kpi_strategies import BASE, OFFSETS, WINDOWS, shop_day

from kefu import Assigner, ManualClock, QueueLimit, kpi
from kefu.errors import KefuError
from kefu.events import Closed, Opened
from kefu.kpi import (
    AgentStatus,
    EvalSource,
    Evaluation,
    Exclusion,
    LiveTracker,
    Message,
    Rating,
    Ratio,
    Recorder,
    Sender,
    SessionEnd,
    Window,
)
from kefu.kpi.errors import InvalidRecord, InvalidTime

AGES = [0.0, 50.0, 100.0, 100.5, 180.0, 180.5, 400.0, 7200.0]
"""Seconds after the last record to query at: both sides of warn_after and the threshold."""


def some_ages(rnd: random.Random) -> list[float]:
    """Two of AGES, for a check along a feed."""
    return rnd.sample(AGES, 2)


def pure(records: list[Any], as_of: float | None, opts: dict[str, Any]) -> dict[str, Any]:
    opts = dict(opts)
    service = {k: opts.pop(k) for k in ("answer_within", "short_abandon") if k in opts}
    kinds: dict[type, list[Any]] = {}
    for r in records:
        kinds.setdefault(type(r), []).append(r)
    common = {"requests": kinds.get(kpi.HumanRequest, []),
              "releases": kinds.get(kpi.Release, []), "ends": kinds.get(SessionEnd, []),
              "excluded_buyers": kinds.get(Exclusion, []), "as_of": as_of, **opts}
    msgs, hands = kinds.get(kpi.Message, []), kinds.get(kpi.Handover, [])
    return {
        "first": kpi.shop_reply_rate(msgs, hands, basis="first", **common),
        "any": kpi.shop_reply_rate(msgs, hands, basis="any", **common),
        "agents": dict(kpi.agent_reply_rates(msgs, hands, **common)),
        "times": kpi.response_times(msgs, hands, **common),
        "service": kpi.service_figures(msgs, hands, **common, **service,
                                       statuses=kinds.get(AgentStatus, [])),
        "satisfaction": kpi.satisfaction(
            kinds.get(kpi.Evaluation, []), hands, releases=common["releases"], as_of=as_of,
            excluded_buyers=common["excluded_buyers"], tz=opts["tz"], window=opts["window"]),
    }


def live(tracker: LiveTracker, as_of: float | None) -> dict[str, Any]:
    agents = dict(tracker.agents(as_of))
    for name in ("alice", "bob"):
        assert tracker.agent(name, as_of) == agents.get(name)
    return {"first": tracker.shop(as_of, basis="first"), "any": tracker.shop(as_of, basis="any"),
            "agents": agents, "times": tracker.response_times(as_of),
            "service": tracker.service(as_of), "satisfaction": tracker.satisfaction(as_of)}


def check(tracker: LiveTracker, fed: list[Any], opts: dict[str, Any],
          ages: Sequence[float] = AGES) -> None:
    """Every figure equals the pure functions' at each age after the last record, and at
    none. Checks along a feed pass a few random ages (``some_ages``), the last one all:
    each age costs the pure functions' whole recount."""
    for age in ages if tracker.last > -math.inf else ():  # only exclusions fed: no time yet
        as_of = tracker.last + age
        assert live(tracker, as_of) == pure(fed, as_of, opts), f"as_of = last + {age}"
    assert live(tracker, None) == pure(fed, None, opts)


@given(shop_day(), WINDOWS, st.sampled_from(["exclude", "open"]),
       st.sampled_from([180.0, 60.0]), st.sampled_from([[], ["b0"]]),
       st.sampled_from([{}, {"answer_within": 20.0, "short_abandon": 60.0},
                        {"short_abandon": 0.0}]),
       st.lists(st.builds(AgentStatus, st.sampled_from(["alice", "bob", "carol"]),
                          OFFSETS.map(lambda t: BASE + t), st.booleans(), st.integers(0, 1)),
                max_size=6),
       st.randoms(use_true_random=False))
def test_K12_the_tracker_equals_the_pure_functions_at_every_as_of(
        rec: dict[str, list[Any]], window: Window | None, policy: str, threshold: float,
        excluded: list[str], service: dict[str, float], statuses: list[AgentStatus],
        rnd: random.Random) -> None:
    opts: dict[str, Any] = {"tz": SH, "window": window, "threshold": threshold,
                            "before_window": policy, **service}
    records = [r for kind, rs in rec.items() if kind != "orders" for r in rs]
    records += [Exclusion(b) for b in excluded]
    records += statuses
    records += [r for r in records if rnd.random() < 0.15]  # repeats
    rnd.shuffle(records)
    tracker = LiveTracker(**opts)
    checkpoints = set(rnd.sample(range(len(records)), min(3, len(records))))
    fed: list[Any] = []
    for n, r in enumerate(records):
        tracker.add(r)
        fed.append(r)
        if n in checkpoints:
            check(tracker, fed, opts, some_ages(rnd))
    check(tracker, fed, opts)


@given(shop_day(), WINDOWS, st.sampled_from(["exclude", "open"]),
       st.sampled_from([[], ["b0"]]), st.integers(1, 4), st.randoms(use_true_random=False))
def test_K12_a_dashboard_refreshing_a_feed_in_time_order_equals_the_pure_functions(
        rec: dict[str, list[Any]], window: Window | None, policy: str, excluded: list[str],
        every: int, rnd: random.Random) -> None:
    """The dashboard pattern: records in time order (ties in any order), a query every
    few records, so that most sessions are measured again with a record or two more
    (most give back the samples and contact they had); at random refreshes every
    figure is compared with the pure functions."""
    opts: dict[str, Any] = {"tz": SH, "window": window, "threshold": 180.0,
                            "before_window": policy}
    records = [r for kind, rs in rec.items()
               if kind not in ("orders", "evaluations") for r in rs]
    rnd.shuffle(records)
    records.sort(key=lambda r: r.at)
    records = [Exclusion(b) for b in excluded] + records
    tracker = LiveTracker(**opts)
    fed: list[Any] = []
    for n, r in enumerate(records, 1):
        tracker.add(r)
        fed.append(r)
        if n % every == 0:
            if rnd.random() < 0.2:
                check(tracker, fed, opts, some_ages(rnd))
            else:
                now = None if tracker.last == -math.inf else tracker.last
                tracker.shop(now)
                tracker.service(now)
    check(tracker, fed, opts)


def test_K12_a_live_day_with_worked_figures() -> None:
    """Source 004's dashboard: pending, not 0 %, until the threshold; at risk after 100 s."""
    tracker = LiveTracker(tz=SH)
    t0 = at(10)
    tracker.extend([buyer(t0), hand(t0), buyer(t0 + 5, "s2", "b2")])
    early = tracker.shop(t0 + 5)
    assert (early.pending, early.rate, early.waiting) == (2, None, 1)
    risky = tracker.shop(t0 + 120)
    assert (risky.pending, risky.at_risk, risky.longest_wait) == (2, 2, 115.0)
    tracker.add(agent(t0 + 150))  # b1 answered in 150 s
    tracker.add(SessionEnd("s2", t0 + 160))  # b2 gave up after 155 s
    mid = tracker.shop(t0 + 170)
    assert (mid.met, mid.pending, mid.never_reached, mid.waiting) == (1, 1, 1, 0)
    late = tracker.shop(t0 + 186)  # b2's threshold has passed: missed
    assert (late.met, late.missed, late.rate) == (1, 1, 0.5)
    assert tracker.agents(t0 + 186)["alice"].met == 1
    tracker.add(release(t0 + 200))
    tracker.add(Exclusion("b2"))  # reported as malicious: out of every figure
    assert (tracker.shop().met, tracker.shop().missed, tracker.shop().excluded) == (1, 0, 1)


def test_K08_K12_a_feed_asked_only_for_reply_rates_sorts_no_response_time() -> None:
    """The catch-ups of a feed asked only for reply rates leave the response times as
    they came (no sorted block made for them), and the first query that reads them
    gives the pure function's figures over every catch-up's values, a session
    measured again with new ones included."""
    tracker = LiveTracker(tz=SH)
    t0 = at(10)
    batches: list[list[Any]] = [
        [buyer(t0), hand(t0), agent(t0 + 30)],
        [buyer(t0 + 2, "s2", "b2"), hand(t0 + 2, "bob", "s2", "b2"),
         agent(t0 + 9, "s2", "b2", "bob")],
        [buyer(t0 + 60), agent(t0 + 75)]]
    fed = [r for batch in batches for r in batch]
    for batch in batches:
        tracker.extend(batch)
        tracker.shop()
    held = list(tracker._samples.values())
    assert held and all(ms._pending and not ms._bl for ms in held)
    messages = [r for r in fed if isinstance(r, Message)]
    assert tracker.response_times() == kpi.response_times(
        messages, [r for r in fed if not isinstance(r, Message)])
    assert all(not ms._pending for ms in held)


def test_K12_K13_live_service_figures_with_worked_figures() -> None:
    """A dashboard's service figures while the day goes on: answered, gave up, waiting,
    then a transfer and an exclusion, each figure worked out by hand."""
    tracker = LiveTracker(tz=SH, answer_within=20.0)
    t0 = at(10)
    tracker.extend([
        buyer(t0), hand(t0 + 30, group="presale"),  # b1: taken after 30 s (not within 20)
        buyer(t0 + 5, "s2", "b2"), SessionEnd("s2", t0 + 7),  # b2: gave up after 2 s
        buyer(t0 + 10, "s3", "b3"), hand(t0 + 25, "bob", "s3", "b3"),  # b3: taken in 15 s
        buyer(t0 + 12, "s4", "b4"),  # b4: still waiting
    ])
    now = tracker.service(t0 + 60)
    assert (now.offered, now.answered, now.answered_within, now.abandoned,
            now.short_abandoned, now.waiting) == (4, 2, 1, 1, 1, 1)
    assert now.service_level.value == 1 / 4
    assert now.service_level_excluding_short.value == 1 / 3
    assert (now.speed_of_answer.count, now.speed_of_answer.mean) == (2, 22.5)
    assert now.time_to_abandon.median == 2.0
    assert list(now.by_agent) == ["alice", "bob"]
    assert now.by_group["presale"].answered == 1
    assert now.by_hour[(DAY, 10)].offered == 4
    tracker.extend([release(t0 + 90), hand(t0 + 90, "bob")])  # alice hands b1 to bob
    tracker.add(Exclusion("b4"))
    later = tracker.service(t0 + 100)
    assert (later.offered, later.waiting, later.transfers, later.excluded) == (3, 0, 1, 1)
    assert later.transfers_per_session.value == 1 / 2
    assert later.by_agent["alice"].transfers == 1  # the agent who took it first


def test_K12_K13_live_occupancy_grows_with_as_of() -> None:
    """Occupancy and mean concurrency from status records: an agent on line holds
    sessions until as_of (nothing says otherwise), as the pure function takes it."""
    tracker = LiveTracker(tz=SH)
    t0 = at(10)
    tracker.extend([AgentStatus("alice", t0, True), buyer(t0 + 30), hand(t0 + 30),
                    buyer(t0 + 40, "s2", "b2"), hand(t0 + 60, session="s2", who="b2")])
    now = tracker.service(t0 + 90)  # on line 90 s, busy from 30 s, two sessions from 60 s
    alice = now.by_agent["alice"]
    assert (alice.occupancy, alice.mean_concurrency) == (Ratio(60.0, 90.0), Ratio(90.0, 90.0))
    assert now.occupancy == Ratio(60.0, 90.0)
    tracker.extend([release(t0 + 100), AgentStatus("alice", t0 + 120, False)])
    later = tracker.service(t0 + 600)  # off line at 120 s: the rest does not count
    assert later.by_agent["alice"].occupancy == Ratio(90.0, 120.0)
    assert later.by_agent["alice"].mean_concurrency == Ratio(40.0 + 30.0 + 60.0, 120.0)


def test_K05_K12_live_satisfaction_follows_re_ratings_hand_overs_and_exclusions() -> None:
    """A re-rated card counts once, with its latest rating; a card is credited to the
    agent holding the session when it was sent, also when that hand-over arrives
    after the card; an exclusion takes the buyer's card out (K06)."""
    tracker = LiveTracker(tz=SH)
    t0 = at(10)
    card = partial(Evaluation, source=EvalSource.INVITED)
    tracker.extend([
        hand(t0),  # alice holds s1
        card("s1", "b1", "alice", t0 + 60, Rating.NORMAL, card_id="c1", rated_at=t0 + 70),
        card("s2", "b2", "bob", t0 + 65, Rating.DISAPPOINTED, card_id="c2"),
        card("s1", "b1", None, t0 + 66, Rating.SATISFIED, by_bot=True),  # the bot's: apart
    ])
    before = tracker.satisfaction()
    assert (before.met, before.missed, before.normal, before.disappointed) == (0, 2, 1, 1)
    assert before.bot_service == 1 and before.rate == 0.0
    tracker.add(card("s1", "b1", "alice", t0 + 60, Rating.SATISFIED, card_id="c1",
                     rated_at=t0 + 80))  # re-rated: the latest counts
    tracker.add(hand(t0 + 1, "carol", "s2", "b2"))  # carol held s2 when its card came
    now = tracker.satisfaction()
    assert (now.met, now.missed, now.replaced, now.rate) == (1, 1, 1, 0.5)
    assert sorted(now.by_agent) == ["alice", "carol"]
    assert now.by_agent["carol"].disappointed == 1
    tracker.add(Exclusion("b2"))
    assert (tracker.satisfaction().rate, tracker.satisfaction().excluded) == (1.0, 1)


def test_K12_refuses_an_as_of_before_the_last_record_and_foreign_objects() -> None:
    tracker = LiveTracker()
    tracker.add(buyer(at(10)))
    with pytest.raises(InvalidTime):
        tracker.shop(at(10) - 1)
    with pytest.raises(InvalidRecord):
        tracker.add("a message")
    with pytest.raises(InvalidRecord):
        tracker.add(object())
    assert tracker.shop().missed == 1  # nothing changed


OPS = st.lists(st.tuples(
    st.sampled_from(["open", "open", "open", "buyer", "agent", "agent_named", "auto", "close",
                     "close", "tick", "transfer", "offline", "away"]),
    st.integers(0, 4), st.sampled_from([0.0, 1.0, 30.0, 90.0, 200.0])), min_size=5,
    max_size=60)


LIMITS = st.sampled_from([None, {"pre": QueueLimit(max_waiting=0, overflow="post"),
                                  "post": QueueLimit(max_waiting=1)}])
"""No queue limits, or presale overflowing at once to aftersale, which refuses a second
waiting buyer (R28: ``Overflowed`` changes a session's group, ``Rejected`` ends it)."""


@given(OPS, st.sampled_from([None, 60.0]), LIMITS)
def test_K11_K12_a_recorded_shop_equals_the_pure_functions_over_its_events(
        ops: list[tuple[str, int, float]], timeout: float | None,
        limits: dict[str, QueueLimit] | None) -> None:
    """One call feeds the Assigner and the tracker; the tracker then equals the pure
    functions over ``from_events(every event, every message)``."""
    clock = ManualClock(at(9))
    shop = Assigner(clock, first_response_timeout=timeout, auto_close_after=600.0,
                    queue_limits=limits)
    for name, cap in (("alice", 1), ("bob", 1)):
        shop.add_agent(name, cap=cap, online=True)
    tracker = LiveTracker(tz=SH, window=Window.whole_day())
    recorder = Recorder(shop, tracker)
    statuses = [AgentStatus(name, at(9), True) for name in ("alice", "bob")]
    tracker.extend(statuses)
    events: list[Any] = []
    messages: list[kpi.Message] = []
    buyers: dict[str, str] = {}
    opening = [("open", k, 1.0) for k in range(3)]  # a busy start: one session waits
    for n, (op, k, step) in enumerate(opening + ops):
        clock.advance(step)
        # Timers fire before the next command, as a host fires them on time: tick()
        # stamps its events at the deadline, and from_events orders events by time.
        deadline = shop.next_deadline()
        if deadline is not None and deadline <= clock.now():
            got = shop.tick()
            recorder.observe(got)
            events += got
        sid, mid = f"s{k}", f"m{n}"
        before = len(events)
        try:
            if op == "open":
                buyers[sid] = f"b{k % 3}"
                events += recorder.open_session(sid, buyers[sid], mid,
                                                group=("pre", "post")[k % 2])
                messages.append(kpi.Message(sid, buyers[sid], clock.now(), Sender.BUYER, mid))
            elif op == "buyer":
                events += recorder.buyer_message(sid, mid)
                messages.append(kpi.Message(sid, buyers[sid], clock.now(), Sender.BUYER, mid))
            elif op in ("agent", "agent_named", "auto"):
                who = shop.session(sid).agent_id if op == "agent_named" else None
                auto = op == "auto"
                events += recorder.agent_message(sid, mid, who, auto=auto)
                messages.append(kpi.Message(sid, buyers[sid], clock.now(),
                                            Sender.SYSTEM if auto else Sender.AGENT, mid,
                                            agent_id=who))
            elif op == "close":
                events += recorder.close_session(sid)
            elif op == "tick":
                got = shop.tick()
                recorder.observe(got)
                events += got
            elif op == "transfer":
                holder = shop.session(sid).agent_id
                got = shop.transfer(sid, "bob" if holder == "alice" else "alice")
                recorder.observe(got)
                events += got
            elif op == "away":
                got = shop.agent_away("bob" if k % 2 else "alice")
                recorder.observe(got)
                events += got
            else:
                who = "bob" if k % 2 else "alice"
                events += recorder.agent_offline(who, requeue=True)
                events += recorder.agent_online(who)
                statuses += [AgentStatus(who, clock.now(), False, 2 * n),
                             AgentStatus(who, clock.now(), True, 2 * n + 1)]
        except KefuError:
            assert len(events) == before
    # from_events sees only times: a buyer message at the very instant its session
    # closes and opens again goes to the new life there, while the Recorder knows
    # which life it was written in. Such days have no single answer to compare with.
    closed = {(ev.session_id, ev.at) for ev in events if isinstance(ev, Closed)}
    reopened = closed & {(ev.session_id, ev.at) for ev in events if isinstance(ev, Opened)}
    written = Counter((m.session_id, m.at) for m in messages if m.sender is Sender.BUYER)
    assume(all(written[key] <= 1 for key in reopened))
    recs = kpi.from_events(events, messages)
    common: dict[str, Any] = {"releases": recs.releases, "ends": recs.ends,
                              "window": Window.whole_day(), "tz": SH}
    for as_of in (None, clock.now(), clock.now() + 100.0):
        for basis in ("first", "any"):
            assert tracker.shop(as_of, basis=basis) == kpi.shop_reply_rate(
                recs.messages, recs.handovers, as_of=as_of, basis=basis, **common)
        assert dict(tracker.agents(as_of)) == dict(kpi.agent_reply_rates(
            recs.messages, recs.handovers, as_of=as_of, **common))
        assert tracker.service(as_of) == kpi.service_figures(
            recs.messages, recs.handovers, as_of=as_of, statuses=statuses, **common)


def test_K12_the_recorder_refuses_a_bad_message_id_before_the_assigner_acts() -> None:
    clock = ManualClock(at(10))
    shop = Assigner(clock)
    recorder = Recorder(shop, LiveTracker())
    with pytest.raises(InvalidRecord):
        recorder.open_session("s1", "b1", 7)  # type: ignore[arg-type]
    assert shop.session_ids() == [] and recorder.tracker.last == -math.inf
    recorder.open_session("s1", "b1", "m1")
    assert (shop.session_ids(), recorder.tracker.shop(at(10)).pending) == (["s1"], 1)


def test_K04_a_clock_days_after_the_last_message_counts_on_its_own_day() -> None:
    # A buyer writes Saturday night; alice takes the session Monday 09:00 and nobody
    # answers: her unit is missed, whatever other sessions the day holds.
    msgs = [buyer(at(22, day=DAY))]
    monday = DAY + dt.timedelta(days=2)
    hands = [hand(at(9, day=monday))]
    as_of = at(9, 5, day=monday)
    alone = kpi.agent_reply_rates(msgs, hands, as_of=as_of)
    assert (alone["alice"].missed, alone["alice"].total) == (1, 1)
    tracker = LiveTracker()
    tracker.extend([*msgs, *hands])
    assert dict(tracker.agents(as_of)) == dict(alone)


def test_K04_a_reply_at_the_instant_of_a_transfer_to_a_message_of_that_instant_is_the_new_agents(
        ) -> None:
    t0 = at(10)
    msgs = [buyer(t0), agent(t0 + 5), buyer(t0 + 60, mid="m3"),
            agent(t0 + 60, name="bob", mid="m4")]
    rates = kpi.agent_reply_rates(msgs, [hand(t0), hand(t0 + 60, "bob")], detail=True)
    assert (rates["alice"].met, rates["bob"].met) == (1, 1)
    assert rates["bob"].units[0].start == rates["bob"].units[0].end == t0 + 60


def test_K06_an_excluded_buyer_is_not_even_waiting() -> None:
    t0 = at(10)
    r = kpi.shop_reply_rate([buyer(t0, who="spammer")], [], as_of=t0 + 60,
                            excluded_buyers={"spammer": "malicious"})
    assert (r.excluded, r.waiting, r.waiting_sessions, r.longest_wait) == (1, 0, 0, None)


def test_K11_a_reply_at_the_instant_a_session_is_reopened_answers_the_old_life() -> None:
    t0 = at(10)
    clock = ManualClock(t0)
    shop = Assigner(clock)
    shop.add_agent("alice", online=True)
    recorder = Recorder(shop, LiveTracker())
    events = recorder.open_session("s1", "b1", "m1")
    clock.advance(100)
    events += recorder.agent_message("s1", "m2")
    events += recorder.close_session("s1")
    events += recorder.open_session("s1", "b1", "m3")
    msgs = [kpi.Message("s1", "b1", t0, Sender.BUYER, "m1"),
            kpi.Message("s1", "b1", t0 + 100, Sender.AGENT, "m2"),
            kpi.Message("s1", "b1", t0 + 100, Sender.BUYER, "m3")]
    recs = kpi.from_events(events, msgs)
    assert {m.message_id: m.session_id for m in recs.messages} == {
        "m1": "s1", "m2": "s1", "m3": "s1#2"}
    pure = kpi.shop_reply_rate(recs.messages, recs.handovers, releases=recs.releases,
                               ends=recs.ends, as_of=t0 + 400, basis="any")
    assert (pure.met, pure.missed, pure.per_session.met, pure.per_session.missed) == (
        0, 1, 1, 1)
    assert recorder.tracker.shop(t0 + 400, basis="any") == pure


def test_K11_a_recorder_started_after_a_session_opened_keeps_its_lives_apart() -> None:
    t0 = at(10)
    clock = ManualClock(t0)
    shop = Assigner(clock)
    shop.add_agent("alice", cap=1, online=True)
    shop.open_session("s1", "b1")  # before the recorder (a restart)
    clock.advance(10)
    recorder = Recorder(shop, LiveTracker())
    recorder.agent_message("s1", "m1")
    clock.advance(10)
    recorder.close_session("s1")
    clock.advance(10)
    recorder.open_session("s2", "b2", "m2")  # alice takes it
    recorder.open_session("s1", "b1", "m3")  # a new life: it waits
    r = recorder.tracker.shop(t0 + 90)
    # b2 (with alice, unanswered) and b1's new life (waiting) are pending; only b1 waits.
    assert (r.pending, r.still_waiting, r.waiting) == (2, 1, 1)


def test_K12_the_recorder_refuses_a_clock_outside_the_kpi_range_before_the_assigner_acts(
        ) -> None:
    shop = Assigner(ManualClock(-5.0))
    shop.add_agent("alice", online=True)
    recorder = Recorder(shop, LiveTracker())
    with pytest.raises(InvalidTime):
        recorder.open_session("s1", "b1", "m1")
    assert shop.session_ids() == []


def test_K12_a_subclass_of_the_tracker_that_overrides_add_is_fed_through_it() -> None:
    """``add`` is a method like any other: a subclass's own ``add`` (a log, a filter) is
    what ``add`` and ``extend`` call, whichever feed the tracker files with."""
    seen: list[object] = []

    class Logged(LiveTracker):
        def add(self, record: object) -> None:
            seen.append(record)
            super().add(record)

    t = Logged(tz=SH)
    first = Message("s1", "b1", BASE, Sender.BUYER, "m1")
    second = Message("s1", "b1", BASE + 5.0, Sender.AGENT, "m2", "a1")
    t.add(first)
    t.extend([second])
    assert seen == [first, second]
    assert t.last == BASE + 5.0
    plain = LiveTracker(tz=SH)
    plain.extend([first, second])
    assert t.shop(BASE + 60.0) == plain.shop(BASE + 60.0)
