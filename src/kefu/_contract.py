"""The engine contract: what the facade needs from an engine.

Both engines (``_engine_py`` now, ``_engine_c`` later) and the naive
reference model implement this protocol with identical events, errors and
snapshots. The facade validates argument types and values and reads the
clock; an engine receives ``now`` and validated values, checks existence and
state (unknown ids, closed sessions ...) before it changes anything, and
produces the event objects itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from kefu._columns import ColumnBatch
from kefu.events import Event
from kefu.model import AgentView, Cap, Config, SessionView


class Engine(Protocol):
    """State and rules of one shop's assignment (rules R01-R23)."""

    def __init__(self, config: Config) -> None: ...

    def add_agent(
        self, now: float, agent_id: str, cap: Cap, groups: frozenset[str] | None,
        weight: int, online: bool,
    ) -> list[Event]: ...

    def remove_agent(self, now: float, agent_id: str) -> list[Event]: ...

    def agent_online(self, now: float, agent_id: str) -> list[Event]: ...

    def agent_away(self, now: float, agent_id: str) -> list[Event]: ...
    def agent_offline(self, now: float, agent_id: str, requeue: bool,
                      grace: float | None = None) -> list[Event]: ...

    def set_cap(self, now: float, agent_id: str, cap: Cap) -> list[Event]: ...

    def set_weight(self, now: float, agent_id: str, weight: int) -> list[Event]: ...

    def open_session(
        self, now: float, session_id: str, buyer_id: str | None, group: str | None,
        priority: int, kind: str | None = None,
    ) -> list[Event]:
        """``kind`` (R26): a configured session kind, else UnknownKind before any change."""
        ...

    def buyer_message(self, now: float, session_id: str) -> list[Event]: ...

    def agent_message(
        self, now: float, session_id: str, auto: bool, agent_id: str | None = None,
    ) -> list[Event]:
        """``agent_id`` (S04): if given, the engine raises NotHolder unless that agent
        holds the session, before it changes anything."""
        ...

    def assign(self, now: float, session_id: str, agent_id: str) -> list[Event]: ...

    def transfer(self, now: float, session_id: str, agent_id: str) -> list[Event]: ...

    def close_session(self, now: float, session_id: str) -> list[Event]: ...

    def tick(self, now: float) -> list[Event]: ...

    def apply(self, now: float, commands: Iterable[object]) -> tuple[list[Event], float]:
        """Run a batch (see ``kefu._batch``); returns its events and its final time."""
        ...

    def apply_columns(self, now: float, batch: ColumnBatch) -> tuple[list[Event], float]:
        """Run a columnar batch (see ``kefu._columns``); returns its events and final time."""
        ...

    def next_deadline(self) -> float | None: ...

    def load(self, agent_id: str) -> int: ...

    def agent(self, agent_id: str) -> AgentView: ...

    def agent_ids(self) -> list[str]: ...

    def session(self, session_id: str) -> SessionView: ...

    def session_ids(self) -> list[str]: ...

    def waiting(self) -> list[str]: ...

    def position(self, session_id: str) -> int | None:
        """R25: a waiting session's 1-based place in its group's line; None if assigned."""
        ...

    def estimated_wait(self, now: float, session_id: str, sample: int) -> float | None:
        """R25: seconds until the session is likely handed out, from its line's latest
        ``sample`` hand-overs (``kefu._handovers``); None if assigned or without data."""
        ...

    def reception_list(self, agent_id: str) -> list[str]: ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore_state(self, data: dict[str, Any], taken_at: float | None) -> float | None:
        """Rebuild this fresh engine from snapshot state (``kefu._snapshot.parse_state``
        checks it all first); return the latest instant the state records, or None.

        ``taken_at`` is the clock reading when the snapshot was taken (None if
        unknown: the checks against it are skipped).
        """
        ...

    def check(self) -> None: ...
