"""K12 with S02's care: a live tracker shared by threads, nested calls, failing time zones.

A tracker keeps state between calls, and a query changes it (it measures the
sessions changed since the last one). So: calls from several threads are
serialised (a dashboard may query while a feeder adds); a call made from
inside another call on the same tracker (a time zone's own code, an
iterable's) raises ``NestedCall`` and changes nothing; a time zone whose code
fails part-way through a query gives ``TimezoneFailed`` and loses nothing
(the next query equals the pure functions over every record). A Recorder has
one writer, like the Assigner it wraps.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kpi_strategies import BASE, shop_day
from test_kpi_live import live, pure

from kefu import Assigner, ManualClock
from kefu.errors import ConcurrentCall
from kefu.kpi import (
    Handover,
    LiveTracker,
    Message,
    NestedCall,
    Recorder,
    Sender,
    SessionEnd,
    TimezoneFailed,
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


@given(shop_day(), st.integers(1, 80), st.randoms(use_true_random=False))
def test_K12_a_time_zone_failing_mid_query_is_a_clear_error_and_loses_nothing(
        rec: dict[str, list[Any]], fail_at: int, rnd: random.Random) -> None:
    zone = Zone()
    records = records_of(rec)
    rnd.shuffle(records)
    tracker = LiveTracker(tz=zone)
    half = len(records) // 2
    for r in records[:half]:
        tracker.add(r)
    live(tracker, None)  # a first query: later ones measure only what changed

    def fail_once(calls: int) -> None:
        if calls == zone.calls and calls >= fail_at:
            zone.hook = None
            raise ValueError("the zone database is gone")

    for r in records[half:]:
        tracker.add(r)
    zone.calls, zone.hook = 0, fail_once
    try:
        live(tracker, None)
    except TimezoneFailed as exc:
        assert "raised ValueError('the zone database is gone')" in str(exc)
    zone.hook = None
    opts = {"tz": zone, "window": None, "threshold": 180.0, "before_window": "exclude"}
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


def test_K12_extend_refuses_a_call_from_its_own_iterable_and_keeps_what_came_before() -> None:
    records = a_day(20)
    tracker = LiveTracker()

    def records_then_a_query() -> Iterator[Any]:
        yield from records[:10]
        tracker.shop()
        yield from records[10:]  # never reached

    with pytest.raises(NestedCall, match=r"LiveTracker\.shop\(\) called from inside"):
        tracker.extend(records_then_a_query())
    opts = {"tz": "Asia/Shanghai", "window": None, "threshold": 180.0,
            "before_window": "exclude"}
    assert live(tracker, None) == pure(records[:10], None, opts)


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
