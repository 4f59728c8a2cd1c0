"""DurableShop: journaled commands, exact recovery, one writer, snapshots (S05-S07)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from kefu import Assigner, Cap, Config, LadderStep, ManualClock, QueueLimit
from kefu.durable import DurableShop, SQLiteStore, Store
from kefu.errors import (
    ConcurrentCall,
    InvalidArgument,
    JournalCorrupt,
    KefuError,
    NotHolder,
    RequestConflict,
    ShopBusy,
    ShopFailed,
    StoreError,
    UnknownSession,
)

from .store_specs import StoreSpec
from .workload import CONFIG, Reference, run, stream

TIMERS = Config(**CONFIG)


@pytest.fixture
def store(store_spec: StoreSpec) -> Store:
    """A store on the test's own database: every test runs on SQLite and PostgreSQL."""
    return store_spec.open()


@pytest.fixture
def db(store_spec: StoreSpec) -> StoreSpec:
    return store_spec


def journal_rows(db: StoreSpec, shop: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.execute(
        "SELECT seq, at, command FROM {journal} WHERE shop_id = ? ORDER BY seq", shop)]


def test_S05_a_new_shop_is_created_with_its_config_and_reopened_with_it(store: Store
                                                                      ) -> None:
    clock = ManualClock(50.0)
    shop = DurableShop.open(store, "s", clock, config=TIMERS)
    assert shop.recovery.created and shop.config == TIMERS
    shop.close()
    again = DurableShop.open(store, "s", clock)
    assert not again.recovery.created and again.config == TIMERS
    again.close()
    with pytest.raises(InvalidArgument, match="was created with"):
        DurableShop.open(store, "s", clock, config=Config())
    # The refusal released the lock: the shop opens again at once.
    DurableShop.open(store, "s", clock).close()


def test_S05_every_accepted_command_is_journaled_before_the_call_returns(
        store: Store, db: StoreSpec) -> None:
    clock = ManualClock(10.0)
    shop = DurableShop.open(store, "s", clock)
    shop.add_agent("alice", cap=Cap.limit(1), online=True)
    clock.advance(5)
    shop.open_session("s1", buyer="b1")
    # Another connection sees both commands, with the time each ran at.
    rows = journal_rows(db, "s")
    assert [(seq, at) for seq, at, _ in rows] == [(1, 10.0), (2, 15.0)]
    assert rows[1][2] == '["open_session",["s1","b1",null,0]]'
    # A rejected command is not journaled and changes nothing.
    with pytest.raises(UnknownSession):
        shop.close_session("nope")
    assert len(journal_rows(db, "s")) == 2 and shop.seq == 2
    shop.close()


def test_S05_recovery_replays_the_journal_exactly(store: Store) -> None:
    commands = stream(3, 2_000)
    reference = Reference(commands)
    clock = ManualClock(commands[0][0])
    shop = DurableShop.open(store, "s", clock, config=TIMERS, snapshot_every=300)
    for command in commands:
        clock.set(command[0])
        reference.clock.set(command[0])
        got = run(getattr(shop, command[1]), command)
        want = run(getattr(reference.assigner, command[1]), command)
        if isinstance(want, KefuError):
            assert type(got) is type(want) and str(got) == str(want)
        else:
            assert got == want
    reference.position = len(commands)
    state = shop.snapshot()
    # Drop the shop without closing it (as a crash would), then recover.
    shop._lease.release()
    recovered = DurableShop.open(store, "s", clock)
    assert recovered.snapshot()["state"] == state["state"] == reference.state()
    assert recovered.recovery.snapshot_seq > 0 and recovered.recovery.replayed < 300
    assert recovered.next_deadline() == reference.assigner.next_deadline()
    recovered.check()
    recovered.close()


def test_S05_snapshots_compact_the_journal(store: Store, db: StoreSpec) -> None:
    clock = ManualClock(0.0)
    shop = DurableShop.open(store, "s", clock, snapshot_every=10)
    shop.add_agent("a", online=True)
    for i in range(24):
        clock.advance(1)
        shop.open_session(f"s{i}")
    # 25 commands, snapshots at 10 and 20: the journal holds 21..25 only.
    assert [r[0] for r in journal_rows(db, "s")] == [21, 22, 23, 24, 25]
    shop.checkpoint()
    assert journal_rows(db, "s") == []
    shop.close()
    again = DurableShop.open(store, "s", clock)
    assert again.recovery.snapshot_seq == 25 and again.recovery.replayed == 0
    assert again.load("a") == 24
    again.close()


