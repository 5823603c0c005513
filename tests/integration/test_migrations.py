from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ivrlog.core.model import CallQuery
from ivrlog.storage import StoreOpenError, UnsupportedDatabase, open_store, sqlite_path
from ivrlog.storage.migrations import LATEST_VERSION, MIGRATIONS, SchemaTooNew
from tests.pg import PostgresServer


def test_versions_are_consecutive_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_fresh_file_is_migrated_at_open_with_wal(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    store = open_store(str(path))
    store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert [r[0] for r in rows] == list(range(1, LATEST_VERSION + 1))
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"accounts", "calls", "call_details"} <= tables
    finally:
        conn.close()


def test_reopen_keeps_data_and_applies_nothing_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/again.db"
    store = open_store(url)
    store.create_account("a@example.com", "k", "t", 1)
    store.close()
    store = open_store(url)
    try:
        assert store.schema_version() == LATEST_VERSION
        assert store.account_by_email("a@example.com") is not None
    finally:
        store.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    open_store(str(path)).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'from the future')", (LATEST_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="upgrade ivrlog"):
        open_store(str(path))


def test_unusable_locations_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(StoreOpenError, match="Cannot open the SQLite database"):
        open_store(str(tmp_path / "missing-dir" / "x.db"))
    with pytest.raises(StoreOpenError, match="Cannot connect to the PostgreSQL database"):
        open_store("postgresql://nobody@127.0.0.1:1/ivrlog")
    with pytest.raises(UnsupportedDatabase, match="Unknown database URL scheme"):
        open_store("mysql://localhost/ivrlog")
    with pytest.raises(UnsupportedDatabase, match="names no file"):
        open_store("sqlite:///")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("ivrlog.db", "ivrlog.db"),
        ("/var/lib/ivrlog.db", "/var/lib/ivrlog.db"),
        ("sqlite:///data/ivrlog.db", "data/ivrlog.db"),
        ("sqlite:////var/lib/ivrlog.db", "/var/lib/ivrlog.db"),
        ("postgresql://h/db", None),
    ],
)
def test_sqlite_path(url: str, path: str | None) -> None:
    assert sqlite_path(url) == path


def test_a_version_1_database_is_upgraded_with_its_data(tmp_path: Path) -> None:
    """An ivrlog of issue 2 left schema 1; opening it adds live calls, patterns and the
    purge indexes, without rewriting a row."""
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0].sqlite)
    conn.executescript(
        """
        CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL);
        INSERT INTO schema_version VALUES (1, 'v1');
        INSERT INTO accounts VALUES (1, 'a@example.com', 1, 'k', 't', 1);
        INSERT INTO calls VALUES (7, 1, 's1', '1', '2', 'inbound', 1000, 1010, 0, 1);
        INSERT INTO call_details VALUES (7, '[]', '');
        """
    )
    conn.commit()
    conn.close()
    store = open_store(str(path))
    try:
        assert store.schema_version() == LATEST_VERSION
        assert store.count_expired(1001, 0) == (1, 0)  # a stored detail, found by its call
        assert store.count_expired(1000, 1001) == (0, 1)
        assert store.call_detail(1, "s1", "json", 0) == (True, "[]")
        assert store.redaction_patterns() == []
        # the hourly counts (migration 3) hold the old call: a window of whole hours
        window = CallQuery(1, 0, 7200, None, 0, 10, 0)
        page = store.open_page(window, None)
        assert page.total == 1
        page.close()
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT * FROM account_hours").fetchall() == [(1, 0, 1)]
        conn.close()
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"calls_start", "calls_detail_start", "open_calls_touched"} <= indexes
    finally:
        conn.close()


# PostgreSQL


def _pg_tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p')"
                " AND relnamespace = current_schema()::regnamespace"
            )
        }


def test_an_empty_postgresql_database_is_migrated_to_the_latest_version(
    postgres_server: PostgresServer,
) -> None:
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    try:
        store = open_store(url)
        try:
            assert store.schema_version() == LATEST_VERSION
        finally:
            store.close()
        again = open_store(url)  # nothing applied twice
        again.close()
        with psycopg.connect(url) as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
            kinds: dict[str, str] = dict(
                conn.execute(
                    "SELECT relname, relkind::text FROM pg_class"
                    " WHERE relname IN ('calls', 'call_details', 'open_calls')"
                    " AND relnamespace = current_schema()::regnamespace"
                ).fetchall()
            )
        assert sorted(versions) == list(range(1, LATEST_VERSION + 1))
        # calls and their detail are partitioned ('p'); calls in progress are not
        assert kinds == {"calls": "p", "call_details": "p", "open_calls": "r"}
    finally:
        postgres_server.drop_database(name)


def test_a_version_1_postgresql_database_is_upgraded_with_its_data(
    postgres_server: PostgresServer,
) -> None:
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    try:
        with psycopg.connect(url) as conn:
            conn.execute(MIGRATIONS[0].postgresql.encode())
            conn.execute(
                b"""
                CREATE TABLE schema_version (version integer PRIMARY KEY, description text);
                INSERT INTO schema_version VALUES (1, 'v1');
                INSERT INTO accounts VALUES (1, 'a@example.com', true, 'k', 't', 1);
                CREATE TABLE calls_197001 PARTITION OF calls FOR VALUES FROM (0) TO (2678400);
                CREATE TABLE call_details_19700101 PARTITION OF call_details
                    FOR VALUES FROM (0) TO (86400);
                INSERT INTO calls VALUES (7, 1, 's1', '1', '2', 'inbound', 1000, 1010, false, 1);
                INSERT INTO call_details VALUES (7, 1000, '[]', '');
                -- an expired month a purge detached and did not get to drop
                CREATE TABLE calls_y1969 (LIKE calls);
                INSERT INTO calls_y1969 VALUES (8, 1, 'gone', '1', '2', 'inbound', 5, 9, false, 0);
                """
            )
        assert "open_calls" not in _pg_tables(url)
        store = open_store(url)
        try:
            assert store.schema_version() == LATEST_VERSION
            assert store.count_expired(1001, 0) == (1, 0)
            assert store.count_expired(1000, 1001) == (0, 1)
            assert store.call_detail(1, "s1", "json", 0) == (True, "[]")
            assert store.redaction_patterns() == []
            # migration 3 counted the call by hour, and dropped the left-over table
            page = store.open_page(CallQuery(1, 0, 7200, None, 0, 10, 0), None)
            assert page.total == 1
            page.close()
        finally:
            store.close()
        tables = _pg_tables(url)
        assert {"open_calls", "open_entries", "redaction_patterns", "account_hours"} <= tables
        assert "calls_y1969" not in tables
    finally:
        postgres_server.drop_database(name)


def test_a_newer_schema_is_refused_on_both_backends(db_url: str, backend: str) -> None:
    open_store(db_url).close()
    if backend == "sqlite":
        conn: Any = sqlite3.connect(db_url)
        conn.execute("INSERT INTO schema_version VALUES (?, 'future')", (LATEST_VERSION + 1,))
        conn.commit()
        conn.close()
    else:
        with psycopg.connect(db_url) as conn:
            conn.execute("INSERT INTO schema_version VALUES (%s, 'future')", (LATEST_VERSION + 1,))
    with pytest.raises(SchemaTooNew, match="upgrade ivrlog"):
        open_store(db_url)
