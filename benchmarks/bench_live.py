"""The live tracker (K12) against recomputing: cost per record fed and per query.

    python benchmarks/bench_live.py [messages ...]      (default: 20000 500000)
    python benchmarks/bench_live.py --callgrind [messages]   (default: 10000)
    python benchmarks/bench_live.py --dashboards [messages ...]   (default: 500000)

For each size, one day of ``bench_kpi.make_day`` (sessions = messages / 20)
is fed to a :class:`kefu.kpi.LiveTracker` one record at a time in time
order. A tracker measures what records changed at the next query, so three
figures are printed: ``add`` alone, a backfill (every record, then the
query that catches up), and a live feed with a shop query every 1,000
records. Then steady queries at the end of the feed (a pending-heavy
instant), and ``shop_reply_rate`` + ``agent_reply_rates`` over the same
records, timed in the same run for the ratio. The last lines compare, in
one run, ``add`` on the compiled feed and on the pure-Python one, the
catch-up with the compiled placing of each measured session and with the
Python one (rounds taken in turn, the best of each), and a live feed after
a backfill with and without ``gc.freeze()``.

``--dashboards`` feeds a day record by record with a shop query every 1,000
and every 10,000 records (a dashboard's refresh) and as a backfill (one
query at the end), records per second in one run.

``--callgrind`` counts instructions instead (callgrind: independent of the
machine's load; run with PYTHONHASHSEED=0): the day is made and pickled
outside valgrind, then loaded three times, to be fed or not and caught up
or not, and the differences per record are what ``add`` and the catch-up
at the next query cost; and once more, fed live (a shop query every 1,000
records), only the feed counted; on the active KPI kernel
(``KEFU_NO_EXTENSIONS=1``: the pure-Python feed and walk).
"""

from __future__ import annotations

import gc
import math
import os
import pickle
import sys
import tempfile
import time
from typing import Any

from bench_kpi import make_day
from kefu import kpi
from kefu._callgrind import COUNTED, count
from kefu.kpi import LiveTracker, kernel


def _feed_order(day: dict[str, Any]) -> list[Any]:
    records = [*day["messages"], *day["handovers"], *day["requests"]]
    return sorted(records, key=lambda r: r.at)


