"""S06: a repeated request id returns the original events and changes nothing."""

from __future__ import annotations

import json

import pytest

from kefu import ManualClock
from kefu.durable import DurableShop, Store
from kefu.errors import InvalidArgument, RequestConflict

from .store_specs import StoreSpec


@pytest.fixture
def store(store_spec: StoreSpec) -> Store:
    return store_spec.open()


def _shop(store: Store, clock: ManualClock, **options: int) -> DurableShop:
    shop = DurableShop.open(store, "s", clock, **options)  # type: ignore[arg-type]
    if not shop.agent_ids():
        shop.add_agent("alice", cap=1, online=True)
    return shop


def test_S06_a_retry_returns_the_original_events_and_changes_nothing(
        store: Store) -> None:
    clock = ManualClock(100.0)
    shop = _shop(store, clock)
    first = shop.open_session("s1", buyer="b1", request_id="req-1")
    seq, state = shop.seq, shop.snapshot()["state"]
    clock.advance(60)
    again = shop.open_session("s1", buyer="b1", request_id="req-1")
    assert again == first and again[0].at == 100.0
    assert shop.seq == seq and shop.snapshot()["state"] == state
    # Without the request id the same command is a new one, and is refused.
    with pytest.raises(Exception, match="s1"):
        shop.open_session("s1", buyer="b1")
    shop.close()


def test_S06_a_retry_after_a_crash_and_recovery_gets_the_original_events(
        store: Store) -> None:
    """The crash fell after the write and before the reply: the client retries."""
    clock = ManualClock(100.0)
    shop = _shop(store, clock)
    shop.submit("open_session", "s1", "b1", request_id="req-1")
    first = shop.submit("open_session", "s2", "b2", request_id="req-2")
    shop.flush()
    shop._lease.release()  # the process dies before answering
    clock.advance(5)
    recovered = _shop(store, clock)
    again = recovered.open_session("s2", "b2", request_id="req-2")
    assert again == first
    assert recovered.waiting() == ["s2"] and recovered.seq == 3
    recovered.close()


def test_S06_a_pending_request_is_recognised_before_its_flush(store: Store) -> None:
    shop = _shop(store, ManualClock(1.0))
    first = shop.submit("open_session", "s1", request_id="r")
    assert shop.submit("open_session", "s1", request_id="r") == first
    assert shop.pending == 1
    shop.close()


def test_S06_the_same_request_id_with_another_command_is_refused(store: Store) -> None:
    shop = _shop(store, ManualClock(1.0))
    shop.open_session("s1", request_id="r")
    seq = shop.seq
    with pytest.raises(RequestConflict, match="'r'"):
        shop.open_session("s2", request_id="r")
    with pytest.raises(RequestConflict):
        shop.close_session("s1", request_id="r")
    assert shop.seq == seq and shop.session_ids() == ["s1"]
    shop.close()


@pytest.mark.parametrize("bad", ["", 5, b"r", "x" * 201, None.__class__, "a\x00b", "\udc80"])
def test_S06_bad_request_ids_are_refused_before_anything_runs(store: Store,
                                                              bad: object) -> None:
    shop = _shop(store, ManualClock(1.0))
    with pytest.raises(InvalidArgument, match="request_id"):
        shop.open_session("s1", request_id=bad)  # type: ignore[arg-type]
    assert shop.session_ids() == [] and shop.seq == 1
    shop.close()


def test_S06_request_ids_are_forgotten_after_the_request_window(store: Store) -> None:
    clock = ManualClock(1.0)
    shop = _shop(store, clock, snapshot_every=5, request_window=10)
    shop.open_session("old", request_id="r-old")
    for i in range(20):
        shop.open_session(f"s{i}", request_id=f"r{i}")
    shop.close()
    shop = _shop(store, clock, snapshot_every=5, request_window=10)
    # A recent id is still answered from the store ...
    assert shop.open_session("s19", request_id="r19")[0].session_id == "s19"
    assert shop.seq == 22
    # ... an old one is a new command again (here refused: the session is open).
    with pytest.raises(Exception, match="old"):
        shop.open_session("old", request_id="r-old")
    shop.close()


def test_S03_S06_stored_events_are_plain_json(store: Store, store_spec: StoreSpec) -> None:
    shop = _shop(store, ManualClock(1.0))
    events = shop.open_session("s1", buyer="b1", request_id="r")
    shop.close()
    ((text,),) = store_spec.execute("SELECT events FROM {requests} WHERE request_id = 'r'")
    assert json.loads(text) == [e.to_dict() for e in events]


@pytest.mark.parametrize("change", ["events = '[]'", "seq = 'one'"])
def test_S06_a_tampered_request_record_is_reported_not_returned(
        store: Store, store_spec: StoreSpec, change: str) -> None:
    """An altered record, also one whose position is no number (SQLite keeps any text)."""
    from kefu.errors import JournalCorrupt

    if change.startswith("seq") and store_spec.kind != "sqlite":
        pytest.skip("a PostgreSQL bigint column holds numbers only")
    shop = _shop(store, ManualClock(1.0))
    shop.open_session("s1", buyer="b1", request_id="r")
    shop.close()
    store_spec.execute("UPDATE {requests} SET " + change + " WHERE request_id = 'r'")
    shop = _shop(store, ManualClock(2.0))  # opens, whatever the change
    with pytest.raises(JournalCorrupt, match="request id 'r'"):
        shop.open_session("s1", buyer="b1", request_id="r")
    shop.close()
