"""Durable shops: an Assigner whose accepted commands survive a crash (S05-S07).

``DurableShop.open(store, shop_id)`` recovers a shop from its store (the
last snapshot plus the journal after it) or creates it; every accepted
command is journaled before its call returns. Stores: :class:`SQLiteStore`
(one file, no server: the default) and :class:`PostgresStore` (a server,
for many processes or machines; needs the ``kefu[postgres]`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kefu.durable._open_store import open_store
from kefu.durable.journal import JournalEntry, RequestRecord, StoredShop, StoredSnapshot
from kefu.durable.shop import DurableShop, Recovery
from kefu.durable.sqlite import SQLiteStore
from kefu.durable.store import Commit, ShopLease, Store

if TYPE_CHECKING:
    from kefu.durable.postgres import PostgresStore

__all__ = [
    "Commit",
    "DurableShop",
    "JournalEntry",
    "PostgresStore",
    "Recovery",
    "RequestRecord",
    "SQLiteStore",
    "ShopLease",
    "Store",
    "StoredShop",
    "StoredSnapshot",
    "open_store",
]


def __getattr__(name: str) -> Any:
    # PostgresStore needs psycopg (the kefu[postgres] extra): import it on first use.
    if name == "PostgresStore":
        from kefu.durable.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module 'kefu.durable' has no attribute {name!r}")
