"""Away and back (R27), opens against queue limits (R28), queue position and wait
estimates (R25) and escalation ladders (R24), at 2,000 agents and 20,000 waiting
sessions (pytest-benchmark; ``--benchmark-group-by=func``).

    python -m pytest benchmarks/bench_routing.py --benchmark-group-by=func

Every agent is full (cap 5: 10,000 assigned sessions) and 20,000 sessions wait,
10,000 in each of the groups "presale" and "general"; half the agents serve
each group. Each test compares a workload with the feature against the same
workload without it, in one run, so the ratio is the feature's cost:

* ``test_away_back``: one iteration = an agent goes away, closes a session
  (no drain: away), comes back (drains one waiting session), and one new
  session opens (it waits), against close + open.
* ``test_open_limited``: one iteration = a presale session opens against
  the limit (``max_waiting`` reached: it overflows to "general" and waits
  there; or ``max_wait`` passed, the same), then it is closed from the
  pool, against an open + close without limits.

* ``test_position``: one call of ``position()`` or ``estimated_wait()`` for
  the next waiting session of the presale line (cycling through its 9,800;
  the line has moved 200 places, so every estimate is a number), against
  ``scan``: the place found from ``waiting()``, what a backend does without
  R25 (O(w log w) per call).
* ``test_line_bookkeeping``: R25 keeps each line ranked and its latest
  hand-overs on every wait, hand-over and close. One iteration = close an
  assigned session (its agent takes the head of the line: a hand-over), open
  two new ones (they wait), close the first (a buyer gives up). With
  ``KEFU_BENCH_BEFORE=path`` naming a compiled engine built from the
  sources before R25 (the module ``_engine_c``, as ``pip install -e .``
  builds it), that engine runs the same work as ``c_before``: the ratio
  c / c_before is the bookkeeping's cost, in one run.

* ``test_widen``: one iteration = one waiting presale session reaches the
  step of its ladder that adds "general" (whose agents are full: it stays
  waiting, filed in the general agents' widened line), fired by ``tick()`` at
  its deadline; against ``tick_nothing``, a ``tick()`` with nothing due.
* ``test_open_close_ladder``: one iteration = a presale session opens (it
  waits, and with a ladder its first step's timer starts) and is closed from
  the pool, in a shop with no ladder and in one with a two-step ladder. With
  ``KEFU_BENCH_BEFORE`` (as above, built from the sources before R24),
  ``c_before`` runs the no-ladder work on that engine: c / c_before is what
  R24 costs a shop that does not use it.

* ``test_hand_over_kinds`` (R26): one iteration = an agent closes one of
  its sessions and takes the head of its group's line (a drain), and a new
  session opens (it waits). ``no_kinds`` is today's shop; ``kinds`` has
  ``session_kinds={"chat": 1, "dispute": 2}`` with every fourth session a
  dispute, so drains skip disputes that do not fit; ``c_before`` (with
  ``KEFU_BENCH_BEFORE`` built from the sources before R26) runs the
  no-kinds work on that engine: c / c_before is what R26 costs a shop that
  does not use it.

The C and Python engines only: the naive model scans 20,000 sessions per
open.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from typing import Any

import pytest

from conftest import CONTENDERS
from kefu import Assigner, LadderStep, ManualClock, QueueLimit

AGENTS = 2000
CAP = 5
WAITING = 20_000
ENGINES = [e for e in CONTENDERS if e != "naive"]


def _engine_before() -> Any:
    """The ``Engine`` class of the compiled module at ``KEFU_BENCH_BEFORE``, or None."""
    path = os.environ.get("KEFU_BENCH_BEFORE")
    if not path:
        return None
    spec = importlib.util.spec_from_file_location("kefu_before._engine_c", path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.Engine


ENGINE_BEFORE = _engine_before()


def full_shop(engine: str, limits: dict[str, QueueLimit] | None,
              ladders: dict[str, list[LadderStep]] | None = None, spread: float = 0.0,
              kinds: dict[str, int] | None = None) -> Assigner:
    """2,000 full agents and 20,000 waiting sessions, built in one batch (session n opens
    at ``n * spread`` seconds; with ``kinds``, every fourth session is a dispute)."""
    groups = ("presale", "general")
    commands: list[tuple[object, ...]] = [
        ("add_agent", f"a{i}", CAP, [groups[i % 2]], 1, True) for i in range(AGENTS)]
    for n in range(AGENTS * CAP + WAITING):
        if spread:
            commands.append(("at", n * spread))
        commands.append(("open_session", f"s{n}", f"b{n}", groups[n % 2], 0)
                        + ((("dispute" if n % 4 == 3 else "chat"),) if kinds else ()))
    shop = Assigner(ManualClock(0.0), engine=engine,  # type: ignore[arg-type]
                    auto_close_after=None, queue_limits=limits, ladders=ladders,
                    session_kinds=kinds)
    shop.apply(commands)
    assert kinds or len(shop.waiting()) == WAITING
    return shop


class AwayBack:
    """Agent a<k> (cycling) goes away, closes a session, comes back, draining one."""

    def __init__(self, engine: str, away: bool) -> None:
        self.shop = full_shop(engine, None)
        self.away = away
        self.agents = itertools.cycle(range(0, AGENTS, 2))  # presale agents
        self.fresh = itertools.count(AGENTS * CAP + WAITING)

    def step(self) -> None:
        shop = self.shop
        agent = f"a{next(self.agents)}"
        if self.away:
            shop.agent_away(agent)
        shop.close_session(shop.reception_list(agent)[0])
        if self.away:
            shop.agent_online(agent)
        n = next(self.fresh)
        shop.open_session(f"s{n}", f"b{n}", "presale")


class OpenLimited:
    """A presale session opens (overflowing when limited) and is closed from its pool."""

    def __init__(self, engine: str, limit: str) -> None:
        limits = {
            "none": None,
            "count": {"presale": QueueLimit(max_waiting=WAITING // 2, overflow="general")},
            "wait": {"presale": QueueLimit(max_wait=1.0, overflow="general")},
        }[limit]
        self.shop = full_shop(engine, limits)
        self.shop.clock.set(10.0)  # type: ignore[attr-defined]
        self.fresh = itertools.count(AGENTS * CAP + WAITING)

    def step(self) -> None:
        n = next(self.fresh)
        self.shop.open_session(f"s{n}", None, "presale")
        self.shop.close_session(f"s{n}")


@pytest.mark.parametrize("away", [False, True], ids=["close_open", "away_close_back_open"])
@pytest.mark.parametrize("engine", ENGINES)
def test_away_back(benchmark: Any, engine: str, away: bool) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING, away=away)
    work = AwayBack(engine, away)
    benchmark(work.step)
    assert len(work.shop.waiting()) == WAITING


@pytest.mark.parametrize("limit", ["none", "count", "wait"])
@pytest.mark.parametrize("engine", ENGINES)
def test_open_limited(benchmark: Any, engine: str, limit: str) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING, limit=limit)
    work = OpenLimited(engine, limit)
    benchmark(work.step)
    events = work.shop.open_session("probe", None, "presale")
    overflowed = [type(e).__name__ for e in events] == ["Opened", "Overflowed", "Queued"]
    assert overflowed == (limit != "none")


class Positions:
    """The full shop after 200 presale hand-overs, one a second; queries cycle the line."""

    def __init__(self, engine: str) -> None:
        self.shop = full_shop(engine, None)
        clock = self.shop.clock
        for n in range(0, 2 * 200, 2):  # s0, s2, ... are presale sessions held by agents
            clock.advance(1.0)  # type: ignore[attr-defined]
            self.shop.close_session(f"s{n}")
        self.line = [s for s in self.shop.waiting() if int(s[1:]) % 2 == 0]  # presale
        self.waiting = itertools.cycle(self.line)

    def position(self) -> None:
        self.shop.position(next(self.waiting))

    def estimated_wait(self) -> None:
        self.shop.estimated_wait(next(self.waiting))

    def scan(self) -> None:
        sid = next(self.waiting)
        group = self.shop.session(sid).group
        line = [s for s in self.shop.waiting() if self.shop.session(s).group == group]
        line.index(sid)


@pytest.mark.parametrize("query", ["position", "estimated_wait", "scan"])
@pytest.mark.parametrize("engine", ENGINES)
def test_position(benchmark: Any, engine: str, query: str) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING, query=query)
    work = Positions(engine)
    if query == "scan":
        benchmark.pedantic(work.scan, rounds=5, iterations=1)
    else:
        benchmark(getattr(work, query))
    probe = work.line[-1]
    assert work.shop.position(probe) == WAITING // 2 - 200
    assert work.shop.estimated_wait(probe) is not None


class LineBookkeeping:
    """Close an assigned session (a hand-over), open two (they wait), close the first of
    them (a buyer gives up): the line keeps its length."""

    def __init__(self, engine: str) -> None:
        before = engine == "c_before"
        self.shop = full_shop("c" if before else engine, None)
        if before:  # the same shop, state and all, on the engine built before R25
            data = self.shop.snapshot()
            self.shop = Assigner(self.shop.clock, auto_close_after=None, engine="c")
            self.shop._engine = ENGINE_BEFORE(self.shop.config)
            self.shop._engine.restore_state(data["state"], data["taken_at"])
        self.agents = itertools.cycle(range(AGENTS))
        self.fresh = itertools.count(AGENTS * CAP + WAITING)
        self.groups = ("presale", "general")

    def step(self) -> None:
        shop = self.shop
        k = next(self.agents)
        shop.clock.advance(0.001)  # type: ignore[attr-defined]
        shop.close_session(shop.reception_list(f"a{k}")[0])
        n, m = next(self.fresh), next(self.fresh)
        shop.open_session(f"s{n}", None, self.groups[k % 2])
        shop.open_session(f"s{m}", None, self.groups[k % 2])
        shop.close_session(f"s{n}")


@pytest.mark.parametrize(
    "engine", [*ENGINES, *(["c_before"] if ENGINE_BEFORE is not None else [])])
def test_line_bookkeeping(benchmark: Any, engine: str) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING)
    work = LineBookkeeping(engine)
    benchmark(work.step)
    assert len(work.shop.waiting()) == WAITING


# -- R24: escalation ladders ------------------------------------------------------------

LADDER = {"presale": [LadderStep(60.0, {"general"}), LadderStep(3600.0, None)]}


class Widen:
    """Each step fires the next presale session's first ladder step (one widening)."""

    def __init__(self, engine: str, widen: bool) -> None:
        self.shop = full_shop(engine, None, LADDER, spread=0.001)
        self.widen = widen
        self.steps = 0  # however many rounds the benchmark ran (one, when timings are off)

    def step(self) -> None:
        self.steps += 1
        shop = self.shop
        deadline = shop.next_deadline()
        assert deadline is not None
        if self.widen:
            shop.clock.set(deadline)  # type: ignore[attr-defined]
        shop.tick()


