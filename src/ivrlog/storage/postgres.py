"""The PostgreSQL store: a connection pool, calls partitioned by time, COPY to write,
server-side cursors to read.

Calls are range-partitioned by month of `start` and their detail by day, so that the
retention purge drops whole partitions instead of deleting rows (partitions.py). A
partition is made as rows arrive, never inside an open write transaction.

There is no unique index on (account_id, session_id) across partitions (PostgreSQL
requires the partition key in every unique index), so every write that creates or
replaces a call first takes a transaction-scoped advisory lock on that key's stripe:
writers of the same call run one after the other, and a call exists at most once. Writes
take the locks in key order and the purge only tries them, so no two writers deadlock.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, TypeVar

import psycopg
from psycopg.errors import UniqueViolation
from psycopg_pool import ConnectionPool

from ivrlog.core.model import (
    CallDetail,
    CallKey,
    CallQuery,
    DetailFormat,
    RecordChunk,
    StoredCall,
)
from ivrlog.core.ports import LiveTransaction, StoreOpenError
from ivrlog.core.reports import call_facts, deltas, row_facts, steps_json
from ivrlog.storage import backfill, record_blocks, records, report_sql
from ivrlog.storage.migrations import pending
from ivrlog.storage.partitions import (
    LOCK_CLASS,
    LOCK_FOLD,
    LOCK_MIGRATE,
    Partitions,
    RetryTransaction,
    Table,
    is_missing_partition,
    partition_of,
)
from ivrlog.storage.places import completion_places, place_statements, take_places
from ivrlog.storage.postgres_live import LOCK_CALLS, Live, delete_details_of
from ivrlog.storage.postgres_lookups import Lookups
from ivrlog.storage.postgres_page import Page, has_nul
from ivrlog.storage.postgres_words import tsvector_binary
from ivrlog.storage.search_sql import (
    POSTGRES_DIALECT,
    SUMMARY_COLUMNS,
    indexed_words,
    summary_values,
    without_nul,
)
from ivrlog.storage.search_store import EraseStatements, Found, SearchStore
from ivrlog.storage.sql import (
    POSTGRES,
    call_values,
    postgres_style,
)
from ivrlog.storage.sql_store import SqlStore
from ivrlog.storage.webhook_store import WebhookSql

log = logging.getLogger("ivrlog.storage")
T = TypeVar("T")
_LIVE_RUNS: Final = 3  # runs of a live transaction that needed a partition first
_WRITE_RUNS: Final = 4  # runs of a batch whose partition went missing meanwhile

POOL_SIZE: Final = 20  # connections per server process (a page holds one while it streams)
# each pooled connection's settings (docs/scaling.md): no JIT, which compiled an export's every
# read on a year of partitions (80 ms, not 2); and UTF8 as the client's (records.py: _LINE)
SESSION: Final = "SET jit = off"
_FOLD_BACKFILL: Final = 20  # backfill batches between two folds of the report rows


def _wait_for_folds(conn: Any) -> None:
    """Wait for a fold under way (any process's) to commit, and keep the next one from
    starting until this transaction ends: a deletion of report rows must see the rows a
    fold moves, pending or folded (report_sql.fold)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, LOCK_FOLD))


# the hourly counts' tables (migration 3), their key, and the key's match in _fold_counts
_FOLDS = (
    ("account_hours", "account_id, hour", "t.account_id = f.account_id AND t.hour = f.hour"),
    (
        "number_hours",
        "account_id, dest, hour",
        "t.account_id = f.account_id AND t.dest = f.dest AND t.hour = f.hour",
    ),
)
_CALL_TYPES = (
    *("int8", "int8", "text", "text", "text", "text", "int8", "int8", "bool", "int4"),
    *("text", "text", "text", "text", "text", "text", "bool", "int4"),  # SUMMARY_COLUMNS
    *("text", "text"),  # record, long_record (storage/records.py)
    "text",  # steps (core/reports.py)
)
_PLACES = place_statements(postgres_style, arrays=True)


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute(SESSION)