def test_S05_restart_with_timers_pending_fires_them_at_their_deadlines(
        store: Store) -> None:
    clock = ManualClock(1000.0)
    shop = DurableShop.open(store, "s", clock, config=TIMERS)
    shop.add_agent("a", online=True)
    shop.open_session("s1", buyer="b1")  # first-response timer: 1060
    clock.advance(30)
    shop.agent_message("s1")             # auto close countdown: 1030 + 600
    shop.open_session("s2", buyer="b2")  # first-response timer: 1090
    deadline = shop.next_deadline()
    shop.close()
    again = DurableShop.open(store, "s", clock)
    assert again.next_deadline() == deadline == 1090.0
    clock.set(1089.9)
    assert again.tick() == []
    clock.set(1090.0)
    fired = again.tick()
    assert [type(e).__name__ for e in fired][:1] == ["ResponseTimedOut"]
    assert fired[0].at == 1090.0
    clock.set(1630.0)
    closed = again.tick()
    assert any(type(e).__name__ == "Closed" and e.session_id == "s1" for e in closed)
    again.close()


def test_R27_R28_away_grace_and_queue_limits_are_journaled_and_recovered(
        store: Store, db: StoreSpec) -> None:
    """R27 and R28 through a durable shop: the journal holds agent_away and a grace period,
    the snapshot the limits; after a restart the grace fires at its deadline."""
    clock = ManualClock(1000.0)
    config = Config(auto_close_after=None,
                    queue_limits={"pre": QueueLimit(max_waiting=1, overflow="post")})
    shop = DurableShop.open(store, "s", clock, config=config)
    shop.add_agent("a", online=True)
    shop.open_session("s1", buyer="b1")
    shop.open_session("s2", buyer="b2")
    shop.agent_message("s2")             # a answered s2: it stays after the grace
    shop.add_agent("b", cap=1, groups=["post"], online=True)
    shop.agent_away("a")
    shop.open_session("p1", group="pre")                       # waits: a is away
    opened = shop.open_session("p2", buyer="b3", group="pre")  # the pre line is full
    assert [type(e).__name__ for e in opened] == ["Opened", "Overflowed", "Assigned"]
    shop.agent_offline("a", grace=60.0)  # deadline 1060
    commands = [row[2] for row in journal_rows(db, "s")]
    assert '["agent_away",["a"]]' in commands and '["agent_offline",["a",false,60.0]]' in commands
    shop.close()
    again = DurableShop.open(store, "s", clock)
    assert again.config == config and again.next_deadline() == 1060.0
    clock.set(1059.999)
    assert again.tick() == []
    clock.set(1060.0)
    fired = again.tick()
    assert [(type(e).__name__, e.session_id) for e in fired] == [
        ("Requeued", "s1"), ("Queued", "s1")]
    assert again.reception_list("a") == ["s2"]
    again.close()


def test_R24_a_ladder_survives_a_restart_and_widens_at_its_deadline(
        store: Store, db: StoreSpec) -> None:
    """R24 through a durable shop: the ladder is in the snapshot config, a waiting
    session's pending step in the state or the journal; after a restart the step fires at
    its deadline and drains at once."""
    clock = ManualClock(1000.0)
    config = Config(auto_close_after=None,
                    ladders={"pre": [LadderStep(60.0, {"post"}), LadderStep(120.0, None)]})
    shop = DurableShop.open(store, "s", clock, config=config)
    shop.add_agent("a", cap=1, groups=["pre"], online=True)
    shop.add_agent("b", cap=1, groups=["post"], online=True)
    shop.open_session("p0", group="pre")
    shop.open_session("q0", group="post")
    shop.open_session("p1", buyer="b1", group="pre")  # waits from 1000
    clock.set(1060.0)
    assert [type(e).__name__ for e in shop.tick()] == ["Escalated"]
    shop.close()
    again = DurableShop.open(store, "s", clock)
    assert again.config == config and again.next_deadline() == 1120.0
    assert again.session("p1").step == 1
    assert [type(e).__name__ for e in again.close_session("q0")] == ["Closed", "Assigned"]
    again.close()


