"""The store's connections never JIT-compile a plan (docs/scaling.md, "No JIT"): the
estimated cost of an export's read grows with the partitions it could reach, and on a
year of calls PostgreSQL compiled every one of them (80 ms instead of 2)."""

from __future__ import annotations

from typing import Any

import psycopg

from ivrlog.storage.postgres import PostgresStore
from ivrlog.storage.records import POSTGRES_RECORDS
from tests.factories import DAY, NOW
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
    assert [row[:2] for row in records] == [(s, f"m{i:02}") for i, s in enumerate(starts)]

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
