"""K12 with S02's care: a live tracker shared by threads, nested calls, failing time zones.

A tracker keeps state between calls, and a query changes it (it measures the
sessions changed since the last one). So: calls from several threads are
serialised (a dashboard may query while a feeder adds); a call made from
inside another call on the same tracker (a time zone's or a record's own
code) raises ``NestedCall`` and changes nothing; a time zone whose code
fails part-way through a query gives ``TimezoneFailed`` and loses nothing
(the next query equals the pure functions over every record). A Recorder has
one writer, like the Assigner it wraps. Errors pickle intact.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle
import queue
import random
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_strategies import BASE, WINDOWS, shop_day
from test_kpi_live import live, pure

from kefu import Assigner, ManualClock
from kefu.errors import ConcurrentCall, KefuError
from kefu.kpi import (
    Exclusion,
    Handover,
    InvalidRecord,
    LiveTracker,
    Message,
    NestedCall,
    Recorder,
    Sender,
    SessionEnd,
    TimezoneFailed,
    UnknownTimezone,
    Window,
)

EIGHT = dt.timedelta(hours=8)


class Zone(dt.tzinfo):
    """UTC+8 in the user's own code; ``hook`` runs at every utcoffset() call."""

    def __init__(self) -> None:
        self.calls = 0
        self.hook: Any = None

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        self.calls += 1
        if self.hook is not None:
            self.hook(self.calls)
        return EIGHT

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, when: dt.datetime | None) -> str:
        return "+08"


def records_of(rec: dict[str, list[Any]]) -> list[Any]:
    return [r for kind, rs in rec.items() if kind != "orders" for r in rs]


QUERIES = ["shop", "agents", "response_times", "service", "satisfaction"]


@given(shop_day(), WINDOWS, st.sampled_from(["exclude", "open"]), st.integers(1, 60),
       st.sampled_from(QUERIES), st.booleans(), st.randoms(use_true_random=False))
def test_K12_a_time_zone_failing_mid_query_is_a_clear_error_and_loses_nothing(
        rec: dict[str, list[Any]], window: Window | None, policy: str, fail_at: int,
        query: str, excluded: bool, rnd: random.Random) -> None:
    """The zone fails at its ``fail_at``-th call of one query (a flush, a response-time
    walk of sessions whose clock is still to come under the OPEN policy, a
    satisfaction flush ...); afterwards every figure equals the pure functions'."""
    zone = Zone()
    records = records_of(rec) + ([Exclusion("b0", "staff")] if excluded else [])
    rnd.shuffle(records)
    opts = {"tz": zone, "window": window, "threshold": 180.0, "before_window": policy}
    tracker = LiveTracker(**opts)
    half = len(records) // 2
    for r in records[:half]:
        tracker.add(r)
    if tracker.last > -math.inf:
        live(tracker, tracker.last + 60.0)  # later queries measure only what changed
    for r in records[half:]:
        tracker.add(r)
    as_of = tracker.last + 30.0 if tracker.last > -math.inf else None

    def fail_once(calls: int) -> None:
        if calls >= fail_at:
            zone.hook = None
            raise ValueError("the zone database is gone")

    zone.calls, zone.hook = 0, fail_once
    try:
        getattr(tracker, query)(as_of)
    except TimezoneFailed as exc:
        assert "raised ValueError('the zone database is gone')" in str(exc)
    zone.hook = None
    for age in (30.0, 200.0) if tracker.last > -math.inf else ():
        assert live(tracker, tracker.last + age) == pure(records, tracker.last + age, opts)
    assert live(tracker, None) == pure(records, None, opts)


@given(shop_day(), st.integers(1, 40))
def test_K12_a_call_from_inside_a_query_is_refused_and_changes_nothing(
        rec: dict[str, list[Any]], nest_at: int) -> None:
    zone = Zone()
    records = records_of(rec)
    tracker = LiveTracker(tz=zone)
    for r in records:
        tracker.add(r)
    intruder = Message("s9", "b9", BASE + 5.0, Sender.BUYER, "intruder")

    def nest(calls: int) -> None:
        if calls >= nest_at:
            zone.hook = None
            tracker.add(intruder)

    zone.hook = nest
    try:
        live(tracker, None)
    except NestedCall as exc:
        assert str(exc).startswith("LiveTracker.add() called from inside another call")
        assert isinstance(exc, ConcurrentCall)
    zone.hook = None
    opts = {"tz": zone, "window": None, "threshold": 180.0, "before_window": "exclude"}
    assert live(tracker, None) == pure(records, None, opts)  # without the intruder


