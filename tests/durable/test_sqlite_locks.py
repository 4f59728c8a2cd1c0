"""SQLite's writer locks under threads, failing lock calls, other names of one file, fork (S07).

A shop's writer lock is an exclusive ``flock`` on a descriptor the lease
owns. These tests pin down what happens around that descriptor: it is
closed exactly once, never leaked, and never used by the wrong process or
reached through a second name of the database.
"""

from __future__ import annotations

import dis
import errno
import fcntl
import gc
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest

from interrupting import tracing
from kefu.durable import Commit, JournalEntry, SQLiteStore
from kefu.errors import ShopBusy, StoreError


def entry(seq: int) -> JournalEntry:
    return JournalEntry(seq, 10.0 + seq, f'["open_session",["s{seq}",null,null,0]]', None, None)


def open_fds() -> set[str]:
    """The process's descriptors, once the garbage of earlier tests is collected (a
    store they left open, collected in the middle of a test, closed its files then)."""
    gc.collect()
    return set(os.listdir("/proc/self/fd"))


# -- a lease's descriptor is closed once --------------------------------------------------


def _after_fd_read(code: CodeType) -> set[int]:
    """Offsets of the instructions right after each read of an ``_fd`` attribute in ``code``."""
    out: set[int] = set()
    previous = None
    for ins in dis.get_instructions(code):
        if previous is not None and previous.opname == "LOAD_ATTR" and previous.argval == "_fd":
            out.add(ins.offset)
        previous = ins
    return out


def test_S07_two_threads_releasing_one_lease_close_its_descriptor_once(tmp_path: Path) -> None:
    """Thread A is switched out right after reading the lease's descriptor; thread B
    releases the lease and the process opens another file (which gets the freed
    number). A going on must not close that file: the descriptor is closed once.
    The switch is forced at the instruction a free-threaded Python (or any thread
    switch there) could make."""
    store = SQLiteStore(tmp_path / "shops.db")
    lease = store.lease("a")
    b_done = threading.Event()
    paused = threading.Event()

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_filename.endswith(os.path.join("durable", "sqlite.py")):
            frame.f_trace_opcodes = True
            if event == "opcode" and not paused.is_set() \
                    and frame.f_lasti in _after_fd_read(frame.f_code):
                paused.set()
                b_done.wait(1.0)  # B runs now, unless it needs what A holds
        return trace

    def a() -> None:
        sys.settrace(trace)
        try:
            lease.release()
        finally:
            sys.settrace(None)

    thread_a = threading.Thread(target=a)
    thread_a.start()
    assert paused.wait(5.0)
    thread_b = threading.Thread(target=lease.release)
    thread_b.start()
    thread_b.join(0.5)
    unrelated = os.open(tmp_path / "unrelated", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    b_done.set()
    thread_a.join(5.0)
    thread_b.join(5.0)
    try:
        os.fstat(unrelated)  # EBADF if a second close hit it
    finally:
        os.close(unrelated)
    store.lease("a").release()
    store.close()


def test_S07_an_interrupt_anywhere_in_a_release_never_leaks_the_writer_lock(
        tmp_path: Path) -> None:
    """An interrupt landing as the k-th Python function of ``release`` is entered,
    for every k: a retried release then frees the shop, the descriptor is closed,
    and the lease stays fenced off. The old release let go of the descriptor
    first, so an interrupt in the store's bookkeeping leaked it, flock and all."""

    class Interrupted(BaseException):
        pass

    store = SQLiteStore(tmp_path / "shops.db")
    other = SQLiteStore(tmp_path / "shops.db")
    k = 0
    while True:
        k += 1
        lease = store.lease("a")
        before = len(open_fds())
        entered = 0

        def trace(frame: FrameType, event: str, arg: object, k: int = k) -> None:
            nonlocal entered
            if event == "call":
                entered += 1
                if entered == k:
                    raise Interrupted
            return None

        try:
            with tracing(trace):
                lease.release()
            landed = False
        except Interrupted:
            landed = True
        lease.release()  # the retry a caller makes
        assert len(open_fds()) == before - 1, k
        other.lease("a").release()  # never ShopBusy
        with pytest.raises(StoreError, match="not leased"):
            lease.commit(Commit("a", [entry(1)]))
        if not landed:
            break
    assert k >= 2  # the interrupt did land inside release at least once
    other.close()
    store.close()


def test_S07_closing_a_store_while_another_thread_takes_a_lease_leaks_no_lock(
        tmp_path: Path) -> None:
    """Thread B has its shop's flock and is registering the lease when the store is
    closed: close must release that lease too (it listed the leases before B's was
    in), or the shop stays busy until the process ends."""
    store = SQLiteStore(tmp_path / "shops.db")
    registering = threading.Event()
    taken: list[object] = []

    def trace(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_name == "__init__" \
                and frame.f_code.co_filename.endswith(os.path.join("durable", "sqlite.py")):
            registering.set()
            time.sleep(0.3)  # the store is closed meanwhile
        return None

    def b() -> None:
        sys.settrace(trace)
        try:
            taken.append(store.lease("a"))
        except StoreError as exc:
            taken.append(exc)
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=b)
    thread.start()
    assert registering.wait(5.0)
    store.close()
    thread.join(5.0)
    assert taken
    other = SQLiteStore(tmp_path / "shops.db")
    other.lease("a").release()  # never ShopBusy
    other.close()


def test_S07_a_store_that_cannot_open_leaves_no_file_open(tmp_path: Path) -> None:
    """A file holding another kefu schema (or a hard link) is refused: the refused
    store must close what it opened, even while its error is still held."""
    SQLiteStore(tmp_path / "shops.db").close()
    db = sqlite3.connect(tmp_path / "shops.db")
    db.execute("UPDATE kefu_meta SET value = '99' WHERE key = 'schema'")
    db.commit()
    db.close()
    before = open_fds()
    with pytest.raises(StoreError, match="schema 99") as refused:
        SQLiteStore(tmp_path / "shops.db")
    assert open_fds() == before, refused.value


# -- one database, several names ----------------------------------------------------------


def test_S07_a_shop_reached_through_a_symlink_or_relative_path_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "real").mkdir()
    store = SQLiteStore(tmp_path / "real" / "shops.db")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path / "real")
    others = [SQLiteStore(tmp_path / "link" / "shops.db"), SQLiteStore("./shops.db"),
              SQLiteStore(f"{tmp_path}/real/../real/shops.db")]
    lease = store.lease("a")
    for other in others:
        with pytest.raises(ShopBusy):
            other.lease("a")
    lease.release()
    for other in others:
        other.lease("a").release()
        other.close()
    store.close()


