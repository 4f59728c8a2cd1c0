"""Service figures (K13) benchmark: what they add to a big shop's day (pytest-benchmark).

    pytest benchmarks/bench_service.py --benchmark-group-by=func
    python benchmarks/bench_service.py [sessions messages] [--repeat N]

The day is bench_kpi's (100,000 sessions, 2,000,000 messages by default) plus
on/off-line records of its 200 agents (on at 07:30, a break 12:00-13:00, off
at 23:30). The second form times, on one timeline built once and in one run,
the service walk (:func:`kefu.kpi.service.service_result`, with and without
occupancy) against the shop reply rate's walk (``Measure`` with shop units
only): the ratio says what ``daily_report`` pays for its ``service`` field.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import pytest

from bench_kpi import BIG, DAY, SMALL, TZ, _data, make_day
from conftest import only_when_timed
from kefu import kpi
from kefu.kpi import AgentStatus
from kefu.kpi.measure import Measure
from kefu.kpi.occupancy import status_records
from kefu.kpi.options import make_options
from kefu.kpi.service import service_result
from kefu.kpi.timeline import build_timeline


def statuses(agents: int = 200) -> list[AgentStatus]:
    """Every agent on line 07:30-12:00 and 13:00-23:30."""
    out = []
    for a in range(agents):
        for h, m, online in ((7, 30, True), (12, 0, False), (13, 0, True), (23, 30, False)):
            t = dt.datetime.combine(DAY, dt.time(h, m), TZ).timestamp()
            out.append(AgentStatus(f"a{a:03d}", t, online))
    return out


def _service(d: dict[str, Any]) -> kpi.ServiceReport:
    return kpi.service_figures(d["messages"], d["handovers"], requests=d["requests"],
                               day=DAY, tz=TZ, statuses=statuses())


@pytest.mark.parametrize("size", [SMALL, BIG], ids=["20k-messages", "2M-messages"])
def test_service_figures(benchmark: Any, size: tuple[int, int]) -> None:
    only_when_timed(benchmark.disabled and size == BIG, "20k messages run the same code")
    d = _data(size)
    r = benchmark.pedantic(_service, args=(d,), rounds=1, iterations=1)
    assert r.offered > 0.9 * size[0]
    assert sum(f.occupancy is not None for f in r.by_agent.values()) == 200


def _walks(data: dict[str, Any], repeat: int) -> None:
    """The service walk against the shop rate's walk, on one timeline (best of ``repeat``)."""
    opts = make_options(day=DAY, tz=TZ)
    tl = build_timeline(data["messages"], data["handovers"], (), data["requests"], opts.as_of,
                        threshold=opts.threshold)
    cal = opts.calendar(tl.first, tl.last)
    online, _ = status_records(statuses(), opts.as_of)
    best: dict[str, float] = {}
    runs = {
        "shop rate walk (Measure, shop units only)":
            lambda: Measure(tl, opts, cal, agents=False, times=False),
        "service walk": lambda: service_result(tl, opts, cal, answer_within=180.0,
                                               short_abandon=5.0),
        "service walk + occupancy of 200 agents": lambda: service_result(
            tl, opts, cal, answer_within=180.0, short_abandon=5.0, statuses=online),
    }
    for _ in range(repeat):
        for name, run in runs.items():  # interleaved: a busy machine slows all alike
            t = time.perf_counter()
            run()
            took = time.perf_counter() - t
            best[name] = min(took, best.get(name, took))
    base = best["shop rate walk (Measure, shop units only)"]
    for name, took in best.items():
        print(f"{name}: {took:.3f} s ({took / base:.2f}x the shop rate walk)")


def main(argv: list[str]) -> None:
    """One day, timed without pytest (see the module docstring)."""
    args = [a for a in argv if not a.startswith("--")]
    sessions, messages = (int(a) for a in args[:2]) if len(args) >= 2 else BIG
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 3
    data = make_day(sessions, messages)
    t = time.perf_counter()
    r = _service(data)
    print(f"service_figures (records to result, with occupancy): "
          f"{time.perf_counter() - t:.2f} s; offered {r.offered:,}, service level "
          f"{r.service_level.value:.4f}, occupancy {r.occupancy.value:.4f}")  # type: ignore[union-attr]
    _walks(data, repeat)


if __name__ == "__main__":
    main(sys.argv[1:])
