"""Erlang A against Erlang C at the sizes ``staff`` asks about, in one run.

``pytest benchmarks/bench_sim_erlang.py --benchmark-group-by=param:size`` times
one evaluation of each model and the Erlang A server search, for a shop of
2,000 seats (40 agents at cap 50) at 1,950 busy chats and one of 100,000
seats at 95,000: the claim in kefu.sim.erlang_a is that an Erlang A
evaluation costs O(sqrt(load) + queue) steps, not O(seats), so it should be
faster than Erlang C's O(seats) recursion at the large size.
"""

from __future__ import annotations

from typing import Any

import pytest

from kefu.sim.erlang import erlang_c, servers_for
from kefu.sim.erlang_a import erlang_a, servers_for_a

MU = 1 / 600  # a chat open for 10 minutes on average
THETA = 1 / 300  # buyers give up after 5 minutes on average
T = 180.0
SIZES = {"2k": (2000, 1950.0), "100k": (100_000, 95_000.0)}


@pytest.mark.parametrize("size", list(SIZES))
def test_erlang_a_one_level(benchmark: Any, size: str) -> None:
    n, load = SIZES[size]
    fig = benchmark(erlang_a, n, load * MU, MU, THETA, T)
    assert 0 <= fig.p_wait <= 1


@pytest.mark.parametrize("size", list(SIZES))
def test_erlang_c_one_level(benchmark: Any, size: str) -> None:
    n, load = SIZES[size]
    assert 0 <= benchmark(erlang_c, n, load) <= 1


@pytest.mark.parametrize("size", list(SIZES))
def test_erlang_a_server_search(benchmark: Any, size: str) -> None:
    _, load = SIZES[size]
    assert benchmark(servers_for_a, load * MU, MU, THETA, T, 0.9) >= 1


@pytest.mark.parametrize("size", ["2k"])
def test_erlang_c_server_search(benchmark: Any, size: str) -> None:
    _, load = SIZES[size]
    assert benchmark(servers_for, load * MU, MU, T, 0.9) >= 1
