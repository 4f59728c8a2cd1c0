"""The store contract, on SQLite and on PostgreSQL alike (S05, S06, S07).

Every test here runs once per store kind (the ``store_spec`` fixture): one
writer per shop, refused at once and freed at once when a writer dies;
records round-trip exactly; a group commit is all or nothing; snapshots
compact the journal; request records are kept and forgotten; an altered or
missing record is reported with its position, never returned.
"""

from __future__ import annotations

import doctest
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kefu.durable import (
    Commit,
    JournalEntry,
    RequestRecord,
    SQLiteStore,
    StoredSnapshot,
    open_store,
)
from kefu.errors import InvalidArgument, JournalCorrupt, ShopBusy, StoreError

from .store_specs import StoreSpec, require_postgres


def entries(first: int, last: int, *, at: float = 10.0, rid: bool = False) -> list[JournalEntry]:
    """Journal entries ``first..last``; with ``rid`` each carries a request id and events."""
    return [JournalEntry(seq, at + seq, f'["open_session",["s{seq}",null,null,0]]',
                         f"r{seq}" if rid else None, f'[{{"seq":{seq}}}]' if rid else None)
            for seq in range(first, last + 1)]


def positions(store_spec: StoreSpec, shop: str) -> list[int]:
    return [r[0] for r in store_spec.execute(
        "SELECT seq FROM {journal} WHERE shop_id = ? ORDER BY seq", shop)]


# -- one writer per shop (S07) -----------------------------------------------------------


def test_S07_second_lease_of_a_shop_is_refused_at_once(store_spec: StoreSpec) -> None:
    store, other = store_spec.open(), store_spec.open()
    lease = store.lease("shop-1")
    for contender in (store, other):
        started = time.monotonic()
        with pytest.raises(ShopBusy, match="shop 'shop-1' already has a writer"):
            contender.lease("shop-1")
        assert time.monotonic() - started < 1.0
    assert other.lease("shop-2").shop_id == "shop-2"  # other shops are free
    lease.release()
    lease.release()  # idempotent
    assert other.lease("shop-1").shop_id == "shop-1"
    with pytest.raises(ShopBusy):
        store.lease("shop-1")


def test_S07_close_frees_every_lease_of_the_store(store_spec: StoreSpec) -> None:
    store, other = store_spec.open(), store_spec.open()
    for shop in ("a", "b", "c"):
        store.lease(shop)
    store.close()
    store.close()  # idempotent
    assert [other.lease(shop).shop_id for shop in ("a", "b", "c")] == ["a", "b", "c"]


def test_S07_shop_ids_are_checked(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    for bad in ("", None, 7, b"shop"):
        with pytest.raises(InvalidArgument, match="shop id must be a non-empty str"):
            store.lease(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="not valid Unicode"):
        store.lease("\ud800")
    odd = "店铺 \u2028 'quoted' \"x\" \\ %s ?"
    lease = store.lease(odd)
    lease.commit(Commit(odd, entries(1, 1)))
    assert [e.seq for e in lease.read().entries] == [1]


_CHILD = """
import sys, time
from kefu.durable import open_store
store = open_store(sys.argv[1])
store.lease(sys.argv[2])
print("ready", getattr(store, "backend_pid", 0), flush=True)
time.sleep(120)
"""


def _wait_backend_gone(store_spec: StoreSpec, pid: int, within: float) -> float:
    """Seconds until the server has ended a dead client's backend ``pid``."""
    started = time.monotonic()
    while store_spec.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ?", pid)[0][0]:
        assert time.monotonic() - started < within, f"backend {pid} outlived its client"
        time.sleep(0.005)
    return time.monotonic() - started


def test_S07_a_writer_killed_with_sigkill_frees_its_shop_at_once(
        store_spec: StoreSpec) -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD, store_spec.target, "shop-k"],
                             stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().split() if child.stdout else []
        assert line[:1] == ["ready"], f"the writer process did not start: {line}"
        store = store_spec.open()
        with pytest.raises(ShopBusy):
            store.lease("shop-k")  # held by another process
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
        child.wait()
        if child.stdout:
            child.stdout.close()
    if store_spec.kind == "postgres":
        # The server drops the locks as soon as it sees the socket close: no lease expiry.
        _wait_backend_gone(store_spec, int(line[1]), within=5.0)
    lease = store.lease("shop-k")  # first try, no waiting
    lease.commit(Commit("shop-k", entries(1, 2)))
    assert [e.seq for e in lease.read().entries] == [1, 2]


