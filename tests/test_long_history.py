"""Per-call cost and memory follow live state, never history (both fast engines).

Two long runs of a busy shop, on the compiled and the pure-Python engine (the
naive model scans everything by design and would take hours):

* **distinct groups**: every five sessions bring a new group name, and
  specialist agents come and go serving the newest names, so the shop sees
  one new name per ten operations while only a few dozen are live; agents
  serving every group drain a steady backlog.
* **steady backlog**: agents with skill groups, a backlog of sessions waiting
  all along, first-response timeouts (R18), auto close (R17), sticky return
  (R13) and timer ticks.

What is pinned, at each tenth of a run:

* the engine's tables (``_footprint()``: interned names, per-group arrays,
  indexes, slots, timer heap...) stay bounded by the live shop, not by the
  operations done: at the end they are within 2x (+64) of the first tenth,
  and within a bound computed from the live sizes alone. The compiled engine
  knows exactly the live group names. This is deterministic;
* ``check()`` passes (the new reference counts and lists included);
* the per-operation CPU time of the last tenth is within 1.5x of the first
  (process time; the lower quartile of twenty chunks each, since other work
  on the machine only slows chunks down; a run that misses is tried again).

The default suite runs each at 80,000 operations (8,000 distinct names), big
enough that the engines' former history costs (a loop over every group ever
named; a zero count and an empty index per group ever served) fail both
checks; ``--soak`` runs 10^6 operations (10^5 distinct names).
"""

from __future__ import annotations

import random
import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, ManualClock, Strategy
from kefu.assigner import ENGINES
from kefu.errors import KefuError
from kefu.events import Assigned, Closed, Event, Queued, Reassigned, Requeued, Transferred

SMOKE_OPS = 80_000
SOAK_OPS = 1_000_000
OPS = [pytest.param(SMOKE_OPS, id="smoke"),
       pytest.param(SOAK_OPS, id="soak", marks=pytest.mark.soak)]
TENTHS = 10
CHUNKS_PER_TENTH = 20
MAX_SLOWDOWN = 1.5
ATTEMPTS = 3
#: Tables count entries, and buffers start at 16-64 entries: the absolute bound is this many
#: entries per live thing (session, agent, group an agent serves, buyer in sticky memory).
ROOM_PER_THING = 64


@pytest.fixture(params=["py", pytest.param("c", marks=pytest.mark.c_extension)])
def fast_engine(request: pytest.FixtureRequest) -> str:
    """The engines meant for long runs: compiled and pure Python."""
    return require_engine(request.param)


def live_groups(shop: Assigner) -> set[str]:
    """Group names an agent serves or an open session has, from the snapshot."""
    state = shop.snapshot()["state"]
    names = {g for a in state["agents"] for g in (a["groups"] or ())}
    return names | {s["group"] for s in state["sessions"] if s["group"] is not None}


class Driver:
    """A shop plus what its events say about it (R21): where each session is."""

    def __init__(self, engine: str, **config: Any) -> None:
        self.clock = ManualClock(0.0)
        self.shop = Assigner(self.clock, engine=engine, **config)  # type: ignore[arg-type]
        self.place: dict[str, str | None] = {}  # open session -> agent id, None while waiting
        self.assigned: deque[str] = deque()  # in order of (last) hand-over; may hold stale ids
        self.serial = 0
        self.ops = 0

    def observe(self, events: list[Event]) -> None:
        for e in events:
            kind = type(e)
            if kind is Assigned:
                self.place[e.session_id] = e.agent_id  # type: ignore[union-attr]
                self.assigned.append(e.session_id)
            elif kind is Queued or kind is Requeued:
                self.place[e.session_id] = None
            elif kind is Transferred or kind is Reassigned:
                self.place[e.session_id] = e.to_agent  # type: ignore[union-attr]
                self.assigned.append(e.session_id)
            elif kind is Closed:
                del self.place[e.session_id]

    def call(self, method: Callable[..., list[Event]], *args: Any, **kwargs: Any) -> None:
        self.ops += 1
        self.observe(method(*args, **kwargs))

    def open(self, group: str | None, buyer: str | None = None, priority: int = 0) -> str:
        self.serial += 1
        sid = f"s{self.serial}"
        self.call(self.shop.open_session, sid, buyer, group, priority)
        return sid

    def close_oldest_assigned(self) -> None:
        while self.assigned:
            sid = self.assigned.popleft()
            if self.place.get(sid) is not None:
                self.call(self.shop.close_session, sid)
                return

    def live_groups(self) -> set[str]:
        return live_groups(self.shop)


class Workload(NamedTuple):
    config: dict[str, Any]
    setup: Callable[[Driver, random.Random], None]
    step: Callable[[Driver, random.Random], None]
    live_bound: int  # sessions + agents + groups they serve + buyers, at most, at once


# -- distinct group names ---------------------------------------------------------------

NAMES_PER = 5  # sessions per group name
SPECIALISTS = 4
CHURN_EVERY = 20  # steps between one specialist leaving and a new one joining


