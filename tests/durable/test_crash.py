"""S05 crash tests: a writer killed with SIGKILL at random moments loses no acknowledged command.

A child process drives a durable shop through a random command stream and
prints how many commands are acknowledged after each call or flush
returns. The parent kills it at a random moment, recovers the shop (at
once: the dead writer's lock is gone, S07) and checks the recovered state
is exactly the reference state after the last acknowledged command, or
after the unit that was being acknowledged when the kill came. The next
child goes on from there, so one stream runs through every kill.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workload import CONFIG, Reference, stream, units

from kefu import Config
from kefu.durable import DurableShop, SQLiteStore

HERE = Path(__file__).parent
CHILD = HERE / "crash_child.py"
KILLS = 50


def _kill_after(target: str, seed: int, n: int, start: int, delay: float,
                synchronous: str) -> int | None:
    """Run a child from ``start``, SIGKILL it after ``delay`` s; the last acknowledged count."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), target, str(seed), str(n), str(start), synchronous],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout is not None
    acked: int | None = None
    buffer = b""
    opened = False
    deadline = None
    while True:
        now = time.monotonic()
        if opened and deadline is None:
            deadline = now + delay
        timeout = 0.05 if deadline is None else max(0.0, deadline - now)
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"open"):
                    opened = True
                elif line.isdigit():
                    acked = int(line)
        if deadline is not None and time.monotonic() >= deadline:
            break
    proc.send_signal(signal.SIGKILL)
    # Acknowledgements printed before the kill landed still count.
    rest = proc.stdout.read()
    for line in (buffer + rest).split(b"\n"):
        if line.isdigit():
            acked = int(line)
    proc.wait()
    if proc.returncode not in (-signal.SIGKILL, 0):
        pytest.fail(f"child failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return acked


def _crash_run(target: str, seed: int, n: int, synchronous: str) -> tuple[int, int]:
    """Kill a writer KILLS times along an ``n``-command stream; (position reached, one-mores)."""
    commands = stream(seed, n)
    ends = units(seed, n)
    reference = Reference(commands)
    rng = random.Random(seed)
    position = 0
    one_more = 0
    rate = 2000.0  # commands per second, re-measured as the run goes
    for kill in range(KILLS):
        # Aim each run at an even share of what is left, killed at a uniform random moment.
        share = (n - position) / (KILLS - kill)
        delay = rng.uniform(0.0, 2 * share / rate)
        started = time.monotonic()
        acked = _kill_after(target, seed, n, position, delay, synchronous)
        acked = position if acked is None else acked
        assert acked >= position
        if acked > position:
            rate = max(100.0, (acked - position) / max(time.monotonic() - started - 0.3, 0.05))
        store = SQLiteStore(target)  # the dead writer's lock is already gone (S07)
        shop = DurableShop.open(store, "crash", config=Config(**CONFIG))
        got = shop.snapshot()["state"]
        reference.advance_to(acked)
        if got != reference.state():
            # The kill fell between the write and the acknowledgement: one more unit.
            nxt = next(e for e in ends if e > acked)
            reference.advance_to(nxt)
            assert got == reference.state(), f"recovered state is neither {acked} nor {nxt}"
            one_more += 1
        position = reference.position
        shop.check()
        shop.close(checkpoint=rng.random() < 0.5)
        store.close()
        if position >= n:
            break
    return position, one_more


def test_S05_sigkill_at_random_moments_loses_no_acknowledged_command(tmp_path: Path) -> None:
    """50 kills along 100,000 commands; NORMAL is as safe as FULL against a process crash."""
    position, one_more = _crash_run(str(tmp_path / "crash.db"), 11, 100_000, "NORMAL")
    print(f"SQLite NORMAL: 50 kills, {position} commands, {one_more} one-more recoveries")
    assert position > 20_000


@pytest.mark.soak
def test_S05_sigkill_with_synchronous_full(tmp_path: Path) -> None:
    position, one_more = _crash_run(str(tmp_path / "crash.db"), 12, 100_000, "FULL")
    print(f"SQLite FULL: 50 kills, {position} commands, {one_more} one-more recoveries")
    assert position > 5_000
