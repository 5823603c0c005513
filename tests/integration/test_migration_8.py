"""Migration 8 on a database left at version 7 with calls: the Python step "records" gives
every call its CSV record stem (storage/records.py), in batches that resume, and the
export of a window then answers the same bytes as the CSV of the calls' rows, on both
backends; each account its own calls. Migration 10's step "reports" counts the same calls
in the reports' aggregates: from their detail, or from their path when it is gone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from ivrlog.core.ingest import past_detail_retention, prepare_call
from ivrlog.core.model import CallFilter, StoredCall
from ivrlog.core.report_requests import funnel_report, parse_report
from ivrlog.render.calls import csv_rows
from ivrlog.storage import backfill, open_store
from ivrlog.storage.migrations import MIGRATIONS
from ivrlog.storage.search_sql import SUMMARY_COLUMNS, summary_values, without_nul
from ivrlog.storage.sql import call_values
from tests.factories import NOW, call, entry
from tests.pg import PostgresServer

T0 = NOW - 3600


def _call(session: str, start: int, app: str) -> StoredCall:
    detail = [
        entry(f'Executing application "{app}" version "1"', timestamp=start),
        entry("Press 1", "event", start + 1, "menu", "main"),
        entry("no such account", "error", start + 2, "lookup", "a,b"),
    ]
    return prepare_call(call(session, start, detail=detail))


# (account, call): two accounts, calls sharing a second, one without detail
CALLS = [
    (1, _call("a1", T0, "Bank")),
    (1, _call("a2", T0 + 60, 'Say "hi", then')),
    (1, _call("a3", T0 + 60, "Shop")),
    (1, past_detail_retention(_call("a4", T0 + 120, "Bank"), NOW)),
    (1, _call("a5", T0 + 180, "Bank")),
    (2, _call("b1", T0 + 60, "Bank")),
    (2, _call("b2", T0 + 180, "Bank")),
]
INSERT = (
    'INSERT INTO calls (id, account_id, session_id, src, dest, type, start, "end", private,'
    f" entry_count, {SUMMARY_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _check(url: str) -> None:
    store = open_store(url)
    try:
        for account, count in ((1, 5), (2, 2)):
            window = CallFilter(account, 0, NOW + 1, T0 + 30)
            rows = store.search_calls(window, None, 100)
            assert len(rows) == count
            records = store.window_records(account, 0, NOW + 1, T0 + 30, None, 100)
            assert records.total == count
            assert records.last == (rows[-1][4], rows[-1][0])
            assert records.records == csv_rows(rows, False)
        asked = parse_report(
            "funnel", [("app", "Bank"), ("from", "0")], account_id=1, now=NOW, call_cutoff=0
        )
        modules = {m["module"]: m for m in funnel_report(store, asked)["modules"]}
        # a1 and a5 from their detail; a4, whose detail is gone, from its path alone
        assert {k: (m["reached"], m["ended"], m["errors"]) for k, m in modules.items()} == {
            "start:start": (3, 0, 0),
            "menu:main": (3, 0, 0),
            "lookup:a,b": (3, 3, 2),
        }
        assert modules["menu:main"]["median_seconds"] == 1  # a4's seconds are unknown
    finally:
        store.close()


def _prefix(conn: sqlite3.Connection | psycopg.Connection[tuple[object, ...]]) -> None:
    """The schema of the first seven migrations and its version, and two accounts."""
    for migration in MIGRATIONS[:7]:
        script = migration.sqlite if isinstance(conn, sqlite3.Connection) else migration.postgresql
        if isinstance(conn, sqlite3.Connection):
            conn.executescript(script)
        else:
            conn.execute(script.encode())
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT)")
    conn.execute("INSERT INTO schema_version VALUES (7, 'v7')")
    conn.execute("DELETE FROM pending_backfills")
    for account in (1, 2):
        conn.execute(
            "INSERT INTO accounts (id, email, active, developer_key_hash, ingest_token_hash,"
            f" created_at) VALUES ({account}, 'a{account}@x', true, 'k', 't{account}', 1)"
        )


def test_a_version_7_sqlite_database_gets_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v7.db"
    conn = sqlite3.connect(path)
    _prefix(conn)
    for call_id, (account, c) in enumerate(CALLS, start=1):
        conn.execute(INSERT, (call_id, *call_values(account, c), *summary_values(c.summary)))
        if c.detail_json is not None:
            detail = (call_id, c.detail_json)
            conn.execute("INSERT INTO call_details VALUES (?, ?, '', NULL)", detail)
    conn.commit()
    conn.close()
    monkeypatch.setattr(backfill.sqlite_batch, "__defaults__", (3,))  # several batches
    _check(str(path))
    conn = sqlite3.connect(path)
    try:  # the step is done, each call has its one row
        assert conn.execute("SELECT count(*) FROM pending_backfills").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM call_records").fetchone() == (len(CALLS),)
    finally:
        conn.close()
    _check(str(path))  # reopened: nothing to do


def test_a_version_7_postgresql_database_gets_its_records(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_server.url(postgres_server.create_database())
    with psycopg.connect(url) as conn:
        _prefix(conn)
    # the store makes the partitions the rows need, then the rows go in at version 7
    store = open_store(url, migrate=False)
    store._partitions.ensure([c for _, c in CALLS])  # type: ignore[attr-defined]
    store.close()
    with psycopg.connect(url) as conn:
        for call_id, (account, c) in enumerate(CALLS, start=1):
            values = (call_id, *call_values(account, c), *summary_values(c.summary, without_nul))
            conn.execute(INSERT.replace("?", "%s"), values)
            if c.detail_json is not None:
                conn.execute(
                    "INSERT INTO call_details (call_id, start, json, xml) VALUES (%s, %s, %s, '')",
                    (call_id, c.start, c.detail_json),
                )
    monkeypatch.setattr(backfill.postgres_batch, "__defaults__", (3,))
    _check(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pending_backfills").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM calls WHERE record IS NULL AND long_record IS NULL"
        ).fetchone() == (0,)
        # past the newest call with entries: what earlier purges left is not known, so
        # the detail of those calls is probed (as _check's reads do: all true)
        assert conn.execute("SELECT since FROM detail_kept").fetchone() == (T0 + 181,)
        # migration 9: a version for each account's hours of calls (storage/record_blocks.py)
        hours = conn.execute("SELECT account_id, hour FROM record_blocks").fetchall()
        assert sorted(hours) == sorted({(a, c.start // 3600) for a, c in CALLS})
        # migration 10's report rows, counted by the backfill, folded as it ends (13)
        for table in ("report_volume_pending", "report_modules_pending"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        assert conn.execute("SELECT sum(calls) FROM report_volume").fetchone() != (None,)
    _check(url)


@pytest.mark.parametrize(
    ("calls", "since"),
    [
        ([], 0),  # a new database: nothing was ever purged
        ([(1, T0, 3), (2, T0 + 60, 0)], T0 + 1),  # every detail purged: after the last
        ([(1, T0, 0)], 0),  # no call with entries
    ],
)
def test_detail_kept_starts_where_no_detail_can_be_missing(
    postgres_server: PostgresServer, calls: list[tuple[int, int, int]], since: int
) -> None:
    url = postgres_server.url(postgres_server.create_database())
    with psycopg.connect(url) as conn:
        _prefix(conn)
    store = open_store(url, migrate=False)
    store._partitions.ensure([_call("x", start, "Bank") for _, start, _ in calls])  # type: ignore[attr-defined]
    store.close()
    with psycopg.connect(url) as conn:
        for call_id, start, entries in calls:
            conn.execute(
                'INSERT INTO calls (id, account_id, session_id, src, dest, type, start, "end",'
                " private, entry_count) VALUES (%s, 1, %s, '1', '2', 'inbound', %s, %s, false, %s)",
                (call_id, f"c{call_id}", start, start + 9, entries),
            )
    open_store(url).close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT since FROM detail_kept").fetchone() == (since,)
