"""K12: a bulk catch-up holds the garbage collector off, and only while it runs.

A backfill's first query measures every session at once; the tracker holds
CPython's cyclic collector off for that query (``kefu.kpi.collector``). The
collector must be on again afterwards however the query ends (a time zone
failing part-way), must stay off when the program turned it off, and a
dashboard's refresh (fewer sessions than ``BULK``) must leave it running.
The figures are the pure functions' either way.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator

import pytest
from kpi_helpers import SH

from kefu.kpi import LiveTracker, Message, Sender, TimezoneFailed, collector, shop_reply_rate

BASE = 1_767_225_600.0  # 2026-01-01 00:00 UTC


class Zone(dt.tzinfo):
    """UTC+8 in the user's own code: notes whether the collector is on at each call,
    and raises once ``fail`` is set."""

    def __init__(self) -> None:
        self.seen: list[bool] = []
        self.fail = False

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        self.seen.append(gc.isenabled())
        if self.fail:
            raise ValueError("the zone database is gone")
        return dt.timedelta(hours=8)

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, when: dt.datetime | None) -> str:
        return "+08"


def day(sessions: int) -> list[Message]:
    """A buyer's message and an agent's reply in each of ``sessions`` sessions."""
    out: list[Message] = []
    for k in range(sessions):
        at = BASE + 3600.0 + 60.0 * k
        out.append(Message(f"s{k}", f"b{k}", at, Sender.BUYER, f"m{k}"))
        if k % 3:
            out.append(Message(f"s{k}", f"b{k}", at + 30.0 * (k % 7), Sender.AGENT,
                               f"r{k}", "alice"))
    return out


@pytest.fixture
def bulk_at_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(collector, "BULK", 2)
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_K12_a_bulk_catch_up_holds_the_collector_off_and_switches_it_back_on(
        bulk_at_two: None) -> None:
    zone, records = Zone(), day(5)
    tracker = LiveTracker(tz=zone)
    tracker.extend(records)
    got = tracker.shop(tracker.last)
    assert zone.seen and not any(zone.seen)  # held off while it measured
    assert gc.isenabled()
    assert got == shop_reply_rate(records, tz=SH, as_of=tracker.last)


def test_K12_a_refresh_below_the_bulk_size_leaves_the_collector_running(
        bulk_at_two: None) -> None:
    zone, records = Zone(), day(5)
    tracker = LiveTracker(tz=zone)
    tracker.extend(records[:-1])
    tracker.shop(tracker.last)
    zone.seen.clear()
    tracker.add(records[-1])  # one session changed: a refresh
    tracker.shop(tracker.last)
    assert zone.seen and all(zone.seen)


def test_K12_a_failing_bulk_catch_up_switches_the_collector_back_on_and_loses_nothing(
        bulk_at_two: None) -> None:
    zone, records = Zone(), day(6)
    tracker = LiveTracker(tz=zone)
    tracker.extend(records)
    zone.fail = True
    with pytest.raises(TimezoneFailed):
        tracker.shop(tracker.last)
    assert gc.isenabled()
    zone.fail = False
    assert tracker.shop(tracker.last) == shop_reply_rate(records, tz=SH, as_of=tracker.last)


def test_K12_a_collector_the_program_turned_off_stays_off(bulk_at_two: None) -> None:
    zone, records = Zone(), day(5)
    tracker = LiveTracker(tz=zone)
    tracker.extend(records)
    gc.disable()
    try:
        tracker.shop(tracker.last)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_K12_the_collector_is_held_off_only_from_the_bulk_size(bulk_at_two: None) -> None:
    for sessions, off in ((1, False), (2, True)):
        with collector.paused(sessions):
            assert gc.isenabled() is not off
        assert gc.isenabled()
