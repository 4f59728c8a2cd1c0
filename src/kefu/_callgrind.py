"""Machine instructions per ``open_session``/``close_session``, counted by callgrind.

A clock cannot count instructions, and a shared machine's timings swing with
its load; valgrind's callgrind counts them exactly. :func:`open_close_per_call`
runs a workload once under it: a shop of ``agents`` agents (cap 200, online)
with ``sessions`` open sessions and ``pairs`` session ids made, the garbage
collector's heap frozen, then ``pairs`` open+close pairs in a function that
``sys.call_tracing`` calls. Callgrind counts only inside that call
(``--toggle-collect``), so the count over the ``2 * pairs`` calls is what one
call through the public API costs (guard, checks, clock read, engine, events,
and the call's bytecode in the caller's loop) and nothing of the start-up
and the shop's making, whose counts drift from run to run by more than a
change to the engine moves the figure. Used by ``python -m kefu bench``
(when valgrind is on PATH) and ``benchmarks/callgrind_calls.py``.
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
import gc
import sys
from kefu import Assigner, ManualClock


def pairs_of(a, ids):
    for sid in ids:
        a.open_session(sid)
        a.close_session(sid)


def main(engine, pairs, agents, sessions):
    clock = ManualClock(0.0)
    a = Assigner(clock, engine=engine)
    for k in range(agents):
        a.add_agent(f"a{k}", cap=200, online=True)
    for n in range(sessions):
        a.open_session(f"w{n}")
    ids = [f"s{n}" for n in range(pairs)]
    gc.collect()
    gc.freeze()  # a full collection's cost would follow the start-up's heap
    sys.call_tracing(pairs_of, (a, ids))  # the one call callgrind counts in


main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
"""
#: The C function of ``sys.call_tracing``: the workload's only caller of it.
COUNTED = "sys_call_tracing"


def available() -> bool:
    """Whether valgrind is on PATH. O(PATH)."""
    return shutil.which("valgrind") is not None


def count(workload: str, *args: str, only: str | None = None) -> int:
    """Instructions callgrind counts for the Python ``workload`` run with ``args``: all
    of them, or with ``only`` those inside the C function of that name (RuntimeError if
    it counted none there: the function never ran or its name is not in the binary).

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
             *([] if only is None else ["--collect-atstart=no", f"--toggle-collect={only}"]),
             sys.executable, script, *args],
            capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    match = re.search(r"Collected : (\d+)", run.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{run.stderr}")
    counted = int(match.group(1))
    if only is not None and counted == 0:
        # The function never ran, or callgrind cannot name it (a python stripped of its
        # symbols): a figure of 0 would pass any goal.
        raise RuntimeError(f"callgrind counted nothing inside {only}: is python built with "
                           "its symbols (not stripped)?")
    return counted


def open_close_per_call(engine: str, pairs: int, agents: int = 20, sessions: int = 2000
                        ) -> float:
    """Instructions of one open or close on ``engine`` (see above). One valgrind run."""
    return count(OPEN_CLOSE, engine, str(pairs), str(agents), str(sessions),
                 only=COUNTED) / (2 * pairs)
