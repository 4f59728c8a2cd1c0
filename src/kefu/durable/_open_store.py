"""open_store: a store from one string, so a configuration file or a child process can name it.

Accepted targets:

- ``"sqlite:///abs/path.db"`` or ``"sqlite:relative/path.db"``, with an
  optional ``?synchronous=NORMAL`` (or ``FULL``, the default): a
  :class:`~kefu.durable.SQLiteStore`;
- a plain file path (``"shops.db"``, ``"/var/lib/kefu/shops.db"``): the same;
- ``"postgresql://..."`` or ``"postgres://..."``, a libpq URL, with an
  optional ``schema=NAME`` query parameter (default ``kefu``): a
  :class:`~kefu.durable.PostgresStore` (needs the ``kefu[postgres]`` extra).

Anything else that looks like a URL (``"scheme:..."``) is refused with
:class:`~kefu.errors.InvalidArgument`; name a file whose name has a colon
as ``"./name"``. Cost: O(len(target)) plus opening the store.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kefu._text import short_repr
from kefu.durable.sqlite import SQLiteStore
from kefu.durable.store import Store
from kefu.errors import InvalidArgument

__all__ = ["open_store"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def open_store(target: str) -> Store:
    """Open the store that ``target`` names (see the module's docstring for the forms)."""
    if type(target) is not str or not target:
        raise InvalidArgument(f"store target must be a non-empty str, got {short_repr(target)}")
    scheme = _SCHEME.match(target)
    if scheme is None:
        return SQLiteStore(target)
    name = scheme.group(1).lower()
    if name == "sqlite":
        return _sqlite(target)
    if name in ("postgresql", "postgres"):
        return _postgres(target)
    raise InvalidArgument(
        f"unknown store target {short_repr(target)}: use sqlite:///abs/path.db, "
        "sqlite:relative.db, a file path, or a postgresql:// URL")


def _sqlite(target: str) -> Store:
    rest = target[len("sqlite:"):]
    path, _, query = rest.partition("?")
    if path.startswith("//"):
        if not path.startswith("///"):
            raise InvalidArgument(f"SQLite target {short_repr(target)} names a host; use "
                                  "sqlite:///abs/path.db or sqlite:relative.db")
        path = path[2:]
    if not path:
        raise InvalidArgument(f"SQLite target {short_repr(target)} names no file")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False))
    synchronous = options.pop("synchronous", "FULL").upper()
    if options:
        raise InvalidArgument(f"SQLite target {short_repr(target)} has unknown options "
                              f"{short_repr(sorted(options))}; only synchronous is known")
    if synchronous == "FULL":
        return SQLiteStore(path, "FULL")
    if synchronous == "NORMAL":
        return SQLiteStore(path, "NORMAL")
    raise InvalidArgument(f"SQLite target {short_repr(target)}: synchronous must be FULL or "
                          f"NORMAL, got {short_repr(synchronous)}")


def _postgres(target: str) -> Store:
    from kefu.durable.postgres import PostgresStore

    parts = urlsplit(target)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in query if k == "schema"]
    if len(schemas) > 1:
        raise InvalidArgument(f"PostgreSQL target {short_repr(target)} names more than one "
                              "schema")
    dsn = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query
                                                     if k != "schema"])))
    return PostgresStore(dsn, schema=schemas[0]) if schemas else PostgresStore(dsn)
