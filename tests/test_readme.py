"""The README's quickstart is a doctest; the demo command runs and tells the same story."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_quickstart_runs_as_written() -> None:
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, verbose=False)
    assert result.attempted >= 8
    assert result.failed == 0


def test_README_commands_are_the_ones_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ('python -m pip install -e ".[test]"', "python -m pytest",
                    "python -m pip install -e . && python -m kefu simulate"):
        assert command in readme and command in ci, command


def test_demo_command_hits_cap_queues_and_drains() -> None:
    out = subprocess.run([sys.executable, "-m", "kefu", "demo"], capture_output=True, text=True,
                         check=True).stdout
    assert "Queued(session_id='s3'" in out
    assert "Assigned(session_id='s3', agent_id='alice', at=90.0, reason=<AssignReason.DRAIN" in out
    assert "reason=<CloseReason.AUTO" in out


def test_unknown_command_fails_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "kefu", "nonsense"], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "invalid choice" in proc.stderr