@pytest.mark.parametrize("widen", [True, False], ids=["widen", "tick_nothing"])
@pytest.mark.parametrize("engine", ENGINES)
def test_widen(benchmark: Any, engine: str, widen: bool) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING, widen=widen)
    work = Widen(engine, widen)
    benchmark.pedantic(work.step, rounds=2000, iterations=1, warmup_rounds=10)
    escalated = sum(work.shop.session(s).step for s in work.shop.waiting())
    assert escalated == (work.steps if widen else 0)
    assert len(work.shop.waiting()) == WAITING


class OpenClose:
    """A presale session opens (it waits) and is closed from the pool."""

    def __init__(self, engine: str, ladder: bool) -> None:
        before = engine == "c_before"
        self.shop = full_shop("c" if before else engine, None, LADDER if ladder else None)
        if before:  # the same shop, state and all, on the engine built before R24
            data = self.shop.snapshot()
            self.shop = Assigner(self.shop.clock, auto_close_after=None, engine="c")
            self.shop._engine = ENGINE_BEFORE(self.shop.config)
            self.shop._engine.restore_state(data["state"], data["taken_at"])
        self.fresh = itertools.count(AGENTS * CAP + WAITING)

    def step(self) -> None:
        n = next(self.fresh)
        self.shop.open_session(f"s{n}", None, "presale")
        self.shop.close_session(f"s{n}")


