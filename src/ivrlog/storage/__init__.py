"""One adapter per database behind the Store interface (core/ports.py), chosen by URL.

- sqlite.py, postgres.py: the two adapters, each what only its database does (SQLite's
  one writer and journal scrub; PostgreSQL's pool, COPY, advisory locks, cursors).
- sql_store.py: the Store and live-transaction methods that are the same on both, over
  the connections each adapter provides; sql.py: the SQL they share, written once and
  built per backend, with the column lists and row mapping.
- search_sql.py, search_store.py: ivrlog's own read API (search, change sequence,
  erasure), its SQL written once with a Dialect of the differences, and its methods.
- partitions.py: PostgreSQL's partitions (choosing, making, dropping, the cache);
  postgres_page.py: a compatible-API page streamed from PostgreSQL.
- migrations.py: the schema, per backend (migration_6.py: issue 15's), and backfill.py
  the Python step of a migration; backup.py: SQLite's online backup.
"""

from __future__ import annotations

import sqlite3

from ivrlog.core.model import CallPage
from ivrlog.core.ports import Database, Store, StoreOpenError
from ivrlog.storage.sqlite import SqliteStore

__all__ = [
    "CallPage",
    "Store",
    "StoreOpenError",
    "UnsupportedDatabase",
    "open_store",
    "sqlite_path",
]


class UnsupportedDatabase(StoreOpenError):
    """The database URL names a backend this build cannot use."""


def sqlite_path(url: str) -> str | None:
    """The file path of a SQLite URL, else None.

    As in SQLAlchemy: `sqlite:///data/ivrlog.db` is relative, `sqlite:////var/ivrlog.db`
    absolute; a URL without a scheme is a plain path.
    """
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if "://" in url:
        return None
    return url


def open_store(url: str, *, migrate: bool = True) -> Database:
    """Build the store a database URL names, with its schema brought up to date."""
    path = sqlite_path(url)
    if path is None:
        scheme = url.split("://", 1)[0]
        if scheme not in ("postgresql", "postgres"):
            raise UnsupportedDatabase(
                f"Unknown database URL scheme {scheme!r}: use a file path, sqlite:///path"
                " or postgresql://user@host/database."
            )
        from ivrlog.storage.postgres import PostgresStore  # psycopg loads only when used

        return _migrated(PostgresStore(url), migrate)
    if not path:
        raise UnsupportedDatabase("The SQLite URL names no file: use sqlite:///path/to/file.db.")
    try:
        store = SqliteStore(path)
    except sqlite3.Error as exc:
        raise StoreOpenError(f"Cannot open the SQLite database {path!r}: {exc}.") from None
    return _migrated(store, migrate)


def _migrated(store: Database, migrate: bool) -> Database:
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store
