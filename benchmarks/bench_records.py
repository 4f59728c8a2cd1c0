"""Making KPI records: nanoseconds per record, the cost every backend pays per message.

    pytest benchmarks/bench_records.py --benchmark-group-by=func
    python benchmarks/bench_records.py [--number N]

The second form prints ns per record for each record class (the best of
five rounds of N constructions, valid values, positional arguments), and
for a bare ``attrs.frozen`` class of the Message's fields with no checks at
all, the floor a frozen attrs record costs.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from kefu.kpi import (
    AgentStatus,
    EvalSource,
    Evaluation,
    Exclusion,
    Handover,
    HumanRequest,
    Message,
    Order,
    Rating,
    Release,
    Sender,
    SessionEnd,
)

T = 1_762_790_400.0


@attrs.frozen
class _Unchecked:
    """The Message's fields, frozen and slotted by attrs, with no checks: the floor."""

    session_id: str
    buyer_id: str
    at: float
    sender: Sender
    message_id: str
    agent_id: str | None = None
    seq: int = 0


CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "Message": (Message, ("s1", "b1", T, Sender.AGENT, "m1", "a1")),
    "unchecked attrs (floor)": (_Unchecked, ("s1", "b1", T, Sender.AGENT, "m1", "a1")),
    "Handover": (Handover, ("s1", "b1", "a1", T, None, 3)),
    "Release": (Release, ("s1", "a1", T, 3)),
    "SessionEnd": (SessionEnd, ("s1", T, 3)),
    "HumanRequest": (HumanRequest, ("s1", "b1", T)),
    "Evaluation": (Evaluation, ("s1", "b1", "a1", T, Rating.NORMAL, EvalSource.INVITED)),
    "AgentStatus": (AgentStatus, ("a1", T, True)),
    "Order": (Order, ("o1", "b1", T, 99.5)),
    "Exclusion": (Exclusion, ("b1",)),
}


def _make_many(cls: Callable[..., Any], args: tuple[Any, ...], n: int) -> list[Any]:
    return [cls(*args) for _ in range(n)]


@pytest.mark.parametrize("name", list(CASES))
def test_make_records(benchmark: Any, name: str) -> None:
    cls, args = CASES[name]
    made = benchmark(_make_many, cls, args, 10_000)
    assert len(made) == 10_000 and made[0] == cls(*args)


def ns_per_record(cls: Callable[..., Any], args: tuple[Any, ...], number: int) -> float:
    """Best of five rounds of ``number`` constructions, ns each (the loop's own cost included)."""
    best = min(timeit.repeat(lambda: cls(*args), number=number, repeat=5))
    return best / number * 1e9


def main(argv: list[str]) -> None:
    number = int(argv[argv.index("--number") + 1]) if "--number" in argv else 200_000
    for name, (cls, args) in CASES.items():
        print(f"{name:>24}  {ns_per_record(cls, args, number):7.0f} ns")


if __name__ == "__main__":
    main(sys.argv[1:])
