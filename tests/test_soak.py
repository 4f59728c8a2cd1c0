"""Long random runs of the compiled engine: invariants, agreement, bounded memory.

A seeded shop (``random.Random``, not hypothesis: the runs are long and must be
cheap to generate) of a few hundred agents with caps and groups keeps about
``target`` sessions open while it opens, closes, messages, transfers,
assigns, takes agents on and offline, changes caps and lets time pass, with
first-response timeout (R18), auto close (R17) and sticky return (R13) on.
Operations go through :meth:`Assigner.apply` in chunks; the generator reads
the state back from the events (R21), and a command it got wrong (a session
an earlier command in the chunk closed or moved) aborts the chunk, which is
resumed after the failing command, exactly as a replay would.

Each test runs at two sizes: a smoke size for the normal suite (seconds) and
a soak size (``--soak``: a million operations at 2000 open sessions).

* R06/R22: ``check()`` passes at checkpoints and at the end; the open-session
  count stays near its target.
* R23: the Python engine, fed the same chunks in lockstep, returns the same
  events and aborts, and ends in the same snapshot.
* Memory (R16: memory does not grow with history): traced memory after a
  second pass equals that after the first at the same open-session count,
  and an open session costs a bounded number of bytes.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import pytest

from conftest import require_engine
from kefu import Assigner, Cap, ManualClock
from kefu.errors import BatchAborted
from kefu.events import (
    Assigned,
    Closed,
    Event,
    Opened,
    Queued,
    Reassigned,
    Requeued,
    Transferred,
)

Command = tuple[Any, ...]

CONFIG: dict[str, Any] = {
    "first_response_timeout": 60.0,
    "auto_close_after": 300.0,
    "sticky_window": 120.0,
}
# Plenty of room for pre/post (so R18 reassignments happen), too little for vip (so some wait).
GROUPS: list[str | None] = [None, "pre", "post", "vip", "vip"]
AGENT_GROUPS: list[tuple[str, ...] | None] = [
    None, ("pre",), ("post",), ("pre", "post"), ("pre", "post"), ("vip",),
]


class Size(NamedTuple):
    agents: int
    target: int  # open sessions to keep
    ops: int  # random operations per pass
    chunk: int  # commands per apply()
    growth: float  # allowed memory growth from pass 1 to pass 2


# At the smoke size the live sticky memory and R18 timed-out sets, which rise and fall with
# the traffic, are a few percent of the total: the bound is looser there.
SMOKE = Size(agents=30, target=300, ops=20_000, chunk=500, growth=0.10)
SOAK = Size(agents=200, target=2000, ops=500_000, chunk=2000, growth=0.05)  # 10^6 operations
CYCLES = 10
SIZES = [pytest.param(SMOKE, id="smoke"), pytest.param(SOAK, id="soak", marks=pytest.mark.soak)]


class Shop:
    """Generates random operations from the state the events report (R21)."""

    def __init__(self, seed: int, size: Size) -> None:
        self.rng = random.Random(seed)
        self.size = size
        self.agent_ids = [f"agent{i:03d}" for i in range(size.agents)]
        self.online = [False] * size.agents
        self.online_count = 0
        self.buyers = [f"buyer{i}" for i in range(size.target * 2)]
        # Open sessions: id -> agent id, or None while waiting; ids in a list for O(1) picks.
        self.place: dict[str, str | None] = {}
        self.sids: list[str] = []
        self.index: dict[str, int] = {}
        self.dirty: set[str] = set()  # moved by this chunk: their state is unknown until observed
        self.pending_opens = 0
        self.now = 0.0
        self.serial = 0
        self.kinds: Counter[str] = Counter()

    # -- the state, from events ---------------------------------------------------------

    def _add(self, sid: str) -> None:
        self.index[sid] = len(self.sids)
        self.sids.append(sid)

    def _forget(self, sid: str) -> None:
        # Events of a chunk may still mention a session the chunk closes: pop, do not del.
        self.place.pop(sid, None)
        i = self.index.pop(sid, None)
        if i is None:
            return
        last = self.sids.pop()
        if last != sid:
            self.sids[i] = last
            self.index[last] = i

    def observe(self, events: list[Event]) -> None:
        place = self.place
        kinds = self.kinds
        for e in events:
            kind = type(e)
            kinds[kind.__name__] += 1
            if kind is Assigned:
                place[e.session_id] = e.agent_id  # type: ignore[union-attr]
            elif kind is Opened:
                place[e.session_id] = None
                self._add(e.session_id)
            elif kind is Queued or kind is Requeued:
                place[e.session_id] = None
            elif kind is Closed:
                self._forget(e.session_id)
            elif kind is Transferred or kind is Reassigned:
                place[e.session_id] = e.to_agent  # type: ignore[union-attr]
        self.dirty.clear()
        self.pending_opens = 0

    def normalise(self) -> None:
        """Compact the generator's own containers, so memory readings compare like for like."""
        self.place = dict(self.place)
        self.index = dict(self.index)
        self.sids = list(self.sids)
        self.dirty = set()

    # -- commands -------------------------------------------------------------------

    def setup(self) -> list[Command]:
        rng = self.rng
        commands: list[Command] = []
        for i, agent_id in enumerate(self.agent_ids):
            cap: Cap | int = Cap.SUSPENDED if rng.random() < 0.03 else rng.randint(5, 15)
            online = rng.random() < 0.85
            self.online[i] = online
            self.online_count += online
            commands.append(("add_agent", agent_id, cap, rng.choice(AGENT_GROUPS),
                             rng.randint(1, 5), online))
        return commands

    def open(self) -> Command:
        rng = self.rng
        self.serial += 1
        self.pending_opens += 1
        buyer = rng.choice(self.buyers) if rng.random() < 0.8 else None
        priority = 0 if rng.random() < 0.8 else rng.randint(1, 3)
        return ("open_session", f"s{self.serial}", buyer, rng.choice(GROUPS), priority)

    def close(self) -> Command | None:
        if not self.sids:
            return None
        sid = self.sids[int(self.rng.random() * len(self.sids))]
        self._forget(sid)
        return ("close_session", sid)

    def _pick(self) -> str | None:
        if not self.sids:
            return None
        sid = self.sids[int(self.rng.random() * len(self.sids))]
        return None if sid in self.dirty else sid

    def _online_agent(self) -> str:
        while True:
            i = int(self.rng.random() * len(self.agent_ids))
            if self.online[i]:
                return self.agent_ids[i]

    def toggle(self) -> Command:
        """An agent goes offline (sometimes requeueing) or comes back; ~85 % stay online."""
        rng = self.rng
        want_online = self.online_count < 0.85 * len(self.agent_ids)
        while True:
            i = int(rng.random() * len(self.agent_ids))
            if self.online[i] != want_online:
                break
        self.online[i] = want_online
        self.online_count += 1 if want_online else -1
        if want_online:
            return ("agent_online", self.agent_ids[i])
        if rng.random() < 0.5:
            self.dirty.update(s for s, a in self.place.items() if a == self.agent_ids[i])
            return ("agent_offline", self.agent_ids[i], True)
        return ("agent_offline", self.agent_ids[i])

    def operation(self) -> Command | None:
        rng = self.rng
        r = rng.random()
        if r < 0.36:
            jitter = self.size.target // 20
            aim = self.size.target + rng.randint(-jitter, jitter)
            if len(self.sids) + self.pending_opens < aim:
                return self.open()
            return self.close()
        if r < 0.80:
            sid = self._pick()
            if sid is None:
                return None
            agent = self.place[sid]
            if r < 0.52:
                if agent is None or rng.random() < 0.15:
                    return ("agent_message", sid, True)  # a system auto-reply
                return ("agent_message", sid)
            if r < 0.62:
                return ("buyer_message", sid)
            if r < 0.72:
                if agent is None:
                    return None
                to = self._online_agent()
                if to == agent:
                    return None
                self.dirty.add(sid)
                return ("transfer", sid, to)
            if agent is not None:
                return None
            self.dirty.add(sid)
            return ("assign", sid, self._online_agent())
        if r < 0.84:
            return self.toggle()
        if r < 0.86:
            agent_id = rng.choice(self.agent_ids)
            cap: Cap | int = Cap.SUSPENDED if rng.random() < 0.05 else rng.randint(5, 15)
            return ("set_cap", agent_id, cap)
        if r < 0.97:
            self.now += rng.expovariate(1 / 0.5)
            return ("at", self.now)
        return ("tick",)

    def chunk(self) -> list[Command]:
        commands: list[Command] = []
        while len(commands) < self.size.chunk:
            command = self.operation()
            if command is not None:
                commands.append(command)
        return commands

    def settle(self) -> list[Command]:
        """Open or close until exactly ``target`` sessions are open (no time passes)."""
        commands: list[Command] = []
        while len(self.sids) + self.pending_opens < self.size.target:
            commands.append(self.open())
        while len(self.sids) + self.pending_opens > self.size.target:
            command = self.close()
            assert command is not None
            commands.append(command)
        return commands


