"""Instructions per public call, counted by callgrind (independent of machine load).

    python benchmarks/callgrind_calls.py [--engine c|py] [--calls N] [--module-loop]
    python benchmarks/callgrind_calls.py --kpi table|records [--sessions S --messages N]

Runs ``kefu._callgrind``'s workload under ``valgrind --tool=callgrind``
(a shop of 20 agents with 2,000 open sessions and N session ids made, then N
open+close pairs in a function, the only code counted) and prints the count
divided by the number of calls: what one ``open_session`` or
``close_session`` through the public API costs, guard, checks, clock read,
engine and events included, and the call's own bytecode in the caller's
loop (``python -m kefu bench`` shows the same figure when valgrind is on
PATH). Run it from two checkouts (or before and after a change) to compare
them exactly, with ``PYTHONHASHSEED=0``.

``--module-loop`` is the earlier form of the workload: the pairs run in a
loop at module level and the ids are made only in the run with pairs, so
the figure also holds the module-level name lookups of the loop and making
the ids (about 1,600 instructions a call on CPython 3.11).

``--kpi`` does the same for ``daily_report`` on bench_kpi's day (made once,
outside valgrind, and pickled): both runs load the day and build the input
(a ``MessageTable`` from the columns, or a ``Message`` per row) and freeze
it out of the garbage collector's reach (else a full collection over the
loaded day, or not, would swing the count by more than a change does), one
also runs the report; the difference per message is what the report costs,
on the active KPI kernel (``KEFU_NO_EXTENSIONS=1``: the pure-Python one).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile

from kefu._callgrind import count, open_close_per_call

MODULE_LOOP_WORKLOAD = """
import sys
from kefu import Assigner, ManualClock
engine, pairs = sys.argv[1], int(sys.argv[2])
clock = ManualClock(0.0)
a = Assigner(clock, engine=engine)
for k in range(20):
    a.add_agent(f"a{k}", cap=200, online=True)
for n in range(2000):
    a.open_session(f"w{n}")
ids = [f"s{n}" for n in range(pairs)]
for sid in ids:
    a.open_session(sid)
    a.close_session(sid)
"""

KPI_WORKLOAD = """
import gc, pickle, sys
sys.path.insert(0, sys.argv[4])
from bench_table import records_from, report, table_from
with open(sys.argv[1], "rb") as f:
    day, cols = pickle.load(f)
messages = table_from(cols) if sys.argv[2] == "table" else records_from(cols)
gc.collect()
gc.freeze()  # what was loaded is never collected: counts do not depend on when the collector runs
if sys.argv[3] == "run":
    report(messages, day)
"""


def per_call(engine: str, pairs: int, module_loop: bool = False) -> float:
    """Instructions of one open or close, from ``pairs`` open+close pairs (see above)."""
    if not module_loop:
        return open_close_per_call(engine, pairs)
    base = count(MODULE_LOOP_WORKLOAD, engine, "0")
    full = count(MODULE_LOOP_WORKLOAD, engine, str(pairs))
    return (full - base) / (2 * pairs)


def kpi_per_message(form: str, sessions: int, messages: int) -> float:
    """Instructions of one ``daily_report`` per message, from a table or from records."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    from bench_kpi import make_day
    from bench_table import columns_of

    day = make_day(sessions, messages)
    cols = columns_of(day.pop("messages"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "day.pickle")
        with open(path, "wb") as f:
            pickle.dump((day, cols), f)
        base = count(KPI_WORKLOAD, path, form, "skip", here)
        full = count(KPI_WORKLOAD, path, form, "run", here)
    return (full - base) / len(cols["at"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="c", choices=["c", "py"])
    parser.add_argument("--calls", type=int, default=20_000, help="open+close pairs")
    parser.add_argument("--module-loop", action="store_true",
                        help="the earlier workload: the loop at module level, ids made in it")
    parser.add_argument("--kpi", choices=["table", "records"],
                        help="daily_report per message instead, from this input")
    parser.add_argument("--sessions", type=int, default=25_000)
    parser.add_argument("--messages", type=int, default=500_000)
    args = parser.parse_args()
    if args.kpi:
        per = kpi_per_message(args.kpi, args.sessions, args.messages)
        print(f"daily_report from {args.kpi}, {args.messages:,} messages:"
              f" {per:,.0f} instructions per message")
        return
    figure = per_call(args.engine, args.calls, args.module_loop)
    form = " (module-level loop)" if args.module_loop else ""
    print(f"engine={args.engine} pairs={args.calls}{form}: {figure:,.0f} instructions per call")


if __name__ == "__main__":
    main()
