"""Ids chosen to collide against random ids: the same day's report, in one run.

    pytest benchmarks/bench_flood.py --benchmark-group-by=func
    python benchmarks/bench_flood.py [messages]

A synthetic day (``kefu._bench_figures.synthetic_day``) reported three times
on the active KPI kernel: with random 16-character message ids, with ids that
share one hash under a fixed multiply-and-shift hash, and (session ids) with
ids that share one under such a hash whatever its seed. A kernel whose id
tables could be flooded takes many times as long on the crafted ids (40x at
20,000 messages, growing with the square of the day); the ratios printed by
the second form stay near 1. With ``--benchmark-disable`` the tests run at a
small size: CI's once-through run checks the code, not the speed.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from kefu import kpi
from kefu._bench_figures import DAY, TZ, synthetic_day

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "kpi"))
from kpi_flood_ids import differential_collisions, fixed_hash_collisions

MESSAGES = 20_000
SMOKE = 2_000
KINDS = ("random", "fixed-hash collisions", "seed-proof collisions")


def _random_ids(n: int) -> list[str]:
    rnd = random.Random(3)
    return [bytes(rnd.getrandbits(8) for _ in range(16)).decode("latin-1") for _ in range(n)]


def day_with(kind: str, messages: int) -> tuple[kpi.MessageTable, list[Any]]:
    """The synthetic day with its message ids (or, for the seed-proof family, its
    session ids) replaced by ids of ``kind``."""
    table, handovers = synthetic_day(messages)
    mids, sids = table.message_id, table.session_id
    if kind == "random":
        mids = np.array(_random_ids(messages), dtype=object)
    elif kind == "fixed-hash collisions":
        mids = np.array(fixed_hash_collisions(messages), dtype=object)
    else:
        names = sorted(set(sids.tolist()))
        crafted = differential_collisions(max(1, len(names) - 1).bit_length())
        rename = dict(zip(names, crafted[:len(names)], strict=True))
        sids = np.array([rename[s] for s in sids.tolist()], dtype=object)
        handovers = [attrs.evolve(h, session_id=rename[h.session_id]) for h in handovers]
    return kpi.MessageTable(at=table.at, session_id=sids, buyer_id=table.buyer_id,
                            sender=table.sender, message_id=mids,
                            agent_id=table.agent_id), handovers


def _report(day: tuple[kpi.MessageTable, list[Any]]) -> kpi.DailyReport:
    table, handovers = day
    return kpi.daily_report(table, handovers, day=DAY, tz=TZ)


@pytest.fixture(scope="module")
def size(request: pytest.FixtureRequest) -> int:
    return SMOKE if request.config.getoption("benchmark_disable") else MESSAGES


@pytest.mark.parametrize("kind", KINDS)
def test_report_on_ids(benchmark: Any, kind: str, size: int) -> None:
    """One report of the day with ``kind`` ids; compare the three in one run."""
    day = day_with(kind, size)
    got = benchmark(_report, day)
    assert got.shop.met + got.shop.missed > 0


def main(messages: int) -> None:
    seconds = {}
    for kind in KINDS:
        day = day_with(kind, messages)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            _report(day)
            best = min(best, time.perf_counter() - start)
        seconds[kind] = best
    for kind in KINDS:
        print(f"{kind:>24}: {seconds[kind]:.3f} s, "
              f"{seconds[kind] / seconds['random']:.2f}x the random ids' ({messages:,} messages)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else MESSAGES)