@pytest.mark.parametrize("checkpoint", [True, False])
def test_R26_session_kinds_survive_a_restart(store: Store, db: StoreSpec,
                                             checkpoint: bool) -> None:
    """R26 through a durable shop: the kinds are in the snapshot config, a session's kind in
    the state or the journaled command; after a restart a dispute still needs two units."""
    clock = ManualClock(0.0)
    config = Config(auto_close_after=None, session_kinds={"chat": 1, "dispute": 2})
    shop = DurableShop.open(store, "s", clock, config=config)
    shop.add_agent("a", cap=2, online=True)
    shop.open_session("c0", kind="chat")
    shop.open_session("d1", buyer="b1", kind="dispute")  # one unit of room: waits
    shop.close(checkpoint=checkpoint)
    again = DurableShop.open(store, "s", clock)
    assert again.config == config
    assert again.session("d1").kind == "dispute" and again.load("a") == 1
    assert [type(e).__name__ for e in again.close_session("c0")] == ["Closed", "Assigned"]
    assert again.load("a") == 2
    again.close()


def test_S05_an_idle_tick_is_not_journaled(store: Store, db: StoreSpec) -> None:
    clock = ManualClock(0.0)
    shop = DurableShop.open(store, "s", clock)
    for _ in range(5):
        clock.advance(1)
        assert shop.tick() == []
    assert journal_rows(db, "s") == [] and shop.seq == 0
    shop.close()


def test_S07_a_second_writer_is_refused_at_once(store: Store, db: StoreSpec) -> None:
    shop = DurableShop.open(store, "s", ManualClock())
    with pytest.raises(ShopBusy):
        DurableShop.open(store, "s", ManualClock())
    other = db.open()
    with pytest.raises(ShopBusy):
        DurableShop.open(other, "s", ManualClock())
    # Another shop in the same file is free.
    DurableShop.open(other, "t", ManualClock()).close()
    shop.close()
    DurableShop.open(other, "s", ManualClock()).close()


def test_S05_submit_and_flush_group_commands_into_one_write(store: Store,
                                                          db: StoreSpec) -> None:
    clock = ManualClock(0.0)
    shop = DurableShop.open(store, "s", clock)
    shop.submit("add_agent", "a", 2, online=True)
    for i in range(5):
        shop.submit("open_session", f"s{i}", f"b{i}")
    assert shop.pending == 6 and journal_rows(db, "s") == []
    shop.flush()
    assert shop.pending == 0 and len(journal_rows(db, "s")) == 6
    # Submitted but never flushed: lost in a crash, and never acknowledged.
    shop.submit("close_session", "s0")
    shop._lease.release()
    again = DurableShop.open(store, "s", clock)
    assert again.load("a") == 2 and again.waiting() == ["s2", "s3", "s4"]
    again.close()


class _FailingStore(SQLiteStore):
    """A real SQLiteStore whose writes fail once ``fail`` is set (a full disk, say)."""

    fail = False

    def _commit(self, commits: Any, lease: Any) -> None:  # every write: a lease's, or many
        if self.fail:
            raise StoreError("disk full")
        super()._commit(commits, lease)


def test_S05_a_failed_write_acknowledges_nothing_and_the_shop_must_be_reopened(
        tmp_path: Path) -> None:
    store = _FailingStore(tmp_path / "failing.db")
    clock = ManualClock(0.0)
    shop = DurableShop.open(store, "s", clock)
    shop.add_agent("a", online=True)
    store.fail = True
    with pytest.raises(ShopFailed):
        shop.open_session("s1")
    with pytest.raises(ShopFailed):
        shop.load("a")
    shop.close()  # releases without writing
    store.fail = False
    again = DurableShop.open(store, "s", clock)
    assert again.session_ids() == [] and again.agent_ids() == ["a"]
    again.close()
    store.close()


def test_S05_a_tampered_journal_is_reported_and_repair_drops_the_bad_tail(
        store: Store, db: StoreSpec) -> None:
    clock = ManualClock(0.0)
    shop = DurableShop.open(store, "s", clock)
    shop.add_agent("a", online=True)
    for i in range(4):
        shop.open_session(f"s{i}")
    shop._lease.release()
    db.execute("UPDATE {journal} SET command = ? WHERE shop_id = 's' AND seq = 4",
               '["open_session",["x",null,null,0]]')
    with pytest.raises(JournalCorrupt, match="entry 4"):
        DurableShop.open(store, "s", clock)
    repaired = DurableShop.open(store, "s", clock, repair=True)
    assert repaired.recovery.dropped_from == 4
    assert repaired.session_ids() == ["s0", "s1"]
    repaired.close()