@pytest.mark.parametrize(
    ("engine", "ladder"),
    [*((e, ladder) for e in ENGINES for ladder in (False, True)),
     *([("c_before", False)] if ENGINE_BEFORE is not None else [])],
    ids=lambda v: {True: "ladder", False: "no_ladder"}.get(v, v) if type(v) is bool else v)
def test_open_close_ladder(benchmark: Any, engine: str, ladder: bool) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING, ladder=ladder)
    work = OpenClose(engine, ladder)
    benchmark(work.step)
    assert len(work.shop.waiting()) == WAITING


KINDS = {"chat": 1, "dispute": 2}


class HandOver:
    """An agent closes a session and drains one from its line; a new session waits."""

    def __init__(self, engine: str, kinds: bool) -> None:
        before = engine == "c_before"
        self.shop = full_shop("c" if before else engine, None, kinds=KINDS if kinds else None)
        if before:  # the same shop, state and all, on the engine built before R26
            data = self.shop.snapshot()
            self.shop = Assigner(self.shop.clock, auto_close_after=None, engine="c")
            self.shop._engine = ENGINE_BEFORE(self.shop.config)
            self.shop._engine.restore_state(data["state"], data["taken_at"])
        self.kinds = kinds
        self.fresh = itertools.count(AGENTS * CAP + WAITING)
        self.agents = itertools.cycle([f"a{i}" for i in range(AGENTS)])

    def step(self) -> None:
        shop = self.shop
        agent = next(self.agents)
        shop.close_session(shop.reception_list(agent)[0])
        n = next(self.fresh)
        if self.kinds:
            shop.open_session(f"s{n}", None, ("presale", "general")[n % 2], 0,
                              "dispute" if n % 4 == 3 else "chat")
        else:
            shop.open_session(f"s{n}", None, ("presale", "general")[n % 2])


@pytest.mark.parametrize(
    ("engine", "kinds"),
    [*((e, kinds) for e in ENGINES for kinds in (False, True)),
     *([("c_before", False)] if ENGINE_BEFORE is not None else [])],
    ids=lambda v: {True: "kinds", False: "no_kinds"}.get(v, v) if type(v) is bool else v)
def test_hand_over_kinds(benchmark: Any, engine: str, kinds: bool) -> None:
    benchmark.extra_info.update(engine=engine, agents=AGENTS, waiting=WAITING, kinds=kinds)
    work = HandOver(engine, kinds)
    benchmark(work.step)
    assert work.shop.waiting()
