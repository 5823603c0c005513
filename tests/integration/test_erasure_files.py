"""An erasure on SQLite, proven on the bytes: afterwards the database file and its WAL
hold neither the erased call's number nor a distinctive word of its lines (the FTS5
index's segments included: SqliteStore runs FTS5's `optimize` after an erasure, which
merges them, and secure_delete zeroes the pages they leave). Its session id stays in one
place only, by design: the `erased` place of the change sequence that tells a mirror to
drop the call (docs/api.md, /v1/changes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ivrlog.core.live import append_entries
from ivrlog.core.model import Erasure
from ivrlog.core.retention import Retention, purge_expired
from ivrlog.storage import open_store
from tests.factories import NOW, database_text, entry
from tests.integration.search_helpers import everything, found, stored

T0 = NOW - 3600
NUMBER = "5559876543"
SESSION = "erase-me;8675309"
WORD = "zanzibarquux"


def test_an_erased_call_leaves_no_number_and_no_word_in_the_files(tmp_path: Path) -> None:
    path = tmp_path / "erase.db"
    store = open_store(str(path))
    try:
        account_id = store.create_account("a@example.com", "k", "t", NOW).id
        lines = [entry(f"caller {WORD} said {i}", timestamp=T0 + i) for i in range(3)]
        others = [
            stored(f"keep{i}", T0 + i, detail=[entry(f"caller said {i}", timestamp=T0 + i)])
            for i in range(50)
        ]
        store.put_calls(account_id, [stored(SESSION, T0, src=NUMBER, detail=lines), *others])
        live = {"src": NUMBER, "dest": "1", "type": "inbound", "entries": lines}
        append_entries(store, account_id, "live;" + NUMBER, live, now=NOW)
        before = database_text(str(path))
        assert WORD in before
        assert NUMBER in before
        assert store.erase(account_id, Erasure(number=NUMBER), "selector-hash", NOW) == 2
        assert found(store, everything(account_id, words=(WORD,))) == []
        assert len(found(store, everything(account_id, words=("caller",)))) == 50
        after = database_text(str(path))
        assert WORD not in after
        assert NUMBER not in after
        # the erased place, and nothing else, still names the call
        assert after.count(SESSION) <= 2  # the changes row and its index entry
        conn = sqlite3.connect(path)
        try:
            assert conn.execute(
                "SELECT change FROM changes WHERE session_id = ?", (SESSION,)
            ).fetchall() == [("erased",)]
            assert conn.execute(
                "SELECT count(*) FROM calls WHERE session_id = ?", (SESSION,)
            ).fetchone() == (0,)
        finally:
            conn.close()
    finally:
        store.close()
    assert WORD not in database_text(str(path))


def test_the_purge_leaves_no_word_of_deleted_detail_in_the_files(tmp_path: Path) -> None:
    """The purge's deletions take the words out of the FTS5 segments too (scrub() runs
    `optimize` after words were deleted), as SPEC 5 asks of deleted content."""
    path = tmp_path / "purge.db"
    store = open_store(str(path))
    try:
        account_id = store.create_account("a@example.com", "k", "t", NOW).id
        old = [entry(f"caller {WORD} said", timestamp=T0)]
        kept = [entry("caller said", timestamp=NOW - 60)]
        store.put_calls(
            account_id, [stored("old", T0, detail=old), stored("new", NOW - 60, detail=kept)]
        )
        assert WORD in database_text(str(path))
        report = purge_expired(store, Retention(1, 365, 14_400), now=NOW + 84_000)
        assert report.details_deleted == 1
        assert report.scrubbed
        assert found(store, everything(account_id, words=(WORD,))) == []
        assert WORD not in database_text(str(path))
    finally:
        store.close()
