"""What the store's pooled connections ask of the server. No JIT (docs/scaling.md, "No
JIT"): the estimated cost of an export's read grows with the partitions it could reach,
and on a year of calls PostgreSQL compiled every one of them (80 ms instead of 2). UTF8
as the client's encoding: the export's records are read as the bytes the server sends
(storage/records.py), which must be UTF-8 whatever the database's encoding, and whatever
the server's other settings."""

from __future__ import annotations

from typing import Any

import psycopg

from ivrlog.storage.postgres import PostgresStore
from ivrlog.storage.records import POSTGRES_RECORDS
from tests.factories import DAY, NOW, entry
from tests.integration.postgres_partitions.helpers import rows_per_partition, stored

EXPLAIN = "EXPLAIN (ANALYZE, FORMAT JSON) " + POSTGRES_RECORDS


def compiled(conn: psycopg.Connection[Any], params: dict[str, Any]) -> bool:
    """Whether the export's read is compiled on `conn` when any cost would be worth it."""
    with conn.transaction():
        conn.execute("SET LOCAL jit_above_cost = 0")
        row = conn.execute(EXPLAIN, params).fetchone()
    assert row is not None
    return "JIT" in row[0][0]


def test_no_connection_of_the_store_compiles_a_plan(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    starts = [NOW - month * 31 * DAY for month in range(13)]  # a year: a partition a month
    store.put_calls(account_id, [stored(f"m{i:02}", start) for i, start in enumerate(starts)])
    assert sum(name.startswith("calls_") for name in rows_per_partition(url)) >= 13
    records = store.window_records(account_id, 0, NOW + 1, NOW - 5 * DAY, None, 100)
    fields = [line.split(b",") for line in records.records.splitlines()]
    assert [(int(f[4]), f[0].decode()) for f in fields] == [
        (s, f"m{i:02}") for i, s in enumerate(starts)
    ]

    params = {
        "account": account_id,
        "start": 0,
        "end": NOW + 1,
        "cutoff": NOW - 5 * DAY,
        "after_start": NOW + 1,
        "after_session": "",
        "limit": 2000,
    }
    with store._read() as first, store._read() as second:  # two of the pool's connections
        for conn in (first, second):
            assert conn.execute("SHOW jit").fetchone() == ("off",)
            assert not compiled(conn, params)
    with psycopg.connect(url, autocommit=True) as conn:  # the server's own setting
        (available,) = conn.execute("SELECT pg_jit_available()").fetchone() or (None,)
        assert conn.execute("SHOW jit").fetchone() == ("on",)
        assert compiled(conn, params) == available


def test_records_are_utf8_in_a_database_that_is_not(postgres_server: Any) -> None:
    name = "latin1_records"
    postgres_server.admin.execute(
        f"CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    )
    try:
        store = PostgresStore(
            f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{name}", clock=lambda: NOW
        )
        try:
            store.migrate()
            account_id = store.create_account("a@example.com", "k", "t", NOW).id
            opened = entry('Executing application "Zoë" version "1"', "info", NOW - 60)
            store.put_calls(account_id, [stored("café", NOW - 60, detail=[opened])])
            records = store.window_records(account_id, 0, NOW + 1, NOW - 5 * DAY, None, 10)
        finally:
            store.close()
    finally:
        postgres_server.admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    assert records.total == 1
    assert records.records.startswith("café,".encode())
    assert ",Zoë,1,".encode() in records.records


def test_records_end_the_same_whatever_standard_conforming_strings_says(
    postgres_server: Any,
) -> None:
    name = postgres_server.create_database()
    url = postgres_server.url(name).replace(
        "options=", "options=-cstandard_conforming_strings%3Doff%20", 1
    )
    store = PostgresStore(url, clock=lambda: NOW)
    try:
        store.migrate()
        with store._read() as conn:
            assert conn.execute("SHOW standard_conforming_strings").fetchone() == ("off",)
        account_id = store.create_account("a@example.com", "k", "t", NOW).id
        opened = entry('Executing application "Bank" version "1"', "info", NOW - 60)
        store.put_calls(
            account_id,
            [stored("kept", NOW - 60, detail=[opened]), stored("bare", NOW - 30, detail=[])],
        )
        records = store.window_records(account_id, 0, NOW + 1, NOW - 5 * DAY, None, 10)
    finally:
        store.close()
        postgres_server.drop_database(name)
    bare, kept = records.records.splitlines(keepends=True)
    assert bare.startswith(b"bare,")
    assert bare.endswith(b",false\r\n")
    assert kept.startswith(b"kept,")
    assert kept.endswith(b",true\r\n")