def test_S07_a_store_opened_by_a_relative_path_leases_after_a_chdir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    store = SQLiteStore("shops.db")
    monkeypatch.chdir(tmp_path / "b")
    lease = store.lease("s")
    with pytest.raises(ShopBusy):
        SQLiteStore(tmp_path / "a" / "shops.db").lease("s")
    lease.release()
    store.close()
    assert not (tmp_path / "b" / "shops.db.locks").exists()


def test_S07_a_database_with_a_hard_link_is_refused(tmp_path: Path) -> None:
    """A hard link is a second name: its writer locks, and SQLite's WAL, would be
    other files, so a store on each name would both get the shop. Refused by either
    name, at open and (for a link made later) at lease."""
    SQLiteStore(tmp_path / "shops.db").close()
    os.link(tmp_path / "shops.db", tmp_path / "again.db")
    for name in ("shops.db", "again.db"):
        with pytest.raises(StoreError, match="has 2 hard links"):
            SQLiteStore(tmp_path / name)
    os.unlink(tmp_path / "again.db")
    store = SQLiteStore(tmp_path / "shops.db")
    os.link(tmp_path / "shops.db", tmp_path / "again.db")
    with pytest.raises(StoreError, match="has 2 hard links"):
        store.lease("a")
    os.unlink(tmp_path / "again.db")
    store.lease("a").release()
    store.close()


# -- flock failing other than busy --------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.EINTR, errno.EBADF])
def test_S07_a_lock_call_the_system_fails_is_a_store_error_and_leaks_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    store = SQLiteStore(tmp_path / "shops.db")
    store.lease("warm").release()  # the lock folder exists
    before = open_fds()

    def failing(fd: int, operation: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", failing)
    with pytest.raises(StoreError, match=r"writer lock of shop 'a' in .*shops\.db\.locks"):
        store.lease("a")
    assert open_fds() == before
    monkeypatch.undo()
    store.lease("a").release()
    store.close()
