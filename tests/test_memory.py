"""State follows what is live, not history: closed sessions, expired sticky memory, stale timers."""

from __future__ import annotations

from collections.abc import Callable

from kefu import Assigner, ManualClock

Make = Callable[..., Assigner]


def test_R13_sticky_memory_expires_with_its_window(make: Make, clock: ManualClock) -> None:
    a = make(sticky_window=60.0)
    a.add_agent("A", online=True)
    sizes = []
    for n in range(3000):
        clock.advance(1)
        a.open_session(f"s{n}", buyer=f"buyer{n}")  # a new buyer every second
        a.close_session(f"s{n}")
        sizes.append(len(a.snapshot()["state"]["sticky"]))
    assert max(sizes[100:]) <= 62  # about one window's worth of buyers, never history


def test_R16_closed_sessions_leave_nothing_behind(make: Make, clock: ManualClock) -> None:
    a = make(first_response_timeout=30.0)
    a.add_agent("A", online=True)
    empty = a.snapshot()["state"]["sessions"]
    for _ in range(500):
        clock.advance(1)
        a.open_session("same-id", buyer="b")
        a.agent_message("same-id")
        a.close_session("same-id")
    assert a.snapshot()["state"]["sessions"] == empty
    assert a.next_deadline() is None


def test_R20_restarted_timers_do_not_pile_up(clock: ManualClock) -> None:
    """Every agent message restarts auto close; stale heap entries are compacted (py engine)."""
    a = Assigner(clock, engine="py", auto_close_after=1200.0)
    a.add_agent("A", online=True)
    a.open_session("s", buyer="b")
    for _ in range(10_000):
        clock.advance(1)
        a.agent_message("s")
    heap = a._engine._timers  # type: ignore[attr-defined]
    assert len(heap) <= 2 * 1 + 64
    assert a.next_deadline() == clock.now() + 1200.0
