"""DurableShop: an Assigner whose accepted commands survive a crash (S05-S07).

Each accepted command is journaled with the time it ran at (and its request
id, if any) before the call returns; every ``snapshot_every`` commands the
shop's snapshot replaces the journal before it. :meth:`DurableShop.open`
recovers a shop as last snapshot + replay of the journal after it, which
gives exactly the state after the last acknowledged command (or one more,
if the process died between the write and the return). Rejected commands
change nothing and are not journaled.

Group commit: :meth:`DurableShop.submit` runs a command at once but leaves
its journal entry pending; :meth:`DurableShop.flush` makes every pending
entry durable in one transaction. A caller must not show a submitted
command's events to anyone before the flush returns. The plain methods
(``open_session`` ...) are submit + flush. An asyncio host (``kefu.host``)
flushes many callers' commands, and many shops', per write.

A DurableShop has one writer, like an Assigner: a call that overlaps another
raises :class:`~kefu.errors.ConcurrentCall`; the store refuses a second
writer of the same shop (:class:`~kefu.errors.ShopBusy`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import attrs

from kefu._batch import check_at, run_steps, validate_command
from kefu._guard import new_guard
from kefu._handovers import DEFAULT_SAMPLE
from kefu._text import short_repr
from kefu.assigner import Assigner, EngineName, _engine_class, _has_now, _iterate
from kefu.clock import Clock, SystemClock, as_seconds
from kefu.durable._commands import as_json, call_args, canonical, decode, encode
from kefu.durable.journal import JournalEntry, RequestRecord, StoredSnapshot
from kefu.durable.store import Commit, ShopLease, Store
from kefu.errors import (
    BatchAborted,
    ConcurrentCall,
    InvalidArgument,
    InvalidSnapshot,
    JournalCorrupt,
    KefuError,
    RequestConflict,
    ShopFailed,
    StoreError,
)
from kefu.events import Event, from_dict
from kefu.model import AgentView, Cap, Config, SessionView

__all__ = ["DurableShop", "Recovery"]

#: The longest request id a shop accepts, in characters.
MAX_REQUEST_ID = 200


class _PinnedClock:
    """The inner Assigner's clock: the time the shop read (or the journal holds) for a command."""

    __slots__ = ("t",)

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


@attrs.frozen(slots=True)
class Recovery:
    """How :meth:`DurableShop.open` rebuilt the shop.

    ``snapshot_seq`` is the journal position the snapshot covered,
    ``replayed`` the number of journal entries replayed after it, ``created``
    whether the shop was new, and ``dropped_from`` the first position of a
    corrupt tail that ``repair=True`` dropped (None if there was none).
    """

    snapshot_seq: int
    replayed: int
    created: bool
    dropped_from: int | None = None


