"""SQLiteStore: durable shops in one SQLite file, no server (the embedded default, S07).

The file runs in WAL mode with ``synchronous=FULL`` by default, so a
committed transaction survives a process crash and a power cut; ``NORMAL``
survives process crashes only and is faster. Writes go through one
connection per store, serialised by a lock, one transaction per
:meth:`commit_many` call: group commit is as many commands per fsync as the
caller hands over at once.

The writer lock of a shop is an exclusive ``flock`` on a small file beside
the database (``<path>.locks/<hash of the shop id>``): the operating system
drops it the moment its process dies, so a crashed writer never blocks the
shop's recovery, and a second writer (another process, or another
``DurableShop`` in this one) is refused at once with
:class:`~kefu.errors.ShopBusy`. POSIX only.

A store belongs to the process that opened it: in a child made by
``os.fork`` every call raises :class:`~kefu.errors.StoreError` (SQLite
forbids carrying a connection across fork, and the leases' locks are the
parent's); open a new store in the child. The child's ``close`` only lets
go of its copies of the lock files.

Open a database by one name: a symlink or a relative path finds the same
locks (they follow the real file), but a hard link is a second name whose
lock files (and SQLite's WAL) would be others, so a file with more than one
name is refused with :class:`~kefu.errors.StoreError`.

Several processes may share the file (SQLite serialises their writes) as
long as each shop has one writer; a server-backed store scales further.
"""

from __future__ import annotations

import contextlib
import ctypes  # here, not in the fork hook: no import (nor dlopen) in a forked child
import fcntl
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from kefu._text import short_repr
from kefu.durable.journal import RequestRecord, StoredShop, StoredSnapshot
from kefu.durable.store import (
    FORK_GUARD,
    Commit,
    LeaseRecords,
    check_leased,
    check_process,
    let_go_at_fork,
    request_positions,
    swap_for_null,
    verify_rows,
)
from kefu.errors import InvalidArgument, ShopBusy, StoreError

#: A journal position no shop reaches: "drop nothing from the tail".
_NEVER = 2**62

__all__ = ["SQLiteStore"]