def a_day(sessions: int) -> list[Any]:
    """Sessions of two agents, some answered in time, some late, some never."""
    out: list[Any] = []
    for n in range(sessions):
        sid, buyer, t = f"s{n}", f"b{n % 40}", BASE + 7.0 * n
        agent = ("alice", "bob")[n % 2]
        out.append(Message(sid, buyer, t, Sender.BUYER, f"{sid}.q"))
        out.append(Handover(sid, buyer, agent, t + 1.0))
        if n % 5:
            reply = t + (30.0 if n % 3 else 200.0)
            out.append(Message(sid, buyer, reply, Sender.AGENT, f"{sid}.a", agent_id=agent))
        out.append(SessionEnd(sid, t + 400.0))
    return out


def test_K12_a_tracker_shared_by_threads_equals_the_pure_functions() -> None:
    """Two feeders and a dashboard on one tracker, with the interpreter switching
    threads as often as it can: every query succeeds, and the end figures are
    the pure functions' over every record."""
    records = a_day(3000)
    tracker = LiveTracker(tz="Asia/Shanghai")
    failures: list[BaseException] = []
    done = threading.Event()

    def feed(part: list[Any]) -> None:
        try:
            for r in part:
                tracker.add(r)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def watch() -> None:
        try:
            while not done.is_set():  # each query alone: records arrive between them
                tracker.shop(None)
                tracker.agents(None)
                tracker.response_times(None)
                tracker.service(None)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        feeders = [threading.Thread(target=feed, args=(records[k::2],)) for k in range(2)]
        watcher = threading.Thread(target=watch)
        for t in (*feeders, watcher):
            t.start()
        for t in feeders:
            t.join()
        done.set()
        watcher.join()
    finally:
        sys.setswitchinterval(old)
    assert failures == []
    opts = {"tz": "Asia/Shanghai", "window": None, "threshold": 180.0,
            "before_window": "exclude"}
    assert live(tracker, None) == pure(records, None, opts)


def test_K12_extend_answers_queries_while_its_iterable_waits() -> None:
    """``extend`` takes the tracker record by record: a dashboard's query is answered
    while a live stream waits for its next record, and the stream's own code may
    query the tracker (it sees the records so far)."""
    records = a_day(20)
    tracker = LiveTracker()
    stream: queue.Queue[Any] = queue.Queue()
    feeder = threading.Thread(target=tracker.extend, args=(iter(stream.get, None),))
    feeder.start()
    try:
        for r in records[:10]:
            stream.put(r)
        while tracker.last < records[9].at:  # the feeder has taken them
            time.sleep(0.001)
        answered: list[Any] = []
        dashboard = threading.Thread(target=lambda: answered.append(tracker.shop(None)))
        dashboard.start()
        dashboard.join(timeout=10.0)
        assert answered, "a query waited for the stream"
    finally:
        stream.put(None)
        feeder.join()
    opts = {"tz": "Asia/Shanghai", "window": None, "threshold": 180.0,
            "before_window": "exclude"}
    assert answered == [pure(records[:10], None, opts)["first"]]
    seen: list[Any] = []

    def records_and_a_query() -> Iterator[Any]:
        yield from records[:10]
        seen.append(tracker.shop(None))
        yield from records[10:]

    again = LiveTracker()
    again.extend(records_and_a_query())
    assert seen == [pure(records[:10], None, opts)["first"]]
    assert live(again, None) == pure(records, None, opts)


def test_K12_a_record_whose_own_code_calls_the_tracker_is_a_nested_call() -> None:
    tracker = LiveTracker()

    class Sneaky(Message):
        @property  # type: ignore[misc]
        def buyer_id(self) -> str:
            tracker.shop(None)
            return "b1"

    with pytest.raises(NestedCall, match=r"LiveTracker\.shop\(\) called from inside"):
        tracker.add(Sneaky("s1", "b1", BASE, Sender.BUYER, "m1"))
    assert tracker.last == -math.inf


