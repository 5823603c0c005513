"""Migration 6 on a database left at version 5 with calls: each call with stored detail
gets its summary and search words from it (the backfill, in batches that resume), calls
without detail keep an empty path; on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import psycopg
import pytest

from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import CallFilter
from ivrlog.render.calls import csv_rows
from ivrlog.storage import backfill, open_store
from ivrlog.storage.migrations import MIGRATIONS
from tests.factories import NOW, call, entry
from tests.pg import PostgresServer

T0 = NOW - 3600
DETAIL = [
    entry('Executing application "Bank" version "7"', timestamp=T0),
    entry("Caller asked for Balance", "event", T0 + 1, "menu", "main"),
    entry("no such account", "error", T0 + 2, "lookup", "acct"),
]


def _v5_calls() -> list[tuple[int, str, str | None]]:
    """(id, session id, detail JSON or None): enough calls for several batches."""
    with_detail = prepare_call(call("with", T0, detail=DETAIL))
    rows = [(i + 1, f"c{i}", with_detail.detail_json) for i in range(7)]
    rows.append((8, "bare", None))
    return rows


def _check(url: str, *, again: bool = False) -> None:
    store = open_store(url)
    try:
        everything = CallFilter(1, 0, NOW + 1, 0)
        rows = {r[0]: r for r in store.search_calls(everything, None, 100)}
        assert len(rows) == 8
        for session in (f"c{i}" for i in range(7)):
            row = rows[session]
            assert row[7:12] == (
                "Bank",
                "7",
                orjson.dumps(["start:start", "menu:main", "lookup:acct"]).decode(),
                "lookup:acct",
                1,
            )
        assert rows["bare"][7:12] == (None, None, "[]", None, 0)
        # migration 8's step, after 6's: each call's export record is of its summary
        listed = store.search_calls(everything, None, 100)
        records = store.window_records(1, 0, NOW + 1, 0, None, 100)
        assert records.records == csv_rows(listed, False)
        words = CallFilter(1, 0, NOW + 1, 0, words=("balance", "account"))
        assert sorted(r[0] for r in store.search_calls(words, None, 100)) == [
            f"c{i}" for i in range(7)
        ]
        reached = CallFilter(1, 0, NOW + 1, 0, reached="menu:main", ended_in="acct")
        assert len(store.search_calls(reached, None, 100)) == 7
        # every call stored before has a place in the change sequence, so that a mirror
        # reading it from 0 gets it; the next write takes the place after them
        places = store.changes(1, 0, 100, 0)
        assert [p.seq for p in places] == list(range(1, 9))
        assert {p.session_id for p in places} == set(rows)
        assert {p.change for p in places} == {"completed"}
        assert all(p.call is not None for p in places)
        if again:  # reopened: nothing backfilled twice, and a new call follows them
            store.put_calls(1, [prepare_call(call("after", T0 + 5))])
            assert [(p.seq, p.session_id) for p in store.changes(1, 8, 100, 0)] == [(9, "after")]
    finally:
        store.close()


def test_a_version_5_sqlite_database_gets_its_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:5]:
        conn.executescript(migration.sqlite)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT)")
    conn.execute("INSERT INTO schema_version VALUES (5, 'v5')")
    conn.execute("INSERT INTO accounts VALUES (1, 'a@example.com', 1, 'k', 't', 1)")
    for call_id, session, detail in _v5_calls():
        conn.execute(
            "INSERT INTO calls VALUES (?, 1, ?, '1', '2', 'inbound', ?, ?, 0, ?)",
            (call_id, session, T0 + call_id, T0 + call_id + 9, 3 if detail else 0),
        )
        if detail:
            conn.execute("INSERT INTO call_details VALUES (?, ?, '')", (call_id, detail))
    conn.commit()
    conn.close()
    monkeypatch.setattr(backfill.sqlite_batch, "__defaults__", (3,))  # several batches
    _check(str(path))
    conn = sqlite3.connect(path)
    try:  # the step is done: nothing pending, and a reopening backfills nothing again
        assert conn.execute("SELECT count(*) FROM pending_backfills").fetchone() == (0,)
    finally:
        conn.close()
    _check(str(path), again=True)


def test_a_version_5_postgresql_database_gets_its_summaries(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    try:
        with psycopg.connect(url) as conn:
            for migration in MIGRATIONS[:5]:
                conn.execute(migration.postgresql.encode())
            conn.execute(
                b"""
                CREATE TABLE schema_version (version integer PRIMARY KEY, description text);
                INSERT INTO schema_version VALUES (5, 'v5');
                INSERT INTO accounts VALUES (1, 'a@example.com', true, 'k', 't', 1);
                """
            )
        # the store makes the partitions the rows need, then the rows go in at version 5
        store = open_store(url, migrate=False)
        store._partitions.ensure([prepare_call(call("p", T0, detail=DETAIL))])  # type: ignore[attr-defined]
        store.close()
        with psycopg.connect(url) as conn:
            for call_id, session, detail in _v5_calls():
                conn.execute(
                    "INSERT INTO calls VALUES (%s, 1, %s, '1', '2', 'inbound', %s, %s, false, %s)",
                    (call_id, session, T0, T0 + 9, 3 if detail else 0),
                )
                if detail:
                    conn.execute(
                        "INSERT INTO call_details VALUES (%s, %s, %s, '')", (call_id, T0, detail)
                    )
        monkeypatch.setattr(backfill.postgres_batch, "__defaults__", (3,))
        _check(url)
        with psycopg.connect(url) as conn:
            # the words are exactly array_to_tsvector of the words (no parser, no stemming)
            (words,) = conn.execute("SELECT words::text FROM call_details LIMIT 1").fetchone() or (
                "",
            )
            assert (
                words == "'7' 'account' 'application' 'asked' 'balance' 'bank' 'caller'"
                " 'executing' 'for' 'no' 'such' 'version'"
            )
    finally:
        postgres_server.drop_database(name)