def run(messages: int, every: int = 1_000) -> None:
    day = make_day(messages // 20, messages)
    records = _feed_order(day)
    n = len(records)
    # A backfill: every record, then one query, which measures what the records changed.
    tracker = LiveTracker(tz="Asia/Shanghai")
    t = time.perf_counter()
    for r in records:
        tracker.add(r)
    fed = time.perf_counter() - t
    as_of = tracker.last
    t = time.perf_counter()
    tracker.shop(as_of)
    catch_up = time.perf_counter() - t
    # Steady queries: nothing new since the last one. The first of each kind after the
    # backfill builds every agent's figures (kept until they change): not timed, as a
    # dashboard's refresh does not pay it.
    tracker.agents(as_of)
    tracker.response_times(as_of)
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
    # Live: a dashboard asks for the shop's figures every ``every`` records.
    live_tracker = LiveTracker(tz="Asia/Shanghai")
    t = time.perf_counter()
    for k, r in enumerate(records, 1):
        live_tracker.add(r)
        if k % every == 0:
            live_tracker.shop(live_tracker.last)
    live = time.perf_counter() - t
    t = time.perf_counter()
    pure = (kpi.shop_reply_rate(day["messages"], day["handovers"], requests=day["requests"],
                                as_of=as_of),
            dict(kpi.agent_reply_rates(day["messages"], day["handovers"],
                                       requests=day["requests"], as_of=as_of)))
    recompute = time.perf_counter() - t
    same = (tracker.shop(as_of), dict(tracker.agents(as_of))) == pure == (
        live_tracker.shop(as_of), dict(live_tracker.agents(as_of)))
    print(f"{n:>9,} records: add {n / fed:>9,.0f}/s ({fed / n * 1e6:.1f} us);"
          f" backfill with its catch-up {n / (fed + catch_up):>8,.0f}/s"
          f" (catch-up {catch_up:.2f} s); live, a query every {every:,}:"
          f" {n / live:>8,.0f}/s; steady queries: shop {shop_query * 1e3:.2f} ms,"
          f" shop + agents {query * 1e3:.2f} ms, response times {times_query * 1e3:.2f} ms;"
          f" recomputing shop + agents {recompute:.2f} s ({recompute / query:,.0f}x a"
          f" query); equal: {same}")
    if not same:
        raise SystemExit("the tracker and the pure functions disagree")


def after_backfill(messages: int, *, freeze: bool, every: int = 1_000,
                   fed: int = 20_000) -> float:
    """Records per second of a live feed (a shop query every ``every`` records) into a
    tracker that was backfilled with the first half of a day, with or without
    ``gc.freeze()`` after the backfill: the cyclic collector otherwise scans every
    object the tracker holds each time enough new ones have survived."""
    day = make_day(messages // 20, messages)
    records = _feed_order(day)
    half = len(records) // 2
    tracker = LiveTracker(tz="Asia/Shanghai")
    tracker.extend(records[:half])
    tracker.shop(tracker.last)
    if freeze:
        gc.freeze()
    try:
        rest = records[half:half + fed]
        t = time.perf_counter()
        for k, r in enumerate(rest, 1):
            tracker.add(r)
            if k % every == 0:
                tracker.shop(tracker.last)
        return len(rest) / (time.perf_counter() - t)
    finally:
        gc.unfreeze()


CALLGRIND_WORKLOAD = """
import gc, pickle, sys
from kefu.kpi import LiveTracker, kernel
with open(sys.argv[1], "rb") as f:
    records = pickle.load(f)
tracker = LiveTracker(tz="Asia/Shanghai")
gc.collect()
gc.freeze()  # the records are never collected: counts do not depend on when it runs
if sys.argv[2] in ("add", "query"):
    add = tracker.add
    for r in records:
        add(r)
if sys.argv[2] == "query":
    tracker.shop(tracker.last)


def live(add, shop):  # a dashboard's feed: a shop query every 1,000 records
    for k, r in enumerate(records, 1):
        add(r)
        if k % 1000 == 0:
            shop(tracker.last)
    shop(tracker.last)


if sys.argv[2] == "live":  # counted alone: the one call of sys.call_tracing
    sys.call_tracing(live, (tracker.add, tracker.shop))
"""


def callgrind(messages: int) -> None:
    """Instructions per record of ``add`` and of the catch-up at the next query."""
    records = _feed_order(make_day(messages // 20, messages))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "records.pickle")
        with open(path, "wb") as f:
            pickle.dump(records, f)
        none, fed, query = (count(CALLGRIND_WORKLOAD, path, stage)
                            for stage in ("none", "add", "query"))
        # The live feed counted on its own: none of the start-up in it, whose count
        # drifts by some ten million instructions from run to run.
        live = count(CALLGRIND_WORKLOAD, path, "live", only=COUNTED)
    n = len(records)
    print(f"{n:,} records: add {(fed - none) / n:,.0f} instructions per record,"
          f" catch-up {(query - fed) / n:,.0f}, together {(query - none) / n:,.0f};"
          f" live, a query every 1,000 records: {live / n:,.0f}")


def feeds(messages: int, rounds: int = 3) -> None:
    """``add`` alone on the compiled feed and on the reference, rounds in turn."""
    records = _feed_order(make_day(messages // 20, messages))
    best: dict[str, float] = {}
    for _ in range(rounds):
        for feed in ("c", "py"):
            saved, kernel.ACTIVE = kernel.ACTIVE, feed  # the feed is chosen when it is made
            try:
                add = LiveTracker(tz="Asia/Shanghai").add
            finally:
                kernel.ACTIVE = saved
            t = time.perf_counter()
            for r in records:
                add(r)
            best[feed] = min(best.get(feed, math.inf), time.perf_counter() - t)
    n = len(records)
    print(f"add, {n:,} records, best of {rounds}: compiled feed {best['c'] / n * 1e6:.2f} us,"
          f" pure-Python feed {best['py'] / n * 1e6:.2f} us"
          f" ({best['py'] / best['c']:.1f}x)")


def placings(messages: int, rounds: int = 3) -> None:
    """A backfill's catch-up with the compiled placing of each measured session and with
    the tracker's Python one (``_place`` None), rounds in turn, the best of each."""
    records = _feed_order(make_day(messages // 20, messages))
    best: dict[str, float] = {}
    for _ in range(rounds):
        for placing in ("c", "py"):
            tracker = LiveTracker(tz="Asia/Shanghai")
            if placing == "py":
                tracker._place = tracker._refold_c = tracker._fold_c = None
            for r in records:
                tracker.add(r)
            t = time.perf_counter()
            tracker.shop(tracker.last)
            best[placing] = min(best.get(placing, math.inf), time.perf_counter() - t)
            del tracker
            gc.collect()
    n = len(records)
    print(f"catch-up after a backfill of {n:,} records, best of {rounds}: compiled placing"
          f" {best['c'] / n * 1e6:.2f} us a record, Python placing {best['py'] / n * 1e6:.2f} us"
          f" ({best['py'] / best['c']:.2f}x)")


def dashboards(messages: int, everies: tuple[int, ...] = (1_000, 10_000)) -> None:
    """The steady dashboard pattern: the whole day fed record by record with a shop
    query every ``every`` records (each query catches up the sessions those records
    touched), and the backfill pattern (every record, then one query), in records
    per second, in one run."""
    records = _feed_order(make_day(messages // 20, messages))
    n = len(records)
    rates: list[str] = []
    for every in (*everies, n):
        tracker = LiveTracker(tz="Asia/Shanghai")
        add, shop = tracker.add, tracker.shop
        t = time.perf_counter()
        for k, r in enumerate(records, 1):
            add(r)
            if k % every == 0:
                shop(tracker.last)
        shop(tracker.last)
        rate = n / (time.perf_counter() - t)
        rates.append(f"{'backfill, one query' if every == n else f'a query every {every:,}'}"
                     f" {rate:,.0f}/s")
        del tracker
        gc.collect()
    print(f"{n:,} records fed: " + "; ".join(rates))


def main(argv: list[str]) -> None:
    if argv[:1] == ["--callgrind"]:
        callgrind(int(argv[1]) if len(argv) > 1 else 10_000)
        return
    if argv[:1] == ["--dashboards"]:
        sizes = [int(a) for a in argv[1:]] or [500_000]
        for n in sizes:
            dashboards(n)
        return
    sizes = [int(a) for a in argv] or [20_000, 500_000]
    for n in sizes:
        run(n)
    n = max(sizes)
    if "c" in kernel.AVAILABLE:
        feeds(n)
        placings(n)
    rates = {freeze: after_backfill(n, freeze=freeze) for freeze in (False, True)}
    print(f"live after a backfill of half of {n:,} messages, a query every 1,000 records:"
          f" {rates[False]:,.0f}/s; with gc.freeze() after the backfill:"
          f" {rates[True]:,.0f}/s ({rates[True] / rates[False]:.1f}x)")


if __name__ == "__main__":
    main(sys.argv[1:])
