"""SQLite's writer locks under threads, failing lock calls, other names of one file, fork (S07).

A shop's writer lock is an exclusive ``flock`` on a descriptor the lease
owns. These tests pin down what happens around that descriptor: it is
closed exactly once, never leaked, and never used by the wrong process or
reached through a second name of the database.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest

from kefu.durable import JournalEntry, SQLiteStore
from kefu.errors import StoreError


def entry(seq: int) -> JournalEntry:
    return JournalEntry(seq, 10.0 + seq, f'["open_session",["s{seq}",null,null,0]]', None, None)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


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
