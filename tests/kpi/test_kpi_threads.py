"""daily_report called from several threads at once."""

from __future__ import annotations

import random
import threading

from kpi_helpers import DAY, agent, at, buyer

from kefu import kpi
from kefu.kpi import Message


def _day(sessions: int = 400) -> list[Message]:
    rnd = random.Random(3)
    msgs = []
    for s in range(sessions):
        t = at(9) + rnd.random() * 30000
        msgs += [buyer(t, f"s{s}", f"b{s % 90}", mid=f"m{s}a"),
                 agent(t + rnd.choice([30.0, 300.0]), f"s{s}", f"b{s % 90}",
                       name=f"ag{s % 7}")]
    return msgs


def test_SPEC_B_reports_in_several_threads_at_once_are_each_whole() -> None:
    """A report holds no shared state between calls: four threads reporting at once
    each get the report one thread gets alone."""
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
