"""MemoryError in the middle of a command: never a crash; the whole commands change nothing.

Each engine's sweep runs in a child process (``memory_faults.py``: a segfault there
is this test's failure, not a dead runner). It fails every allocation of each
command in turn on a busy shop (``_testcapi.set_nomemory``) and then checks that
the command either ran or raised and changed nothing (the invariants, the state
against the pure engine's, later commands against the pure engine's); for the
commands in memory_faults.SURVIVE_ONLY, only that nothing crashes and later calls
still answer (that module says why).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_engine

HERE = Path(__file__).parent


def sweep(engine: str, *names: str, no_extensions: bool = False) -> list[str]:
    """Run the child's sweep; returns its output lines (it exits 1 on any failure)."""
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same allocations on every run
    if no_extensions:
        env["KEFU_NO_EXTENSIONS"] = "1"
    proc = subprocess.run([sys.executable, str(HERE / "memory_faults.py"), engine, *names],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, (proc.stdout[-4000:], proc.stderr[-2000:])
    return proc.stdout.splitlines()


@pytest.mark.parametrize("engine", ["c", "py"])
def test_r22_every_command_survives_a_failed_allocation_anywhere(engine: str) -> None:
    """The known defect: a failed allocation while a ninth session opened left it filed
    with no queue and no agent; closing it then crashed the compiled engine."""
    pytest.importorskip("_testcapi")
    require_engine(engine)
    lines = sweep(engine)
    failed = {line.split()[0]: int(line.split()[1]) for line in lines}
    # each sweep did fail allocations inside the command (or it proved nothing)
    assert failed["open_assigned"] > 3 and failed["close_held"] > 3, lines


def test_r22_the_pure_facade_survives_a_failed_allocation_anywhere() -> None:
    pytest.importorskip("_testcapi")
    sweep("py", "open_assigned", "open_queued", "close_held", "apply", no_extensions=True)