def _group(d: Driver) -> str:
    return f"g{d.serial // NAMES_PER}"


def _specialist(d: Driver) -> None:
    newest = d.serial // NAMES_PER
    d.call(d.shop.add_agent, f"spec{d.ops}", 2, [f"g{newest}", f"g{newest + 1}"],
           online=True)


def _distinct_setup(d: Driver, rng: random.Random) -> None:
    for i in range(2):
        d.call(d.shop.add_agent, f"all{i}", 3, None, online=True)
    for _ in range(SPECIALISTS):
        _specialist(d)
    for _ in range(40):  # the backlog: everyone is full
        d.open(_group(d))


def _distinct_step(d: Driver, rng: random.Random) -> None:
    d.open(_group(d))
    d.close_oldest_assigned()
    if d.serial % CHURN_EVERY == 0:
        oldest = next(a for a in d.shop.agent_ids() if a.startswith("spec"))
        d.call(d.shop.remove_agent, oldest)
        _specialist(d)


DISTINCT = Workload({"auto_close_after": None}, _distinct_setup, _distinct_step,
                    live_bound=40 + 2 * 3 + SPECIALISTS * 2 + 2 + SPECIALISTS * 3)


# -- steady backlog with skill groups -------------------------------------------------------

SKILLS = ["pre", "post", "vip", "refund"]
SKILLED_AGENTS = 24
CAP = 3
BACKLOG = 60
TARGET_OPEN = SKILLED_AGENTS * CAP + BACKLOG


def _backlog_setup(d: Driver, rng: random.Random) -> None:
    for i in range(SKILLED_AGENTS):
        groups = None if i % 6 == 0 else rng.sample(SKILLS, rng.randint(1, 2))
        d.call(d.shop.add_agent, f"agent{i}", CAP, groups, online=True)


def _backlog_step(d: Driver, rng: random.Random) -> None:
    d.clock.advance(0.5)
    while len(d.place) < TARGET_OPEN:
        d.open(rng.choice(SKILLS), f"buyer{rng.randrange(400)}", rng.choice((0, 0, 0, 1)))
    if d.assigned and rng.random() < 0.5:
        newest = d.assigned[-1]
        if d.place.get(newest) is not None:
            d.call(d.shop.agent_message, newest)  # answers: stops R18, starts auto close
    d.call(d.shop.tick)
    d.close_oldest_assigned()


BACKLOGGED = Workload(
    {"first_response_timeout": 30.0, "auto_close_after": 300.0, "sticky_window": 120.0},
    _backlog_setup, _backlog_step, live_bound=TARGET_OPEN + SKILLED_AGENTS * 3 + 400,
)


# -- the run ---------------------------------------------------------------------------------


class Tenth(NamedTuple):
    op_seconds: float  # CPU seconds per operation: lower quartile of its chunks
    footprint: dict[str, int]
    live_groups: set[str]


