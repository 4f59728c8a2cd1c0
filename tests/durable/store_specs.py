"""Store specs for the durable tests: an isolated SQLite file or PostgreSQL schema per test.

``store_spec`` names an isolated, empty database for one test: a SQLite file
in the test's tmp_path, or a fresh PostgreSQL schema (dropped after the
test). ``.target`` is the string :func:`kefu.durable.open_store` accepts (a
child process can open it too), ``.open()`` a new store object on it, and
``.execute(sql, *params)`` runs raw SQL on it for tests that alter rows
(``{journal}``, ``{snapshots}``, ``{requests}``, ``{meta}`` name the tables,
``?`` marks a parameter).

PostgreSQL comes from ``KEFU_TEST_POSTGRES_DSN`` (default
``postgresql://kefu:kefu@127.0.0.1:5432/kefu_test``; ``.ci/postgres.sh``
starts a throwaway server). Without a reachable server, or without psycopg,
the PostgreSQL cases skip and say why, unless ``KEFU_REQUIRE_POSTGRES=1``:
then they fail, so CI cannot pass by skipping them.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kefu.durable import Store, open_store

DEFAULT_DSN = "postgresql://kefu:kefu@127.0.0.1:5432/kefu_test"
TABLES = ("journal", "snapshots", "requests", "meta")


def postgres_dsn() -> str:
    return os.environ.get("KEFU_TEST_POSTGRES_DSN") or DEFAULT_DSN


_reachable: dict[str, str | None] = {}


def _postgres_problem(dsn: str) -> str | None:
    """Why the test server cannot be used (None if it can); asked once per run."""
    if dsn not in _reachable:
        try:
            import psycopg
        except ImportError:
            _reachable[dsn] = "psycopg is not installed (pip install -e '.[postgres]')"
        else:
            try:
                psycopg.connect(dsn, connect_timeout=3).close()
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                _reachable[dsn] = (f"no PostgreSQL server at KEFU_TEST_POSTGRES_DSN "
                                   f"(or the default {DEFAULT_DSN}): {first}")
            else:
                _reachable[dsn] = None
    return _reachable[dsn]


def require_postgres() -> str:
    """The test server's DSN; skip (or fail, under KEFU_REQUIRE_POSTGRES=1) without one."""
    dsn = postgres_dsn()
    problem = _postgres_problem(dsn)
    if problem is not None:
        if os.environ.get("KEFU_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"KEFU_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    return dsn


class StoreSpec:
    """One test's isolated database: its kind, an open_store target, and raw SQL access."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind = kind
        self.target = target
        self._opened: list[Store] = []

    def open(self) -> Store:
        """A new store object on this test's database (closed after the test)."""
        store = open_store(self.target)
        self._opened.append(store)
        return store

    def execute(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run ``statement`` on the database in its own transaction; the rows it returns."""
        raise NotImplementedError

    def close_all(self) -> None:
        for store in self._opened:
            store.close()

    def __repr__(self) -> str:
        return f"StoreSpec({self.kind!r}, {self.target!r})"


class SQLiteSpec(StoreSpec):
    def __init__(self, path: Path) -> None:
        super().__init__("sqlite", f"sqlite://{path}")
        self.path = path

    def execute(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        text = statement.format(**{t: f"kefu_{t}" for t in TABLES})
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=10000")
            return db.execute(text, params).fetchall()
        finally:
            db.close()


class PostgresSpec(StoreSpec):
    def __init__(self, dsn: str, schema: str) -> None:
        sep = "&" if "?" in dsn else "?"
        super().__init__("postgres", f"{dsn}{sep}schema={schema}")
        self.dsn = dsn
        self.schema = schema

    def execute(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        text = statement.format(**{t: f'"{self.schema}".kefu_{t}' for t in TABLES})
        with psycopg.connect(self.dsn, autocommit=True) as db:
            cur = db.execute(text.replace("?", "%s"), params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description is not None else []

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')  # type: ignore[arg-type]
