"""Events on the wire: the cost of ``to_dict``/``from_dict`` next to building the events.

    python -m pytest benchmarks/bench_events.py --benchmark-group-by=group

One iteration handles one event of each of the eight kinds. ``construct``
builds them through their constructors (the reference: what an engine pays
at least per event); ``to_dict`` encodes them; ``from_dict`` reads their
wire form back, checking every field; ``json`` adds ``json.dumps`` and
``json.loads`` around the codec, the full trip through a message queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kefu.events import (
    Assigned,
    AssignReason,
    Closed,
    CloseReason,
    Event,
    Opened,
    Pool,
    Queued,
    Reassigned,
    Requeued,
    RequeueReason,
    ResponseTimedOut,
    Transferred,
    from_dict,
)


def construct() -> list[Event]:
    return [
        Opened("s1", "b1", "pre", 0, 1.5),
        Assigned("s1", "alice", 1.5, AssignReason.NEW, "b1"),
        Queued("s2", Pool.QUEUE, 2.5, "b2"),
        Transferred("s1", "alice", "bob", 3.5, "b1"),
        ResponseTimedOut("s1", "bob", 33.5, "b1"),
        Reassigned("s1", "bob", "alice", 33.5, "b1"),
        Requeued("s1", "alice", 40.0, RequeueReason.AGENT_OFFLINE, "b1"),
        Closed("s1", "alice", None, 50.0, CloseReason.MANUAL, "b1"),
    ]


EVENTS = construct()
WIRE = [e.to_dict() for e in EVENTS]
TEXT = [json.dumps(d) for d in WIRE]

CASES: dict[str, Callable[[], object]] = {
    "construct": construct,
    "to_dict": lambda: [e.to_dict() for e in EVENTS],
    "from_dict": lambda: [from_dict(d) for d in WIRE],
    "json_out": lambda: [json.dumps(e.to_dict()) for e in EVENTS],
    "json_in": lambda: [from_dict(json.loads(t)) for t in TEXT],
}


@pytest.mark.benchmark(group="events: eight kinds, one of each")
@pytest.mark.parametrize("case", list(CASES))
def test_event_codec(benchmark: Any, case: str) -> None:
    result = benchmark(CASES[case])
    assert isinstance(result, list) and len(result) == len(EVENTS)
    if case in ("from_dict", "json_in"):
        assert result == EVENTS
