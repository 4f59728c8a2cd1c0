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

from kefu import Config
from kefu.durable import DurableShop, Store
from kefu.errors import ShopBusy

from .store_specs import StoreSpec
from .workload import CONFIG, Reference, stream, units

HERE = Path(__file__).parent
CHILD = HERE / "crash_child.py"
#: Kills per store in the default run, and in the soak run (``--soak``).
KILLS = 16
SOAK_KILLS = 50
#: A child that has not opened its shop by then is stuck, not slow (it starts in
#: well under a second on an idle machine): the test fails with its stderr.
CHILD_START_LIMIT = 120.0


def _kill_after(target: str, seed: int, n: int, start: int, delay: float) -> int | None:
    """Run a child from ``start``, SIGKILL it after ``delay`` s; the last acknowledged count."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), target, str(seed), str(n), str(start)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout is not None
    acked: int | None = None
    buffer = b""
    opened = False
    deadline = None
    started = time.monotonic()
    while True:
        now = time.monotonic()
        if opened and deadline is None:
            deadline = now + delay
        if not opened and now - started > CHILD_START_LIMIT:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the child did not open its shop within {CHILD_START_LIMIT} s: "
                        f"{err.decode(errors='replace')}")
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


def _lease_after_kill(spec: StoreSpec) -> tuple[Store, DurableShop, float]:
    """Open the shop the killed writer held: at once on SQLite (its flock died with it).

    A PostgreSQL server frees the advisory lock when it sees the dead
    connection close, a few milliseconds after the kill: retry ShopBusy for
    at most five seconds and report the wait.
    """
    started = time.monotonic()
    while True:
        store = spec.open()
        waited = time.monotonic() - started  # refused attempts only, not the recovery
        try:
            return store, DurableShop.open(store, "crash", config=Config(**CONFIG)), waited
        except ShopBusy:
            store.close()
            if spec.kind == "sqlite" or time.monotonic() - started > 5.0:
                raise
            time.sleep(0.002)


def _crash_run(spec: StoreSpec, target: str, seed: int, n: int,
               kills: int) -> tuple[int, int, float]:
    """Kill a writer ``kills`` times along an ``n``-command stream.

    Returns (position reached, one-more recoveries, longest wait for the lock).
    """
    commands = stream(seed, n)
    ends = units(seed, n)
    reference = Reference(commands)
    rng = random.Random(seed)
    position = 0
    one_more = 0
    rate = 2000.0  # commands per second, re-measured as the run goes
    longest_wait = 0.0
    for kill in range(kills):
        # Aim each run at an even share of what is left, killed at a uniform random moment.
        share = (n - position) / (kills - kill)
        delay = rng.uniform(0.0, 2 * share / rate)
        started = time.monotonic()
        acked = _kill_after(target, seed, n, position, delay)
        acked = position if acked is None else acked
        assert acked >= position
        if acked > position:
            rate = max(100.0, (acked - position) / max(time.monotonic() - started - 0.3, 0.05))
        store, shop, waited = _lease_after_kill(spec)  # the dead writer's lock is gone (S07)
        longest_wait = max(longest_wait, waited)
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
    return position, one_more, longest_wait


def _target(spec: StoreSpec, synchronous: str) -> str:
    return f"{spec.target}?synchronous={synchronous}" if spec.kind == "sqlite" else spec.target


def test_S05_sigkill_at_random_moments_loses_no_acknowledged_command(
        store_spec: StoreSpec) -> None:
    """KILLS kills along a stream, per store (SQLite NORMAL is as safe as FULL here)."""
    n = 30_000
    position, one_more, wait = _crash_run(store_spec, _target(store_spec, "NORMAL"), 11, n,
                                          KILLS)
    print(f"\n{store_spec.kind}: {KILLS} kills, {position} commands, {one_more} one-more "
          f"recoveries, longest wait for the lock {wait * 1000:.1f} ms")
    assert position > n // 5


@pytest.mark.soak
def test_S05_sigkill_soak(store_spec: StoreSpec) -> None:
    position, one_more, wait = _crash_run(store_spec, _target(store_spec, "FULL"), 12, 100_000,
                                          SOAK_KILLS)
    print(f"\n{store_spec.kind} (soak): {SOAK_KILLS} kills, {position} commands, {one_more} "
          f"one-more recoveries, longest wait for the lock {wait * 1000:.1f} ms")
    assert position > 5_000
