"""One writer per Assigner (S02), real time by default and time that never runs back (S01).

A call that overlaps another call on the same Assigner — from another
thread, or re-entrantly from its clock, a groups iterable or a batch's
command iterable — raises ``ConcurrentCall`` and changes nothing; the call it
overlapped carries on undisturbed. Threads hammering one Assigner therefore
never corrupt it: every session a successful call opened is in exactly one
place (R22) and the engine's own invariants hold.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kefu import Assigner, ManualClock, SystemClock
from kefu.errors import BatchAborted, ConcurrentCall, InvalidArgument, KefuError
from kefu.events import Assigned, Event


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Make the interpreter switch threads often, so overlapping calls really happen."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(saved)


def _hammer(a: Assigner, prefix: str, n: int, opened: set[str], counts: dict[str, int],
            lock: threading.Lock) -> None:
    """Open and close sessions; record what succeeded and how many calls were refused."""
    mine: set[str] = set()
    refused = 0
    for i in range(n):
        sid = f"{prefix}{i}"
        try:
            a.open_session(sid, buyer=prefix)
            mine.add(sid)
        except ConcurrentCall:
            refused += 1
        if i % 3 == 2 and mine:
            victim = min(mine)
            try:
                a.close_session(victim)
                mine.discard(victim)
            except ConcurrentCall:
                refused += 1
    with lock:
        opened |= mine
        counts[prefix] = refused


@pytest.mark.usefixtures("fast_switching")
def test_S02_threads_never_corrupt_an_assigner(make: Any) -> None:
    a: Assigner = make()
    for agent in ("A", "B", "C"):
        a.add_agent(agent, cap=50, online=True)
    opened: set[str] = set()
    counts: dict[str, int] = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=_hammer, args=(a, f"t{k}-", 4000, opened, counts, lock))
               for k in range(4)]
    snapshots: list[dict[str, Any]] = []
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        try:
            snapshots.append(a.snapshot())
        except ConcurrentCall:
            counts["snapshot"] = counts.get("snapshot", 0) + 1
        time.sleep(0)
    for t in threads:
        t.join()
    a.check()
    assert set(a.session_ids()) == opened  # R22: nothing lost, nothing invented
    placed = [sid for agent in a.agent_ids() for sid in a.reception_list(agent)] + a.waiting()
    assert sorted(placed) == sorted(opened)
    assert sum(counts.values()) > 0, "no call ever overlapped: the test proved nothing"
    for data in snapshots[-20:]:  # a snapshot taken between calls is a consistent state
        Assigner.restore(json.loads(json.dumps(data)), ManualClock(0.0), engine=a.engine).check()


class ReentrantClock:
    """A clock whose now() calls back into the Assigner it serves (and records what happened)."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.target: Assigner | None = None
        self.errors: list[type[BaseException]] = []

    def now(self) -> float:
        if self.target is not None:
            try:
                self.target.set_cap("A", 1)
            except KefuError as exc:
                self.errors.append(type(exc))
        self.t += 1.0
        return self.t


def test_S02_a_call_from_the_clock_is_refused_and_the_outer_call_is_unharmed(engine: str) -> None:
    clock = ReentrantClock(100.0)
    a = Assigner(clock, engine=engine)  # type: ignore[arg-type]
    a.add_agent("A", cap=2, online=True)
    clock.target = a
    events = a.open_session("s1")
    events += a.open_session("s2")
    events += a.open_session("s3")
    assert clock.errors == [ConcurrentCall] * 3
    assert [e.agent_id for e in events if isinstance(e, Assigned)] == ["A", "A"]
    clock.target = None
    assert a.agent("A").cap.value == 2 and a.waiting() == ["s3"]
    a.check()


def test_S02_a_clock_that_lets_the_refusal_escape_fails_the_outer_call_cleanly(
    engine: str,
) -> None:
    class Raising(ReentrantClock):
        def now(self) -> float:
            if self.target is not None:
                self.target.load("A")
            return self.t

    clock = Raising(100.0)
    a = Assigner(clock, engine=engine)  # type: ignore[arg-type]
    a.add_agent("A", cap=2, online=True)
    before = a.snapshot()
    clock.target = a
    with pytest.raises(InvalidArgument, match="ConcurrentCall"):
        a.open_session("s1")
    clock.target = None
    assert a.snapshot() == before


def test_S02_a_batch_whose_commands_call_back_keeps_its_prefix(make: Any) -> None:
    a: Assigner = make()
    a.add_agent("A", online=True)

    def commands() -> Iterator[tuple[object, ...]]:
        yield ("open_session", "s1")
        a.close_session("s1")  # re-entrant: refused
        yield ("open_session", "s2")

    with pytest.raises(BatchAborted) as info:
        a.apply(commands())
    assert isinstance(info.value.cause, ConcurrentCall)
    assert [e.session_id for e in info.value.events] == ["s1", "s1"]
    assert a.session_ids() == ["s1"]
    a.check()


def test_S02_a_groups_iterable_that_calls_back_is_refused(make: Any) -> None:
    a: Assigner = make()
    a.add_agent("A", online=True)
    before = a.snapshot()

    def groups() -> Iterator[str]:
        yield "pre"
        a.open_session("sneaky")

    with pytest.raises(InvalidArgument, match="ConcurrentCall"):
        a.add_agent("B", groups=groups())
    assert a.snapshot() == before


def test_S02_repr_during_a_call_does_not_raise(make: Any) -> None:
    a: Assigner = make()
    seen: list[str] = []

    def groups() -> Iterator[str]:
        seen.append(repr(a))
        yield "pre"

    a.add_agent("A", groups=groups())
    assert seen == [f"<Assigner engine={a.engine} (a call is running)>"]
    assert "agents=1" in repr(a)


def test_S01_the_default_clock_is_the_system_clock(engine: str) -> None:
    a = Assigner(engine=engine)  # type: ignore[arg-type]
    assert isinstance(a.clock, SystemClock)
    a.add_agent("A", online=True)
    before = time.time()
    events: list[Event] = a.open_session("s1")
    after = time.time()
    assert all(before <= e.at <= after for e in events)


def test_S01_restore_never_lets_time_run_backwards(make: Any, clock: ManualClock) -> None:
    clock.set(5000.0)
    a: Assigner = make()
    a.add_agent("A", cap=1, online=True)
    a.open_session("s1")
    data = a.snapshot()
    assert data["taken_at"] == 5000.0
    late = ManualClock(1000.0)  # a clock behind the snapshot
    b = Assigner.restore(data, late, engine=a.engine)
    events = b.open_session("s2")
    assert [e.at for e in events] == [5000.0, 5000.0]
    late.set(6000.0)
    assert b.open_session("s3")[0].at == 6000.0


def test_S01_a_version_1_snapshot_holds_time_at_its_latest_instant(
    make: Any, clock: ManualClock,
) -> None:
    clock.set(4000.0)
    a: Assigner = make()
    a.add_agent("A", cap=1, online=True)
    a.open_session("s1")
    data = a.snapshot()
    del data["taken_at"]
    data["version"] = 1
    b = Assigner.restore(data, ManualClock(10.0), engine=a.engine)
    assert b.open_session("s2")[0].at == 4000.0
