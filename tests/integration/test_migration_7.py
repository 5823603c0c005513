"""Migration 7 on a SQLite database left at version 6 with search words: the rows of the
old index (keyed by call id, bare words) move to the newest-first index of
storage/sqlite_words.py in batches that resume, the old table goes, and searches answer
as before, each account its own calls."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import CallFilter, StoredCall
from ivrlog.storage import backfill, open_store
from ivrlog.storage.migration_7 import WORDS_SLOT
from ivrlog.storage.migrations import MIGRATIONS
from ivrlog.storage.search_sql import SUMMARY_COLUMNS, indexed_words, summary_values
from ivrlog.storage.sql import call_values
from ivrlog.storage.sqlite_words import places
from tests.factories import NOW, call, entry

T0 = NOW - 3600


def _call(session: str, start: int, app: str, line: str) -> StoredCall:
    detail = [
        entry(f'Executing application "{app}" version "1"', timestamp=start),
        entry(line, "event", start + 1, "menu", "main"),
    ]
    return prepare_call(call(session, start, detail=detail))


# (account, call): two accounts with the same words; calls sharing a second
CALLS = [
    (1, _call("a1", T0, "Bank", "your balance")),
    (1, _call("a2", T0 + 60, "Bank", "your payment")),
    (1, _call("a3", T0 + 60, "Shop", "your balance")),
    (1, _call("a4", T0 + 120, "Bank", "balance and payment")),
    (2, _call("b1", T0 + 60, "Bank", "your balance")),
    (2, _call("b2", T0 + 180, "Bank", "balance")),
]


def _version_6(path: Path) -> None:
    """A database at version 6 holding CALLS as version 6 kept them (its step done)."""
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:6]:
        conn.executescript(migration.sqlite)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT)")
    conn.execute("INSERT INTO schema_version VALUES (6, 'v6')")
    conn.execute("DELETE FROM pending_backfills")
    for account in (1, 2):
        conn.execute(
            f"INSERT INTO accounts (id, email, active, developer_key_hash,"
            f" ingest_token_hash, created_at) VALUES ({account}, 'a{account}@x', 1,"
            f" 'k', 't{account}', 1)"
        )
    for call_id, (account, c) in enumerate(CALLS, start=1):
        conn.execute(
            'INSERT INTO calls (id, account_id, session_id, src, dest, type, start, "end",'
            f" private, entry_count, {SUMMARY_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call_id, *call_values(account, c), *summary_values(c.summary)),
        )
        conn.execute("INSERT INTO call_details VALUES (?, ?, '')", (call_id, c.detail_json))
        conn.execute(
            "INSERT INTO call_words (rowid, words) VALUES (?, ?)", (call_id, indexed_words(c))
        )
    conn.commit()
    conn.close()


def _sessions(path: Path, account: int, **filters: object) -> list[str]:
    store = open_store(str(path))
    try:
        query = CallFilter(account, 0, NOW + 1, 0, **filters)  # type: ignore[arg-type]
        return [row[0] for row in store.search_calls(query, None, 100)]
    finally:
        store.close()


def test_the_words_of_a_version_6_database_move_to_the_newest_first_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v6.db"
    _version_6(path)
    monkeypatch.setattr(backfill.sqlite_batch, "__defaults__", (2,))  # several batches
    assert _sessions(path, 1, words=("balance",)) == ["a4", "a3", "a1"]
    assert _sessions(path, 2, words=("balance",)) == ["b2", "b1"]
    assert _sessions(path, 1, words=("your",), app="Bank") == ["a2", "a1"]
    assert _sessions(path, 1, words=("payment",), reached="menu:main") == ["a4", "a2"]
    assert _sessions(path, 1, words=("balance", "payment")) == ["a4"]
    assert _sessions(path, 2, words=("payment",)) == []
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM pending_backfills").fetchone() == (0,)
    old = conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'call_words_6%'")
    assert old.fetchone() == (0,)
    # each call's row is at a place of its second, found from its detail
    rows = conn.execute(
        "SELECT w.rowid, c.start, d.words_id FROM call_words w"
        " JOIN calls c ON c.id = w.call_id JOIN call_details d ON d.call_id = c.id"
    ).fetchall()
    conn.close()
    assert len(rows) == len(CALLS)
    assert all(place // WORDS_SLOT == start and place == kept for place, start, kept in rows)


def test_an_interrupted_move_resumes_and_indexes_each_call_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v6.db"
    _version_6(path)
    batches = 0
    whole = backfill.sqlite_batch

    def stopped_after_one(conn: sqlite3.Connection, limit: int = 4) -> bool:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise RuntimeError("the process stops")
        return whole(conn, limit)

    monkeypatch.setattr(backfill, "sqlite_batch", stopped_after_one)
    with pytest.raises(RuntimeError):
        open_store(str(path))
    conn = sqlite3.connect(path)
    try:  # the first batch is kept, the rest waits
        assert conn.execute("SELECT last_id FROM pending_backfills").fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM call_words").fetchone() == (4,)
    finally:
        conn.close()
    monkeypatch.undo()
    assert _sessions(path, 1, words=("balance",)) == ["a4", "a3", "a1"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM call_words").fetchone() == (len(CALLS),)
    finally:
        conn.close()


def test_a_second_holds_a_bounded_number_of_places() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE call_words USING fts5 (words, call_id UNINDEXED)")
    assert places(conn, [5, 7, 5]) == [5 * WORDS_SLOT, 7 * WORDS_SLOT, 5 * WORDS_SLOT + 1]
    conn.execute("INSERT INTO call_words (rowid, words) VALUES (?, 'x')", (6 * WORDS_SLOT - 1,))
    with pytest.raises(sqlite3.IntegrityError, match="started in second 5"):
        places(conn, [5])
