"""PostgresStore: durable shops in a PostgreSQL database, for many processes or machines (S07).

The tables live in one schema (``kefu`` by default), created on first use.
Each store object has one connection. It holds the writer locks of every
shop the store leases, as session-level advisory locks on a 64-bit key
derived from the schema and the shop id, taken without waiting: a second
writer (another process, another machine, or another lease in this one) is
refused at once with :class:`~kefu.errors.ShopBusy`. The server drops the
locks the moment the connection ends, so a writer that crashes (or whose
machine or network goes away) never blocks the shop's recovery for longer
than it takes the server to notice.

Every write goes through the connection that holds the locks, so a writer
whose connection died cannot write any more (fencing): after a lost
connection every call raises :class:`~kefu.errors.StoreError` and the
store's leases are gone; open a new store. :meth:`PostgresStore.commit_many`
writes several shops' commits in one transaction (group commit).

A store belongs to the process that opened it: in a child made by
``os.fork`` every call raises :class:`~kefu.errors.StoreError` and ``close``
sends nothing (the connection is the parent's); open a new store there.

Advisory locks belong to a server session: connect directly or through a
session-mode pooler, never a transaction-mode pooler. Needs psycopg 3 (the
``kefu[postgres]`` extra).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kefu._text import short_repr
from kefu.durable.journal import RequestRecord, StoredShop, StoredSnapshot
from kefu.durable.store import (
    Commit,
    LeaseRecords,
    check_leased,
    check_process,
    let_go_at_fork,
    request_positions,
    swap_for_null,
    verify_rows,
)
from kefu.errors import InvalidArgument, KefuError, ShopBusy, StoreError

try:
    import psycopg
    from psycopg import conninfo, pq, sql
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError(
        "kefu.durable.PostgresStore needs psycopg 3: install kefu[postgres] "
        "(pip install 'kefu[postgres]')") from exc

if TYPE_CHECKING:
    from typing import LiteralString

#: A journal position no shop reaches: "drop nothing from the tail".
_NEVER = 2**62

__all__ = ["PostgresStore"]

SCHEMA_VERSION = 1
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_TABLES = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.kefu_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.kefu_snapshots (
    shop_id text PRIMARY KEY, seq bigint NOT NULL, data text NOT NULL, crc integer NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.kefu_journal (
    shop_id text NOT NULL, seq bigint NOT NULL, at double precision NOT NULL,
    command text NOT NULL, request_id text, events text, crc integer NOT NULL,
    PRIMARY KEY (shop_id, seq));
CREATE TABLE IF NOT EXISTS {s}.kefu_requests (
    shop_id text NOT NULL, request_id text NOT NULL, seq bigint NOT NULL,
    command text NOT NULL, events text NOT NULL, crc integer NOT NULL,
    PRIMARY KEY (shop_id, request_id));
CREATE INDEX IF NOT EXISTS kefu_requests_by_seq ON {s}.kefu_requests (shop_id, seq);
"""


def _lock_key(kind: bytes, text: str) -> int:
    """A signed 64-bit advisory-lock key: blake2b-8 of ``text``.

    Two shops whose keys collide (odds 2**-64 per pair) cannot be leased at
    once; nothing worse happens.
    """
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8,
                             person=kind).digest()
    return int.from_bytes(digest, "big", signed=True)


#: Errors that, like an interrupt, can land anywhere (between taking a shop's
#: advisory lock and recording it, say): they end the store, as an interrupt does.
_ANYWHERE = (RecursionError, MemoryError)


def _check_shop_id(shop_id: object) -> str:
    if type(shop_id) is not str or not shop_id:
        raise InvalidArgument(f"shop id must be a non-empty str, got {short_repr(shop_id)}")
    if "\x00" in shop_id:
        raise InvalidArgument(f"shop id {short_repr(shop_id)} holds a NUL character, which "
                              "PostgreSQL text cannot store")
    try:
        shop_id.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"shop id {short_repr(shop_id)} is not valid Unicode "
                              "(a lone surrogate)") from None
    return shop_id


