"""A runnable tour of the Assigner: a cap is hit, a session queues, a close drains it.

``python -m kefu demo`` prints each call and the events it returned, on a
manual clock, so a reader sees the rules (R01, R04, R05, R17) at work.
"""

from __future__ import annotations

from collections.abc import Callable

from kefu.assigner import ENGINE, Assigner
from kefu.clock import ManualClock
from kefu.events import Event
from kefu.model import Cap


def run(write: Callable[[str], object] = print) -> Assigner:
    """Play the quickstart scenario, writing each step; return the final Assigner."""
    clock = ManualClock(0.0)
    shop = Assigner(clock, auto_close_after=1200.0)

    def step(label: str, events: list[Event]) -> None:
        write(f"t={clock.now():>6.0f}s  {label}")
        for e in events:
            write(f"           -> {e!r}")

    write(f"kefu demo (engine: {ENGINE})")
    step("add alice with cap 2, online", shop.add_agent("alice", cap=Cap.limit(2), online=True))
    for n in (1, 2, 3):
        clock.advance(10)
        step(f"buyer b{n} opens s{n}", shop.open_session(f"s{n}", buyer=f"b{n}"))
    write(f"           alice's load {shop.load('alice')}/2, waiting {shop.waiting()}")
    clock.advance(30)
    step("alice answers s1", shop.agent_message("s1"))
    clock.advance(30)
    step("alice closes s2: room for the oldest waiting session", shop.close_session("s2"))
    deadline = shop.next_deadline()
    assert deadline is not None
    clock.set(deadline)
    step("20 minutes of buyer silence after alice's answer: tick()", shop.tick())
    write(f"           alice's reception list {shop.reception_list('alice')}, "
          f"waiting {shop.waiting()}")
    return shop
