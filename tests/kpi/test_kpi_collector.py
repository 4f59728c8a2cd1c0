"""daily_report runs with Python's cyclic garbage collector off, and leaves it as it was."""

from __future__ import annotations

import gc
import random
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from kpi_helpers import DAY, agent, at, buyer

from kefu import kpi
from kefu.kpi import InvalidRecord, Message
from kefu.kpi.collector import paused


def _day(sessions: int = 400) -> list[Message]:
    rnd = random.Random(3)
    msgs = []
    for s in range(sessions):
        t = at(9) + rnd.random() * 30000
        msgs += [buyer(t, f"s{s}", f"b{s % 90}", mid=f"m{s}a"),
                 agent(t + rnd.choice([30.0, 300.0]), f"s{s}", f"b{s % 90}",
                       name=f"ag{s % 7}")]
    return msgs


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the collections that start while the test runs."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(note)
    try:
        yield seen
    finally:
        gc.callbacks.remove(note)


def test_SPEC_B_daily_report_runs_no_collection(collections: list[int]) -> None:
    msgs = _day()
    table = kpi.MessageTable.from_records(msgs)
    assert gc.isenabled()
    collections.clear()
    for messages in (msgs, table):
        kpi.daily_report(messages, day=DAY, detail=True)
    assert collections == []
    assert gc.isenabled()


def test_SPEC_B_daily_report_leaves_the_collector_as_it_found_it() -> None:
    msgs = _day(20)
    gc.disable()
    try:
        kpi.daily_report(msgs, day=DAY)
        assert not gc.isenabled()  # the caller keeps it off
    finally:
        gc.enable()
    kpi.daily_report(msgs, day=DAY)
    assert gc.isenabled()
    with pytest.raises(InvalidRecord):
        kpi.daily_report([*msgs, "not a message"], day=DAY)  # type: ignore[list-item]
    assert gc.isenabled()


class _Stop(BaseException):
    pass


@pytest.mark.parametrize("when", ["call", "return", "line"])
def test_SPEC_B_an_interrupt_anywhere_in_the_pause_leaves_the_collector_on(
        when: str) -> None:
    """Interrupting at each event of the wrapper and of the call: the collector is on
    after, every time (the interrupt may land before the collector was turned off,
    inside the call, or in the wrapper's restore)."""
    msgs = _day(5)
    report = paused(lambda: kpi.daily_report(msgs, day=DAY))
    landed = 0
    for k in range(1, 400, 7):
        seen = 0

        def trace(frame: FrameType, event: str, arg: object, k: int = k) -> Any:
            nonlocal seen
            if event == when or (when == "line" and event == "call"):
                seen += 1
                if seen == k:
                    raise _Stop
            return trace

        assert gc.isenabled()
        sys.settrace(trace)
        try:
            report()
        except _Stop:
            landed += 1
        finally:
            sys.settrace(None)
        assert gc.isenabled(), f"left off by an interrupt at {when} {k}"
    assert landed > 10


def test_SPEC_B_reports_in_several_threads_leave_the_collector_on() -> None:
    msgs = _day(30)
    want = kpi.daily_report(msgs, day=DAY)
    got: list[kpi.DailyReport] = []

    def run() -> None:
        for _ in range(5):
            got.append(kpi.daily_report(msgs, day=DAY))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [want] * 20
    assert gc.isenabled()
