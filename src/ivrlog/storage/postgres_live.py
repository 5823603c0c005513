"""The PostgreSQL store's calls in progress (its LiveTransaction) and the locks and
deletes that its writes share with it (postgres.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from ivrlog.core.model import EntryFragments, StaleCall, StoredCall
from ivrlog.storage.partitions import RetryTransaction, is_missing_partition
from ivrlog.storage.sql import OPEN_COLUMNS, POSTGRES, stale_calls
from ivrlog.storage.sql_store import SqlLive

if TYPE_CHECKING:
    from ivrlog.storage.postgres import PostgresStore

# A call's lock is one of STRIPES keys (its hash), so that a batch of 10,000 calls takes
# at most STRIPES locks of PostgreSQL's shared lock table, in key order.
STRIPES = 256
STALE_PER_TRANSACTION = 16
LOCK_CALLS = (
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT"
    f" abs(hashtextextended(s, %s) %% {STRIPES}) AS k FROM unnest(%s::text[]) AS s ORDER BY 1) ks"
)


def delete_details_of(conn: psycopg.Connection[Any], calls: Sequence[tuple[int, int]]) -> None:
    """Delete the stored detail of these calls, given as (id, start)."""
    if calls:
        conn.execute(
            "DELETE FROM call_details d USING unnest(%s::bigint[], %s::bigint[]) AS o(id, s)"
            " WHERE d.call_id = o.id AND d.start = o.s",
            ([c[0] for c in calls], [c[1] for c in calls]),
        )


class Live(SqlLive):
    """A LiveTransaction on one pooled connection, inside one transaction."""

    _sql = POSTGRES

    def __init__(self, store: PostgresStore, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn)
        self._store = store

    def _lock_call(self, account_id: int, session_id: str) -> None:
        self._conn.execute(LOCK_CALLS, (account_id, [session_id]))

    def add_entries(self, call_id: int, first_seq: int, entries: Sequence[EntryFragments]) -> None:
        with self._conn.cursor().copy(
            "COPY open_entries (call_id, timestamp, seq, json, xml) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "int8", "int4", "text", "text"])
            for seq, (timestamp, json, xml) in enumerate(entries, start=first_seq):
                copy.write_row((call_id, timestamp, seq, json, xml))

    def drop_entries(self, call_id: int) -> None:
        self._conn.execute("DELETE FROM open_entries WHERE call_id = %s", (call_id,))

    def finish(self, account_id: int, call_id: int, call: StoredCall) -> None:
        # No partition is made while this transaction is open: waiting here for another
        # connection (whose ATTACH may wait for locks this transaction holds) could hang
        # where PostgreSQL sees no deadlock. The caller rolls back, has the partition
        # made, and runs the transaction again.
        store = self._store
        retry = RetryTransaction(lambda: store._partitions.ensure([call], reload=True))
        if not store._partitions.covers(call):
            raise retry
        self._conn.execute("DELETE FROM open_calls WHERE id = %s", (call_id,))
        try:
            with self._conn.transaction():  # a savepoint: a stale cache is recoverable
                store._write_calls(self._conn, account_id, [call])
        except psycopg.Error as exc:
            if not is_missing_partition(exc):
                raise
            raise retry from None  # another process's purge dropped the partition

    def stale(self, touched_before: int, started_before: int, limit: int) -> list[StaleCall]:
        # only calls whose lock is free now: a call being updated is left for the next run
        rows = self._conn.execute(
            f"SELECT account_id, {OPEN_COLUMNS} FROM open_calls"
            " WHERE (touched_at < %s OR start < %s)"
            f" AND pg_try_advisory_xact_lock(abs(hashtextextended(session_id, account_id)"
            f" %% {STRIPES}))"
            " LIMIT %s FOR UPDATE SKIP LOCKED",
            # each call found holds its stripe until commit: few at a time, so that live
            # updates of other calls rarely wait for the sweep
            (touched_before, started_before, min(limit, STALE_PER_TRANSACTION)),
        ).fetchall()
        return stale_calls(rows)
