"""The compiled engine's agent indexes route as the reference engine does (R11).

The compiled engine keeps LEAST_LOAD and WEIGHTED agents in 4-ary min-heaps whose
entries carry a copy of the agent's strategy key (so a sift compares entries, not
agent records). These tests drive shops big enough for several heap levels,
with many equal loads (the ties fall to the last automatic assignment, then to
registration), through every command that changes a key or an agent's place:
selection, events and snapshots must equal the reference engine's, and
``check`` (which compares each entry's copy with its agent's key and the heap
order) must pass after every batch.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_engine
from kefu import Assigner, Cap, ManualClock, Strategy
from kefu.errors import BatchAborted

Tuple = tuple[Any, ...]
AGENTS = [f"a{i}" for i in range(40)]
SESSIONS = [f"s{i}" for i in range(120)]

agent = st.sampled_from(AGENTS)
session = st.sampled_from(SESSIONS)
command = st.one_of(
    st.tuples(st.just("open_session"), session),
    st.tuples(st.just("open_session"), session),
    st.tuples(st.just("close_session"), session),
    st.tuples(st.just("agent_message"), session),
    st.tuples(st.just("set_cap"), agent,
              st.sampled_from([Cap.limit(1), Cap.limit(3), Cap.UNLIMITED, Cap.SUSPENDED])),
    st.tuples(st.just("set_weight"), agent, st.integers(0, 4)),
    st.tuples(st.just("agent_offline"), agent),
    st.tuples(st.just("agent_online"), agent),
    st.tuples(st.just("agent_away"), agent),
    st.tuples(st.just("remove_agent"), agent),
    st.tuples(st.just("add_agent"), agent, st.just(Cap.limit(2))),
)


def shop_of(engine: str, strategy: Strategy, agents: int) -> Assigner:
    """A shop of ``agents`` equal agents (caps 2 or 3): every load ties at first."""
    shop = Assigner(ManualClock(0.0), engine=engine, strategy=strategy)  # type: ignore[arg-type]
    shop.apply([("add_agent", aid, Cap.limit(2 + i % 2), None, 1 + i % 3, True)
                for i, aid in enumerate(AGENTS[:agents])])
    return shop


def run(engine: str, strategy: Strategy, agents: int, batches: list[list[Tuple]]
        ) -> tuple[list[Any], Any]:
    """Each batch through ``apply``: its events, or its error's type and message."""
    shop = shop_of(engine, strategy, agents)
    out = [applied_and_checked(shop, batch) for batch in batches]
    return out, shop.snapshot()


def applied_and_checked(shop: Assigner, batch: list[Tuple]) -> Any:
    """One batch's events, or its error's place, type and events; then ``check``."""
    try:
        result: Any = shop.apply(batch)
    except BatchAborted as exc:
        result = (exc.index, type(exc.__cause__).__name__, exc.events)
    shop.check()
    return result


@pytest.mark.parametrize("strategy", [Strategy.LEAST_LOAD, Strategy.WEIGHTED,
                                      Strategy.ROUND_ROBIN])
@settings(max_examples=40)
@given(agents=st.integers(1, 40),
       batches=st.lists(st.lists(command, min_size=1, max_size=12), max_size=8))
def test_r11_deep_heaps_with_ties_route_as_the_reference(
        strategy: Strategy, agents: int, batches: list[list[Tuple]]) -> None:
    require_engine("c")
    assert run("c", strategy, agents, batches) == run("py", strategy, agents, batches)


@pytest.mark.parametrize("strategy", [Strategy.LEAST_LOAD, Strategy.WEIGHTED])
def test_r11_a_full_shop_fills_and_empties_in_the_reference_order(strategy: Strategy) -> None:
    """Every agent to its cap and back down: each sift path (to the root, to a leaf,
    a last level with fewer than four children) runs, in the reference order."""
    require_engine("c")
    fill = [("open_session", sid) for sid in SESSIONS]
    empty = [("close_session", sid) for sid in SESSIONS[::3]] + [
        ("open_session", f"t{i}") for i in range(30)]
    for agents in (5, 21, 22, 40):
        assert run("c", strategy, agents, [fill, empty]) == run("py", strategy, agents,
                                                                  [fill, empty])


GROUPS = [None, "g1", "g2", "g3"]  # nobody serves g3 but the agents serving every group
grouped_command = st.one_of(
    st.tuples(st.just("open_session"), session, st.none(), st.sampled_from(GROUPS)),
    st.tuples(st.just("open_session"), session, st.none(), st.sampled_from(GROUPS)),
    st.tuples(st.just("close_session"), session),
    st.tuples(st.just("agent_message"), session),
    st.tuples(st.just("set_cap"), agent, st.sampled_from([Cap.limit(1), Cap.limit(3)])),
    st.tuples(st.just("set_weight"), agent, st.integers(1, 4)),
    st.tuples(st.just("agent_offline"), agent),
    st.tuples(st.just("agent_online"), agent),
    st.tuples(st.just("agent_away"), agent),
)


def grouped_run(engine: str, strategy: Strategy, agents: int, batches: list[list[Tuple]]
                ) -> tuple[list[Any], Any]:
    """``run`` on a shop whose agents serve g1, g1 and g2, or every group in turn."""
    served: list[object] = [frozenset({"g1"}), frozenset({"g1", "g2"}), None]
    shop = Assigner(ManualClock(0.0), engine=engine,  # type: ignore[arg-type]
                    strategy=strategy)
    shop.apply([("add_agent", aid, Cap.limit(2 + i % 2), served[i % 3], 1 + i % 4, True)
                for i, aid in enumerate(AGENTS[:agents])])
    out = [applied_and_checked(shop, batch) for batch in batches]
    return out, shop.snapshot()


@pytest.mark.parametrize("strategy", [Strategy.LEAST_LOAD, Strategy.WEIGHTED])
@settings(max_examples=40)
@given(agents=st.integers(1, 40),
       batches=st.lists(st.lists(grouped_command, min_size=1, max_size=12), max_size=8))
def test_r11_a_group_session_takes_the_better_head_of_its_group_and_every_group_heaps(
        strategy: Strategy, agents: int, batches: list[list[Tuple]]) -> None:
    """The compiled selection reads the heads of the group's heap and of the heap of
    agents serving every group (no agent to skip, no ladder): the reference's pick,
    ties included, with the group-less sessions and the offline side mixed in."""
    require_engine("c")
    assert (grouped_run("c", strategy, agents, batches)
            == grouped_run("py", strategy, agents, batches))
