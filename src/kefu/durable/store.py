"""What a durable shop needs from a store, and the checks every store shares.

A store keeps, per shop: the latest snapshot (with the journal position it
covers), the journal entries after it, the request ids of recent commands
with their events, and a writer lock. :class:`Store` and :class:`ShopLease`
are the whole contract; :class:`~kefu.durable.SQLiteStore` and
:class:`~kefu.durable.PostgresStore` implement it and pass the same tests.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from kefu._text import short_repr
from kefu.durable.journal import JournalEntry, RequestRecord, StoredShop, StoredSnapshot
from kefu.errors import JournalCorrupt, StoreError

__all__ = ["FORK_GUARD", "Commit", "LeaseRecords", "ShopLease", "Store", "check_leased",
           "let_go_at_fork", "request_positions", "swap_for_null", "verify_rows"]


@attrs.frozen(slots=True)
class Commit:
    """One shop's share of a store transaction (group commit).

    ``entries`` are appended; ``snapshot``, if given, replaces the shop's
    snapshot and drops the journal entries it covers; request records older
    than ``forget_requests_before`` are dropped.
    """

    shop_id: str
    entries: Sequence[JournalEntry]
    snapshot: StoredSnapshot | None = None
    forget_requests_before: int | None = None


class ShopLease(Protocol):
    """One shop's records, held by exactly one writer until :meth:`release` (S07)."""

    @property
    def shop_id(self) -> str: ...

    def read(self, *, repair: bool = False) -> StoredShop:
        """The checked snapshot and journal; JournalCorrupt unless ``repair`` drops a bad tail."""
        ...

    def commit(self, commit: Commit) -> None:
        """Write ``commit`` in one transaction, durable when this returns."""
        ...

    def truncate(self, from_seq: int) -> int:
        """Drop journal entries from ``from_seq`` on (a corrupt tail); return how many."""
        ...

    def request(self, request_id: str) -> RequestRecord | None:
        """The record of a command that carried ``request_id``, if the store still holds it."""
        ...

    def release(self) -> None:
        """Give up the writer lock (idempotent)."""
        ...


class Store(Protocol):
    """Shops' journals and snapshots, shared by the shops of a process or of many."""

    def lease(self, shop_id: str) -> ShopLease:
        """Take ``shop_id``'s writer lock, or raise :class:`~kefu.errors.ShopBusy` at once."""
        ...

    def commit_many(self, commits: Sequence[Commit]) -> None:
        """Write several shops' commits in one transaction (each shop leased here)."""
        ...

    def shop_ids(self) -> list[str]:
        """Every shop the store holds, sorted (a restarted service recovers them)."""
        ...

    def close(self) -> None:
        """Release every lease and the connection (idempotent)."""
        ...


class _Records(Protocol):
    """What a store offers its leases: one shop's records, read and written."""

    def _commit(self, commits: Sequence[Commit], lease: Any) -> None: ...

    def _read(self, lease: Any, repair: bool) -> StoredShop: ...

    def _truncate(self, lease: Any, from_seq: int, covered: int | None = None) -> int: ...

    def _request(self, shop_id: str, request_id: str) -> RequestRecord | None: ...


class LeaseRecords:
    """The record access every store's lease shares: each call goes to its store.

    A lease writes only while it is the very lease that holds its shop: once
    released it stays fenced off, even after the shop is leased again (by
    a new lease of the same store). A store's lease class adds how it was
    taken and how it is released.
    """

    __slots__ = ()
    _store: _Records
    shop_id: str

    def read(self, *, repair: bool = False) -> StoredShop:
        return self._store._read(self, repair)

    def commit(self, commit: Commit) -> None:
        if commit.shop_id != self.shop_id:
            raise StoreError(f"a lease of shop {short_repr(self.shop_id)} cannot write shop "
                             f"{short_repr(commit.shop_id)}")
        self._store._commit([commit], self)

    def truncate(self, from_seq: int) -> int:
        return self._store._truncate(self, from_seq)

    def request(self, request_id: str) -> RequestRecord | None:
        return self._store._request(self.shop_id, request_id)


def check_process(store: object, pid: int) -> None:
    """Raise StoreError if this is not process ``pid``, the one that opened ``store``:
    a child made by fork inherits a store's connection and locks, which stay the
    parent's. One ``getpid`` system call; call it before taking the store's lock
    (a parent thread may have held it at the fork)."""
    if os.getpid() != pid:
        raise StoreError(f"{store!r} was opened by process {pid} and is used in a "
                         "child process after fork; open the store again in the child")


class _ForkAware(Protocol):
    def _forked(self, null: int) -> None: ...


#: The stores of this process, for the fork hook (weak: a store nobody holds is gone).
_live: weakref.WeakSet[_ForkAware] = weakref.WeakSet()