def _unreplayable_second_entry(store: Store, db: StoreSpec, command: str) -> ManualClock:
    """Journal ``command`` (with a good checksum) as entry 2: open reports it, repair drops it."""
    from kefu.durable.journal import JournalEntry

    clock = ManualClock(0.0)
    shop = DurableShop.open(store, "s", clock)
    shop.add_agent("a", online=True)
    shop._lease.release()
    bad = JournalEntry(2, 0.0, command)
    db.execute("INSERT INTO {journal} (shop_id, seq, at, command, crc) VALUES ('s', 2, 0.0, ?, ?)",
               bad.command, bad.crc("s"))
    with pytest.raises(JournalCorrupt, match="entry 2 is corrupt: replaying"):
        DurableShop.open(store, "s", clock)
    repaired = DurableShop.open(store, "s", clock, repair=True)
    assert repaired.recovery.dropped_from == 2 and repaired.seq == 1
    repaired.close()  # with a snapshot at 1
    return clock


def test_S05_a_journal_that_cannot_replay_is_reported(store: Store, db: StoreSpec) -> None:
    """A record with a good checksum whose command fails on replay (a changed engine, say)."""
    _unreplayable_second_entry(store, db, '["close_session",["never-opened"]]')


def test_S05_a_record_nested_too_deeply_to_decode_is_reported(store: Store,
                                                               db: StoreSpec) -> None:
    """A command or snapshot with a good checksum but JSON nested past the decoder's depth."""
    from kefu.durable.journal import StoredSnapshot

    deep = "[" * 100_000 + "]" * 100_000
    clock = _unreplayable_second_entry(store, db, deep)
    db.execute("UPDATE {snapshots} SET data = ?, crc = ? WHERE shop_id = 's'",
               deep, StoredSnapshot(1, deep).crc("s"))
    with pytest.raises(JournalCorrupt, match="the snapshot cannot be restored"):
        DurableShop.open(store, "s", clock)


def test_S05_bad_arguments_raise_the_assigners_errors_and_journal_nothing(
        store: Store, db: StoreSpec) -> None:
    shop = DurableShop.open(store, "s", ManualClock())
    plain = Assigner(ManualClock())
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("add_agent", ("",), {}), ("add_agent", ("a", 0), {}), ("add_agent", ("a", 1, "g"), {}),
        ("add_agent", ("a",), {"online": 1}), ("set_weight", ("a", -1), {}),
        ("open_session", ("s", 5), {}), ("open_session", ("s", None, None, True), {}),
        ("agent_message", ("s", 1), {}), ("agent_offline", ("a", "yes"), {}),
        ("transfer", ("s", None), {}),
    ]
    for method, args, kwargs in cases:
        with pytest.raises(KefuError) as got:
            getattr(shop, method)(*args, **kwargs)
        with pytest.raises(KefuError) as want:
            getattr(plain, method)(*args, **kwargs)
        assert (type(got.value), str(got.value)) == (type(want.value), str(want.value))
    with pytest.raises(InvalidArgument, match="unknown command"):
        shop.submit("snapshot")
    with pytest.raises(InvalidArgument, match="bad arguments"):
        shop.submit("close_session", "s1", "extra")
    assert journal_rows(db, "s") == [] and shop.seq == 0
    shop.close()


def test_S02_a_durable_shop_has_one_writer(store: Store) -> None:
    class Reentrant:
        shop: DurableShop | None = None

        def now(self) -> float:
            if self.shop is not None:
                with pytest.raises(ConcurrentCall):
                    self.shop.open_session("inner")
            return 1.0

    clock = Reentrant()
    shop = DurableShop.open(store, "s", clock)
    clock.shop = shop
    shop.add_agent("a", online=True)
    assert shop.session_ids() == [] and shop.seq == 1
    shop.close()


def test_S05_threads_never_interleave_a_shops_journal(store: Store) -> None:
    shop = DurableShop.open(store, "s", ManualClock(1.0))
    shop.add_agent("a", online=True)
    accepted: list[str] = []

    def worker(k: int) -> None:
        for i in range(200):
            try:
                shop.open_session(f"t{k}-{i}")
                accepted.append(f"t{k}-{i}")
            except ConcurrentCall:
                pass

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shop._lease.release()
    again = DurableShop.open(store, "s", ManualClock(1.0))
    assert sorted(again.session_ids()) == sorted(accepted)
    assert again.seq == 1 + len(accepted)
    again.close()


