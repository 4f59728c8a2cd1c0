"""The engines side by side (pytest-benchmark; ``--benchmark-group-by=func``).

    python -m pytest benchmarks/bench_assigner.py --benchmark-group-by=func

The workloads live in :mod:`kefu.bench` (``python -m kefu bench`` prints the
same comparison without pytest):

* ``test_open_close``: steady 2,000 or 20,000 open sessions, 20/200/2000
  agents; one iteration = one close_session + one open_session through the
  public API (so per call is half the time shown).
* ``test_drain_backlog``: 2,000 sessions in the offline pool, agents come
  online one by one and take them all.
* ``test_replay``: one ``Assigner.apply`` over 10^6 recorded commands.
* ``test_open_close_facade``: ``test_open_close`` at 200 agents and 2,000 open
  sessions through the compiled facade and through the Python reference
  facade (``kefu._facade.python_facade``), on the same engine in one run.

Contenders: the C engine (when built), the Python engine, and the naive
baseline that scans every agent per assignment, as most chat backends do
(left out where it would take minutes: 20,000 open sessions, the replay).
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import CONTENDERS, only_when_timed
from kefu import Assigner
from kefu._facade import COMPILED, python_facade
from kefu.bench import Churn, backlog_shop, drain, replay_commands, replay_shop

AGENT_COUNTS = [20, 200, 2000]
OPEN_COUNTS = [2000, 20000]
REPLAY = 1_000_000
SMOKE = 20_000


@pytest.mark.parametrize("open_sessions", OPEN_COUNTS)
@pytest.mark.parametrize("agents", AGENT_COUNTS)
@pytest.mark.parametrize("engine", CONTENDERS)
def test_open_close(benchmark: Any, engine: str, agents: int, open_sessions: int) -> None:
    if engine == "naive" and open_sessions > 2000:
        pytest.skip("the naive scan takes minutes to warm up 20,000 sessions")
    only_when_timed(benchmark.disabled and engine == "naive" and agents == 2000,
                    "the naive scan runs at 20 and 200 agents")
    benchmark.extra_info.update(engine=engine, agents=agents, open_sessions=open_sessions)
    churn = Churn(engine, agents, open_sessions)
    benchmark(churn.step)
    churn.shop.check()
    assert len(churn.shop.session_ids()) == open_sessions


@pytest.mark.parametrize("facade", ["compiled", "python"])
@pytest.mark.parametrize("engine", [e for e in CONTENDERS if e != "naive"])
def test_open_close_facade(benchmark: Any, engine: str, facade: str) -> None:
    if facade == "compiled" and not COMPILED:
        pytest.skip("the compiled facade is not built")
    benchmark.extra_info.update(engine=engine, facade=facade)
    churn = Churn(engine, 200, 2000)
    if facade == "python":
        churn.shop.__class__ = python_facade(Assigner)
    benchmark(churn.step)
    churn.shop.check()
    assert len(churn.shop.session_ids()) == 2000


@pytest.mark.parametrize("agents", AGENT_COUNTS)
@pytest.mark.parametrize("engine", CONTENDERS)
def test_drain_backlog(benchmark: Any, engine: str, agents: int) -> None:
    only_when_timed(benchmark.disabled and engine == "naive",
                    "the other engines run the same drain")
    benchmark.extra_info.update(engine=engine, agents=agents, backlog=2000)
    handed = benchmark.pedantic(drain, setup=lambda: ((backlog_shop(engine, agents),), {}),
                                rounds=3)
    assert handed == 2000


_REPLAYS: dict[int, list[tuple[object, ...]]] = {}


def _commands(benchmark: Any) -> list[tuple[object, ...]]:
    """The replay, made once per size; SMOKE-sized when ``benchmark`` does not time
    (``benchmark.disabled``: ``--benchmark-disable``, as bench_columns and bench_table)."""
    n = SMOKE if benchmark.disabled else REPLAY
    if n not in _REPLAYS:
        _REPLAYS.clear()
        _REPLAYS[n] = replay_commands(n)
    return _REPLAYS[n]


@pytest.mark.parametrize("engine", [e for e in CONTENDERS if e != "naive"])
def test_replay(benchmark: Any, engine: str) -> None:
    commands = _commands(benchmark)
    benchmark.extra_info.update(engine=engine, commands=len(commands))
    events = benchmark.pedantic(lambda shop: shop.apply(commands),
                                setup=lambda: ((replay_shop(engine),), {}), rounds=2)
    assert len(events) > len(commands) // 3
