"""The SQLite store: WAL, one writer connection behind a lock, a pool of readers.

Every write runs in an explicit `BEGIN IMMEDIATE` transaction and is rolled back on
any exception; `synchronous=FULL` makes a commit durable before it returns. A page is
read inside one read transaction, so its total and its rows agree.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal, TypeVar

from ivrlog.core.model import (
    CallQuery,
    DetailFormat,
    EntryFragments,
    StaleCall,
    StoredCall,
)
from ivrlog.core.ports import LiveTransaction
from ivrlog.storage import backfill, report_sql, sql, sqlite_put
from ivrlog.storage.migrations import pending
from ivrlog.storage.search_sql import (
    SQLITE_DIALECT,
)
from ivrlog.storage.search_store import EraseStatements, Found, SearchStore
from ivrlog.storage.sql_store import SqlLive, SqlPage, SqlStore
from ivrlog.storage.webhook_store import WebhookSql

log = logging.getLogger("ivrlog.storage")
T = TypeVar("T")

# rows a batch of a page: a batch is one chunk of the body and one hop to a worker thread,
# which costs milliseconds under load (docs/performance.md, B4); rows with their detail
# are some 5 kB each, summaries some 150 bytes
_BATCH_ROWS = 200
_SUMMARY_BATCH_ROWS = 1000
# A checkpoint that clears deleted content from the WAL never waits for readers while it
# holds the writer: it is tried at once and, when readers are in the way, tried again by a
# later write (at most once a second) or by the purge (every 50 ms for up to 5 s, letting
# writers in between its tries).
_SCRUB_RETRY_AFTER = 1.0
_SCRUB_POLL = 0.05
_SCRUB_PATIENCE = 5.0
# FTS5 only marks a deleted call's words deleted in its index segments, where they stay
# until the segments are merged (SQLite 3.40's FTS5 has no secure-delete option). So
# scrub() runs FTS5's `optimize` when words were deleted since (an erasure, the purge, a
# replacement, an account's calls deleted): it merges the segments into one without them,
# and secure_delete zeroes the freed pages. Its cost, about 0.5 s on a 100,000-call
# index: docs/architecture.md.
_OPTIMIZE = "INSERT INTO call_words (call_words) VALUES ('optimize')"


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration, split on the `;` that end one (a trigger's body
    holds several); migration SQL keeps none inside literals."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        yield pending


class _Page(SqlPage):
    def __init__(
        self, store: SqliteStore, conn: sqlite3.Connection, query: CallQuery, detail: str | None
    ) -> None:
        self._store = store
        self._conn: sqlite3.Connection | None = conn
        conn.execute("BEGIN")
        where = "c.account_id = :account AND c.start >= :start AND c.start < :end"
        if query.number is not None:
            where += " AND c.dest = :number"
        params = sql.page_params(query)
        self.total = sql.window_total(conn, params, sql.SQLITE)
        if detail:
            columns = (
                "d.call_id IS NOT NULL AND c.start >= :cutoff,"
                f" CASE WHEN c.start >= :cutoff THEN d.{detail} END"
            )
            joined = "calls c LEFT JOIN call_details d ON d.call_id = c.id"
        else:
            # entry_count is 0 exactly when the call has no stored detail (none, private,
            # or deleted by the purge, which zeroes it): no probe of call_details a row
            columns, joined = "c.entry_count > 0 AND c.start >= :cutoff, NULL", "calls c"
        self._batch_rows = _BATCH_ROWS if detail else _SUMMARY_BATCH_ROWS
        self._cursor = conn.execute(
            f"""SELECT c.dest, c.src, c.start, c."end", c.session_id, c.type, {columns}
                FROM {joined}
                WHERE {where}
                ORDER BY c.start DESC, c.session_id DESC LIMIT :limit OFFSET :offset""",
            params,
        )

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._cursor.close()
            conn.rollback()
            self._store._release(conn)


class _Live(SqlLive):
    """A LiveTransaction on the writer connection, inside BEGIN IMMEDIATE."""

    _sql = sql.SQLITE

    def __init__(self, store: SqliteStore, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._store = store

    def add_entries(self, call_id: int, first_seq: int, entries: Sequence[EntryFragments]) -> None:
        self._conn.executemany(
            "INSERT INTO open_entries (call_id, timestamp, seq, json, xml) VALUES (?, ?, ?, ?, ?)",
            [
                (call_id, timestamp, seq, json, xml)
                for seq, (timestamp, json, xml) in enumerate(entries, start=first_seq)
            ],
        )

    def drop_entries(self, call_id: int) -> None:
        if self._conn.execute("DELETE FROM open_entries WHERE call_id = ?", (call_id,)).rowcount:
            self._store._scrub_owed = True

    def finish(self, account_id: int, call_id: int, call: StoredCall) -> None:
        # the open entries move into the stored detail: nothing is lost that needs scrubbing
        self._conn.execute("DELETE FROM open_calls WHERE id = ?", (call_id,))
        if sqlite_put.write(self._conn, sqlite_put.prepare(account_id, [call])):
            self._store._scrub_owed = self._store._words_owed = True

    def stale(self, touched_before: int, started_before: int, limit: int) -> list[StaleCall]:
        # both tests have an index (SQLite reads them as a MULTI-INDEX OR)
        rows = self._conn.execute(
            f"SELECT account_id, {sql.OPEN_COLUMNS} FROM open_calls"
            " WHERE touched_at < ? OR start < ? LIMIT ?",
            (touched_before, started_before, limit),
        ).fetchall()
        return sql.stale_calls(rows)


class SqliteStore(SqlStore, SearchStore, WebhookSql):
    """A Store on one SQLite file."""

    inline_reads = True  # an indexed read of a local file, in the page cache
    _postgres = False
    _sql = sql.SQLITE
    _dialect = SQLITE_DIALECT
    _places = sqlite_put.PLACES
    _erase_sql = EraseStatements(lambda query: query)
    _duplicate = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._scrub_owed = False
        self._words_owed = False  # words deleted since the last optimize (scrub)
        self._next_scrub = 0.0
        self._closed = False
        self._writer.execute("PRAGMA journal_mode=WAL")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        return conn

    # connections
    def _acquire(self) -> sqlite3.Connection:
        if self._closed:
            raise sqlite3.ProgrammingError("the store is closed")
        with self._readers_lock:
            if self._readers:
                return self._readers.pop()
        return self._connect()

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._readers_lock:
            self._readers.append(conn)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        conn = self._acquire()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.rollback()
            self._release(conn)

    def _read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._reading()

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._writing()

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        with self._reading() as conn:
            conn.execute("BEGIN")
            yield conn

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            if self._scrub_owed and time.monotonic() >= self._next_scrub:
                try:
                    self._checkpoint()
                except sqlite3.Error:  # the write is committed: it must not look failed
                    log.exception("clearing deleted content from the journal failed")

    def _checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it, so that page images holding
        deleted content do not stay in the -wal file. Caller holds the write lock; it
        does not wait for readers (busy_timeout 0): False when they were in the way."""
        conn = self._writer
        conn.execute("PRAGMA busy_timeout=0")
        try:
            (busy, _, _) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.execute("PRAGMA busy_timeout=10000")
        self._scrub_owed = busy != 0
        # after a failure, later writes retry at most once a second
        self._next_scrub = time.monotonic() + _SCRUB_RETRY_AFTER if self._scrub_owed else 0.0
        return not self._scrub_owed

    # schema
    def schema_version(self) -> int:
        with self._reading() as conn:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if not exists:
                return 0
            (version,) = conn.execute(
                "SELECT coalesce(max(version), 0) FROM schema_version"
            ).fetchone()
            return int(version)

    def migrate(self) -> None:
        with self._writing() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, description TEXT NOT NULL)"
            )
            (current,) = conn.execute(
                "SELECT coalesce(max(version), 0) FROM schema_version"
            ).fetchone()
            for migration in pending(current):
                for statement in _statements(migration.sqlite):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                    (migration.version, migration.description),
                )
        self._backfill()

    def _backfill(self) -> None:
        """Run the Python steps of migrations (Migration.backfill) still pending, a batch
        a write transaction, resuming where an interrupted run stopped."""
        while True:
            with self._writing() as conn:
                if not backfill.sqlite_batch(conn):
                    return

    def ping(self) -> None:
        with self._reading() as conn:
            conn.execute("SELECT 1").fetchone()

    def database_bytes(self) -> int:
        total = 0
        for path in (self.path, self.path + "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += os.path.getsize(path)
        return total

    def close(self) -> None:
        self._closed = True
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._write_lock:
            self._writer.close()

    # calls
    def put_calls(self, account_id: int, calls: Sequence[StoredCall]) -> None:
        batch = sqlite_put.prepare(account_id, calls)  # before the write lock: not in it
        with self._writing() as conn:
            if sqlite_put.write(conn, batch):
                self._scrub_owed = self._words_owed = True

    def delete_account_calls(self, account_id: int) -> int:
        with self._writing() as conn:
            conn.execute("DELETE FROM open_calls WHERE account_id = ?", (account_id,))
            conn.execute("DELETE FROM idempotency_keys WHERE account_id = ?", (account_id,))
            deleted: int = conn.execute(
                "DELETE FROM calls WHERE account_id = ?", (account_id,)
            ).rowcount
            conn.execute("DELETE FROM changes WHERE account_id = ?", (account_id,))
            for table in ("account_hours", "number_hours"):  # all at 0 now
                conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
            report_sql.forget_account(conn, report_sql.as_is, account_id)
            self._scrub_owed = self._words_owed = True
            return deleted

    @contextlib.contextmanager
    def _live(self) -> Iterator[_Live]:
        with self._writing() as conn:
            yield _Live(self, conn)

    def run_live(self, body: Callable[[LiveTransaction], T]) -> T:
        with self._live() as tx:
            return body(tx)

    # retention
    def retention_floor(self, cutoff: int, table: Literal["calls", "call_details"]) -> int:
        return cutoff

    def delete_details_before(self, cutoff: int, limit: int) -> int:
        with self._writing() as conn:
            # calls_detail_start indexes exactly the calls whose detail is still stored
            ids = [
                (call_id,)
                for (call_id,) in conn.execute(
                    "SELECT id FROM calls WHERE entry_count > 0 AND start < ? LIMIT ?",
                    (cutoff, limit),
                )
            ]
            conn.executemany("DELETE FROM call_details WHERE call_id = ?", ids)
            conn.executemany("UPDATE calls SET entry_count = 0 WHERE id = ?", ids)
        if ids:  # owed until scrub() clears it (the purge calls it once, at the end)
            self._scrub_owed = self._words_owed = True
        return len(ids)

    def delete_calls_before(self, cutoff: int, limit: int) -> int:
        with self._writing() as conn:
            deleted: int = conn.execute(
                "DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE start < ? LIMIT ?)",
                (cutoff, limit),
            ).rowcount
            # the places of calls started before the cutoff that are gone (deleted now,
            # or erased before)
            conn.execute(
                "DELETE FROM changes WHERE rowid IN (SELECT rowid FROM changes ch"
                " WHERE start < ? AND NOT EXISTS (SELECT 1 FROM calls c"
                " WHERE c.account_id = ch.account_id AND c.session_id = ch.session_id)"
                " LIMIT ?)",
                (cutoff, limit),
            )
            if deleted < limit:  # the last batch: the hours before the cutoff count none
                report_sql.drop_before(conn, report_sql.as_is, cutoff)
                for table in ("account_hours", "number_hours"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE hour < ? AND calls = 0", (cutoff // sql.HOUR,)
                    )
        if deleted:
            self._scrub_owed = self._words_owed = True
        return deleted

    # erasure
    def _delete_calls(self, conn: sqlite3.Connection, calls: Sequence[Found]) -> None:
        # their detail goes by its foreign key, and their words with it (the trigger)
        conn.executemany("DELETE FROM calls WHERE id = ?", [(c[0],) for c in calls])

    def _erased(self) -> None:
        self._scrub_owed = self._words_owed = True
        self.scrub()

    def fold_reports(self) -> int:
        return 0  # one writer at a time upserts the reports' rows in place

    def scrub(self, *, only_if_owed: bool = False) -> bool:
        if only_if_owed and not (self._scrub_owed or self._words_owed):
            return True
        if self._words_owed:
            self._words_owed = False
            with self._writing() as conn:
                conn.execute(_OPTIMIZE)
            self._scrub_owed = True
        deadline = time.monotonic() + _SCRUB_PATIENCE
        while True:
            with self._write_lock:
                if self._checkpoint():
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_SCRUB_POLL)  # readers are in the way: let them, and writers, go on

    def open_page(self, query: CallQuery, detail: DetailFormat | None) -> _Page:
        conn = self._acquire()
        try:
            return _Page(self, conn, query, detail)
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            self._release(conn)
            raise
