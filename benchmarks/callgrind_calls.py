"""Instructions per public call, counted by callgrind (independent of machine load).

    python benchmarks/callgrind_calls.py [--engine c|py] [--calls N]

Runs the workload twice under ``valgrind --tool=callgrind`` (N open+close
pairs on a shop of 20 agents with 2,000 open sessions, and the same setup
with no pairs) and prints the difference divided by the number of calls:
what one ``open_session`` or ``close_session`` through the public API costs,
guard, checks, clock read, engine and events included. Run it from two
checkouts (or before and after a change) to compare them exactly.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

WORKLOAD = """
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


def instructions(engine: str, pairs: int) -> int:
    """Total instructions callgrind counts for the workload with ``pairs`` open+close pairs."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        script = os.path.join(tmp, "workload.py")
        with open(script, "w") as f:
            f.write(WORKLOAD)
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, script, engine, str(pairs)],
            capture_output=True, text=True, check=True,
        )
        match = re.search(r"Collected : (\d+)", run.stderr)
        if match is None:
            raise SystemExit(f"no instruction count in callgrind's output:\n{run.stderr}")
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="c", choices=["c", "py"])
    parser.add_argument("--calls", type=int, default=20_000, help="open+close pairs")
    args = parser.parse_args()
    base = instructions(args.engine, 0)
    full = instructions(args.engine, args.calls)
    per_call = (full - base) / (2 * args.calls)
    print(f"engine={args.engine} pairs={args.calls}: {per_call:,.0f} instructions per call")


if __name__ == "__main__":
    main()
