"""The store fixture every durable test shares: each test runs on SQLite and on PostgreSQL.

See ``store_specs`` for what a spec offers and where the PostgreSQL server
comes from (``KEFU_TEST_POSTGRES_DSN``; ``KEFU_REQUIRE_POSTGRES=1`` turns a
missing server from a skip into a failure).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .store_specs import PostgresSpec, SQLiteSpec, StoreSpec, require_postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSpec]:
    """Each test on SQLite and on PostgreSQL, on an isolated, empty database."""
    yield from _spec(request.param, tmp_path)


@pytest.fixture
def postgres_spec(tmp_path: Path) -> Iterator[StoreSpec]:
    """PostgreSQL only (mark the test ``postgres``), for what only a server store has."""
    yield from _spec("postgres", tmp_path)


def _spec(kind: str, tmp_path: Path) -> Iterator[StoreSpec]:
    if kind == "sqlite":
        spec = SQLiteSpec(tmp_path / "shops.db")
        try:
            yield spec
        finally:
            spec.close_all()
        return
    pg = PostgresSpec(require_postgres(), f"kefu_t_{uuid.uuid4().hex[:16]}")
    try:
        yield pg
    finally:
        try:
            pg.close_all()
        finally:
            pg.drop()
