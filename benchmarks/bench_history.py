"""Per-call cost after a long history of group names vs. in a fresh shop (both fast engines).

    python -m pytest benchmarks/bench_history.py --benchmark-group-by=param:history

Two agents serving every group are full and five sessions wait behind them.
One iteration opens a session in a group nobody has named before and closes
the oldest (assigned) session, whose agent then drains the oldest waiting
one: two calls, so the cost per call is half the time shown. ``history`` is
how many distinct group names the shop went through first (each one used by
a single session, then never again). An engine whose cost follows live state
shows the same time at 0 and at 52,000; one that remembers every name pays
for it on every drain.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import pytest

from conftest import CONTENDERS
from kefu import Assigner, ManualClock

HISTORIES = [0, 52_000]
BACKLOG = 5


class NewGroupEveryCall:
    """A full shop with a small backlog; :meth:`step` opens one session in a new group and
    closes the oldest one."""

    def __init__(self, engine: str, history: int) -> None:
        self.shop = Assigner(ManualClock(0.0), engine=engine, auto_close_after=None)  # type: ignore[arg-type]
        self.shop.apply([("add_agent", f"all{i}", 2, None, 1, True) for i in range(2)])
        self.open: deque[str] = deque()
        self._serial = itertools.count()
        for _ in range(4 + BACKLOG):
            self._open()
        for _ in range(history):
            self.step()

    def _open(self) -> None:
        n = next(self._serial)
        self.shop.open_session(f"s{n}", None, f"group{n}")
        self.open.append(f"s{n}")

    def step(self) -> None:
        self._open()
        self.shop.close_session(self.open.popleft())


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("engine", [e for e in CONTENDERS if e != "naive"])
def test_new_group_every_call(benchmark: Any, engine: str, history: int) -> None:
    benchmark.extra_info.update(engine=engine, distinct_groups_before=history)
    shop = NewGroupEveryCall(engine, history)
    # A fixed, small number of steps: each brings a new name, so the "fresh" shop stays
    # fresh (2,100 names) and the measurement does not add much history of its own.
    benchmark.pedantic(shop.step, rounds=20, iterations=100, warmup_rounds=1)
    shop.shop.check()
    assert len(shop.shop.waiting()) == BACKLOG