# -- records round-trip (S05) ------------------------------------------------------------


texts = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                max_size=40)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(ats=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1,
                    max_size=6),
       command=texts, rid=st.none() | texts.filter(bool), snapshot=texts)
@example(ats=[-0.0, 5e-324, -1.7976931348623157e308, 0.1], command="", rid=None, snapshot="")
def test_S05_commit_then_read_round_trips_exactly(
        store_spec: StoreSpec, ats: list[float], command: str, rid: str | None,
        snapshot: str) -> None:
    store = store_spec.open()
    shop = f"shop-{uuid.uuid4().hex}"
    lease = store.lease(shop)
    written = [JournalEntry(i + 2, at, command + str(i), None if rid is None else f"{rid}{i}",
                            None if rid is None else f"[{i}]") for i, at in enumerate(ats)]
    lease.commit(Commit(shop, written, StoredSnapshot(1, snapshot)))
    lease.release()
    got = store_spec.open().lease(shop).read()
    assert got.snapshot == StoredSnapshot(1, snapshot)
    assert list(got.entries) == written
    assert [e.at.hex() for e in got.entries] == [at.hex() for at in ats]  # -0.0 too
    assert got.request_ids == ({} if rid is None else {f"{rid}{i}": i + 2
                                                        for i in range(len(ats))})
    assert got.dropped_from is None


def test_S05_a_new_shop_reads_empty(store_spec: StoreSpec) -> None:
    got = store_spec.open().lease("nobody").read()
    assert (got.snapshot, list(got.entries), got.request_ids, got.dropped_from) == (
        None, [], {}, None)


# -- group commit is all or nothing (S07) --------------------------------------------------


def test_S07_commit_many_writes_several_shops_in_one_transaction(
        store_spec: StoreSpec) -> None:
    store = store_spec.open()
    leases = {shop: store.lease(shop) for shop in ("a", "b", "c")}
    store.commit_many([Commit("a", entries(1, 3)), Commit("b", entries(1, 1)),
                       Commit("c", (), StoredSnapshot(0, "{}"))])
    assert [len(leases[s].read().entries) for s in "abc"] == [3, 1, 0]
    assert leases["c"].read().snapshot == StoredSnapshot(0, "{}")


