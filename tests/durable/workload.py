"""A deterministic random command stream for durable-shop tests (shared by parent and child).

``stream(seed, n)`` gives ``n`` commands, each with the time it runs at:
mostly valid commands over a few agents and sessions, some that the
Assigner rejects (unknown or closed sessions, offline agents), and time
jumps long enough to fire auto-close and first-response timers. ``units``
cuts the stream into acknowledgement units: a single command (a plain
call, acknowledged when it returns) or a group (submitted, then flushed
once: acknowledged when the flush returns).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from kefu import Assigner, Cap, ManualClock, Strategy
from kefu.errors import KefuError
from kefu.events import Event

#: The configuration every workload shop runs with: all timers on.
CONFIG: dict[str, Any] = {
    "strategy": Strategy.LEAST_LOAD,
    "offline_diversion": True,
    "auto_close_after": 600.0,
    "first_response_timeout": 60.0,
    "sticky_window": 300.0,
}

Command = tuple[float, str, tuple[Any, ...], dict[str, Any]]
_AGENTS = [f"a{i}" for i in range(6)]
_GROUPS = ["g1", "g2"]


def stream(seed: int, n: int, start_time: float = 1_000_000.0) -> list[Command]:
    """``n`` commands with their times; the same for the same seed."""
    rng = random.Random(seed)
    t = start_time
    opened = 0
    out: list[Command] = []
    for _ in range(n):
        r = rng.random()
        t += 700.0 if r < 0.01 else rng.expovariate(1 / 4.0)
        t = round(t, 3)
        method, args, kwargs = _command(rng, opened)
        if method == "open_session":
            opened += 1
        out.append((t, method, args, kwargs))
    return out


def _command(rng: random.Random, opened: int) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    agent = rng.choice(_AGENTS)
    # Mostly recent sessions (so that sessions end and the state stays small), some
    # long gone or never opened (rejected).
    if rng.random() < 0.9:
        session = f"s{max(0, opened - 1 - int(rng.expovariate(1 / 20.0)))}"
    else:
        session = f"s{rng.randrange(opened + 5)}"
    k = rng.random()
    if k < 0.06:
        cap = rng.choice([Cap.UNLIMITED, Cap.SUSPENDED, 1, 2, 3])
        groups = rng.choice([None, ["g1"], ["g2"], _GROUPS])
        return "add_agent", (agent, cap, groups, rng.randrange(1, 4)), {"online": rng.random() < .8}
    if k < 0.08:
        return "remove_agent", (agent,), {}
    if k < 0.115:
        return "agent_online", (agent,), {}
    if k < 0.13:
        return "agent_away", (agent,), {}  # R27
    if k < 0.16:
        if rng.random() < 0.25:
            return "agent_offline", (agent, False, 30.0), {}  # R27 grace
        return "agent_offline", (agent, rng.random() < 0.5), {}
    if k < 0.18:
        return "set_cap", (agent, rng.choice([Cap.UNLIMITED, 1, 2, 4])), {}
    if k < 0.19:
        return "set_weight", (agent, rng.randrange(0, 5)), {}
    if k < 0.34:
        buyer = rng.choice([None, f"b{rng.randrange(40)}"])
        group = rng.choice([None, None, "g1", "g2"])
        return "open_session", (f"s{opened}", buyer, group, rng.randrange(3)), {}
    if k < 0.46:
        return "buyer_message", (session,), {}
    if k < 0.64:
        # Sometimes attributed to an agent, who may not hold the session (S04).
        sender = rng.choice(_AGENTS) if rng.random() < 0.3 else None
        return "agent_message", (session, rng.random() < 0.2, sender), {}
    if k < 0.69:
        return "assign", (session, agent), {}
    if k < 0.74:
        return "transfer", (session, agent), {}
    if k < 0.92:
        return "close_session", (session,), {}
    return "tick", (), {}


def units(seed: int, n: int) -> list[int]:
    """The end (exclusive) of each acknowledgement unit; a unit of one is a plain call."""
    rng = random.Random(seed ^ 0x5EED)
    ends: list[int] = []
    i = 0
    while i < n:
        i = min(n, i + (1 if rng.random() < 0.5 else rng.randrange(2, 12)))
        ends.append(i)
    return ends


def run(target: Callable[..., list[Event]], command: Command) -> list[Event] | KefuError:
    """Call ``target`` (a bound method) with a command's arguments; a KefuError is a result."""
    _, _, args, kwargs = command
    try:
        return target(*args, **kwargs)
    except KefuError as exc:
        return exc


class Reference:
    """A plain Assigner that replays the stream: the state a durable shop must recover."""

    def __init__(self, commands: list[Command], engine: str = "auto") -> None:
        self.commands = commands
        self.clock = ManualClock(commands[0][0] if commands else 0.0)
        self.assigner = Assigner(self.clock, engine=engine, **CONFIG)  # type: ignore[arg-type]
        self.position = 0

    def advance_to(self, position: int) -> None:
        """Apply commands up to ``position`` (exclusive)."""
        while self.position < position:
            command = self.commands[self.position]
            self.clock.set(command[0])
            run(getattr(self.assigner, command[1]), command)
            self.position += 1

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.assigner.snapshot()["state"]
        return state