class Outcome(NamedTuple):
    events: list[Event]
    aborts: list[tuple[int, str, str]]  # (index in the chunk, cause type, cause message)


def run_chunk(a: Assigner, commands: list[Command]) -> Outcome:
    """Apply ``commands``; after an abort, resume after the failing command."""
    events: list[Event] = []
    aborts: list[tuple[int, str, str]] = []
    start = 0
    rest = commands
    while True:
        try:
            events += a.apply(rest)
            return Outcome(events, aborts)
        except BatchAborted as exc:
            events += exc.events
            aborts.append((start + exc.index, type(exc.cause).__name__, str(exc.cause)))
            start += exc.index + 1
            rest = commands[start:]


class Run:
    """One shop, driven on one or more engines in lockstep (the first one leads)."""

    def __init__(self, size: Size, seed: int, engines: tuple[str, ...]) -> None:
        self.shop = Shop(seed, size)
        self.assigners = [Assigner(ManualClock(0.0), engine=e, **CONFIG)  # type: ignore[arg-type]
                          for e in engines]
        self.engines = engines
        self.ops = 0
        self.aborts = 0
        self.checkpoints = 0
        self.waiting: list[int] = []  # waiting sessions at each checkpoint

    def step(self, commands: list[Command]) -> None:
        lead, *others = self.assigners
        outcome = run_chunk(lead, commands)
        for name, other in zip(self.engines[1:], others, strict=True):
            theirs = run_chunk(other, commands)
            if theirs != outcome:
                first = next((i for i, (x, y) in enumerate(zip(outcome.events, theirs.events,
                                                                strict=False)) if x != y), None)
                raise AssertionError(
                    f"R23: {self.engines[0]} and {name} differ after {self.ops} operations: "
                    f"aborts {outcome.aborts[:3]} vs {theirs.aborts[:3]}, first differing "
                    f"event #{first}"
                )
        self.shop.observe(outcome.events)
        self.ops += len(commands)
        self.aborts += len(outcome.aborts)

    def start(self) -> None:
        self.step(self.shop.setup())
        self.settle()

    def settle(self) -> None:
        self.step(self.shop.settle())
        assert len(self.shop.sids) == self.shop.size.target
        for a in self.assigners:
            assert len(a.session_ids()) == self.shop.size.target

    def run_pass(self, checks: int = 4) -> None:
        size = self.shop.size
        chunks = size.ops // size.chunk
        every = max(chunks // checks, 1)
        for n in range(1, chunks + 1):
            self.step(self.shop.chunk())
            open_now = len(self.shop.sids)
            assert 0.8 * size.target <= open_now <= 1.2 * size.target, open_now
            if n % every == 0:
                self.checkpoint()

    def checkpoint(self) -> None:
        """R06, R22: every engine verifies its invariants; the followers agree in snapshot."""
        self.checkpoints += 1
        self.waiting.append(len(self.assigners[0].waiting()))
        for a in self.assigners:
            a.check()
            assert sorted(a.session_ids()) == sorted(self.shop.sids), "events and state differ"
        lead = self.assigners[0].snapshot()
        for name, other in zip(self.engines[1:], self.assigners[1:], strict=True):
            assert other.snapshot() == lead, f"R23: {name} snapshot differs"


def assert_rich(run: Run) -> None:
    """The run exercised every event kind, and few generated commands were wrong."""
    kinds = run.shop.kinds
    assert set(kinds) == {"Opened", "Assigned", "Queued", "Transferred", "ResponseTimedOut",
                          "Reassigned", "Requeued", "Closed"}, kinds
    assert run.aborts <= 0.05 * run.ops, f"{run.aborts} of {run.ops} commands failed"
    assert 0 < max(run.waiting) < run.shop.size.target, "some sessions wait, not all"


@contextmanager
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


# -- the tests ----------------------------------------------------------------------------

@pytest.mark.c_extension
@pytest.mark.parametrize("size", SIZES)
def test_R06_R22_R23_random_run_agrees_with_py_and_keeps_invariants(size: Size) -> None:
    """Two passes of random operations on the compiled engine, the Python engine in lockstep:
    equal events and aborts for every chunk, equal snapshots and clean check() (R06, R22,
    R23) at checkpoints and at the end."""
    require_engine("c")
    started = time.perf_counter()
    run = Run(size, seed=20240611, engines=("c", "py"))
    run.start()
    run.run_pass()
    run.run_pass()
    run.settle()
    run.checkpoint()
    assert_rich(run)
    print(f"\n[{size.target} open] {run.ops} operations, {run.aborts} aborted, "
          f"{run.checkpoints} checkpoints (waiting: {run.waiting}), c+py lockstep in "
          f"{time.perf_counter() - started:.1f}s; events {dict(run.shop.kinds)}")


@pytest.mark.c_extension
@pytest.mark.parametrize("size", SIZES)
def test_R16_memory_does_not_grow_over_a_second_pass(size: Size) -> None:
    """Traced memory (the engine's PyMem arrays included) after a second pass equals that after
    the first, at the same open-session count: no growth with history (R16)."""
    require_engine("c")
    started = time.perf_counter()
    with traced():
        run = Run(size, seed=7, engines=("c",))
        run.start()
        run.run_pass(checks=1)
        run.settle()
        run.shop.normalise()
        first = traced_now()
        run.run_pass(checks=1)
        run.settle()
        run.shop.normalise()
        second = traced_now()
    run.checkpoint()
    assert_rich(run)
    growth = (second - first) / first
    print(f"\n[{size.target} open] {run.ops} operations in {time.perf_counter() - started:.1f}s "
          f"(traced); traced memory after pass 1: {first} B, after pass 2: {second} B, "
          f"growth {growth:+.2%}")
    assert growth < size.growth


@pytest.mark.c_extension
@pytest.mark.parametrize("size", SIZES)
def test_R16_bytes_per_open_session(size: Size) -> None:
    """The Assigner's own memory per open session, id strings (held by the test) excluded."""
    require_engine("c")
    n = size.target
    rng = random.Random(3)
    ids = [f"session{i:06d}" for i in range(n)]
    with traced():
        a = Assigner(ManualClock(0.0), engine="c", first_response_timeout=60.0,
                     auto_close_after=300.0)
        a.apply([("add_agent", f"agent{i:03d}", rng.randint(4, 12), rng.choice(AGENT_GROUPS),
                  1, True) for i in range(size.agents)])
        opens = [("open_session", sid, None, rng.choice(GROUPS)) for sid in ids]
        messages = [("agent_message", sid, True) for sid in ids[::2]]
        closes = [("close_session", sid) for sid in ids]
        empty = traced_now()
        full = array("q", [0] * CYCLES)  # preallocated: readings must not allocate
        closed = array("q", [0] * CYCLES)
        for cycle in range(CYCLES):
            a.apply(opens)
            a.apply(messages)  # half the sessions also run an auto-close timer
            full[cycle] = traced_now()
            assert len(a.session_ids()) == n and 0 < len(a.waiting()) < n
            a.check()
            a.apply(closes)
            closed[cycle] = traced_now()
        assert a.session_ids() == []
    per_session = (full[-1] - empty) / n
    released = (full[-1] - closed[-2]) / n
    print(f"\n[{n} open, {size.agents} agents] bytes per open session: {per_session:.0f} "
          f"(open minus an empty Assigner), {released:.0f} (open minus all closed: capacity is "
          f"kept); traced with sessions open, per cycle: {list(full)}, closed: {list(closed)}")
    assert per_session <= 512
    assert released <= per_session
    # Reopening reuses the slots: at most one capacity step early on, then flat.
    assert full[-1] <= full[0] * 1.10 and closed[-1] <= closed[0] * 1.10
    settled = CYCLES // 2
    assert max(full[settled:]) - min(full[settled:]) <= 1024, list(full)
    assert max(closed[settled:]) - min(closed[settled:]) <= 1024, list(closed)