def run(engine: str, workload: Workload, ops: int, seed: int = 7) -> list[Tenth]:
    """Drive ``ops`` operations; per tenth, the cost per op and the engine's tables."""
    d = Driver(engine, **workload.config)
    rng = random.Random(seed)
    workload.setup(d, rng)
    chunk_ops = max(1, ops // (TENTHS * CHUNKS_PER_TENTH))
    step = workload.step
    tenths = []
    for _ in range(TENTHS):
        per_op = []
        for _ in range(CHUNKS_PER_TENTH):
            start_ops = d.ops
            start = time.process_time()
            while d.ops - start_ops < chunk_ops:
                step(d, rng)
            per_op.append((time.process_time() - start) / (d.ops - start_ops))
        d.shop.check()
        footprint = d.shop._engine._footprint()  # type: ignore[attr-defined]
        # Other work on the machine only ever slows a chunk down: the lower quartile reads
        # the shop's own cost, and is not one lucky chunk either.
        quartile = statistics.quantiles(per_op, n=4)[0]
        tenths.append(Tenth(quartile, footprint, d.live_groups()))
    return tenths


def assert_tables_follow_live_state(engine: str, workload: Workload, tenths: list[Tenth]) -> None:
    first, last = tenths[0].footprint, tenths[-1].footprint
    for name, size in last.items():
        assert size <= 2 * first[name] + 64, (
            f"{engine}: table {name!r} grew with history: {first[name]} -> {size}")
    bound = ROOM_PER_THING * workload.live_bound
    for tenth in tenths:
        for name, size in tenth.footprint.items():
            assert size <= bound, f"{engine}: table {name!r} holds {size} > {bound} live things"
        if "group_names" in tenth.footprint:  # the compiled engine interns names
            assert tenth.footprint["group_names"] == len(tenth.live_groups), (
                "interned group names are exactly the live ones")


def slowdown(tenths: list[Tenth]) -> float:
    return tenths[-1].op_seconds / tenths[0].op_seconds


def check_long_run(engine: str, workload: Workload, ops: int) -> None:
    ratios = []
    for attempt in range(ATTEMPTS):
        tenths = run(engine, workload, ops)
        if attempt == 0:
            assert_tables_follow_live_state(engine, workload, tenths)
        ratios.append(slowdown(tenths))
        if ratios[-1] <= MAX_SLOWDOWN:
            return
    pytest.fail(f"{engine}: per-operation time of the last tenth over the first: {ratios}"
                f" (allowed {MAX_SLOWDOWN})")


@pytest.mark.parametrize("ops", OPS)
def test_R16_cost_and_memory_ignore_how_many_group_names_were_seen(
    fast_engine: str, ops: int
) -> None:
    check_long_run(fast_engine, DISTINCT, ops)


@pytest.mark.parametrize("ops", OPS)
def test_R16_cost_and_memory_stay_flat_under_a_steady_backlog(fast_engine: str, ops: int) -> None:
    check_long_run(fast_engine, BACKLOGGED, ops)


def test_R16_a_group_name_is_forgotten_once_unused_and_its_slot_reused() -> None:
    """The compiled engine's table of names holds exactly the live ones; a new name
    takes a freed gid rather than growing the table."""
    d = Driver(require_engine("c"), auto_close_after=None)
    footprint = d.shop._engine._footprint  # type: ignore[attr-defined]
    d.call(d.shop.add_agent, "x", 1, ["kept"], online=True)
    for n in range(200):
        sid = d.open(f"once{n}")
        assert footprint()["group_names"] == 2
        d.call(d.shop.close_session, sid)
        assert footprint()["group_names"] == 1
    assert footprint()["group_ids"] == 2, "a freed gid is reused"
    d.call(d.shop.remove_agent, "x")
    assert footprint()["group_names"] == 0
    d.shop.check()


# -- forgetting names is invisible (R23) -----------------------------------------------------

NAMES = [f"g{i}" for i in range(6)]
IDS = ["A", "B", "C", "D"]
SIDS = [f"s{i}" for i in range(10)]
_group_sets = st.one_of(st.none(), st.frozensets(st.sampled_from(NAMES), max_size=3))
_commands = st.one_of(
    st.tuples(st.just("add_agent"), st.sampled_from(IDS), st.integers(1, 3), _group_sets,
              st.booleans()),
    st.tuples(st.just("remove_agent"), st.sampled_from(IDS)),
    st.tuples(st.just("agent_online"), st.sampled_from(IDS)),
    st.tuples(st.just("agent_offline"), st.sampled_from(IDS), st.booleans()),
    st.tuples(st.just("open_session"), st.sampled_from(SIDS),
              st.sampled_from([None, *NAMES]), st.integers(0, 2)),
    st.tuples(st.just("close_session"), st.sampled_from(SIDS)),
    st.tuples(st.just("assign"), st.sampled_from(SIDS), st.sampled_from(IDS)),
    st.tuples(st.just("transfer"), st.sampled_from(SIDS), st.sampled_from(IDS)),
    st.tuples(st.just("wait"), st.sampled_from([1.0, 20.0, 45.0])),
)


def _run_command(shop: Assigner, clock: ManualClock, command: tuple[Any, ...]) -> object:
    """The command's events, or its error's type and message."""
    name, *args = command
    try:
        if name == "wait":
            clock.advance(args[0])
            return shop.tick()
        if name == "add_agent":
            agent, cap, groups, online = args
            return shop.add_agent(agent, cap, groups, online=online)
        if name == "agent_offline":
            return shop.agent_offline(args[0], requeue=args[1])
        if name == "open_session":
            return shop.open_session(args[0], None, args[1], args[2])
        return getattr(shop, name)(*args)
    except KefuError as exc:
        return (type(exc), str(exc))


@given(strategy=st.sampled_from(list(Strategy)), diversion=st.booleans(),
       commands=st.lists(_commands, max_size=80))
def test_R23_forgetting_and_reusing_group_names_changes_nothing_observable(
    strategy: Strategy, diversion: bool, commands: list[tuple[Any, ...]]
) -> None:
    """Six names, agents and sessions coming and going: gids are freed and reused in
    every order, yet every engine gives the naive model's events, errors and snapshot."""
    engines = [e for e in ("naive", "py", "c") if e in ENGINES]
    clocks = [ManualClock(0.0) for _ in engines]
    shops = [Assigner(clock, strategy, diversion, auto_close_after=60.0,
                      first_response_timeout=30.0, engine=e)  # type: ignore[arg-type]
             for e, clock in zip(engines, clocks, strict=True)]
    for command in commands:
        results = [_run_command(shop, clock, command)
                   for shop, clock in zip(shops, clocks, strict=True)]
        assert all(r == results[0] for r in results), f"{command}: {results}"
    for shop in shops:
        shop.check()
        assert shop.snapshot() == shops[0].snapshot()
        assert shop.waiting() == shops[0].waiting()
        if shop.engine == "c":
            names = shop._engine._footprint()["group_names"]  # type: ignore[attr-defined]
            assert names == len(live_groups(shop)), "interned names are exactly the live ones"