#: Held while a store opens or closes a descriptor the fork hook must know of (with
#: the record of it), and by a fork from its start until the hooks have run: a fork
#: in another thread never lands between the descriptor and its record. Re-entrant:
#: a signal handler that forks inside such a step goes on, as before.
FORK_GUARD = threading.RLock()


def let_go_at_fork(store: _ForkAware) -> None:
    """Have a child made by fork let go of ``store``'s locks (call when it opens). O(1).

    A child inherits copies of the descriptors that hold a store's locks
    (a lock file's, a server connection's socket). Had it kept them, a
    parent that dies while the child lives (a worker pool's worker, a
    subprocess made by fork without exec) would leave its shops busy until
    the child ends. In the child, ``store._forked(null)`` replaces each such
    descriptor by ``null`` (a descriptor on the null device) with
    ``os.dup2``: the number stays valid, so a later close in the child cannot
    hit a file opened since, and the parent's locks are the parent's alone.
    """
    _live.add(store)


def _after_fork_in_child() -> None:
    """The fork hook, in the child: every live store lets go of its locks. O(stores + leases).

    Never raises (a hook's error would only be printed): a store that cannot
    let go keeps its copies, as before.
    """
    stores = list(_live)
    if not stores:
        return
    try:
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    except OSError:  # pragma: no cover - no descriptor left in the child
        return
    try:
        for store in stores:
            with contextlib.suppress(Exception):
                store._forked(null)
    finally:
        os.close(null)


def swap_for_null(fd: int, null: int) -> None:
    """In a forked child: make ``fd`` a copy of ``null``, dropping its copy of the parent's
    file (the number stays open, close-on-exec). One system call; errors are ignored."""
    with contextlib.suppress(OSError):
        os.dup2(null, fd, inheritable=False)


def _after_fork_in_child_guarded() -> None:
    try:
        _after_fork_in_child()
    finally:
        FORK_GUARD.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=FORK_GUARD.acquire, after_in_parent=FORK_GUARD.release,
                        after_in_child=_after_fork_in_child_guarded)


def check_leased(leases: Mapping[str, object], shop_id: str, lease: object) -> None:
    """Raise StoreError unless ``lease`` is what holds ``shop_id`` in ``leases``. O(1)."""
    if leases.get(shop_id) is not lease:
        raise StoreError(f"shop {short_repr(shop_id)} is not leased from this store by this "
                         "lease (it was released)")


def request_positions(rows: Iterable[tuple[str, object]], before: int | None
                      ) -> dict[str, int]:
    """A shop's request ids with their positions, from ``(request_id, seq)`` rows. O(rows).

    Only those before ``before`` (a dropped tail's first position) if given.
    A position that is not an int (a row altered by hand) reads as 0: the id
    stays known, so its use reads the record, which fails its checksum.
    """
    out = {r: s if type(s) is int else 0 for r, s in rows}
    return out if before is None else {r: s for r, s in out.items() if s < before}


Row = tuple[int, float, str, "str | None", "str | None", int]


def verify_rows(shop_id: str, snapshot: StoredSnapshot | None, snapshot_crc: int | None,
                rows: Iterable[Row], *, repair: bool
                ) -> tuple[list[JournalEntry], int | None, bool]:
    """Check a shop's snapshot and journal rows ``(seq, at, command, request_id, events, crc)``.

    Returns the good entries, in order; the position of the first bad one
    when ``repair`` is set (None if all are good); and whether rows the
    snapshot already covers are still stored (redundant, so ``repair`` drops
    them without losing anything). Without ``repair`` a bad or covered
    entry raises :class:`~kefu.errors.JournalCorrupt`. A bad snapshot always
    raises: there is nothing to recover from. Cost: O(journal size).
    """
    if snapshot is not None and snapshot.crc(shop_id) != snapshot_crc:
        raise JournalCorrupt(shop_id, 0, "the snapshot's checksum does not match")
    covered = 0 if snapshot is None else snapshot.seq
    expected = covered + 1
    good: list[JournalEntry] = []
    stale = False
    for seq, at, command, request_id, events, crc in rows:
        if type(seq) is int and seq <= covered:
            if not repair:
                raise JournalCorrupt(shop_id, seq, "the snapshot covers this record, yet it is "
                                     "still stored (did a second writer write?)")
            stale = True
            continue
        why = None
        if seq != expected:
            why = f"expected position {expected} next, found {seq}"
        elif type(at) is not float or type(command) is not str:
            why = "a field has the wrong type"
        else:
            entry = JournalEntry(seq, at, command, request_id, events)
            if not entry.verify(shop_id, crc):
                why = "its checksum does not match (a torn or altered record)"
        if why is not None:
            if not repair:
                raise JournalCorrupt(shop_id, expected, why)
            return good, expected, stale
        good.append(entry)
        expected += 1
    return good, None, stale