class PostgresStore(SqlStore, SearchStore, WebhookSql):
    """A Store on one PostgreSQL database (any number of ivrlog processes may share it)."""

    inline_reads = False  # a round trip to the server: never on the event loop
    _postgres = True
    _sql = POSTGRES
    _dialect = POSTGRES_DIALECT
    _places = _PLACES
    _erase_sql = EraseStatements(postgres_style)
    _duplicate = (UniqueViolation,)

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = POOL_SIZE,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:  # one connection first, so that a wrong URL fails at once and says why
            psycopg.connect(url, connect_timeout=max(1, int(timeout))).close()
        except psycopg.Error as exc:
            raise StoreOpenError(
                f"Cannot connect to the PostgreSQL database: {str(exc).strip()}"
            ) from None
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "client_encoding": "UTF8"},
            configure=_configure,
            open=False,
            name="ivrlog",
            timeout=30.0,
        )
        self._partitions = Partitions(url, self._pool, clock)
        # the store's call_detail looked up at each use (a wrapper or a test's patch holds)
        self._lookups = Lookups(url, SESSION, lambda *a, **k: self.call_detail(*a, **k))
        self._blocks = record_blocks.Blocks(
            self._read, self._snapshot, self._transaction, self._records
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            self._pool.close()
            raise StoreOpenError(f"Cannot connect to the PostgreSQL database: {exc}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    def _read(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
        return self._pool.connection()

    def _write(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
        return self._transaction()

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn

    def _matches_none(self, *values: Any) -> bool:
        return has_nul(*values)

    def _stored_name(self, value: str | None) -> str | None:
        return without_nul(value)

    # schema
    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
            if not row or not row[0]:
                return 0
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            assert row is not None
            return int(row[0])

    def migrate(self) -> None:
        with self._transaction() as conn:
            # one migrating process at a time, however many servers start together
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, LOCK_MIGRATE))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version integer PRIMARY KEY, description text NOT NULL)"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            assert row is not None
            for migration in pending(int(row[0])):
                conn.execute(migration.postgresql.encode())
                conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                    (migration.version, migration.description),
                )
        batches = 0
        while True:  # the Python steps of migrations, a batch a transaction (backfill.py)
            with self._transaction() as conn:
                if not backfill.postgres_batch(conn):
                    break
            batches += 1
            if batches % _FOLD_BACKFILL == 0:  # the report rows it counted, as it goes
                self.fold_reports()
        if batches:
            self.fold_reports()
        self._partitions.ensure(())  # today's and the days' and month's just ahead

    def ping(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT 1").fetchone()

    def database_bytes(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._pool.close()

    # the hot read on the event loop (core/ports.AsyncLookups, storage/postgres_lookups.py)
    async def open_lookups(self) -> None:
        await self._lookups.open()

    async def close_lookups(self) -> None:
        await self._lookups.close()

    def lookups_open(self) -> bool:
        return self._lookups.on_this_loop()

    async def call_detail_async(
        self,
        account_id: int,
        session_id: str,
        fmt: DetailFormat,
        detail_cutoff: int,
        *,
        call_cutoff: int = 0,
    ) -> CallDetail:
        return await self._lookups.call_detail(
            account_id, session_id, fmt, detail_cutoff, call_cutoff=call_cutoff
        )

    # partitions
    def partitions(self) -> list[tuple[str, Table, int, int, bool]]:
        """Every partition made by ivrlog, as (name, table, lower bound, upper bound,
        attached), oldest first; one not attached is left over from an interrupted drop."""
        return self._partitions.listing()

    # calls
    def _write_calls(
        self, conn: psycopg.Connection[Any], account_id: int, calls: Sequence[StoredCall]
    ) -> None:
        """Replace calls (by session id) inside the caller's transaction."""
        sessions = [c.session_id for c in calls]
        conn.execute(LOCK_CALLS, (account_id, sessions))
        old = conn.execute(
            "DELETE FROM calls WHERE account_id = %s AND session_id = ANY(%s)"
            ' RETURNING id, start, session_id, app, type, "end", steps',
            (account_id, sessions),
        ).fetchall()
        delete_details_of(conn, [(row[0], row[1]) for row in old])
        conn.execute(
            "DELETE FROM open_calls WHERE account_id = %s AND session_id = ANY(%s)",
            (account_id, sessions),
        )
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT nextval('calls_id_seq') FROM generate_series(1, %s)", (len(calls),)
            )
        ]
        cursor = conn.cursor()
        with cursor.copy(
            'COPY calls (id, account_id, session_id, src, dest, type, start, "end", private,'
            f" entry_count, {SUMMARY_COLUMNS}, record, long_record, steps)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(list(_CALL_TYPES))
            for call_id, c in zip(ids, calls, strict=True):
                summary = summary_values(c.summary, without_nul)
                values = (call_id, *call_values(account_id, c), *summary)
                record = records.split(records.stem(c, summary))
                copy.write_row((*values, *record, steps_json(c.steps)))
        with cursor.copy(
            "COPY call_details (call_id, start, json, xml, words) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            # the words go as bytes already in tsvector's binary form (tsvector_binary)
            copy.set_types(["int8", "int8", "text", "text", "bytea"])
            for call_id, c in zip(ids, calls, strict=True):
                if c.detail_json is not None:
                    words = tsvector_binary(indexed_words(c))
                    copy.write_row((call_id, c.start, c.detail_json, c.detail_xml, words))
        existing = {row[2] for row in old}
        take_places(conn, _PLACES, account_id, completion_places(calls, existing))
        record_blocks.touch(conn, account_id, [row[1] for row in old] + [c.start for c in calls])
        removed = [row_facts(r[3], r[4], r[1], r[5], r[6]) for r in old]
        changes = deltas(account_id, removed, map(call_facts, calls))
        report_sql.write(conn, changes, without_nul, appended=True)

    def put_calls(self, account_id: int, calls: Sequence[StoredCall]) -> None:
        if not calls:
            return
        for attempt in range(1, _WRITE_RUNS + 1):
            self._partitions.ensure(calls, reload=attempt > 1)
            try:
                with self._transaction() as conn:
                    self._write_calls(conn, account_id, calls)
                return
            except psycopg.Error as exc:
                # another process's purge dropped a partition this one believed it had, or
                # the server routed the rows before it saw a partition attached just now
                if attempt == _WRITE_RUNS or not is_missing_partition(exc):
                    raise
                log.info("a partition was missing (run %d of a batch): made again", attempt)
                time.sleep(0.05 * attempt)

    def delete_account_calls(self, account_id: int) -> int:
        with self._transaction() as conn:
            conn.execute("DELETE FROM open_calls WHERE account_id = %s", (account_id,))
            conn.execute("DELETE FROM idempotency_keys WHERE account_id = %s", (account_id,))
            deleted = conn.execute(
                "DELETE FROM calls WHERE account_id = %s RETURNING id, start", (account_id,)
            ).fetchall()
            delete_details_of(conn, deleted)
            conn.execute("DELETE FROM changes WHERE account_id = %s", (account_id,))
            record_blocks.forget_account(conn, account_id)
            _wait_for_folds(conn)
            report_sql.forget_account(conn, postgres_style, account_id, appended=True)
            return len(deleted)

    @contextlib.contextmanager
    def _live(self) -> Iterator[Live]:
        with self._transaction() as conn:
            yield Live(self, conn)

    def run_live(self, body: Callable[[LiveTransaction], T]) -> T:
        for run in range(_LIVE_RUNS):
            try:
                with self._live() as tx:
                    return body(tx)
            except RetryTransaction as retry:
                if run == _LIVE_RUNS - 1:
                    raise
                retry.prepare()
        raise AssertionError("unreachable")  # pragma: no cover

    # retention
    def retention_floor(self, cutoff: int, table: Table) -> int:
        """The start of the partition holding `cutoff`: the purge deletes before it, so
        that it drops whole partitions and never deletes rows one by one."""
        return partition_of(table, cutoff)[1]

    def delete_details_before(self, cutoff: int, limit: int) -> int:
        with self._transaction() as conn:  # before the detail goes (storage/records.py)
            conn.execute("UPDATE detail_kept SET since = greatest(since, %s)", (cutoff,))
        deleted, another = self._partitions.drop_before(cutoff, ("call_details",))
        if another:  # another process purges: it deletes the rest too
            return deleted
        if deleted >= limit:
            return deleted
        # what is left before the cutoff shares a partition with younger detail (a cutoff
        # that is not a partition's start)
        with self._transaction() as conn:
            deleted += conn.execute(
                "DELETE FROM call_details WHERE (call_id, start) IN"
                " (SELECT call_id, start FROM call_details WHERE start < %s LIMIT %s)",
                (cutoff, limit - deleted),
            ).rowcount
        return deleted

    def delete_calls_before(self, cutoff: int, limit: int) -> int:
        with self._transaction() as conn:  # before the calls go (storage/record_blocks.py)
            record_blocks.raise_calls_since(conn, cutoff)
        deleted, another = self._partitions.drop_before(cutoff, ("calls", "call_details"))
        if another:  # another process purges: it finishes what follows too
            return deleted
        with self._transaction() as conn:
            record_blocks.forget_before(conn, cutoff)  # (never waits: none is used again)
        with self._transaction() as conn:
            if deleted:
                # the detail of calls dropped above, when its partition is coarser (a year
                # of old detail) than theirs (the purge's detail step has usually removed it)
                conn.execute(
                    "DELETE FROM call_details d WHERE d.start < %s AND NOT EXISTS"
                    " (SELECT 1 FROM calls c WHERE c.id = d.call_id AND c.start = d.start)",
                    (cutoff,),
                )
            # the places of calls started before the cutoff that are gone (dropped above,
            # or erased before)
            conn.execute(
                "DELETE FROM changes ch WHERE start < %s AND NOT EXISTS (SELECT 1 FROM calls c"
                " WHERE c.account_id = ch.account_id AND c.session_id = ch.session_id)",
                (cutoff,),
            )
            if deleted >= limit:
                return deleted
            rows = conn.execute(
                "DELETE FROM calls WHERE (id, start) IN"
                " (SELECT id, start FROM calls WHERE start < %s LIMIT %s) RETURNING id, start",
                (cutoff, limit - deleted),
            ).fetchall()
            delete_details_of(conn, rows)
            if rows:
                conn.execute(
                    "DELETE FROM changes ch WHERE start < %s AND NOT EXISTS (SELECT 1 FROM"
                    " calls c WHERE c.account_id = ch.account_id AND c.session_id = ch.session_id)",
                    (cutoff,),
                )
        if deleted + len(rows) < limit:  # the purge's last batch
            self._fold_counts()
            self.fold_reports()
            with self._transaction() as conn:
                _wait_for_folds(conn)
                report_sql.drop_before(conn, postgres_style, cutoff, appended=True)
        return deleted + len(rows)

    def _fold_counts(self) -> None:
        """Fold each hour's rows of changes (one a write statement, from the triggers of
        migration 3) into one, so that a window's total sums one row an hour."""
        with self._transaction() as conn:
            for table, key, same in _FOLDS:
                # rows written meanwhile are not in this statement's snapshot: they stay
                conn.execute(
                    f"WITH folded AS (SELECT {key} FROM {table} GROUP BY {key}"
                    "                 HAVING count(*) > 1 OR sum(calls) = 0),"
                    f" moved AS (DELETE FROM {table} t USING folded f WHERE {same}"
                    "           RETURNING t.*)"
                    f" INSERT INTO {table} SELECT {key}, sum(calls) FROM moved"
                    f" GROUP BY {key} HAVING sum(calls) <> 0"
                )

    def fold_reports(self) -> int:
        with self._transaction() as conn:
            # one fold at a time, of every process: one under way takes these rows
            locked = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", (LOCK_CLASS, LOCK_FOLD)
            ).fetchone()
            folded = report_sql.fold(conn) if locked and locked[0] else 0
        if folded:
            # the rows moved stay in the pending tables' pages, read and passed over by
            # every report, until a VACUUM frees them (autovacuum takes up to a minute)
            try:
                with self._pool.connection() as conn:
                    conn.execute(report_sql.VACUUM_PENDING)
            except psycopg.Error:  # the fold is committed: it must not look failed
                log.exception("vacuuming the reports' pending rows failed")
        return folded

    # erasure
    def _lock_sessions(self, conn: Any, account_id: int, sessions: list[str]) -> None:
        conn.execute(LOCK_CALLS, (account_id, sessions))

    def _delete_calls(self, conn: Any, calls: Sequence[Found]) -> None:
        if calls:
            conn.execute(
                "DELETE FROM calls c USING unnest(%s::bigint[], %s::bigint[]) AS o(id, s)"
                " WHERE c.id = o.id AND c.start = o.s",
                ([c[0] for c in calls], [c[2] for c in calls]),
            )
            delete_details_of(conn, [(c[0], c[2]) for c in calls])

    def _erased_hours(self, conn: Any, account_id: int, calls: Sequence[Found]) -> None:
        record_blocks.touch(conn, account_id, [c[2] for c in calls])

    def scrub(self, *, only_if_owed: bool = False) -> bool:
        # a dropped partition takes its files with it; rows deleted one by one (a replaced
        # call, a completed call's live entries) are PostgreSQL's to reclaim (VACUUM)
        return True

    def window_records(
        self, account_id: int, start: int, end: int, cutoff: int, after: CallKey | None, limit: int
    ) -> RecordChunk:
        return self._blocks.window_records(account_id, start, end, cutoff, after, limit)

    def open_page(self, query: CallQuery, detail: DetailFormat | None) -> Page:
        conn = self._pool.getconn()
        try:
            return Page(self._pool, conn, query, detail)
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
            self._pool.putconn(conn)
            raise