SCHEMA_VERSION = 1
# kefu_journal.at has no declared type: a REAL column stores -0.0 as 0 and loses its sign.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS kefu_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kefu_snapshots (
    shop_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, data TEXT NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kefu_journal (
    shop_id TEXT NOT NULL, seq INTEGER NOT NULL, at NOT NULL, command TEXT NOT NULL,
    request_id TEXT, events TEXT, crc INTEGER NOT NULL,
    PRIMARY KEY (shop_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kefu_requests (
    shop_id TEXT NOT NULL, request_id TEXT NOT NULL, seq INTEGER NOT NULL,
    command TEXT NOT NULL, events TEXT NOT NULL, crc INTEGER NOT NULL,
    PRIMARY KEY (shop_id, request_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kefu_requests_by_seq ON kefu_requests (shop_id, seq);
"""


class SQLiteStore:
    """Shops' journals and snapshots in the SQLite file at ``path`` (created if missing).

    ``synchronous`` is SQLite's durability setting: "FULL" (the default)
    or "NORMAL". Cost: one fsync per commit with FULL.
    """

    def __init__(self, path: str | os.PathLike[str],
                 synchronous: Literal["FULL", "NORMAL"] = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise InvalidArgument(f"synchronous must be 'FULL' or 'NORMAL', got "
                                  f"{short_repr(synchronous)}")
        self.path = _as_path(path)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._leases: dict[str, _SQLiteLease] = {}
        self._fds: set[int] = set()  # every lock file descriptor open, leased or being taken
        self._closed = False
        try:
            # Wait up to 10 s for another connection's lock from the first statement
            # on: switching a new file to WAL needs one, and other processes may be
            # opening the same file at this moment.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                       timeout=10.0)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store {str(self.path)!r}: {exc}") from exc
        try:  # a store that cannot open closes its connection (and the files it opened)
            self._prepare(synchronous)
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open the SQLite store {str(self.path)!r}: "
                                 f"{exc}") from exc
            raise
        let_go_at_fork(self)

    def _forked(self, null: int) -> None:
        """In a child made by fork: let go of the parent's locks, keep its connection. O(leases).

        Each lock file descriptor becomes a copy of ``null`` (see
        :func:`~kefu.durable.store.let_go_at_fork`): a parent that dies frees
        its shops at once, whatever its children do. The SQLite connection is
        never closed in the child: SQLite's clean-up at close (rolling back a
        transaction another thread of the parent had open at the fork, or
        checkpointing) can undo or delete what the parent still needs, so
        SQLite forbids closing a connection in a child. It is kept alive, one
        idle connection's memory and descriptors, until the child ends.
        """
        for fd in list(self._fds):
            swap_for_null(fd, null)
        _keep_forever(self._db)

    def _prepare(self, synchronous: str) -> None:
        """Set the connection up, create the tables, check the schema and the file's names."""
        self._db.execute("PRAGMA busy_timeout=10000")
        self._enable_wal()
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._check_schema()
        # The lock directory follows the file, not the name it was opened by: a
        # symlink or a relative path to the same database finds the same locks
        # (and a later chdir changes nothing).
        self._real = Path(os.path.realpath(self.path))
        self._lock_dir = Path(f"{self._real}.locks")
        self._check_links()

    def _check_links(self) -> None:
        """Raise StoreError if the database file has several names (hard links). O(1).

        The writer locks, and SQLite's own WAL and lock files, are found by
        the file's name: through a second name a second writer would find
        none of them and write at once.
        """
        try:
            links = os.stat(self._real).st_nlink
        except OSError as exc:
            raise StoreError(f"cannot read the SQLite store {str(self.path)!r}: {exc}") from exc
        if links > 1:
            raise StoreError(f"the SQLite store {str(self.path)!r} has {links} hard links: "
                             "the same database under several names cannot keep one writer "
                             "per shop; open it by a single name (a symlink is fine)")

    def _check_process(self) -> None:
        """Raise StoreError in a child process made by fork (call before the lock). O(1).

        The child inherits the connection and the leases' locks, but they are
        the parent's: SQLite forbids using a connection across fork, and a
        child writing would share the parent's writer lock.
        """
        check_process(self, self._pid)

    def _enable_wal(self) -> None:
        """Put the file in WAL mode (once per file: the mode is stored in it).

        Switching a new file to WAL while another connection opens it can
        fail at once with "database is locked" (SQLite does not wait on its
        busy timeout there), so the switch is retried for up to 10 s.
        """
        deadline = time.monotonic() + 10.0
        while True:
            try:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                continue
            if str(mode).lower() != "wal":
                raise StoreError(f"{str(self.path)!r} cannot use WAL mode (got {mode!r})")
            return

    @contextlib.contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the store's connection: committed, or rolled back.

        A transaction whose exit an interrupt skipped is left to the next
        :meth:`_begin`: when this generator is collected later, the
        connection may run another caller's transaction.
        """
        db = self._begin("IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except GeneratorExit:
            raise
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _begin(self, kind: Literal["IMMEDIATE", "DEFERRED"]) -> sqlite3.Connection:
        """Begin a transaction (call under the lock), first rolling back one left open.

        Only an interrupt (KeyboardInterrupt, say) landing as a transaction
        ended can leave one open: what it held was never acknowledged. O(1).
        """
        db = self._settled()
        db.execute(f"BEGIN {kind}")
        return db

    def _settled(self) -> sqlite3.Connection:
        """The connection (call under the lock), a transaction left open rolled back. O(1).

        Every use of the connection goes through here, so what such a
        transaction wrote is never read, nor its write lock kept.
        """
        db = self._db
        if db.in_transaction:
            db.execute("ROLLBACK")
        return db

    def _check_schema(self) -> None:
        with self._write_transaction() as db:
            row = db.execute("SELECT value FROM kefu_meta WHERE key='schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO kefu_meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise StoreError(f"{str(self.path)!r} holds kefu schema {row[0]}; this kefu "
                                 f"reads schema {SCHEMA_VERSION}")

    def lease(self, shop_id: str) -> _SQLiteLease:
        """Take the shop's writer lock, or raise ShopBusy at once (S07)."""
        if type(shop_id) is not str or not shop_id:
            raise InvalidArgument(f"shop id must be a non-empty str, got {short_repr(shop_id)}")
        try:
            shop_id.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument(f"shop id {short_repr(shop_id)} is not valid Unicode "
                                  "(a lone surrogate)") from None
        self._check_process()
        with self._lock:
            self._usable()
        self._check_links()
        name = hashlib.sha256(shop_id.encode("utf-8", "surrogatepass")).hexdigest()
        try:
            self._lock_dir.mkdir(exist_ok=True)
            with FORK_GUARD:  # a fork in another thread waits for the record
                fd = os.open(self._lock_dir / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                self._fds.add(fd)  # a fork from now on lets go of it in the child
        except OSError as exc:  # no room, no permission, no descriptor left (EMFILE) ...
            raise StoreError(f"cannot take the writer lock of shop {short_repr(shop_id)} in "
                             f"{str(self._lock_dir)!r}: {exc}") from exc
        try:  # until the lease is handed over, whatever cuts this drops the lock
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with self._lock:
                self._usable()
                lease = self._leases[shop_id] = _SQLiteLease(self, shop_id, fd)
        except BlockingIOError:
            self._fds.discard(fd)
            os.close(fd)
            raise ShopBusy(shop_id) from None
        except OSError as exc:  # ENOLCK on some network file systems, EINTR ...
            self._fds.discard(fd)
            os.close(fd)
            raise StoreError(f"cannot take the writer lock of shop {short_repr(shop_id)} in "
                             f"{str(self._lock_dir)!r}: {exc}") from exc
        except BaseException:
            # An interrupt, even one landing once the lease is registered (a signal's
            # handler runs between any two bytecodes): the lease was never handed
            # over, so it is forgotten and its lock dropped (built-in calls only, as
            # in _release: no Python function here that a second interrupt could cut).
            try:
                with self._lock:
                    held = self._leases.get(shop_id)
                    if held is not None and held._fd == fd:  # ours: the number is open
                        del self._leases[shop_id]
                        held._fd = None
            finally:
                with FORK_GUARD:  # still locked: a child must not keep a copy
                    self._fds.discard(fd)
                    os.close(fd)
            raise
        return lease

    def commit_many(self, commits: Sequence[Commit]) -> None:
        """Write every commit in one transaction; durable when this returns."""
        self._commit(commits, None)

    def _commit(self, commits: Sequence[Commit], lease: _SQLiteLease | None) -> None:
        """:meth:`commit_many`; with ``lease``, only while it holds its shop (see check_leased)."""
        self._check_process()
        with self._lock:
            self._usable()
            if lease is not None:
                check_leased(self._leases, lease.shop_id, lease)
            try:
                with self._write_transaction():
                    for c in commits:
                        self._write(c)
            except (sqlite3.Error, UnicodeEncodeError) as exc:
                raise StoreError(f"writing to {str(self.path)!r} failed: {exc}") from exc

    def _write(self, c: Commit) -> None:
        db, shop = self._db, c.shop_id
        lease = self._leases.get(shop)
        if lease is None or lease._fd is None:  # no lease, or one whose lock is let go
            raise StoreError(f"shop {short_repr(shop)} is not leased from this store")
        # Forget old request ids first: a forgotten id may come back in this commit.
        if c.forget_requests_before is not None:
            db.execute("DELETE FROM kefu_requests WHERE shop_id = ? AND seq < ?",
                       (shop, c.forget_requests_before))
        db.executemany(
            "INSERT INTO kefu_journal VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(shop, e.seq, e.at, e.command, e.request_id, e.events, e.crc(shop))
             for e in c.entries])
        requests = [(shop, e.request_id, e.seq, e.command, e.events, e.request_crc(shop))
                    for e in c.entries if e.request_id is not None and e.events is not None]
        if requests:
            # A reused id the shop has forgotten replaces its old record.
            db.executemany("INSERT OR REPLACE INTO kefu_requests VALUES (?, ?, ?, ?, ?, ?)",
                           requests)
        if c.snapshot is not None:
            s = c.snapshot
            db.execute("INSERT OR REPLACE INTO kefu_snapshots VALUES (?, ?, ?, ?)",
                       (shop, s.seq, s.data, s.crc(shop)))
            db.execute("DELETE FROM kefu_journal WHERE shop_id = ? AND seq <= ?", (shop, s.seq))

    def _usable(self) -> None:
        """Raise StoreError once the store is closed (call under the lock)."""
        if self._closed:
            raise StoreError(f"{self!r} is closed")

    def shop_ids(self) -> list[str]:
        """Every shop this database holds, sorted. O(shops)."""
        self._check_process()
        with self._lock:
            self._usable()
            try:
                rows = self._settled().execute(
                    "SELECT shop_id FROM kefu_snapshots ORDER BY shop_id").fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"reading {str(self.path)!r} failed: {exc}") from exc
        return [r[0] for r in rows]

    def _read(self, lease: _SQLiteLease, repair: bool) -> StoredShop:
        shop_id = lease.shop_id
        self._check_process()
        with self._lock:
            self._usable()
            try:
                db = self._begin("DEFERRED")
                try:
                    row = db.execute("SELECT seq, data, crc FROM kefu_snapshots "
                                     "WHERE shop_id = ?", (shop_id,)).fetchone()
                    snapshot = None if row is None else StoredSnapshot(row[0], row[1])
                    rows = db.execute(
                        "SELECT seq, at, command, request_id, events, crc FROM kefu_journal "
                        "WHERE shop_id = ? ORDER BY seq", (shop_id,)).fetchall()
                    requests = db.execute(
                        "SELECT request_id, seq FROM kefu_requests WHERE shop_id = ?",
                        (shop_id,)).fetchall()
                finally:
                    db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"reading {str(self.path)!r} failed: {exc}") from exc
        entries, bad, stale = verify_rows(shop_id, snapshot, None if row is None else row[2],
                                          rows, repair=repair)
        if bad is not None or stale:
            self._truncate(lease, _NEVER if bad is None else bad,
                           covered=snapshot.seq if stale and snapshot is not None else None)
        return StoredShop(snapshot, entries, request_positions(requests, bad), bad)

    def _truncate(self, lease: _SQLiteLease, from_seq: int, covered: int | None = None) -> int:
        """Drop journal entries from ``from_seq`` on, and those up to ``covered`` (redundant)."""
        shop_id = lease.shop_id
        self._check_process()
        with self._lock:
            self._usable()
            check_leased(self._leases, shop_id, lease)
            if lease._fd is None:
                raise StoreError(f"shop {short_repr(shop_id)}'s lease was released")
            try:
                with self._write_transaction() as db:
                    n = db.execute("DELETE FROM kefu_journal WHERE shop_id = ? AND seq >= ?",
                                   (shop_id, from_seq)).rowcount
                    if covered is not None:
                        db.execute("DELETE FROM kefu_journal WHERE shop_id = ? AND seq <= ?",
                                   (shop_id, covered))
                    db.execute("DELETE FROM kefu_requests WHERE shop_id = ? AND seq >= ?",
                               (shop_id, from_seq))
            except sqlite3.Error as exc:
                raise StoreError(f"writing to {str(self.path)!r} failed: {exc}") from exc
        return int(n)

    def _request(self, shop_id: str, request_id: str) -> RequestRecord | None:
        self._check_process()
        with self._lock:
            self._usable()
            try:
                row = self._settled().execute(
                    "SELECT seq, command, events, crc FROM kefu_requests WHERE shop_id = ? AND "
                    "request_id = ?", (shop_id, request_id)).fetchone()
            except (sqlite3.Error, UnicodeEncodeError) as exc:
                raise StoreError(f"reading {str(self.path)!r} failed: {exc}") from exc
        return None if row is None else RequestRecord.checked(shop_id, request_id, *row)

    def _release(self, lease: _SQLiteLease) -> None:
        """Forget ``lease`` and close its descriptor, exactly once whatever the threads. O(1).

        Under the store's lock, so two threads releasing one lease cannot
        both close the descriptor (the second close could hit a file opened
        meanwhile); the descriptor is closed even if an interrupt lands after
        the lease is forgotten. The lock is unlocked before the close, so a
        forked child's copy of the descriptor cannot keep the shop busy. In a
        child process after fork only the child's copy of the descriptor is
        closed (the parent keeps its lock).
        """
        if os.getpid() != self._pid:  # the parent's lock may be held: only the child's copy
            fd, lease._fd = lease._fd, None
            if fd is not None:
                self._fds.discard(fd)
                os.close(fd)
            return
        with self._lock:
            fd, lease._fd = lease._fd, None  # no call in between: nothing can cut it
            try:
                if self._leases.get(lease.shop_id) is lease:
                    del self._leases[lease.shop_id]
            finally:
                if fd is not None:
                    try:  # unlock first: a forked child's copy of the descriptor
                        # shares the lock, which closing ours alone would not drop
                        with contextlib.suppress(OSError):  # closing drops it then
                            fcntl.flock(fd, fcntl.LOCK_UN)
                    finally:
                        self._fds.discard(fd)
                        os.close(fd)

    def close(self) -> None:
        """Release every lease and close the database (idempotent).

        In a child process after fork, only the child's copies of the lease
        descriptors are closed: the connection is the parent's. The store
        is marked closed before its leases are listed, so a lease being
        taken in another thread meanwhile is either refused or released.
        """
        if os.getpid() != self._pid:
            self._closed = True
            for lease in list(self._leases.values()):
                lease.release()
            return
        with self._lock:
            self._closed = True
            leases = list(self._leases.values())
        for lease in leases:
            lease.release()
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


def _keep_forever(obj: object) -> None:
    """Never free ``obj`` in this process, not even as the interpreter exits. O(1).

    One reference more than anything holds (CPython's reference count): its
    finaliser never runs. For what a forked child must not finalise.
    """
    _INCREF(ctypes.py_object(obj))


#: CPython's Py_IncRef, its symbol looked up here: a forked child of a threaded
#: parent must not call the dynamic loader (dlsym), whose lock another thread
#: may have held at the fork.
_INCREF = ctypes.pythonapi.Py_IncRef


def _as_path(path: object) -> Path:
    """``path`` as a Path SQLite can open, or InvalidArgument (not a path, or a NUL in it)."""
    try:
        checked = Path(path)  # type: ignore[arg-type]
    except Exception:  # not a str or os.PathLike, or a hostile __fspath__
        checked = None
    if checked is None or "\x00" in str(checked):
        raise InvalidArgument(f"path must be a file path (a str or os.PathLike without NUL), "
                              f"got {short_repr(path)}")
    return checked


class _SQLiteLease(LeaseRecords):
    """A shop's writer lock on a SQLiteStore, and access to its records."""

    __slots__ = ("_fd", "_store", "shop_id")
    _store: SQLiteStore

    def __init__(self, store: SQLiteStore, shop_id: str, fd: int) -> None:
        self._store = store
        self.shop_id = shop_id
        self._fd: int | None = fd

    def release(self) -> None:
        self._store._release(self)