class DurableShop:
    """One shop's Assigner, journaled to a store; open it with :meth:`open`.

    It has the Assigner's command methods, each with a keyword-only
    ``request_id`` (S06), and its queries. Cost per command: the Assigner's,
    plus encoding the command (microseconds) and, for the plain methods, one
    store transaction (an fsync with SQLite's default settings).
    """

    def __init__(self, lease: ShopLease, assigner: Assigner, pin: _PinnedClock, clock: Clock,
                 seq: int, snapshot_seq: int, requests: dict[str, int], recovery: Recovery,
                 snapshot_every: int, request_window: int) -> None:
        """Internal: use :meth:`open`."""
        self._lease = lease
        self._assigner = assigner
        self._pin = pin
        self._clock = clock
        self._seq = seq
        self._snapshot_seq = snapshot_seq
        self._requests = requests
        self._snapshot_every = snapshot_every
        self._request_window = request_window
        self._pending: list[JournalEntry] = []
        self._pending_snapshot: StoredSnapshot | None = None
        self._pending_forget: int | None = None
        self._in_flight: Commit | None = None
        self._unflushed: dict[int, JournalEntry] = {}
        self._failed: BaseException | None = None
        self._broken: BaseException | None = None
        self._closed = False
        self._held = -math.inf
        self._guard = new_guard()
        self.recovery = recovery

    # -- opening and recovery (S05) -----------------------------------------

    @classmethod
    def open(
        cls,
        store: Store,
        shop_id: str,
        clock: Clock | None = None,
        *,
        config: Config | None = None,
        engine: EngineName = "auto",
        snapshot_every: int = 10_000,
        request_window: int = 100_000,
        repair: bool = False,
    ) -> DurableShop:
        """Take the shop's writer lock and recover it (or create it, if the store has none).

        ``config`` is a new shop's configuration (default ``Config()``); an
        existing shop keeps the one it was created with, and a different
        ``config`` is refused. ``snapshot_every`` commands a snapshot is
        written and the journal before it dropped; a retried request id is
        recognised while its command is among the shop's last
        ``request_window`` commands. A corrupt journal tail raises
        :class:`~kefu.errors.JournalCorrupt`; ``repair=True`` drops it and
        says so in :attr:`recovery` (the commands in it are lost). Raises
        :class:`~kefu.errors.ShopBusy` at once if another writer holds the
        shop. Cost: restoring the snapshot plus replaying the journal after
        it (at most ``snapshot_every`` commands).
        """
        clock = clock if clock is not None else SystemClock()
        if not _has_now(clock):
            raise InvalidArgument(f"clock must have a now() method, got {short_repr(clock)}")
        for name, value in (("snapshot_every", snapshot_every),
                            ("request_window", request_window)):
            if type(value) is not int or value < 1:
                raise InvalidArgument(f"{name} must be a positive int, got {short_repr(value)}")
        if config is not None and type(config) is not Config:
            raise InvalidArgument(f"config must be a kefu Config, got {short_repr(config)}")
        if type(repair) is not bool:
            raise InvalidArgument(f"repair must be True or False, got {short_repr(repair)}")
        _engine_class(engine)  # a bad engine name is the caller's error, not the journal's
        lease = store.lease(shop_id)
        try:
            return cls._recover(lease, clock, config, engine, snapshot_every, request_window,
                                repair)
        except BaseException:
            lease.release()
            raise

    @classmethod
    def _recover(cls, lease: ShopLease, clock: Clock, config: Config | None,
                 engine: EngineName, snapshot_every: int, request_window: int,
                 repair: bool) -> DurableShop:
        shop_id = lease.shop_id
        stored = lease.read(repair=repair)
        pin = _PinnedClock(0.0)
        if stored.snapshot is None:
            pin.t = _read_clock(clock)
            cfg = config if config is not None else Config()
            assigner = Assigner(pin, strategy=cfg.strategy,
                                offline_diversion=cfg.offline_diversion,
                                auto_close_after=cfg.auto_close_after,
                                first_response_timeout=cfg.first_response_timeout,
                                sticky_window=cfg.sticky_window,
                                queue_limits=dict(cfg.queue_limits),
                                ladders=dict(cfg.ladders),
                                session_kinds=dict(cfg.session_kinds), engine=engine)
            first = StoredSnapshot(0, _json(assigner.snapshot()))
            lease.commit(Commit(shop_id, (), first))
            shop = cls(lease, assigner, pin, clock, 0, 0, {}, Recovery(0, 0, True),
                       snapshot_every, request_window)
            shop._held = pin.t
            return shop
        snap = stored.snapshot
        try:
            data = json.loads(snap.data)
            assigner = Assigner.restore(data, pin, engine=engine)
        except (InvalidSnapshot, ValueError, RecursionError) as exc:  # RecursionError: deep JSON
            raise JournalCorrupt(shop_id, 0, f"the snapshot cannot be restored: {exc}") from exc
        if config is not None and config != assigner.config:
            raise InvalidArgument(
                f"shop {short_repr(shop_id)} was created with {assigner.config!r}; "
                f"it cannot be reopened with {config!r}")
        # Restore checked taken_at (finite seconds); a version-1 snapshot has none.
        held = float(data.get("taken_at", -math.inf))
        seq = snap.seq
        dropped: int | None = None
        for entry in stored.entries:
            try:
                method, args, kwargs = decode(entry.command)
                pin.t = entry.at
                getattr(assigner, method)(*args, **kwargs)
            except (KefuError, ValueError, TypeError, RecursionError) as exc:
                why = f"replaying {short_repr(entry.command)} failed: {exc}"
                if not repair:
                    raise JournalCorrupt(shop_id, entry.seq, why) from exc
                lease.truncate(entry.seq)
                dropped = entry.seq
                break
            seq = entry.seq
            held = max(held, entry.at)
        if dropped is None:
            dropped = stored.dropped_from
        requests = {r: s for r, s in stored.request_ids.items() if s <= seq}
        recovery = Recovery(snap.seq, seq - snap.seq, False, dropped)
        shop = cls(lease, assigner, pin, clock, seq, snap.seq, requests, recovery,
                   snapshot_every, request_window)
        shop._held = held
        return shop

    # -- the command path ---------------------------------------------------

    def submit(self, method: str, *args: Any, request_id: str | None = None,
               **kwargs: Any) -> list[Event]:
        """Run a command now and leave its journal entry pending until :meth:`flush`.

        Returns the command's events, which are not durable yet: do not show
        them before the next flush returns. A repeated ``request_id`` returns
        the original events and changes nothing (S06). Cost: the Assigner
        call plus O(size of the command).
        """
        if not self._guard.enter():
            raise ConcurrentCall(method if type(method) is str else "submit")
        try:
            return self._submit(method, args, kwargs, request_id)
        finally:
            self._guard.leave()

    def _submit(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                request_id: str | None) -> list[Event]:
        self._usable()
        if request_id is not None and not _good_request_id(request_id):
            raise InvalidArgument(f"request_id must be a non-empty str of at most "
                                  f"{MAX_REQUEST_ID} characters, without NUL or lone "
                                  f"surrogates, got {short_repr(request_id)}")
        canonical_args = canonical(method, args, kwargs)
        command = encode(method, canonical_args)
        if request_id is not None and request_id in self._requests:
            original = self._repeat(request_id, command)
            if original is not None:
                return original
        # The shop holds time monotonic itself, so the Assigner never has to
        # and the journaled time is exactly the time the command ran at.
        t = self._held = max(_read_clock(self._clock), self._held)
        return self._execute(method, canonical_args, command, request_id, t)

    def _execute(self, method: str, canonical_args: list[Any], command: str,
                 request_id: str | None, t: float) -> list[Event]:
        """Run a checked command at ``t`` and queue its journal entry (none if it failed)."""
        if method == "tick" and not self._due(t):
            return []
        call, positional, keywords = call_args(method, canonical_args)
        self._pin.t = t
        # Until the command is queued for the journal, an exception that is not a
        # refusal (KeyboardInterrupt, RecursionError ...) may leave the Assigner
        # ahead of the journal: the shop stays broken (see _usable) unless it ends.
        self._broken = _MIDWAY
        try:
            events: list[Event] = getattr(self._assigner, call)(*positional, **keywords)
        except KefuError:
            self._broken = None  # refused: the Assigner changed nothing
            raise
        except BaseException as exc:
            self._broken = exc
            raise
        self._seq += 1
        entry = JournalEntry(self._seq, t, command, request_id,
                             None if request_id is None else _events_json(events))
        self._pending.append(entry)
        if request_id is not None:
            self._requests[request_id] = entry.seq
            self._unflushed[entry.seq] = entry
        if self._seq - self._snapshot_seq >= self._snapshot_every:
            self._take_snapshot()
        self._broken = None
        return events

    def apply(self, commands: Iterable[tuple[object, ...]]) -> list[Event]:
        """:meth:`Assigner.apply <kefu.Assigner.apply>`, journaled: many commands, one write.

        Each command is journaled on its own, at the batch's time when it
        ran, and the whole batch is written in one transaction before this
        returns. The first failing command raises
        :class:`~kefu.errors.BatchAborted` (as the Assigner does) once the
        commands before it, which stay applied, are written. Cost: the
        commands plus one store write.
        """
        if not self._guard.enter():
            raise ConcurrentCall("apply")
        try:
            self._usable()
            feed = _iterate(commands)
            now = self._held = max(_read_clock(self._clock), self._held)
            try:
                events, _ = run_steps(self._apply_one, now, feed)
            except BatchAborted:
                self._flush()  # the commands before the failing one stay applied: write them
                raise
            self._flush()
            return events
        finally:
            self._guard.leave()

    def _apply_one(self, item: object, now: float, events: list[Event]) -> float:
        """One command of :meth:`apply`, checked as the Assigner's batch checks it."""
        name, args = validate_command(item)
        if name == "at":
            self._held = max(check_at(args[0], now), self._held)
            return self._held
        canonical_args = as_json(name, args)
        events.extend(self._execute(name, canonical_args, encode(name, canonical_args), None,
                                    now))
        return now

    def _due(self, t: float) -> bool:
        """Whether a tick at ``t`` fires anything (an idle tick is not journaled)."""
        deadline = self._assigner.next_deadline()
        return deadline is not None and deadline <= t

    def _repeat(self, request_id: str, command: str) -> list[Event] | None:
        """The original events of a repeated request id (S06); None if the store forgot it."""
        seq = self._requests[request_id]
        entry = self._unflushed.get(seq)
        record = (RequestRecord(seq, entry.command, entry.events or "[]") if entry is not None
                  else self._lease.request(request_id))
        if record is None:  # forgotten (older than the request window): a new command
            del self._requests[request_id]
            return None
        if record.command != command:
            raise RequestConflict(request_id, record.command, command)
        return [from_dict(d) for d in json.loads(record.events)]

    def _take_snapshot(self) -> None:
        self._pin.t = self._held
        self._pending_snapshot = StoredSnapshot(self._seq, _json(self._assigner.snapshot()))
        self._snapshot_seq = self._seq
        oldest = self._seq - self._request_window
        if oldest > 0:
            # The store forgets exactly what memory forgets, in the same commit.
            self._pending_forget = oldest
            self._requests = {r: s for r, s in self._requests.items() if s >= oldest}

    # -- flushing (group commit) ---------------------------------------------

    @property
    def pending(self) -> int:
        """How many submitted commands wait for :meth:`flush`."""
        return len(self._pending)

    def prepare_flush(self) -> Commit | None:
        """Hand over the pending entries for writing (for hosts that write elsewhere).

        At most one prepared commit may be outstanding; settle it with
        :meth:`complete_flush`. Returns None when nothing is pending. A shop
        broken by an interrupted command still writes the commands before it.
        """
        return self._hand_over() if self._flushable() else None

    def _flushable(self) -> bool:
        """Whether anything waits to be written; raise if it cannot be now. O(1)."""
        self._writable()
        if self._in_flight is not None:
            raise InvalidArgument("a flush is already in flight for this shop")
        return bool(self._pending) or self._pending_snapshot is not None

    def _hand_over(self) -> Commit:
        """Move the pending entries into the commit in flight. O(1)."""
        commit = Commit(self._lease.shop_id, tuple(self._pending), self._pending_snapshot,
                        self._pending_forget)
        self._pending = []
        self._pending_snapshot = None
        self._pending_forget = None
        self._in_flight = commit
        return commit

    def complete_flush(self, error: BaseException | None = None) -> None:
        """Settle the prepared commit: written, or failed (then the shop refuses every call)."""
        commit, self._in_flight = self._in_flight, None
        if commit is None:
            raise InvalidArgument("no flush is in flight")
        if error is not None:
            self._failed = error
            return
        for entry in commit.entries:
            self._unflushed.pop(entry.seq, None)

    def flush(self) -> None:
        """Make every pending command durable in one store transaction.

        Raises :class:`~kefu.errors.ShopFailed` if the write fails: the
        commands pending then were not acknowledged, and this shop object
        refuses every call; open the shop again. Cost: one store write.
        """
        if not self._guard.enter():
            raise ConcurrentCall("flush")
        try:
            self._flush()
        finally:
            self._guard.leave()

    def _flush(self) -> None:
        if not self._flushable():
            return
        # Failed until the write settles: an interrupt anywhere in between (even as
        # the pending entries are handed over) leaves the shop refusing calls, never
        # ahead of a store it cannot tell the state of.
        self._failed = _UNSETTLED
        commit = self._hand_over()
        try:
            self._lease.commit(commit)
        except BaseException as exc:
            self._failed = exc
            self.complete_flush(exc)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like go on as they are
            raise ShopFailed(f"writing shop {short_repr(self._lease.shop_id)} failed: {exc}"
                             ) from exc
        self.complete_flush()
        self._failed = None

    def _command(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 request_id: str | None) -> list[Event]:
        if not self._guard.enter():
            raise ConcurrentCall(method)
        try:
            events = self._submit(method, args, kwargs, request_id)
            self._flush()
            return events
        finally:
            self._guard.leave()

    def checkpoint(self) -> None:
        """Write a snapshot now (and every pending command), compacting the journal."""
        if not self._guard.enter():
            raise ConcurrentCall("checkpoint")
        try:
            self._usable()
            if self._seq > self._snapshot_seq or self._pending_snapshot is None:
                self._take_snapshot()
            self._flush()
        finally:
            self._guard.leave()

    def close(self, *, checkpoint: bool = True) -> None:
        """Flush, snapshot (unless ``checkpoint=False``) and release the shop. Idempotent.

        A failed shop is released without writing anything. If releasing
        its writer lock failed, closing it again retries the release.
        """
        if self._closed:
            self._lease.release()  # a no-op, unless a release failed before
            return
        if not self._guard.enter():
            raise ConcurrentCall("close")
        try:
            if self._failed is None:
                if checkpoint and self._broken is None and self._seq > self._snapshot_seq:
                    self._take_snapshot()
                self._flush()
        finally:
            self._closed = True
            try:
                self._lease.release()
            finally:  # a failed release leaves the shop closed, not in a call for good
                self._guard.leave()

    def __enter__(self) -> DurableShop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _usable(self) -> None:
        """Raise unless the shop takes commands and queries."""
        self._writable()
        if self._broken is not None:
            raise ShopFailed(f"shop {short_repr(self._lease.shop_id)} was interrupted in the "
                             f"middle of a command ({short_repr(self._broken)}), so its state "
                             "is unknown; close it (which writes the commands before it) and "
                             "open it again")

    def _writable(self) -> None:
        """Raise unless the shop can still write what it holds (closed, or a write failed)."""
        if self._closed:
            raise StoreError(f"shop {short_repr(self._lease.shop_id)} is closed")
        if self._failed is not None:
            raise ShopFailed(f"shop {short_repr(self._lease.shop_id)} failed to write "
                             f"({short_repr(self._failed)}); open it again")

    # -- the Assigner's commands, journaled ----------------------------------

    def add_agent(self, agent_id: str, cap: Cap | int = Cap.UNLIMITED,
                  groups: Iterable[str] | None = None, weight: int = 1, *, online: bool = False,
                  request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.add_agent <kefu.Assigner.add_agent>`, journaled."""
        return self._command("add_agent", (agent_id, cap, groups, weight),
                             {"online": online}, request_id)

    def remove_agent(self, agent_id: str, *, request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.remove_agent <kefu.Assigner.remove_agent>`, journaled."""
        return self._command("remove_agent", (agent_id,), {}, request_id)

    def agent_online(self, agent_id: str, *, request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.agent_online <kefu.Assigner.agent_online>`, journaled."""
        return self._command("agent_online", (agent_id,), {}, request_id)

    def agent_away(self, agent_id: str, *, request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.agent_away <kefu.Assigner.agent_away>`, journaled."""
        return self._command("agent_away", (agent_id,), {}, request_id)

    def agent_offline(self, agent_id: str, requeue: bool = False, grace: float | None = None,
                      *, request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.agent_offline <kefu.Assigner.agent_offline>`, journaled."""
        return self._command("agent_offline", (agent_id, requeue, grace), {}, request_id)

    def set_cap(self, agent_id: str, cap: Cap | int, *,
                request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.set_cap <kefu.Assigner.set_cap>`, journaled."""
        return self._command("set_cap", (agent_id, cap), {}, request_id)

    def set_weight(self, agent_id: str, weight: int, *,
                   request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.set_weight <kefu.Assigner.set_weight>`, journaled."""
        return self._command("set_weight", (agent_id, weight), {}, request_id)

    def open_session(self, session_id: str, buyer: str | None = None, group: str | None = None,
                     priority: int = 0, *, request_id: str | None = None,
                     kind: str | None = None) -> list[Event]:
        """:meth:`Assigner.open_session <kefu.Assigner.open_session>`, journaled (a ``kind``,
        R26, only when given)."""
        args = (session_id, buyer, group, priority) + (() if kind is None else (kind,))
        return self._command("open_session", args, {}, request_id)

    def buyer_message(self, session_id: str, *, request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.buyer_message <kefu.Assigner.buyer_message>`, journaled."""
        return self._command("buyer_message", (session_id,), {}, request_id)

    def agent_message(self, session_id: str, auto: bool = False, agent_id: str | None = None,
                      *, request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.agent_message <kefu.Assigner.agent_message>`, journaled."""
        return self._command("agent_message", (session_id, auto, agent_id), {}, request_id)

    def assign(self, session_id: str, agent_id: str, *,
               request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.assign <kefu.Assigner.assign>`, journaled."""
        return self._command("assign", (session_id, agent_id), {}, request_id)

    def transfer(self, session_id: str, agent_id: str, *,
                 request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.transfer <kefu.Assigner.transfer>`, journaled."""
        return self._command("transfer", (session_id, agent_id), {}, request_id)

    def close_session(self, session_id: str, *, request_id: str | None = None) -> list[Event]:
        """:meth:`Assigner.close_session <kefu.Assigner.close_session>`, journaled."""
        return self._command("close_session", (session_id,), {}, request_id)

    def tick(self) -> list[Event]:
        """Fire due timers (:meth:`Assigner.tick <kefu.Assigner.tick>`); journaled if any fires."""
        return self._command("tick", (), {}, None)

    # -- queries (no journal) -----------------------------------------------

    def _query(self, name: str, *args: Any) -> Any:
        if not self._guard.enter():
            raise ConcurrentCall(name)
        try:
            self._usable()
            return getattr(self._assigner, name)(*args)
        finally:
            self._guard.leave()

    @property
    def shop_id(self) -> str:
        """The shop's id in its store."""
        return self._lease.shop_id

    @property
    def seq(self) -> int:
        """The journal position of the last accepted command (pending ones included)."""
        return self._seq

    @property
    def config(self) -> Config:
        """The configuration the shop was created with (fixed for its life)."""
        return self._assigner.config

    @property
    def clock(self) -> Clock:
        """The clock the shop reads its commands' times from."""
        return self._clock

    def next_deadline(self) -> float | None:
        """When to call :meth:`tick` next, or None (:meth:`kefu.Assigner.next_deadline`)."""
        result: float | None = self._query("next_deadline")
        return result

    def load(self, agent_id: str) -> int:
        """Open sessions in the agent's reception list (:meth:`kefu.Assigner.load`)."""
        result: int = self._query("load", agent_id)
        return result

    def agent(self, agent_id: str) -> AgentView:
        """A read-only view of one agent (:meth:`kefu.Assigner.agent`)."""
        result: AgentView = self._query("agent", agent_id)
        return result

    def agent_ids(self) -> list[str]:
        """Registered agents in registration order (:meth:`kefu.Assigner.agent_ids`)."""
        result: list[str] = self._query("agent_ids")
        return result

    def session(self, session_id: str) -> SessionView:
        """A read-only view of one open session (:meth:`kefu.Assigner.session`)."""
        result: SessionView = self._query("session", session_id)
        return result

    def session_ids(self) -> list[str]:
        """Open sessions in arrival order (:meth:`kefu.Assigner.session_ids`)."""
        result: list[str] = self._query("session_ids")
        return result

    def waiting(self) -> list[str]:
        """Waiting sessions in service order (:meth:`kefu.Assigner.waiting`)."""
        result: list[str] = self._query("waiting")
        return result

    def position(self, session_id: str) -> int | None:
        """A waiting session's place in its group's line (:meth:`kefu.Assigner.position`)."""
        result: int | None = self._query("position", session_id)
        return result

    def estimated_wait(self, session_id: str, sample: int = DEFAULT_SAMPLE) -> float | None:
        """Seconds until a waiting session is likely handed out, now
        (:meth:`kefu.Assigner.estimated_wait`). Reads the clock; journals nothing."""
        if not self._guard.enter():
            raise ConcurrentCall("estimated_wait")
        try:
            self._usable()
            self._pin.t = self._held = max(_read_clock(self._clock), self._held)
            result: float | None = self._assigner.estimated_wait(session_id, sample)
            return result
        finally:
            self._guard.leave()

    def reception_list(self, agent_id: str) -> list[str]:
        """The agent's open sessions, longest wait first (:meth:`kefu.Assigner.reception_list`)."""
        result: list[str] = self._query("reception_list", agent_id)
        return result

    def snapshot(self) -> dict[str, Any]:
        """The shop's state as :meth:`Assigner.snapshot` data (no journal write)."""
        if not self._guard.enter():
            raise ConcurrentCall("snapshot")
        try:
            self._usable()
            self._pin.t = self._held
            return self._assigner.snapshot()
        finally:
            self._guard.leave()

    def check(self) -> None:
        """Verify every invariant from scratch (:meth:`kefu.Assigner.check`)."""
        self._query("check")

    def __repr__(self) -> str:
        state = ("closed" if self._closed else "failed" if self._failed or self._broken
                 else f"seq={self._seq}")
        return f"<DurableShop {short_repr(self._lease.shop_id)} {state}>"


#: What a shop holds as ``_broken`` while a command runs: should the command not
#: end, the Assigner may hold part of it, unjournaled.
_MIDWAY = RuntimeError("a command was interrupted before it was journaled")
#: What a shop holds as ``_failed`` while a write runs: should it not settle, the
#: store may or may not hold it.
_UNSETTLED = StoreError("a write was interrupted before it settled")


def _read_clock(clock: Clock) -> float:
    """One clock reading as an exact finite float, with the Assigner's errors."""
    try:
        raw = clock.now()
    except Exception as exc:
        raise InvalidArgument(f"clock.now() raised {short_repr(exc)}") from exc
    seconds = as_seconds(raw)
    if seconds is None:
        raise InvalidArgument(f"clock.now() must return seconds, got {short_repr(raw)}")
    if not math.isfinite(seconds):
        raise InvalidArgument(f"clock.now() must be finite, got {short_repr(raw)}")
    return float(seconds)


def _good_request_id(value: object) -> bool:
    """A request id every store can keep as text: a short str, UTF-8 encodable, no NUL."""
    if type(value) is not str or not 0 < len(value) <= MAX_REQUEST_ID or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: Compact ASCII JSON (escapes keep any id storable as text).
_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _events_json(events: list[Event]) -> str:
    return _json([e.to_dict() for e in events])
