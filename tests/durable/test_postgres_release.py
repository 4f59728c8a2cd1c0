"""PostgreSQL: a shop's advisory lock is forgotten only once the server let it go (S07).

The fault is the server's own: an ``pg_advisory_unlock`` that raises (a
function of that name earlier on the session's search path), while the
connection stays up and keeps holding the lock.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from kefu import ManualClock
from kefu.durable import DurableShop, PostgresStore
from kefu.errors import ShopBusy, StoreError

from .store_specs import PostgresSpec, StoreSpec

pytestmark = pytest.mark.postgres


def _failing_unlock(spec: PostgresSpec) -> str:
    """A schema whose ``pg_advisory_unlock(bigint)`` raises; its name."""
    fault = f"kefu_fault_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(spec.dsn, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{fault}"')  # type: ignore[arg-type]
        db.execute(f'CREATE FUNCTION "{fault}".pg_advisory_unlock(bigint) RETURNS boolean '  # type: ignore[arg-type]
                   "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'unlock refused'; END $$")
    return fault


def _drop(spec: PostgresSpec, fault: str) -> None:
    with psycopg.connect(spec.dsn, autocommit=True) as db:
        db.execute(f'DROP SCHEMA "{fault}" CASCADE')  # type: ignore[arg-type]


def _set_path(store: PostgresStore, path: str) -> None:
    store._conn.execute(f"SET search_path = {path}")  # type: ignore[arg-type]


def test_S07_a_failed_unlock_keeps_the_lease_until_a_release_succeeds(
        postgres_spec: StoreSpec) -> None:
    """The release fails and says so; the shop stays this lease's (the server still
    holds its lock), so a retry frees it. Forgetting it first left the lock held by
    the session for good: nothing could lease the shop again."""
    assert isinstance(postgres_spec, PostgresSpec)
    store, other = postgres_spec.open(), postgres_spec.open()
    assert isinstance(store, PostgresStore)
    fault = _failing_unlock(postgres_spec)
    try:
        lease = store.lease("a")
        _set_path(store, f'"{fault}", pg_catalog')
        with pytest.raises(StoreError) as failed:
            lease.release()
        with pytest.raises(ShopBusy):
            other.lease("a")
        with pytest.raises(ShopBusy):
            store.lease("a")  # still this lease's
        _set_path(store, "public")
        lease.release()
        other.lease("a").release()
        store.lease("a").release()
        assert "releasing shop 'a' failed: unlock refused" in str(failed.value)
        assert "still leased" in str(failed.value)
    finally:
        _drop(postgres_spec, fault)


def test_S07_a_shop_whose_release_failed_is_released_by_closing_it_again(
        postgres_spec: StoreSpec) -> None:
    assert isinstance(postgres_spec, PostgresSpec)
    store, other = postgres_spec.open(), postgres_spec.open()
    assert isinstance(store, PostgresStore)
    fault = _failing_unlock(postgres_spec)
    try:
        shop = DurableShop.open(store, "a", ManualClock(0.0))
        shop.add_agent("alice")
        _set_path(store, f'"{fault}", pg_catalog')
        with pytest.raises(StoreError, match="still leased"):
            shop.close()
        _set_path(store, "public")
        shop.close()
        again = DurableShop.open(other, "a", ManualClock(1.0))
        assert again.agent_ids() == ["alice"]
        again.close()
    finally:
        _drop(postgres_spec, fault)


def test_S07_a_shop_whose_release_failed_says_closed_not_concurrent_call(
        postgres_spec: StoreSpec) -> None:
    """The failed release must not leave the shop's one-writer guard taken: later
    calls are told the shop is closed, not that another thread is in a call."""
    assert isinstance(postgres_spec, PostgresSpec)
    store = postgres_spec.open()
    assert isinstance(store, PostgresStore)
    fault = _failing_unlock(postgres_spec)
    try:
        shop = DurableShop.open(store, "a", ManualClock(0.0))
        _set_path(store, f'"{fault}", pg_catalog')
        with pytest.raises(StoreError, match="still leased"):
            shop.close()
        with pytest.raises(StoreError, match="is closed"):
            shop.add_agent("bob")
        with pytest.raises(StoreError, match="is closed"):
            shop.agent_ids()
        _set_path(store, "public")
        shop.close()
    finally:
        _drop(postgres_spec, fault)
        store.close()
