"""The live tracker (K12) against recomputing: cost per record fed and per query.

    python benchmarks/bench_live.py [messages ...]      (default: 20000 200000)

For each size, one day of ``bench_kpi.make_day`` (sessions = messages / 20)
is fed to a :class:`kefu.kpi.LiveTracker` one record at a time in time
order, as a live shop would; then the shop's and the agents' figures are
queried at the end of the feed (a pending-heavy instant) and for the whole
day, and ``shop_reply_rate`` + ``agent_reply_rates`` over the same records
are timed in the same run for the ratio. Prints records per second fed,
microseconds per query, and the recompute's time.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench_kpi import make_day
from kefu import kpi
from kefu.kpi import LiveTracker


def _feed_order(day: dict[str, Any]) -> list[Any]:
    records = [*day["messages"], *day["handovers"], *day["requests"]]
    return sorted(records, key=lambda r: r.at)


def run(messages: int) -> None:
    day = make_day(messages // 20, messages)
    records = _feed_order(day)
    tracker = LiveTracker(tz="Asia/Shanghai")
    t = time.perf_counter()
    for r in records:
        tracker.add(r)
    fed = time.perf_counter() - t
    as_of = tracker.last
    queries = 20
    t = time.perf_counter()
    for _ in range(queries):
        tracker.shop(as_of)
    shop_query = (time.perf_counter() - t) / queries
    t = time.perf_counter()
    for _ in range(queries):
        tracker.agents(as_of)
    query = shop_query + (time.perf_counter() - t) / queries
    t = time.perf_counter()
    for _ in range(queries):
        tracker.response_times(as_of)
    times_query = (time.perf_counter() - t) / queries
    t = time.perf_counter()
    live = (tracker.shop(as_of), dict(tracker.agents(as_of)))
    pure = (kpi.shop_reply_rate(day["messages"], day["handovers"], requests=day["requests"],
                                as_of=as_of),
            dict(kpi.agent_reply_rates(day["messages"], day["handovers"],
                                       requests=day["requests"], as_of=as_of)))
    recompute = time.perf_counter() - t
    same = live == pure
    print(f"{len(records):>9,} records: fed at {len(records) / fed:>9,.0f} records/s "
          f"({fed / len(records) * 1e6:.1f} us each); queries: shop {shop_query * 1e3:.2f} ms,"
          f" shop + agents {query * 1e3:.2f} ms, response times {times_query * 1e3:.2f} ms;"
          f" recomputing shop + agents {recompute:.2f} s "
          f"({recompute / query:,.0f}x a query); equal: {same}")
    if not same:
        raise SystemExit("the tracker and the pure functions disagree")


def main(argv: list[str]) -> None:
    for n in [int(a) for a in argv] or [20_000, 200_000]:
        run(n)


if __name__ == "__main__":
    main(sys.argv[1:])
