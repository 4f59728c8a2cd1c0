"""S07: a store belongs to the process that opened it; a forked child cannot use it.

A child made by ``os.fork`` inherits the store object with its connection
(SQLite's, or the socket of the PostgreSQL session) and the writer locks,
all of them the parent's. Every call in the child raises StoreError, the
child's release and close touch nothing of the parent's, and the parent
goes on: its shops stay its own, written by it alone.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from kefu import ManualClock
from kefu.durable import Commit, DurableShop, JournalEntry
from kefu.errors import ShopBusy, ShopFailed, StoreError

from .store_specs import StoreSpec

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


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
