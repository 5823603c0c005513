from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ivrlog.storage import StoreOpenError, UnsupportedDatabase, open_store, sqlite_path
from ivrlog.storage.migrations import LATEST_VERSION, MIGRATIONS, SchemaTooNew


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
    with pytest.raises(UnsupportedDatabase, match="PostgreSQL"):
        open_store("postgresql://localhost/ivrlog")
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
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"calls_start", "calls_detail_start", "open_calls_touched"} <= indexes
    finally:
        conn.close()