def test_S04_a_message_from_an_agent_who_does_not_hold_the_session_is_not_journaled(
        store: Store, db: StoreSpec) -> None:
    clock = ManualClock(0.0)
    shop = DurableShop.open(store, "s", clock, config=TIMERS)
    shop.add_agent("alice", online=True)
    shop.add_agent("bob", online=True)
    shop.open_session("s1", buyer="b1")
    holder = shop.session("s1").agent_id
    other = "bob" if holder == "alice" else "alice"
    deadline = shop.next_deadline()
    with pytest.raises(NotHolder):
        shop.agent_message("s1", agent_id=other)
    assert shop.seq == 3 and shop.next_deadline() == deadline
    shop.agent_message("s1", agent_id=holder)
    rows = journal_rows(db, "s")
    assert rows[-1][2] == f'["agent_message",["s1",false,"{holder}"]]'
    shop._lease.release()
    again = DurableShop.open(store, "s", clock)
    assert again.snapshot()["state"] == shop.snapshot()["state"]
    again.close()


def test_S06_a_request_id_forgotten_at_a_snapshot_can_come_back_in_the_same_write(
        store: Store) -> None:
    shop = DurableShop.open(store, "s", ManualClock(0.0), snapshot_every=4, request_window=2)
    shop.add_agent("a", online=True, request_id="A")
    shop.add_agent("b")
    shop.add_agent("c")
    shop.submit("add_agent", "d")                   # a snapshot: "A" is forgotten
    shop.submit("add_agent", "e", request_id="A")   # so "A" names a new command
    shop.flush()
    assert shop.agent_ids() == ["a", "b", "c", "d", "e"]
    shop.close()
    again = DurableShop.open(store, "s", ManualClock(0.0))
    # The store answers for the new command now.
    assert again.add_agent("e", request_id="A") == []
    with pytest.raises(RequestConflict):
        again.add_agent("a", request_id="A")
    again.close()


def test_S07_a_symlink_or_a_relative_path_finds_the_same_writer_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "shops.db"
    store = SQLiteStore(real)
    shop = DurableShop.open(store, "s", ManualClock())
    link = tmp_path / "link.db"
    link.symlink_to(real)
    via_link = SQLiteStore(link)
    with pytest.raises(ShopBusy):
        DurableShop.open(via_link, "s", ManualClock())
    monkeypatch.chdir(tmp_path)
    relative = SQLiteStore("shops.db")
    with pytest.raises(ShopBusy):
        DurableShop.open(relative, "s", ManualClock())
    shop.close()
    DurableShop.open(relative, "s", ManualClock()).close()
    for s in (store, via_link, relative):
        s.close()


def test_S05_a_record_the_snapshot_covers_is_reported_and_repair_drops_only_it(
        store: Store, db: StoreSpec) -> None:
    from kefu.durable.journal import JournalEntry

    clock = ManualClock(0.0)
    shop = DurableShop.open(store, "s", clock)
    shop.add_agent("x")
    shop.close()  # snapshot at 1
    stray = JournalEntry(1, 0.0, '["add_agent",["y","unlimited",null,1,false]]')
    db.execute("INSERT INTO {journal} (shop_id, seq, at, command, crc) VALUES ('s', 1, 0.0, ?, ?)",
               stray.command, stray.crc("s"))
    with pytest.raises(JournalCorrupt, match=r"entry 1.*covers"):
        DurableShop.open(store, "s", clock)
    for i in range(3):
        shop = DurableShop.open(store, "s", clock, repair=True)
        assert shop.recovery.dropped_from is None
        assert shop.agent_ids() == ["x"] + [f"acked{j}" for j in range(i)]
        shop.add_agent(f"acked{i}")
        shop.close(checkpoint=False)


def test_S05_a_bad_engine_name_is_the_callers_error_not_a_corrupt_journal(store: Store) -> None:
    DurableShop.open(store, "s", ManualClock()).close()
    with pytest.raises(InvalidArgument, match="unknown engine"):
        DurableShop.open(store, "s", ManualClock(), engine="bogus")  # type: ignore[arg-type]
    DurableShop.open(store, "s", ManualClock()).close()


def test_S02_close_during_another_call_is_refused_and_changes_nothing(store: Store) -> None:
    class Closing:
        shop: DurableShop | None = None

        def now(self) -> float:
            if self.shop is not None:
                with pytest.raises(ConcurrentCall):
                    self.shop.close()
            return 1.0

    clock = Closing()
    shop = DurableShop.open(store, "s", clock)
    clock.shop = shop
    shop.add_agent("a")
    clock.shop = None
    assert shop.agent_ids() == ["a"]  # still open
    shop.close()
