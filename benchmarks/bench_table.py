"""Messages as columns against records: the same day's KPIs from a MessageTable and from Messages.

    pytest benchmarks/bench_table.py --benchmark-group-by=func
    python benchmarks/bench_table.py [sessions messages] [--profile]

The day is bench_kpi's (``make_day``: copies, swapped neighbours, the bot,
transfers). Its messages are first turned into the columns a backend
reading a database or a dataframe would hold (numpy arrays: float64 times,
object arrays of str ids, int8 sender codes); not timed. Then, in one run:
building each input from those columns (a Message per row, or one
MessageTable), and ``daily_report`` and ``shop_reply_rate`` from each, on
the active KPI kernel. The second form does that for 500k and 2M messages
(or the size given) and prints the ratios; ``--profile`` adds a cProfile
summary of ``daily_report`` from the table, and the last line of each size
times the report of the same table with its rows in time order. With
``--benchmark-disable`` the tests run at a small size (SMOKE): CI's
once-through run checks the code, not the speed. Figures:
docs/performance.md.
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

import numpy as np
import pytest

from bench_kpi import DAY, TZ, _bare_loop, make_day
from kefu import kpi
from kefu.kpi import SENDER_CODES, Message, MessageTable, Sender

SIZES = {"500k-messages": (25_000, 500_000), "2M-messages": (100_000, 2_000_000)}
SMOKE = (500, 10_000)
"""The size every test runs at when timings are off (``--benchmark-disable``, as CI's
once-through run): the same code, a smoke test."""
_SENDERS = tuple(Sender)


def columns_of(msgs: list[Message]) -> dict[str, Any]:
    """The messages as a backend's columns (numpy arrays)."""
    def objects(values: list[Any]) -> np.ndarray[Any, Any]:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return {
        "at": np.array([m.at for m in msgs], dtype=np.float64),
        "session_id": objects([m.session_id for m in msgs]),
        "buyer_id": objects([m.buyer_id for m in msgs]),
        "sender": np.array([SENDER_CODES[m.sender] for m in msgs], dtype=np.int8),
        "message_id": objects([m.message_id for m in msgs]),
        "agent_id": objects([m.agent_id for m in msgs]),
    }


def records_from(cols: dict[str, Any]) -> list[Message]:
    """What a backend does without tables: a Message per row."""
    return list(map(Message, cols["session_id"].tolist(), cols["buyer_id"].tolist(),
                    cols["at"].tolist(), map(_SENDERS.__getitem__, cols["sender"].tolist()),
                    cols["message_id"].tolist(), cols["agent_id"].tolist()))


def table_from(cols: dict[str, Any]) -> MessageTable:
    return MessageTable(**cols)


def in_time_order(cols: dict[str, Any]) -> MessageTable:
    """The same rows sorted by time, as a backend reading ``ORDER BY at`` holds them
    (the message pass then has nothing to sort)."""
    order = np.argsort(cols["at"], kind="stable")
    return MessageTable(**{name: column[order] for name, column in cols.items()})


def report(messages: Any, d: dict[str, Any]) -> kpi.DailyReport:
    return kpi.daily_report(messages, d["handovers"], d["evaluations"], d["orders"],
                            requests=d["requests"], day=DAY, tz=TZ)


def shop(messages: Any, d: dict[str, Any]) -> kpi.ShopReplyRate:
    return kpi.shop_reply_rate(messages, d["handovers"], requests=d["requests"], day=DAY,
                               tz=TZ)


_CACHE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def _day(size: str, benchmark: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The day of ``size``, or of SMOKE when ``benchmark`` does not time."""
    if benchmark.disabled:
        size = "smoke"
    if size not in _CACHE:
        _CACHE.clear()
        d = make_day(*(SMOKE if size == "smoke" else SIZES[size]))
        _CACHE[size] = (d, columns_of(d.pop("messages")))
    return _CACHE[size]


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("form", ["records", "table"])
def test_build_input(benchmark: Any, size: str, form: str) -> None:
    _, cols = _day(size, benchmark)
    build = records_from if form == "records" else table_from
    made = benchmark.pedantic(build, args=(cols,), rounds=1, iterations=1)
    assert len(made) == len(cols["at"])


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("form", ["records", "table"])
def test_daily_report(benchmark: Any, size: str, form: str) -> None:
    d, cols = _day(size, benchmark)
    messages = records_from(cols) if form == "records" else table_from(cols)
    rep = benchmark.pedantic(report, args=(messages, d), rounds=1, iterations=1)
    assert rep.shop.rate is not None and 0.5 < rep.shop.rate < 1.0


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("form", ["records", "table"])
def test_shop_reply_rate(benchmark: Any, size: str, form: str) -> None:
    d, cols = _day(size, benchmark)
    messages = records_from(cols) if form == "records" else table_from(cols)
    r = benchmark.pedantic(shop, args=(messages, d), rounds=1, iterations=1)
    assert r.per_session.total > 0


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main(argv: list[str]) -> None:
    """Both inputs at each size, in one run (see the module docstring)."""
    args = [a for a in argv if not a.startswith("--")]
    sizes = ([(int(args[0]), int(args[1]))] if len(args) >= 2
             else list(SIZES.values()))
    print(f"KPI kernel: {kpi.kernel.ACTIVE}; machine speed: a bare 3M-step Python loop"
          f" takes {_bare_loop():.2f} s")
    for sessions, n in sizes:
        d = make_day(sessions, n)
        cols = columns_of(d.pop("messages"))
        print(f"\n{len(cols['at']):,} messages, {sessions:,} sessions")
        results = {}
        for form, build in (("table", table_from), ("records", records_from)):
            # One input alive at a time, and the collector settled before each step, so
            # neither side pays for a full collection the other's garbage set off.
            gc.collect()
            messages, t_build = _timed(build, cols)
            gc.collect()
            rep, t_report = _timed(report, messages, d)
            gc.collect()
            rate, t_shop = _timed(shop, messages, d)
            results[form] = (rep, rate, t_build, t_report, t_shop)
            print(f"  {form:8}: build {t_build:.2f} s, daily_report {t_report:.2f} s,"
                  f" shop_reply_rate {t_shop:.2f} s")
            if form == "table" and "--profile" in argv:
                import cProfile
                import pstats

                gc.collect()
                profile = cProfile.Profile()
                profile.runcall(report, messages, d)
                pstats.Stats(profile).sort_stats("tottime").print_stats(18)
            del messages, rep, rate
        table, recs = results["table"], results["records"]
        if table[:2] != recs[:2]:
            raise SystemExit("the table and the records give different results")
        in_order = in_time_order(cols)
        gc.collect()
        rep, t_ordered = _timed(report, in_order, d)
        if rep != table[0]:
            raise SystemExit("the table in time order gives different results")
        print(f"  the table's rows in time order: daily_report {t_ordered:.2f} s"
              f" ({table[3] / t_ordered:.2f}x the rows as they came)")
        del in_order, rep
        print(f"  build + daily_report: records {recs[2] + recs[3]:.2f} s,"
              f" table {table[2] + table[3]:.2f} s"
              f" ({(recs[2] + recs[3]) / (table[2] + table[3]):.1f}x)")


if __name__ == "__main__":
    main(sys.argv[1:])
