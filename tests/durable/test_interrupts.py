"""S05: an interrupt (KeyboardInterrupt, say) landing anywhere in a command never diverges.

An exception that is not a kefu error can land at any point of a call: a
signal handler raises it between any two steps of Python code. Here a trace
function raises one as the k-th Python function of a command is entered,
for every k until the command completes. Whatever k, the shop either
refuses every later call (ShopFailed) or goes on in step with its journal:
what it shows equals what recovery rebuilds from the store, and recovery
never meets a corrupt journal.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from interrupting import Interrupted, interrupt_at, tracing
from kefu import ManualClock
from kefu.durable import Commit, DurableShop, JournalEntry, SQLiteStore, StoredSnapshot
from kefu.errors import KefuError, ShopBusy, ShopFailed, StoreError

from .store_specs import StoreSpec


def _state(shop: DurableShop) -> dict[str, Any]:
    state: dict[str, Any] = shop.snapshot()["state"]
    return state


@pytest.mark.parametrize("when", ["call", "return"])
@pytest.mark.parametrize("request_id", [None, "r1"])
def test_S05_an_interrupt_at_any_point_of_a_command_never_diverges_from_the_journal(
        store_spec: StoreSpec, request_id: str | None, when: str) -> None:
    clock = ManualClock(0.0)
    store = store_spec.open()
    for k in range(1, 100_000):
        shop_id = f"s{k}"
        shop = DurableShop.open(store, shop_id, clock)
        shop.add_agent("a", online=True)
        shop.open_session("x")
        before = _state(shop)
        if not interrupt_at(k, lambda s=shop: s.open_session("y", request_id=request_id),
                             when):
            shop.close()
            assert k > 20  # the interrupt did land at every earlier point
            return
        try:
            shop.open_session("z")  # a later command, if the shop still takes one
            live: dict[str, Any] | None = _state(shop)
        except ShopFailed:
            live = None  # refused: the shop must be opened again
        with contextlib.suppress(KefuError):  # a failed shop is released all the same
            shop.close(checkpoint=False)
        try:
            again = DurableShop.open(store, shop_id, clock)  # never JournalCorrupt
        except StoreError as exc:  # the interrupt cut a PostgreSQL connection: a new store
            assert "was lost" in str(exc), exc
            store = store_spec.open()
            again = DurableShop.open(store, shop_id, clock)
        got = _state(again)
        again.check()
        if live is not None:
            assert got == live, f"interrupt at call {k}: the shop diverged from its journal"
        else:
            assert got == before or set(again.session_ids()) == {"x", "y"}, k
        again.close()
    pytest.fail("the command never finished")


def test_S05_a_write_an_interrupt_left_open_is_never_read_nor_kept_locked(
        tmp_path: Path) -> None:
    """SQLite: a write transaction whose exit an interrupt skipped is not seen by any read.

    The interrupt lands as the write's transaction block exits, before its
    COMMIT runs: the write was never acknowledged, so no read of the store
    (shop list, request records) may see it, and once the store is used again
    the file's write lock is free for other writers.
    """
    store = SQLiteStore(tmp_path / "shops.db")
    lease = store.lease("a")
    entry = JournalEntry(1, 1.0, '["open_session",["x",null,null,0]]', "r1", "[]")

    def trace(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_name == "__exit__" \
                and frame.f_code.co_filename == contextlib.__file__:
            sys.settrace(None)
            raise Interrupted("interrupt as the transaction ends")

    with pytest.raises(Interrupted), tracing(trace):
        lease.commit(Commit("a", [entry], StoredSnapshot(1, "{}")))
    assert store.shop_ids() == []
    assert lease.request("r1") is None
    other = sqlite3.connect(tmp_path / "shops.db", timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # the file is free for another writer at once
        other.execute("ROLLBACK")
    finally:
        other.close()
    lease.release()
    store.close()


def _lease_interrupted(store: SQLiteStore, hook: Any, install: Any) -> None:
    """Lease shop "a" with ``hook`` installed (``sys.settrace`` or ``sys.setprofile``);
    the hook must interrupt it."""
    install(hook)
    try:
        with pytest.raises(Interrupted):
            store.lease("a")
    finally:
        install(None)


def test_S05_an_interrupt_as_a_lease_is_taken_leaves_no_writer_lock_held(
        tmp_path: Path) -> None:
    """SQLite: an interrupt between taking a shop's file lock and handing the lease
    over must drop the lock, or the shop stays busy until the process ends."""
    store = SQLiteStore(tmp_path / "shops.db")

    def trace(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_name == "__init__" \
                and frame.f_code.co_filename.endswith("sqlite.py"):
            sys.settrace(None)
            raise Interrupted("interrupt as the lease is made")

    _lease_interrupted(store, trace, sys.settrace)
    other = SQLiteStore(tmp_path / "shops.db")
    other.lease("a").release()  # never ShopBusy
    store.lease("a").release()
    other.close()
    store.close()


# -- an interrupt as a shop is leased (S07) ------------------------------------------------


def _entry(seq: int) -> JournalEntry:
    return JournalEntry(seq, 10.0 + seq, f'["open_session",["s{seq}",null,null,0]]', None, None)


def _shop_free(spec: StoreSpec, store: Any) -> bool:
    """Whether a second store takes shop "a" at once; if so, ``store`` cannot write it."""
    other = spec.open()
    try:
        other.lease("a").release()
    except ShopBusy:
        return False
    finally:
        other.close()
    with pytest.raises(StoreError):  # no lease of ``store`` is left that writes "a"
        store.commit_many([Commit("a", [_entry(1)])])
    return True


@pytest.mark.parametrize("when", ["call", "return"])
def test_S07_an_interrupt_anywhere_in_a_lease_never_leaves_the_shop_taken(
        store_spec: StoreSpec, when: str) -> None:
    """For every point of ``store.lease``: the lease is handed over, or the shop is
    free again (no second writer either way). The one exception is an interrupt at
    the very return of ``lease``, after it finished: the caller never receives the
    lease, so the shop stays this store's until the store is closed. PostgreSQL left
    the lease registered when the interrupt landed as the block that took it ended."""
    store = store_spec.open()
    busy = []
    for k in range(1, 10_000):
        got: list[Any] = []
        if not interrupt_at(k, lambda s=store, g=got: g.append(s.lease("a")), when):
            got.pop().release()
            break
        for lease in got:  # the interrupt cut the very end: the lease was handed over
            lease.release()
        try:
            store.shop_ids()
        except StoreError as exc:  # the interrupt cut the connection: a new store
            assert "was lost" in str(exc), exc
            store = store_spec.open()
        if not _shop_free(store_spec, store):
            busy.append(k)
            store.close()  # the lease nobody holds goes with its store
            store = store_spec.open()
            assert _shop_free(store_spec, store)
    else:
        pytest.fail("the lease never finished")
    assert k > 5
    # Only "return" reaches the return of ``lease`` itself (once per store object).
    assert not busy or when == "return", busy
    store.lease("a").release()


def test_S07_an_interrupt_once_a_sqlite_lease_is_registered_leaves_no_writer(
        tmp_path: Path) -> None:
    """A signal's handler runs between two bytecodes, so a KeyboardInterrupt can land
    after the lease is registered and its lock released, before ``lease`` returns.
    Its clean-up closed the lock's descriptor but left the lease registered: another
    store could take the shop, and this one still wrote it (two writers), and
    closing the store later closed the descriptor number again (another file by
    then)."""
    store = SQLiteStore(tmp_path / "shops.db")
    locked = False

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal locked
        if event != "c_return" or frame.f_code.co_name != "lease":
            return
        name = getattr(arg, "__name__", None)
        locked = locked or name == "flock"
        if locked and name == "__exit__":  # the store's lock, once the lease is registered
            sys.setprofile(None)
            raise Interrupted("interrupt after the lease is registered")

    _lease_interrupted(store, profile, sys.setprofile)
    other = SQLiteStore(tmp_path / "shops.db")
    other.lease("a").release()  # the shop is free ...
    with pytest.raises(StoreError):  # ... and this store does not write it any more
        store.commit_many([Commit("a", [_entry(1)])])
    with open(tmp_path / "another", "w") as f:  # may get the freed descriptor number
        store.close()
        os.fstat(f.fileno())  # still open: the store closed nothing of another file's
    other.close()


# An interrupt can land in a generator's clean-up, which Python reports and ignores.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_S07_an_interrupt_anywhere_in_opening_a_shop_never_leaves_it_taken(
        store_spec: StoreSpec) -> None:
    """For every point of ``DurableShop.open`` (each Python call in it): the shop is
    opened, or it is free again at once."""
    clock = ManualClock(0.0)
    store = store_spec.open()
    DurableShop.open(store, "a", clock).close()  # a shop with a snapshot: recovery runs
    for k in range(1, 100_000):
        got: list[DurableShop] = []
        if not interrupt_at(k, lambda s=store, g=got: g.append(DurableShop.open(s, "a", clock))):
            got.pop().close()
            break
        for shop in got:
            shop.close()
        other = store_spec.open()
        try:
            DurableShop.open(other, "a", clock).close()  # never ShopBusy
        finally:
            other.close()
        try:
            DurableShop.open(store, "a", clock).close()
        except StoreError as exc:  # the interrupt cut the connection: a new store
            assert "was lost" in str(exc), exc
            store = store_spec.open()
    else:
        pytest.fail("opening never finished")
    assert k > 20
