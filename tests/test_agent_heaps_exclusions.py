"""The compiled engine's agent heaps skip excluded agents as the reference engine does.

When a session may not go to the agent at the top of a heap (it timed out on
that agent, R18; the agent has no room for the session's weight, R26), the
compiled engine searches the 4-ary heap for the smallest agent it may take.
These tests drive that search with many agents of equal keys, skill groups,
weighted kinds, first-response timeouts, transfers and a restore from a
snapshot mid-stream: events and snapshots must equal the reference engine's,
and ``check`` (each heap entry's copy of its agent's key, heap order) must
pass after every batch.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, Cap, ManualClock, Strategy
from test_agent_heaps import applied_and_checked

Tuple = tuple[Any, ...]
AGENTS = [f"a{i}" for i in range(30)]
SESSIONS = [f"s{i}" for i in range(80)]
GROUPS = [None, "g1", "g2"]
KINDS = {"big": 2, "huge": 3}

agent = st.sampled_from(AGENTS)
session = st.sampled_from(SESSIONS)
command = st.one_of(
    st.tuples(st.just("open_session"), session, st.sampled_from(["b1", "b2", "b3"]),
              st.sampled_from(GROUPS), st.integers(0, 1),
              st.sampled_from([None, "big", "huge"])),
    st.tuples(st.just("open_session"), session, st.just("b0"), st.sampled_from(GROUPS),
              st.just(0), st.sampled_from(["big", "huge"])),
    st.tuples(st.just("open_session"), session, st.just("b0"), st.just(None),
              st.just(0), st.sampled_from(["big", "huge"])),
    st.tuples(st.just("close_session"), session),
    st.tuples(st.just("agent_message"), session),
    st.tuples(st.just("buyer_message"), session),
    st.tuples(st.just("transfer"), session, agent),
    st.tuples(st.just("assign"), session, agent),
    st.tuples(st.just("at"), st.integers(1, 40)),
    st.tuples(st.just("tick")),
    st.tuples(st.just("set_cap"), agent,
              st.sampled_from([Cap.limit(1), Cap.limit(2), Cap.limit(4), Cap.UNLIMITED,
                               Cap.SUSPENDED])),
    st.tuples(st.just("set_weight"), agent, st.integers(0, 3)),
    st.tuples(st.just("agent_offline"), agent, st.booleans()),
    st.tuples(st.just("agent_online"), agent),
    st.tuples(st.just("agent_away"), agent),
    st.tuples(st.just("remove_agent"), agent),
    st.tuples(st.just("add_agent"), agent, st.sampled_from([Cap.limit(3), Cap.UNLIMITED]),
              st.sampled_from([None, ("g1",), ("g2",), ("g1", "g2")]), st.just(1),
              st.just(True)),
)


def shop_of(engine: str, strategy: Strategy, agents: int, grouped: bool) -> Assigner:
    shop = Assigner(ManualClock(0.0), engine=engine, strategy=strategy,  # type: ignore[arg-type]
                    first_response_timeout=15.0, auto_close_after=None,
                    session_kinds=KINDS)
    groups: list[Any] = [None, ("g1",), ("g2",), ("g1", "g2")]
    caps = [1, 4, 2, 1, 3, 6, 1]  # the least loaded agents often lack room for a kind
    shop.apply([("add_agent", aid, Cap.limit(caps[i % 7]), groups[i % 4 if grouped else 0],
                 1 + i % 3, True)
                for i, aid in enumerate(AGENTS[:agents])])
    return shop


def run(engine: str, strategy: Strategy, agents: int, grouped: bool,
        batches: list[list[Tuple]], restore_at: int) -> tuple[list[Any], Any]:
    shop = shop_of(engine, strategy, agents, grouped)
    out: list[Any] = []
    t = 0.0
    for i, batch in enumerate(batches):
        if i == restore_at:
            shop = Assigner.restore(shop.snapshot(), ManualClock(shop.time),
                                    engine=engine)  # type: ignore[arg-type]
            shop.check()
        timed = []
        for cmd in batch:
            if cmd[0] == "at":
                t += cmd[1]
                cmd = ("at", t)
            timed.append(cmd)
        out.append(applied_and_checked(shop, timed))
    return out, shop.snapshot()


@pytest.mark.parametrize("strategy", [Strategy.LEAST_LOAD, Strategy.WEIGHTED,
                                      Strategy.ROUND_ROBIN])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agents=st.integers(1, 30), grouped=st.booleans(),
       batches=st.lists(st.lists(command, min_size=1, max_size=16), max_size=8),
       restore_at=st.integers(0, 8))
def test_r18_r26_exclusions_in_deep_heaps_route_as_the_reference(
        strategy: Strategy, agents: int, grouped: bool, batches: list[list[Tuple]],
        restore_at: int) -> None:
    require_engine("c")
    assert (run("c", strategy, agents, grouped, batches, restore_at)
            == run("py", strategy, agents, grouped, batches, restore_at))