def test_S07_a_failing_commit_in_a_group_writes_nothing(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    a, b = store.lease("a"), store.lease("b")
    b.commit(Commit("b", entries(1, 2)))
    with pytest.raises(StoreError):  # b's position 2 is taken: the whole group fails
        store.commit_many([Commit("a", entries(1, 2, rid=True), StoredSnapshot(0, "{}")),
                           Commit("b", entries(2, 3))])
    assert (a.read().snapshot, list(a.read().entries), a.read().request_ids) == (None, [], {})
    assert [e.seq for e in b.read().entries] == [1, 2]
    store.commit_many([Commit("a", entries(1, 2))])  # the store is usable after the failure
    assert [e.seq for e in a.read().entries] == [1, 2]


def test_S07_text_a_store_cannot_encode_fails_the_write_and_writes_nothing(
        store_spec: StoreSpec) -> None:
    lease = store_spec.open().lease("shop")
    for bad in (JournalEntry(2, 1.0, '["x",[]]', "\udc00", "[]"),
                JournalEntry(2, 1.0, '["\ud800",[]]')):
        with pytest.raises(StoreError, match="surrogates not allowed"):
            lease.commit(Commit("shop", [*entries(1, 1), bad]))
    assert positions(store_spec, "shop") == []
    lease.commit(Commit("shop", entries(1, 1)))
    assert positions(store_spec, "shop") == [1]


def test_S07_only_a_leased_shop_can_be_written(store_spec: StoreSpec) -> None:
    store, other = store_spec.open(), store_spec.open()
    a = store.lease("a")
    other.lease("x")
    for commits in ([Commit("x", entries(1, 1))],
                    [Commit("a", entries(1, 1)), Commit("x", entries(1, 1))]):
        with pytest.raises(StoreError, match="'x' is not leased from this store"):
            store.commit_many(commits)
    a.release()
    with pytest.raises(StoreError, match="'a' is not leased from this store"):
        a.commit(Commit("a", entries(1, 1)))  # a released lease is fenced off
    assert positions(store_spec, "a") == positions(store_spec, "x") == []


def test_S07_a_released_lease_stays_fenced_off_when_the_shop_is_leased_again(
        store_spec: StoreSpec) -> None:
    """A stale lease must not write or truncate the records of the shop's next writer."""
    store = store_spec.open()
    stale = store.lease("a")
    stale.commit(Commit("a", entries(1, 1)))
    stale.release()
    current = store.lease("a")
    current.commit(Commit("a", entries(2, 2)))
    with pytest.raises(StoreError, match="'a' is not leased"):
        stale.commit(Commit("a", entries(3, 3)))
    with pytest.raises(StoreError, match="'a' is not leased"):
        stale.truncate(1)
    with pytest.raises(StoreError, match="cannot write shop 'b'"):
        current.commit(Commit("b", entries(1, 1)))  # a lease writes its own shop only
    assert positions(store_spec, "a") == [1, 2]
    assert positions(store_spec, "b") == []


def test_S07_writes_from_several_threads_all_land(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    shops = [f"t{i}" for i in range(4)]
    leases = [store.lease(s) for s in shops]
    errors: list[BaseException] = []

    def write(lease_index: int) -> None:
        lease = leases[lease_index]
        try:
            for seq in range(1, 21):
                lease.commit(Commit(lease.shop_id, entries(seq, seq)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(leases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(positions(store_spec, s) == list(range(1, 21)) for s in shops)


# -- snapshots and request records (S05, S06) ------------------------------------------------


def test_S05_a_snapshot_replaces_the_last_and_compacts_the_journal(
        store_spec: StoreSpec) -> None:
    store = store_spec.open()
    lease = store.lease("shop")
    lease.commit(Commit("shop", entries(1, 5), StoredSnapshot(0, '{"v":0}')))
    lease.commit(Commit("shop", entries(6, 6), StoredSnapshot(3, '{"v":3}')))
    assert positions(store_spec, "shop") == [4, 5, 6]
    got = lease.read()
    assert got.snapshot == StoredSnapshot(3, '{"v":3}')
    assert [e.seq for e in got.entries] == [4, 5, 6]
    lease.commit(Commit("shop", (), StoredSnapshot(6, '{"v":6}')))
    assert positions(store_spec, "shop") == []
    assert store_spec.execute("SELECT seq, data FROM {snapshots} WHERE shop_id = ?",
                              "shop") == [(6, '{"v":6}')]


def test_S06_request_records_are_kept_then_forgotten(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    lease = store.lease("shop")
    written = entries(1, 4, rid=True)
    lease.commit(Commit("shop", [*written, *entries(5, 5)]))
    assert lease.request("r2") == RequestRecord(2, written[1].command, '[{"seq":2}]')
    assert lease.request("r5") is None and lease.request("nope") is None
    assert lease.read().request_ids == {"r1": 1, "r2": 2, "r3": 3, "r4": 4}
    lease.commit(Commit("shop", (), StoredSnapshot(5, "{}"), forget_requests_before=3))
    assert lease.request("r2") is None
    assert lease.request("r3") == RequestRecord(3, written[2].command, '[{"seq":3}]')
    assert lease.read().request_ids == {"r3": 3, "r4": 4}


# -- corrupt records are reported, never returned (S05) --------------------------------------


TAMPER = {
    "at": "UPDATE {journal} SET at = at + 0.5 WHERE shop_id = ? AND seq = 3",
    "command": "UPDATE {journal} SET command = '[\"close_session\",[\"s1\"]]' "
               "WHERE shop_id = ? AND seq = 3",
    "request_id": "UPDATE {journal} SET request_id = 'other' WHERE shop_id = ? AND seq = 3",
    "crc": "UPDATE {journal} SET crc = crc + 1 WHERE shop_id = ? AND seq = 3",
    "missing row": "DELETE FROM {journal} WHERE shop_id = ? AND seq = 3",
    "moved row": "UPDATE {journal} SET seq = 9 WHERE shop_id = ? AND seq = 3",
}


@pytest.mark.parametrize("change", sorted(TAMPER))
def test_S05_an_altered_journal_is_refused_at_its_position_and_repaired(
        store_spec: StoreSpec, change: str) -> None:
    store = store_spec.open()
    lease = store.lease("shop")
    lease.commit(Commit("shop", entries(1, 5, rid=True), StoredSnapshot(0, "{}")))
    store_spec.execute(TAMPER[change], "shop")
    with pytest.raises(JournalCorrupt, match="shop 'shop': journal entry 3 is corrupt") as err:
        lease.read()
    assert err.value.seq == 3
    assert positions(store_spec, "shop") != []  # refusing changes nothing
    repaired = lease.read(repair=True)
    assert repaired.dropped_from == 3
    assert list(repaired.entries) == entries(1, 2, rid=True)
    assert repaired.request_ids == {"r1": 1, "r2": 2}
    assert positions(store_spec, "shop") == [1, 2]  # the bad tail is gone from the store
    again = lease.read()
    assert (list(again.entries), again.dropped_from) == (entries(1, 2, rid=True), None)
    assert lease.request("r4") is None


def test_S05_an_entry_copied_from_another_shop_is_refused(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    a, b = store.lease("a"), store.lease("b")
    a.commit(Commit("a", entries(1, 2)))
    b.commit(Commit("b", entries(1, 1)))
    store_spec.execute("INSERT INTO {journal} SELECT 'b', seq, at, command, request_id, "
                       "events, crc FROM {journal} WHERE shop_id = 'a' AND seq = 2")
    with pytest.raises(JournalCorrupt, match="journal entry 2 is corrupt: its checksum"):
        b.read()


def test_S05_an_altered_snapshot_is_refused_even_when_repairing(
        store_spec: StoreSpec) -> None:
    store = store_spec.open()
    lease = store.lease("shop")
    lease.commit(Commit("shop", entries(1, 2), StoredSnapshot(0, '{"v":1}')))
    store_spec.execute("UPDATE {snapshots} SET data = ? WHERE shop_id = ?", '{"v":2}', "shop")
    for repair in (False, True):
        with pytest.raises(JournalCorrupt, match="journal entry 0 is corrupt: the snapshot"):
            lease.read(repair=repair)
    assert positions(store_spec, "shop") == [1, 2]


def test_S05_truncate_drops_a_tail_and_its_request_records(store_spec: StoreSpec) -> None:
    lease = store_spec.open().lease("shop")
    lease.commit(Commit("shop", entries(1, 4, rid=True)))
    assert lease.truncate(3) == 2
    assert lease.truncate(3) == 0
    got = lease.read()
    assert ([e.seq for e in got.entries], got.request_ids) == ([1, 2], {"r1": 1, "r2": 2})


# -- the store's own data and connection ------------------------------------------------------


def test_S07_an_unknown_schema_version_is_refused(store_spec: StoreSpec) -> None:
    store_spec.open().close()
    store_spec.execute("UPDATE {meta} SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StoreError, match=r"holds kefu schema '?99'?; this kefu reads schema 1"):
        store_spec.open()


def test_S07_stores_created_at_once_share_one_set_of_tables(store_spec: StoreSpec) -> None:
    opened: list[object] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def create() -> None:
        try:
            start.wait()
            opened.append(store_spec.open())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(opened) == 4
    assert store_spec.execute("SELECT value FROM {meta}") == [("1",)]


def test_S07_a_closed_store_refuses_every_call(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    lease = store.lease("shop")
    store.close()
    with pytest.raises(StoreError):
        store.lease("other")
    with pytest.raises(StoreError):
        lease.commit(Commit("shop", entries(1, 1)))
    with pytest.raises(StoreError):
        lease.read()
    lease.release()  # still harmless
    assert positions(store_spec, "shop") == []


@pytest.mark.postgres
def test_S07_a_lost_connection_fails_every_call_and_frees_the_shops(
        postgres_spec: StoreSpec) -> None:
    store_spec = postgres_spec
    store = store_spec.open()
    lease = store.lease("shop")
    lease.commit(Commit("shop", entries(1, 1)))
    pid = store.backend_pid  # type: ignore[attr-defined]
    assert store_spec.execute("SELECT pg_terminate_backend(?, 5000)", pid) == [(True,)]
    other = store_spec.open()
    assert other.lease("shop").read().entries == entries(1, 1)  # free at once, nothing lost
    with pytest.raises(StoreError, match=r"connection to PostgreSQL .* was lost"):
        lease.commit(Commit("shop", entries(2, 2)))
    for call in (lambda: lease.read(), lambda: store.lease("shop2"),
                 lambda: store.commit_many([])):
        with pytest.raises(StoreError, match=r"was lost .*open a new store"):
            call()
    lease.release()
    store.close()
    assert positions(store_spec, "shop") == [1]


# -- open_store and the PostgreSQL module ---------------------------------------------------


def test_S07_open_store_reads_sqlite_targets(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cases = {f"sqlite://{tmp_path}/abs.db": tmp_path / "abs.db",
             "sqlite:rel.db": Path("rel.db"),
             "plain.db": Path("plain.db"),
             f"{tmp_path}/plain-abs.db": tmp_path / "plain-abs.db",
             "sqlite:normal.db?synchronous=NORMAL": Path("normal.db")}
    for target, path in cases.items():
        store = open_store(target)
        try:
            assert isinstance(store, SQLiteStore) and store.path == path, target
            store.lease("shop").commit(Commit("shop", entries(1, 1)))
        finally:
            store.close()
        assert (tmp_path / path).is_file(), target
    normal = open_store("sqlite:normal.db?synchronous=NORMAL")
    assert isinstance(normal, SQLiteStore)
    assert normal._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    normal.close()


@pytest.mark.parametrize("target, message", [
    ("", "must be a non-empty str"),
    ("mysql://u@h/db", "unknown store target 'mysql://u@h/db'"),
    ("redis:thing", "unknown store target"),
    ("sqlite://host/x.db", "names a host"),
    ("sqlite:", "names no file"),
    ("sqlite:x.db?synchronous=OFF", "synchronous must be FULL or NORMAL"),
    ("sqlite:x.db?journal=wal", "unknown options"),
])
def test_S07_open_store_refuses_unclear_targets(target: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        open_store(target)


def test_S07_open_store_refuses_non_strings() -> None:
    with pytest.raises(InvalidArgument, match="must be a non-empty str, got None"):
        open_store(None)  # type: ignore[arg-type]


def test_S07_a_sqlite_path_that_is_no_path_is_refused(tmp_path: Path) -> None:
    for path in (123, None, f"{tmp_path}/a\x00b.db"):
        with pytest.raises(InvalidArgument, match="path must be"):
            SQLiteStore(path)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="path must be"):
        open_store(f"sqlite://{tmp_path}/a\x00b.db")


def test_S07_a_writer_lock_the_system_refuses_is_a_store_error(tmp_path: Path) -> None:
    """The lock files cannot be made (here a file is in the lock folder's way): StoreError."""
    store = SQLiteStore(tmp_path / "shops.db")
    in_the_way = tmp_path / "shops.db.locks"
    in_the_way.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot take the writer lock of shop 'a'"):
        store.lease("a")
    in_the_way.unlink()
    store.lease("a").release()  # nothing was left half-taken
    store.close()


@pytest.mark.postgres
def test_S07_open_store_reads_postgres_urls() -> None:
    dsn = require_postgres()
    from kefu.durable import PostgresStore

    schema = f"kefu_t_{uuid.uuid4().hex[:16]}"
    sep = "&" if "?" in dsn else "?"
    store = open_store(f"{dsn}{sep}schema={schema}&application_name=kefu-test")
    try:
        assert isinstance(store, PostgresStore) and store.schema == schema
        for scheme in ("postgres://", "POSTGRESQL://"):
            other = open_store(scheme + dsn.split("://", 1)[1])
            assert isinstance(other, PostgresStore) and other.schema == "kefu"
            other.close()
        with pytest.raises(InvalidArgument, match="more than one schema"):
            open_store(f"{dsn}{sep}schema=a&schema=b")
        with pytest.raises(InvalidArgument, match="schema must be a name"):
            PostgresStore(dsn, schema="no-dashes")
        with pytest.raises(InvalidArgument, match="NUL"):
            store.lease("a\x00b")
        assert "password" not in repr(store) and schema in repr(store)
    finally:
        store.close()
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def test_S07_docs_durable_samples_run() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "durable.md"
    result = doctest.testfile(str(doc), module_relative=False, verbose=False)
    assert result.attempted >= 20
    assert result.failed == 0


def test_S07_postgres_store_without_psycopg_says_what_to_install() -> None:
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "try:\n    from kefu.durable import PostgresStore\n"
            "except ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout
    assert "install kefu[postgres]" in out


def test_S05_a_store_lists_its_shops_for_a_restarted_service(store_spec: StoreSpec) -> None:
    from kefu import ManualClock
    from kefu.durable import DurableShop

    store = store_spec.open()
    assert store.shop_ids() == []
    for shop_id in ("zeta", "alpha", "é-shop", "Beta"):
        DurableShop.open(store, shop_id, ManualClock()).close()
    assert store.shop_ids() == sorted(["zeta", "alpha", "é-shop", "Beta"])
    # A second store on the same database sees them too, leased or not.
    held = DurableShop.open(store, "alpha", ManualClock())
    assert store_spec.open().shop_ids() == ["Beta", "alpha", "zeta", "é-shop"]
    held.close()


def test_S07_a_malformed_commit_leaves_the_store_healthy(store_spec: StoreSpec) -> None:
    """A commit that is no commit fails as it is, writes nothing and never ends the store."""
    store = store_spec.open()
    lease = store.lease("a")
    for bad in ([Commit("a", [object()])],  # type: ignore[list-item]
                [Commit(["a"], entries(1, 1))]):  # type: ignore[arg-type]
        with pytest.raises((AttributeError, TypeError)):
            store.commit_many(bad)
    lease.commit(Commit("a", entries(1, 1)))  # the same store writes on
    assert store.shop_ids() == []
    assert positions(store_spec, "a") == [1]
    lease.release()
    store.lease("a").release()


def test_S07_a_lease_released_while_its_commit_starts_writes_nothing(
        store_spec: StoreSpec) -> None:
    """The fence holds against another thread's release and lease landing mid-commit.

    A trace function plays that thread: as the commit enters the store's write
    path, the stale lease is released and the shop leased again. The write must
    check the lease where it writes (under the store's lock), not before.
    """
    store = store_spec.open()
    stale = store.lease("a")
    leased_again = []

    def trace(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_name in ("commit_many", "_commit") \
                and not leased_again:
            sys.settrace(None)
            stale.release()
            leased_again.append(store.lease("a"))

    sys.settrace(trace)
    try:
        with pytest.raises(StoreError, match="'a' is not leased"):
            stale.commit(Commit("a", entries(1, 1)))
    finally:
        sys.settrace(None)
    assert leased_again
    assert positions(store_spec, "a") == []
    leased_again[0].release()