class PostgresStore:
    """Shops' journals and snapshots in PostgreSQL: ``dsn`` is a libpq URL or ``key=value`` string.

    ``schema`` names the schema that holds the tables (created if missing,
    safely when several processes start at once). Cost: one connection per
    store; one round trip per lease, release or read, one transaction per
    :meth:`commit_many` (the server's ``synchronous_commit`` decides when it
    is durable).
    """

    def __init__(self, dsn: str, *, schema: str = "kefu") -> None:
        if type(dsn) is not str or not dsn:
            raise InvalidArgument(f"dsn must be a non-empty str, got {short_repr(dsn)}")
        if type(schema) is not str or _SCHEMA_NAME.fullmatch(schema) is None:
            raise InvalidArgument(f"schema must be a name of letters, digits and '_' (at most "
                                  f"63, not starting with a digit), got {short_repr(schema)}")
        self.schema = schema
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._leases: dict[str, _PostgresLease] = {}
        self._closed = False
        self._lost: str | None = None
        try:
            if "application_name" not in conninfo.conninfo_to_dict(dsn):
                dsn = conninfo.make_conninfo(dsn, application_name="kefu")
            self._conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        info = self._conn.info
        self._where = f"{info.user}@{info.host}:{info.port}/{info.dbname}"
        self._ident = sql.Identifier(schema)
        try:
            self._create_tables()
        except BaseException:
            self._conn.close()
            raise
        let_go_at_fork(self)

    def _forked(self, null: int) -> None:
        """In a child made by fork: let go of the parent's session. O(1).

        The connection's socket becomes a copy of ``null`` (see
        :func:`~kefu.durable.store.let_go_at_fork`): the server's session,
        and the shops' advisory locks with it, end when the parent's socket
        closes, whatever its children do. psycopg never sends anything when
        it finalises a connection another process opened, and after this the
        child could not reach the parent's session even if it tried.
        """
        if not self._conn.closed:
            swap_for_null(self._conn.pgconn.socket, null)

    @property
    def backend_pid(self) -> int:
        """The server process serving this store's connection (``pg_stat_activity.pid``)."""
        return self._conn.info.backend_pid

    def _create_tables(self) -> None:
        """Create the schema's tables if missing and check its version, under a lock: O(1)."""
        with self._lock, self._connection("creating the tables") as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)",
                         (_lock_key(b"kefu.schema", self.schema),))
            meta = self._q("{s}.kefu_meta").as_string(conn)
            row = conn.execute("SELECT to_regclass(%s)", (meta,)).fetchone()
            if row is None or row[0] is None:
                conn.execute(self._q(_TABLES))
            row = conn.execute(self._q("SELECT value FROM {s}.kefu_meta WHERE key = 'schema'")
                               ).fetchone()
            if row is None:
                conn.execute(self._q("INSERT INTO {s}.kefu_meta VALUES ('schema', %s)"),
                             (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise StoreError(f"schema {self.schema!r} of {self._where} holds kefu schema "
                                 f"{short_repr(row[0])}; this kefu reads schema "
                                 f"{SCHEMA_VERSION}")

    def _q(self, template: LiteralString) -> sql.Composed:
        """``template`` with ``{s}`` replaced by the quoted schema name."""
        return sql.SQL(template).format(s=self._ident)

    @contextmanager
    def _connection(self, doing: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """The connection, for a caller holding the store's lock: errors become StoreError.

        Take the lock with a plain ``with self._lock`` beside this (never
        inside a generator, whose exit an interrupt could skip, keeping the
        lock taken). A lost connection marks the store dead: its leases are
        gone (the server dropped the locks), and every later call raises
        StoreError. So does an interrupt (KeyboardInterrupt, or a
        RecursionError or MemoryError, which land anywhere too) that cut a
        call on the connection half-way, or any error that left a transaction
        open (another error, a bad argument, goes on as it is):
        psycopg's state and the server's may disagree then, and a later
        "commit" could land in a transaction that is never committed.
        Closing the connection rolls back whatever the interrupt left.
        """
        self._usable()
        if self._conn.info.transaction_status != pq.TransactionStatus.IDLE:
            self._lose(StoreError("an interrupted call left the connection busy"))
            self._usable()
        try:
            yield self._conn
        except (KefuError, GeneratorExit):  # GeneratorExit: collected after an interrupt
            raise
        except psycopg.Error as exc:
            if self._conn.broken or self._conn.closed:
                raise self._lost_while(doing, exc) from exc
            raise StoreError(f"{doing} failed: {exc}") from exc
        except UnicodeEncodeError as exc:  # a lone surrogate in a text
            raise StoreError(f"{doing} failed: {exc}") from exc
        except BaseException as exc:  # an interrupt, or what it made psycopg raise
            if (isinstance(exc, Exception) and not isinstance(exc, _ANYWHERE)
                    and not self._conn.broken
                    and self._conn.info.transaction_status == pq.TransactionStatus.IDLE):
                raise  # a bad argument (a commit that is no commit): nothing is left open
            lost = self._lost_while(doing, exc)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like go on as they are
            raise lost from exc

    def _check_process(self) -> None:
        """Raise StoreError in a child process made by fork (call before the lock). O(1).

        The child shares the parent's connection (its socket): a query
        from the child would interleave with the parent's, and unlocking or
        closing there would end the parent's locks and session.
        """
        check_process(self, self._pid)

    def _usable(self) -> None:
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        if self._lost is not None:
            raise StoreError(f"the connection to PostgreSQL ({self._where}) was lost "
                             f"({self._lost}); the store's leases are gone: open a new store")

    def _lost_while(self, doing: str, exc: BaseException) -> StoreError:
        """Drop the connection (see :meth:`_lose`); the error that says so."""
        self._lose(exc)
        return StoreError(f"the connection to PostgreSQL ({self._where}) was lost while "
                          f"{doing}: {str(exc).strip() or type(exc).__name__}; the store's "
                          "leases are gone")

    def _lose(self, exc: BaseException) -> None:
        self._lost = str(exc).strip() or type(exc).__name__
        self._leases.clear()
        self._conn.close()

    def lease(self, shop_id: str) -> _PostgresLease:
        """Take the shop's advisory lock without waiting, or raise ShopBusy (S07). O(1)."""
        _check_shop_id(shop_id)
        key = _lock_key(b"kefu.shop", f"{self.schema}\x00{shop_id}")
        self._check_process()
        lease = _PostgresLease(self, shop_id, key)  # made first: nothing follows the lock
        try:
            with self._lock, self._connection(f"leasing shop {short_repr(shop_id)}") as conn:
                # The lock is re-entrant within a session: refuse a second lease here first.
                if shop_id in self._leases:
                    raise ShopBusy(shop_id)
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row is None or row[0] is not True:
                    raise ShopBusy(shop_id)
                self._leases[shop_id] = lease
        except BaseException:
            # An interrupt as the block ended (the connection is idle): the lease was
            # never handed over, so it lets go of the shop. One cut before it was
            # registered ended the connection, and the lock with it.
            if self._leases.get(shop_id) is lease:
                with contextlib.suppress(KefuError):
                    self._release(lease)
            raise
        return lease

    def commit_many(self, commits: Sequence[Commit]) -> None:
        """Write every commit in one transaction; durable when this returns.

        Each commit's shop must be leased by this store; if any part fails,
        nothing is written. Cost: one round trip per table written, whatever
        the number of shops.
        """
        self._commit(commits, None)

    def _commit(self, commits: Sequence[Commit], lease: _PostgresLease | None) -> None:
        """:meth:`commit_many`; with ``lease``, only while it holds its shop (see check_leased)."""
        self._check_process()
        with self._lock, self._connection("writing to PostgreSQL") as conn:
            if lease is not None:
                check_leased(self._leases, lease.shop_id, lease)
            for c in commits:
                if c.shop_id not in self._leases:
                    raise StoreError(f"shop {short_repr(c.shop_id)} is not leased from this "
                                     "store")
            with conn.transaction(), conn.cursor() as cur:
                self._write(cur, commits)

    def _write(self, cur: psycopg.Cursor[tuple[Any, ...]], commits: Sequence[Commit]) -> None:
        """Every shop's rows in one statement per table (one round trip each, pipelined)."""
        # Forget old request ids first: a forgotten id may come back in this commit.
        forget = [(c.shop_id, c.forget_requests_before) for c in commits
                  if c.forget_requests_before is not None]
        if forget:
            cur.executemany(self._q("DELETE FROM {s}.kefu_requests "
                                    "WHERE shop_id = %s AND seq < %s"), forget)
        journal = [(c.shop_id, e.seq, e.at, e.command, e.request_id, e.events, e.crc(c.shop_id))
                   for c in commits for e in c.entries]
        if journal:
            cur.executemany(self._q("INSERT INTO {s}.kefu_journal VALUES "
                                    "(%s, %s, %s, %s, %s, %s, %s)"), journal)
        requests = [(c.shop_id, e.request_id, e.seq, e.command, e.events,
                     e.request_crc(c.shop_id))
                    for c in commits for e in c.entries
                    if e.request_id is not None and e.events is not None]
        if requests:
            # A reused id the shop has forgotten replaces its old record.
            cur.executemany(self._q("INSERT INTO {s}.kefu_requests VALUES "
                                    "(%s, %s, %s, %s, %s, %s) ON CONFLICT (shop_id, request_id) "
                                    "DO UPDATE SET seq = excluded.seq, command = excluded.command,"
                                    " events = excluded.events, crc = excluded.crc"), requests)
        snapshots = [(c.shop_id, c.snapshot) for c in commits if c.snapshot is not None]
        if snapshots:
            cur.executemany(self._q("INSERT INTO {s}.kefu_snapshots VALUES (%s, %s, %s, %s) "
                                    "ON CONFLICT (shop_id) DO UPDATE SET seq = excluded.seq, "
                                    "data = excluded.data, crc = excluded.crc"),
                            [(shop, s.seq, s.data, s.crc(shop)) for shop, s in snapshots])
            cur.executemany(self._q("DELETE FROM {s}.kefu_journal "
                                    "WHERE shop_id = %s AND seq <= %s"),
                            [(shop, s.seq) for shop, s in snapshots])

    def shop_ids(self) -> list[str]:
        """Every shop this schema holds, sorted. O(shops)."""
        self._check_process()
        with self._lock, self._connection("listing shops") as conn:
            rows = conn.execute(self._q("SELECT shop_id FROM {s}.kefu_snapshots "
                                        "ORDER BY shop_id COLLATE \"C\"")).fetchall()
        return [r[0] for r in rows]

    def _read(self, lease: _PostgresLease, repair: bool) -> StoredShop:
        """The shop's records as one consistent picture, checked. O(journal size)."""
        shop_id = lease.shop_id
        self._check_process()
        with (self._lock, self._connection(f"reading shop {short_repr(shop_id)}") as conn,
              conn.transaction()):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = conn.execute(self._q("SELECT seq, data, crc FROM {s}.kefu_snapshots "
                                       "WHERE shop_id = %s"), (shop_id,)).fetchone()
            rows = conn.execute(self._q("SELECT seq, at, command, request_id, events, crc "
                                        "FROM {s}.kefu_journal WHERE shop_id = %s ORDER BY seq"),
                                (shop_id,)).fetchall()
            requests = conn.execute(self._q("SELECT request_id, seq FROM {s}.kefu_requests "
                                            "WHERE shop_id = %s"), (shop_id,)).fetchall()
        snapshot = None if row is None else StoredSnapshot(row[0], row[1])
        entries, bad, stale = verify_rows(shop_id, snapshot, None if row is None else row[2],
                                          rows, repair=repair)
        if bad is not None or stale:
            self._truncate(lease, _NEVER if bad is None else bad,
                           covered=snapshot.seq if stale and snapshot is not None else None)
        return StoredShop(snapshot, entries, request_positions(requests, bad), bad)

    def _truncate(self, lease: _PostgresLease, from_seq: int, covered: int | None = None) -> int:
        """Drop journal entries from ``from_seq`` on, and those up to ``covered`` (redundant)."""
        shop_id = lease.shop_id
        self._check_process()
        with (self._lock, self._connection(f"truncating shop {short_repr(shop_id)}") as conn,
              conn.transaction()):
            check_leased(self._leases, shop_id, lease)
            n = conn.execute(self._q("DELETE FROM {s}.kefu_journal "
                                     "WHERE shop_id = %s AND seq >= %s"),
                             (shop_id, from_seq)).rowcount
            if covered is not None:
                conn.execute(self._q("DELETE FROM {s}.kefu_journal "
                                     "WHERE shop_id = %s AND seq <= %s"), (shop_id, covered))
            conn.execute(self._q("DELETE FROM {s}.kefu_requests "
                                 "WHERE shop_id = %s AND seq >= %s"), (shop_id, from_seq))
        return n

    def _request(self, shop_id: str, request_id: str) -> RequestRecord | None:
        self._check_process()
        with self._lock, self._connection(f"reading shop {short_repr(shop_id)}") as conn:
            row = conn.execute(self._q("SELECT seq, command, events, crc FROM {s}.kefu_requests "
                                       "WHERE shop_id = %s AND request_id = %s"),
                               (shop_id, request_id)).fetchone()
        return None if row is None else RequestRecord.checked(shop_id, request_id, *row)

    def _release(self, lease: _PostgresLease) -> None:
        """Unlock the shop's advisory lock, then forget the lease. O(1), one round trip.

        The lease is forgotten only once the server let go of the lock (or
        the connection, and every lock with it, is gone): if the unlock fails
        the shop is still this lease's, writable, and a second release retries.
        In a child process after fork nothing is sent: the lock is the parent's.
        """
        if os.getpid() != self._pid:
            return
        with self._lock:
            if self._leases.get(lease.shop_id) is not lease:
                return
            try:
                with self._connection(f"releasing shop {short_repr(lease.shop_id)}"):
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (lease.key,))
            except StoreError as exc:
                if self._lost is None:
                    raise StoreError(f"{exc}; the shop is still leased (the server holds its "
                                     "lock): release it again") from exc
                return  # the server dropped the lock with the connection
            del self._leases[lease.shop_id]

    def close(self) -> None:
        """Release every lease and close the connection (idempotent).

        In a child process after fork the store is only marked closed: the
        connection, and the locks it holds, are the parent's.
        """
        if os.getpid() != self._pid:
            self._closed = True
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._leases.clear()
            try:
                if self._lost is None and (self._conn.info.transaction_status
                                           == pq.TransactionStatus.IDLE):
                    # Unlock now: the server ends a closed session's backend a moment later.
                    self._conn.execute("SELECT pg_advisory_unlock_all()")
            except psycopg.Error:
                pass  # the connection is gone, and its locks with it
            finally:
                self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r}, schema={self.schema!r})"


class _PostgresLease(LeaseRecords):
    """A shop's advisory lock on a PostgresStore's connection, and access to its records."""

    __slots__ = ("_store", "key", "shop_id")
    _store: PostgresStore

    def __init__(self, store: PostgresStore, shop_id: str, key: int) -> None:
        self._store = store
        self.shop_id = shop_id
        self.key = key

    def release(self) -> None:
        self._store._release(self)