def test_K12_an_answer_kept_between_queries_cannot_be_changed_behind_the_tracker() -> None:
    """Figures kept between queries are shared by every answer, so their
    ``excluded_by`` is a read-only dict: editing it raises TypeError, and the next
    answer equals a fresh tracker's. It is still a dict, equal to the pure
    functions' and JSON-ready."""
    records = [*a_day(10), Exclusion("b1", "staff")]
    tracker = LiveTracker(window=Window.whole_day())
    tracker.extend(records)
    first = tracker.service(None)
    agents = tracker.agents(None)
    kept: list[Any] = [*first.by_day.values(), *first.by_agent.values(), *agents.values()]
    assert any(figures.excluded_by for figures in kept)
    for figures in kept:
        assert isinstance(figures.excluded_by, dict)
        with pytest.raises(TypeError, match="copy excluded_by"):
            figures.excluded_by["staff"] = 999
        with pytest.raises(TypeError):
            figures.excluded_by.update(staff=999)
    json.dumps([dict(figures.excluded_by) for figures in kept])
    fresh = LiveTracker(window=Window.whole_day())
    fresh.extend(records)
    assert tracker.service(None) == fresh.service(None)
    assert tracker.agents(None) == fresh.agents(None)
    opts = {"tz": "Asia/Shanghai", "window": Window.whole_day(), "threshold": 180.0,
            "before_window": "exclude"}
    assert live(tracker, None) == pure(records, None, opts)


@pytest.mark.parametrize("error", [
    ConcurrentCall("open_session"),
    ConcurrentCall("observe", owner="Recorder"),
    NestedCall("shop"),
    TimezoneFailed("a zone", ValueError("gone")),
    InvalidRecord("Message.at must be POSIX seconds"),
    UnknownTimezone("Mars/Olympus"),
], ids=lambda e: type(e).__name__)
def test_S02_K12_errors_cross_process_boundaries_intact(error: KefuError) -> None:
    """multiprocessing and concurrent.futures pickle a worker's error: it comes back
    with its class, message and fields."""
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.__dict__ == error.__dict__


def test_S02_K12_a_recorder_has_one_writer_like_its_assigner() -> None:
    clock = ManualClock(BASE)
    recorder = Recorder(Assigner(clock), LiveTracker())
    recorder.assigner.add_agent("alice", online=True)
    recorder.open_session("s1", "b1", "m1")
    before = (recorder.assigner.snapshot(), live(recorder.tracker, None))

    def events_that_call_back() -> Iterator[Any]:
        recorder.close_session("s1")
        yield from ()

    with pytest.raises(ConcurrentCall) as caught:
        recorder.observe(events_that_call_back())
    assert str(caught.value) == (
        "Recorder.close_session() called while another call on the same Recorder is"
        " running; a Recorder has one writer: serialise calls per shop")
    assert caught.value.owner == "Recorder"
    assert (recorder.assigner.snapshot(), live(recorder.tracker, None)) == before


def test_K08_K12_a_zone_failing_in_a_response_time_walk_under_the_open_policy_loses_nothing(
) -> None:
    """Under the OPEN policy, sessions whose clock (a window opening) is still to come
    are walked at each response-time query and their samples added for that query
    only. The zone fails between two such walks: the query fails, and the next
    one equals the pure function (nothing of the first walk stays behind)."""
    zone = Zone()
    before_opening = dt.datetime(2026, 11, 11, 7, 0, tzinfo=dt.timezone(EIGHT)).timestamp()
    records = [Message(f"s{n}", f"b{n}", before_opening + 60.0 * n, Sender.BUYER, f"m{n}")
               for n in range(3)]
    opts = {"tz": zone, "window": Window(dt.time(8), dt.time(23)), "threshold": 180.0,
            "before_window": "open"}
    tracker = LiveTracker(**opts)
    tracker.extend(records)
    as_of = before_opening + 4200.0  # 08:10: every clock (08:00) has come
    want = pure(records, as_of, opts)["times"]
    assert tracker.response_times(as_of) == want
    zone.calls = 0
    tracker.response_times(as_of)
    calls = zone.calls  # what one steady query asks of the zone: a walk per session

    def fail_in_the_last_walk(n: int) -> None:
        if n > calls - calls // 3:
            zone.hook = None
            raise ValueError("the zone database is gone")

    zone.calls, zone.hook = 0, fail_in_the_last_walk
    with pytest.raises(TimezoneFailed):
        tracker.response_times(as_of)
    assert tracker.response_times(as_of) == want
