"""Helpers for the host tests: a real SQLiteStore wrapped to count, hold or fail its writes."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kefu import Assigner, ManualClock
from kefu.durable import Commit, SQLiteStore
from kefu.durable.sqlite import _SQLiteLease
from kefu.errors import KefuError, StoreError
from kefu.model import Config

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    """Run ``coro`` in a fresh event loop, failing (not hanging) after ``timeout`` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


class WatchedStore:
    """A real :class:`SQLiteStore` that records every ``commit_many`` and can hold or fail one.

    ``writes`` lists, per transaction, ``(shop_id, entries)`` of each commit in it.
    ``hold()`` makes the next writes wait until ``release()``; ``fail`` (a predicate on
    the commits) makes a write raise StoreError instead of writing.
    """

    def __init__(self, path: Path, **options: Any) -> None:
        self.inner = SQLiteStore(path, **options)
        self.writes: list[list[tuple[str, int]]] = []
        self.leases: list[str] = []
        self.entered = threading.Event()
        self._gate = threading.Event()
        self._gate.set()
        self.fail: Callable[[Sequence[Commit]], bool] | None = None

    def lease(self, shop_id: str) -> _SQLiteLease:
        self.leases.append(shop_id)
        return self.inner.lease(shop_id)

    def commit_many(self, commits: Sequence[Commit]) -> None:
        self.entered.set()
        self._gate.wait()
        if self.fail is not None and self.fail(commits):
            raise StoreError("injected write failure")
        self.inner.commit_many(commits)
        self.writes.append([(c.shop_id, len(c.entries)) for c in commits])

    def hold(self) -> None:
        self.entered.clear()
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    async def write_started(self) -> None:
        """Wait (without blocking the loop) until a write has entered ``commit_many``."""
        await asyncio.get_running_loop().run_in_executor(None, self.entered.wait, 10.0)

    def close(self) -> None:
        self.inner.close()


def outcome(shop: Assigner, method: str, *args: Any, **kwargs: Any) -> Any:
    """What a plain Assigner answers: its events, or ``(error type, message)``."""
    try:
        return getattr(shop, method)(*args, **kwargs)
    except KefuError as exc:
        return (type(exc), str(exc))


def random_commands(rng: random.Random, n: int) -> list[tuple[Any, ...]]:
    """``n`` random shop commands over a few agents and sessions; many are rejected."""
    agents = [f"a{i}" for i in range(4)]
    sessions = [f"s{i}" for i in range(12)]
    out: list[tuple[Any, ...]] = []
    for _ in range(n):
        kind = rng.choice(["add_agent", "agent_online", "agent_offline", "open_session",
                           "open_session", "buyer_message", "agent_message", "close_session",
                           "transfer", "assign", "set_cap"])
        agent, session = rng.choice(agents), rng.choice(sessions)
        if kind == "add_agent":
            out.append((kind, agent, rng.randint(1, 3)))
        elif kind in ("agent_online", "agent_offline"):
            out.append((kind, agent))
        elif kind == "open_session":
            out.append((kind, session, f"b{rng.randint(0, 5)}"))
        elif kind in ("transfer", "assign"):
            out.append((kind, session, agent))
        elif kind == "set_cap":
            out.append((kind, agent, rng.randint(1, 3)))
        else:
            out.append((kind, session))
    return out


CONFIG = Config(first_response_timeout=30.0, auto_close_after=100.0)


def plain(clock: ManualClock) -> Assigner:
    """The oracle: a plain Assigner with the tests' shop configuration."""
    return Assigner(clock, first_response_timeout=CONFIG.first_response_timeout,
                    auto_close_after=CONFIG.auto_close_after)


def state(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without the time it was taken: the shop's state alone."""
    return {k: v for k, v in snapshot.items() if k != "taken_at"}
