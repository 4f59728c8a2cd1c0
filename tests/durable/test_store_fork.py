"""S07: a store belongs to the process that opened it; a forked child cannot use it.

A child made by ``os.fork`` inherits the store object with its connection
(SQLite's, or the socket of the PostgreSQL session) and the writer locks,
all of them the parent's. Every call in the child raises StoreError, the
child's release and close touch nothing of the parent's, and the parent
goes on: its shops stay its own, written by it alone.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kefu import ManualClock
from kefu.durable import Commit, DurableShop, JournalEntry, SQLiteStore, Store
from kefu.errors import ShopBusy, ShopFailed, StoreError

from .store_specs import StoreSpec

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

FORKER = Path(__file__).parent / "fork_child.py"


def entry(seq: int) -> JournalEntry:
    return JournalEntry(seq, 10.0 + seq, f'["open_session",["s{seq}",null,null,0]]', None, None)


def _in_child(work: Any) -> list[str]:
    """Run ``work()`` in a forked child; the lines it returns (or its crash) come back."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            lines = work()
        except BaseException as exc:
            lines = [f"crashed: {type(exc).__name__}: {exc}"]
        os.write(write, "\n".join(lines).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        out = pipe.read().splitlines()
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return out


def _outcome(call: Any) -> str:
    try:
        call()
    except (StoreError, ShopFailed) as exc:
        return f"{type(exc).__name__}: {exc}"
    except BaseException as exc:
        return f"other {type(exc).__name__}: {exc}"
    return "ran"


def test_S07_a_forked_child_cannot_use_its_parents_store_and_the_parent_goes_on(
        store_spec: StoreSpec) -> None:
    store = store_spec.open()
    lease = store.lease("a")
    lease.commit(Commit("a", [entry(1)]))
    shop = DurableShop.open(store, "b", ManualClock(100.0))
    shop.add_agent("ag", 2)

    def child() -> list[str]:
        return [_outcome(lambda: lease.commit(Commit("a", [entry(2)]))),
                _outcome(lambda: store.lease("c")),
                _outcome(store.shop_ids),
                _outcome(lambda: lease.read()),
                _outcome(lambda: shop.add_agent("ag2", 1)),
                _outcome(lease.release),
                _outcome(store.close)]

    out = _in_child(child)
    for line in out[:5]:
        assert line.startswith(("StoreError", "ShopFailed")), out
        assert "after fork" in line, out
    assert out[5:] == ["ran", "ran"], out
    # the parent keeps its leases (the child let go of nothing of the parent's)
    with pytest.raises(ShopBusy):
        store_spec.open().lease("a")
    lease.commit(Commit("a", [entry(2)]))
    assert [e.seq for e in lease.read().entries] == [1, 2]
    shop.add_agent("ag3", 1)
    shop.close()
    store.close()
    again = store_spec.open()
    reopened = DurableShop.open(again, "b", ManualClock(100.0))
    assert sorted(reopened.agent_ids()) == ["ag", "ag3"]
    reopened.close()


def test_S07_a_lease_released_in_the_parent_frees_the_shop_while_a_forked_child_lives(
        tmp_path: Any) -> None:
    """A forked child (a multiprocessing worker) inherits the lease's lock file
    descriptor; the lock belongs to the open file both copies share, so closing
    the parent's copy alone kept the shop busy for as long as the child lived."""
    from kefu.durable import SQLiteStore

    store = SQLiteStore(tmp_path / "x.db")
    lease = store.lease("a")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: lives on, never touches the store
        os.close(write)
        os.read(read, 1)
        os._exit(0)
    os.close(read)
    try:
        lease.release()
        other = SQLiteStore(tmp_path / "x.db")
        other.lease("a").release()  # never ShopBusy: the parent let the shop go
        other.close()
        store.lease("a").release()
    finally:
        os.write(write, b"x")
        os.close(write)
        os.waitpid(pid, 0)
    store.close()


# -- a parent that dies while its forked child lives ----------------------------------------


def _take_soon(store: Store, shop_id: str, within: float = 10.0) -> Any:
    """Lease ``shop_id`` as soon as it is free (a server notices a dead client in a moment)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return store.lease(shop_id)
        except ShopBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_S07_a_parent_that_dies_frees_its_shop_while_its_forked_child_lives(
        store_spec: StoreSpec) -> None:
    """A process leases a shop and forks a child (a worker that never execs), then is
    killed. The child's copy of the lock's descriptor (SQLite: the lock file's;
    PostgreSQL: the session's socket) kept the shop busy for as long as the child
    lived; the child lets go of its copies at the fork, so a third process takes the
    shop at once."""
    proc = subprocess.Popen([sys.executable, str(FORKER), store_spec.target, "orphan"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    child = 0
    try:
        child = int(proc.stdout.readline().split()[1])
        assert proc.stdout.readline().strip() == "ready"
        store = store_spec.open()
        with pytest.raises(ShopBusy):
            store.lease("a")  # the parent holds it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _alive(child)
        lease = _take_soon(store, "a")
        assert _alive(child)  # the shop was free while the child lived
        lease.commit(Commit("a", [entry(2)]))
        assert [e.seq for e in lease.read().entries] == [1, 2]
        lease.release()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()  # the child reads the same pipe: it ends now
        proc.stdout.close()
        deadline = time.monotonic() + 10.0
        while child and _alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.mark.parametrize("mode", ["gc", "exit"])
def test_S07_a_forked_child_that_ends_leaves_its_parents_lease_held_and_writable(
        store_spec: StoreSpec, mode: str) -> None:
    """The child drops the store, collects it and ends (a normal exit that finalises
    everything, or os._exit); the parent then writes on, and another store still
    gets ShopBusy: nothing the child did released or disturbed the parent's lease."""
    out = subprocess.run([sys.executable, str(FORKER), store_spec.target, mode],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.stdout.strip() == "ok [1, 2]", (out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr


def _open_names(path: Path) -> list[str]:
    """What this process's descriptors on ``path`` (and its -wal, -shm) point at."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)) and not target.startswith(f"{path}.locks"):
            names.append(target)
    return sorted(names)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_S07_a_forked_child_never_closes_its_parents_sqlite_connection(
        tmp_path: Path) -> None:
    """SQLite's documentation: never call sqlite3_close in a child on a connection the
    parent opened; its clean-up can delete what the parent still needs. A child that
    collected its copy of the store closed the connection (its files were gone); it
    is kept, never closed, for as long as the child lives."""
    path = (tmp_path / "shops.db").resolve()
    box: list[SQLiteStore] = [SQLiteStore(path)]
    box[0].lease("a").commit(Commit("a", [entry(1)]))
    before = _open_names(path)
    assert before  # the database file at least

    def child() -> list[str]:
        box[0].close()
        box.clear()
        gc.collect()
        return _open_names(path)

    assert _in_child(child) == before
    box[0].close()


def test_S07_a_fork_while_another_thread_opens_a_lock_file_lets_go_of_it_in_the_child(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another thread forks as a lease's lock file has just been opened (``os.open``
    lets other threads run): the child must let go of that descriptor too. It was
    opened but not yet known to the store, so the child kept it, and with it the
    lock the parent took next: a parent that died left the shop busy while the
    child lived."""
    import threading

    store = SQLiteStore(tmp_path / "shops.db")
    lock_dir = str(store._lock_dir)
    real_open = os.open
    opened, forked = threading.Event(), threading.Event()

    def slow_open(path: Any, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, *args, **kwargs)
        if str(path).startswith(lock_dir) and not opened.is_set():
            opened.set()
            forked.wait(2.0)  # the fork lands here, or waits for this to end
        return fd

    monkeypatch.setattr(os, "open", slow_open)
    leases: list[Any] = []
    taker = threading.Thread(target=lambda: leases.append(store.lease("a")))
    taker.start()
    assert opened.wait(10.0)
    read, write = os.pipe()
    started_read, started_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: lives until the pipe closes
        os.close(write)
        os.write(started_write, b"!")  # its fork hooks have run: the copies are let go
        os.read(read, 1)
        os._exit(0)
    os.close(read)
    os.close(started_write)
    try:
        forked.set()
        # The child runs its fork hooks on its own schedule; what is asked is that it
        # holds nothing once it runs, so wait for it to run.
        assert os.read(started_read, 1) == b"!"
        os.close(started_read)
        taker.join(10.0)
        monkeypatch.undo()
        [lease] = leases
        os.close(lease._fd)  # what the parent's death does: its descriptor goes, unlocked
        lease._fd = None
        other = SQLiteStore(tmp_path / "shops.db")
        try:
            other.lease("a").release()  # never ShopBusy: the child holds nothing
        finally:
            other.close()
    finally:
        os.close(write)
        os.waitpid(pid, 0)
        store.close()
