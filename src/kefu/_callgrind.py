"""Machine instructions per ``open_session``/``close_session``, counted by callgrind.

A clock cannot count instructions, and a shared machine's timings swing with
its load; valgrind's callgrind counts them exactly. :func:`open_close_per_call`
runs a workload twice under it: a shop of ``agents`` agents (cap 200, online)
with ``sessions`` open sessions and ``pairs`` session ids made, then ``pairs``
open+close pairs in a function; and the same without the pairs. The
difference over the ``2 * pairs`` calls is what one call through the public
API costs: guard, checks, clock read, engine, events, and the call's bytecode
in the caller's loop. Used by ``python -m kefu bench`` (when valgrind is on
PATH) and ``benchmarks/callgrind_calls.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

__all__ = ["OPEN_CLOSE", "available", "count", "open_close_per_call"]

OPEN_CLOSE = """
import sys
from kefu import Assigner, ManualClock


def main(engine, pairs, run, agents, sessions):
    clock = ManualClock(0.0)
    a = Assigner(clock, engine=engine)
    for k in range(agents):
        a.add_agent(f"a{k}", cap=200, online=True)
    for n in range(sessions):
        a.open_session(f"w{n}")
    ids = [f"s{n}" for n in range(pairs)]
    if run:
        for sid in ids:
            a.open_session(sid)
            a.close_session(sid)


main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "run", int(sys.argv[4]), int(sys.argv[5]))
"""


def available() -> bool:
    """Whether valgrind is on PATH. O(PATH)."""
    return shutil.which("valgrind") is not None


def count(workload: str, *args: str) -> int:
    """Total instructions callgrind counts for the Python ``workload`` run with ``args``.

    String hashing is seeded alike every run (``PYTHONHASHSEED=0``), so two runs
    differ only by what their arguments change.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        script = os.path.join(tmp, "workload.py")
        with open(script, "w") as f:
            f.write(workload)
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, script, *args],
            capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    match = re.search(r"Collected : (\d+)", run.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{run.stderr}")
    return int(match.group(1))


def open_close_per_call(engine: str, pairs: int, agents: int = 20, sessions: int = 2000
                        ) -> float:
    """Instructions of one open or close on ``engine`` (see above). Two valgrind runs."""
    shop = (str(agents), str(sessions))
    base = count(OPEN_CLOSE, engine, str(pairs), "skip", *shop)
    full = count(OPEN_CLOSE, engine, str(pairs), "run", *shop)
    return (full - base) / (2 * pairs)
