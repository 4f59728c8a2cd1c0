"""``Assigner.apply`` against ``Assigner.apply_columns`` on the same replay, in one run.

    python -m pytest benchmarks/bench_columns.py --benchmark-group-by=func
    (with ``--benchmark-disable`` the replay is cut to 20,000 commands: a smoke run)
    python benchmarks/bench_columns.py [--commands N] [--rounds R]
    python benchmarks/bench_columns.py --callgrind [--commands N] [--in-loop]

The replay is the bench's (``kefu.bench.replay_commands``: every 50 ms a
session closes, one opens, its buyer writes, an agent answers, timers tick)
on ``replay_shop`` (200 agents, 2,000 open sessions). Both contenders get
the agents from ``apply``; then one runs the rest as tuples, the other as
columns (``kefu.bench.as_columns``, built before the clock starts).

* ``--rounds``: the two alternate R times on fresh shops; the script prints
  the best of each, commands and rows per second, and their ratio (ratios of
  one run hold on a loaded machine, absolute figures do not).
* ``--callgrind``: each variant under ``valgrind --tool=callgrind`` (and one
  that only builds the input), printing instructions per replay command:
  counts that do not depend on the machine's load. With ``--in-loop`` it
  counts only inside the measured call instead, twice: the public
  ``Assigner`` call (checks and conversions included) and the engine's batch
  loop alone (``Engine.apply`` or ``Engine.apply_columns``, less what the
  same count gives for a run that makes only the shop), figures that do not
  move with the start-up's heap as whole-process counts do (by about a tenth).

A row is one command; the replay's ``("at", t)`` moves are not rows (each row
carries its time), so commands/s counts them as ``apply``'s figure does and
rows/s does not.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest

from conftest import contender
from kefu.bench import as_columns, replay_commands, replay_shop

REPLAY = 1_000_000
#: The replay's size when timings are off (``--benchmark-disable``): a smoke run.
SMOKE = 20_000


def workload(n: int) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], dict[str, Any]]:
    """The replay's agents, its other commands, and those as columns."""
    commands = replay_commands(n)
    setup = [c for c in commands if c[0] == "add_agent"]
    rest = commands[len(setup):]
    return setup, rest, as_columns(rest)


def run(variant: str, setup: list[tuple[object, ...]], rest: list[tuple[object, ...]],
        columns: dict[str, Any]) -> float:
    """Seconds for one variant on a fresh shop (setup not timed)."""
    shop = replay_shop("c")
    shop.apply(setup)
    start = time.perf_counter()
    if variant == "apply":
        shop.apply(rest)
    else:
        shop.apply_columns(**columns)
    return time.perf_counter() - start


@pytest.mark.parametrize("variant", ["apply", "apply_columns"])
def test_replay(benchmark: Any, variant: str) -> None:
    contender("c")
    setup, rest, columns = workload(SMOKE if benchmark.disabled else REPLAY)
    benchmark.extra_info.update(variant=variant, commands=len(rest),
                                rows=len(columns["command"]))
    benchmark.pedantic(lambda: run(variant, setup, rest, columns), rounds=1, iterations=1)


CALLGRIND = """
import gc, sys
sys.path.insert(0, sys.argv[3])
from bench_columns import workload
from kefu.bench import replay_shop
setup, rest, columns = workload(int(sys.argv[2]))
shop = replay_shop("c")
shop.apply(setup)
shop.apply([("tick",)])
shop.apply_columns([5], None)  # first-call costs (imports, buffer types) out of the count
gc.collect()
gc.freeze()
if sys.argv[1] == "apply":
    sys.call_tracing(shop.apply, (rest,))  # the one call_tracing: --in-loop counts in it
elif sys.argv[1] == "apply_columns":
    sys.call_tracing(lambda: shop.apply_columns(**columns), ())
else:
    sys.call_tracing(lambda: None, ())
"""
#: The C functions ``--in-loop`` counts in: the measured public call, the engines' loops.
PUBLIC = "sys_call_tracing"
LOOPS = {"apply": "__pyx_pw_4kefu_9_engine_c_6Engine_*apply",
         "apply_columns": "__pyx_pw_4kefu_9_engine_c_6Engine_*apply_columns"}


def instructions(variant: str, n: int, only: str | None = None) -> int:
    """Instructions of one run of ``variant`` under callgrind: all of them, or with
    ``only`` those inside the C functions that pattern names."""
    toggle = [] if only is None else ["--collect-atstart=no", f"--toggle-collect={only}"]
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *toggle,
         sys.executable, "-c", CALLGRIND, variant, str(n),
         os.path.dirname(os.path.abspath(__file__))],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected :\s+(\d+)", out.stderr)
    if found is None:
        raise RuntimeError(out.stderr[-2000:])
    return int(found.group(1))


def in_loop(commands: int, rows: int, n: int) -> None:
    """Print each variant's count inside its public call and inside its engine loop."""
    for variant, loop in LOOPS.items():
        public = instructions(variant, n, PUBLIC) - instructions("none", n, PUBLIC)
        engine = instructions(variant, n, loop) - instructions("none", n, loop)
        print(f"{variant:>14}: {public / commands:,.0f} instructions a command in the call,"
              f" {engine / commands:,.0f} in the engine's loop ({engine / 1e6:,.1f}M)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=REPLAY)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--in-loop", action="store_true",
                        help="with --callgrind: count inside the measured call only")
    args = parser.parse_args()
    setup, rest, columns = workload(args.commands)
    commands, rows = len(rest), len(columns["command"])
    print(f"replay: {commands:,} commands after the agents, {rows:,} rows")
    if args.callgrind and args.in_loop:
        in_loop(commands, rows, args.commands)
        return
    if args.callgrind:
        base = instructions("none", args.commands)
        for variant in ("apply", "apply_columns"):
            extra = instructions(variant, args.commands) - base
            print(f"{variant:>14}: {extra / commands:,.0f} instructions a command"
                  f" ({extra / rows:,.0f} a row)")
        return
    best = {"apply": float("inf"), "apply_columns": float("inf")}
    for _ in range(args.rounds):
        for variant in best:
            gc.collect()
            best[variant] = min(best[variant], run(variant, setup, rest, columns))
    for variant, seconds in best.items():
        print(f"{variant:>14}: {commands / seconds:,.0f} commands/s"
              f" ({rows / seconds:,.0f} rows/s), best of {args.rounds}")
    print(f"apply_columns / apply: {best['apply'] / best['apply_columns']:.2f}x")


if __name__ == "__main__":
    main()
