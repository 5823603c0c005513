"""The SQLite store: WAL, one writer connection behind a lock, a pool of readers.

Every write runs in an explicit `BEGIN IMMEDIATE` transaction and is rolled back on
any exception; `synchronous=FULL` makes a commit durable before it returns. A page is
read inside one read transaction, so its total and its rows agree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from ivrlog.core.errors import AccountError
from ivrlog.core.model import (
    Account,
    CallQuery,
    CallRow,
    DetailFormat,
    OpenCall,
    RedactionPattern,
    SensitiveModule,
    StoredCall,
)
from ivrlog.core.ports import LiveTransaction
from ivrlog.storage.migrations import pending
from ivrlog.storage.sql import HOUR, joined_entries, window_total

log = logging.getLogger("ivrlog.storage")
T = TypeVar("T")

# rows a batch of a page: a batch is one chunk of the body and one hop to a worker thread,
# which costs milliseconds under load (docs/performance.md, B4); rows with their detail
# are some 5 kB each, summaries some 150 bytes
_BATCH_ROWS = 200
_SUMMARY_BATCH_ROWS = 1000
_ACCOUNT_COLUMNS = "id, email, active, developer_key_hash, ingest_token_hash, created_at"
_OPEN_COLUMNS = (
    "id, session_id, src, dest, type, start, start_given, private, entry_count, last_timestamp"
)
_PATTERN_COLUMNS = "id, account_id, label, pattern, created_at"
_SENSITIVE_COLUMNS = "id, account_id, field, name, created_at"
# A checkpoint that clears deleted content from the WAL never waits for readers while it
# holds the writer: it is tried at once and, when readers are in the way, tried again by a
# later write (at most once a second) or by the purge (every 50 ms for up to 5 s, letting
# writers in between its tries).
_SCRUB_RETRY_AFTER = 1.0
_SCRUB_POLL = 0.05
_SCRUB_PATIENCE = 5.0


def _account(row: tuple[int, str, int, str, str, int] | None) -> Account | None:
    if row is None:
        return None
    return Account(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


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


class _Page:
    def __init__(
        self, store: SqliteStore, conn: sqlite3.Connection, query: CallQuery, detail: str | None
    ) -> None:
        self._store = store
        self._conn: sqlite3.Connection | None = conn
        conn.execute("BEGIN")
        where = "c.account_id = :account AND c.start >= :start AND c.start < :end"
        if query.number is not None:
            where += " AND c.dest = :number"
        params = {
            "account": query.account_id,
            "start": query.start,
            "end": query.end,
            "number": query.number,
            "cutoff": query.detail_cutoff,
            "limit": query.limit,
            "offset": query.offset,
        }
        self.total = window_total(conn, params, ":{}")
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

    def batches(self) -> Iterator[Sequence[CallRow]]:
        try:
            while rows := self._cursor.fetchmany(self._batch_rows):
                yield rows
        finally:
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._cursor.close()
            conn.rollback()
            self._store._release(conn)


def _open_call(row: tuple[Any, ...]) -> OpenCall:
    return OpenCall(
        row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), bool(row[7]), row[8], row[9]
    )


def _put_calls(conn: sqlite3.Connection, account_id: int, calls: Sequence[StoredCall]) -> int:
    """Upsert calls with their detail; how many stored details or open calls it replaced."""
    conn.executemany(
        """INSERT INTO calls (account_id, session_id, src, dest, type, start, "end",
                              private, entry_count)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (account_id, session_id) DO UPDATE SET
             src = excluded.src, dest = excluded.dest, type = excluded.type,
             start = excluded.start, "end" = excluded."end",
             private = excluded.private, entry_count = excluded.entry_count""",
        [
            (
                account_id,
                c.session_id,
                c.src,
                c.dest,
                c.type,
                c.start,
                c.end,
                int(c.private),
                c.entry_count,
            )
            for c in calls
        ],
    )
    keys = [(account_id, c.session_id) for c in calls]
    replaced = conn.executemany(
        "DELETE FROM call_details WHERE call_id ="
        " (SELECT id FROM calls WHERE account_id = ? AND session_id = ?)",
        keys,
    ).rowcount
    replaced += conn.executemany(
        "DELETE FROM open_calls WHERE account_id = ? AND session_id = ?", keys
    ).rowcount
    conn.executemany(
        "INSERT INTO call_details (call_id, json, xml)"
        " SELECT id, ?, ? FROM calls WHERE account_id = ? AND session_id = ?",
        [
            (c.detail_json, c.detail_xml, account_id, c.session_id)
            for c in calls
            if c.detail_json is not None
        ],
    )
    return max(replaced, 0)


class _Live:
    """A LiveTransaction on the writer connection, inside BEGIN IMMEDIATE."""

    def __init__(self, store: SqliteStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn

    def open_call(self, account_id: int, session_id: str) -> OpenCall | None:
        row = self._conn.execute(
            f"SELECT {_OPEN_COLUMNS} FROM open_calls WHERE account_id = ? AND session_id = ?",
            (account_id, session_id),
        ).fetchone()
        return None if row is None else _open_call(row)

    def is_completed(self, account_id: int, session_id: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM calls WHERE account_id = ? AND session_id = ?",
            (account_id, session_id),
        ).fetchone()
        return row is not None

    def save_open(self, account_id: int, call: OpenCall, touched_at: int | None) -> OpenCall:
        values = (
            call.src,
            call.dest,
            call.type,
            call.start,
            int(call.start_given),
            int(call.private),
            call.entry_count,
            call.last_timestamp,
            touched_at,
        )
        if call.id:
            self._conn.execute(
                "UPDATE open_calls SET src = ?, dest = ?, type = ?, start = ?, start_given = ?,"
                " private = ?,"
                " entry_count = ?, last_timestamp = ?, touched_at = coalesce(?, touched_at)"
                " WHERE id = ?",
                (*values, call.id),
            )
            return call
        (call_id,) = self._conn.execute(
            "INSERT INTO open_calls (src, dest, type, start, start_given, private, entry_count,"
            " last_timestamp, touched_at, account_id, session_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (*values, account_id, call.session_id),
        ).fetchone()
        return dataclasses.replace(call, id=call_id)

    def add_entries(
        self, call_id: int, first_seq: int, entries: Sequence[tuple[int, str, str]]
    ) -> None:
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

    def entries(self, call_id: int) -> list[tuple[str, str]]:
        return self._conn.execute(
            "SELECT json, xml FROM open_entries WHERE call_id = ? ORDER BY timestamp, seq",
            (call_id,),
        ).fetchall()

    def finish(self, account_id: int, call_id: int, call: StoredCall) -> None:
        # the open entries move into the stored detail: nothing is lost that needs scrubbing
        self._conn.execute("DELETE FROM open_calls WHERE id = ?", (call_id,))
        if _put_calls(self._conn, account_id, [call]):
            self._store._scrub_owed = True

    def stale(
        self, touched_before: int, started_before: int, limit: int
    ) -> list[tuple[int, OpenCall]]:
        # both tests have an index (SQLite reads them as a MULTI-INDEX OR)
        rows = self._conn.execute(
            f"SELECT account_id, {_OPEN_COLUMNS} FROM open_calls"
            " WHERE touched_at < ? OR start < ? LIMIT ?",
            (touched_before, started_before, limit),
        ).fetchall()
        return [(row[0], _open_call(row[1:])) for row in rows]

    def kept_answer(self, account_id: int, session_id: str, key: str) -> tuple[str, str] | None:
        row = self._conn.execute(
            "SELECT body_sha256, answer FROM idempotency_keys"
            " WHERE account_id = ? AND session_id = ? AND key = ?",
            (account_id, session_id, key),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def keep_answer(
        self, account_id: int, session_id: str, key: str, body_sha256: str, answer: str, now: int
    ) -> None:
        self._conn.execute(
            "INSERT INTO idempotency_keys"
            " (account_id, session_id, key, body_sha256, answer, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (account_id, session_id, key, body_sha256, answer, now),
        )


class SqliteStore:
    """A Store on one SQLite file."""

    inline_reads = True  # an indexed read of a local file, in the page cache

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._scrub_owed = False
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

    # accounts
    def create_account(
        self, email: str, developer_key_hash: str, ingest_token_hash: str, now: int
    ) -> Account:
        try:
            with self._writing() as conn:
                row = conn.execute(
                    "INSERT INTO accounts (email, active, developer_key_hash, ingest_token_hash,"
                    f" created_at) VALUES (?, 1, ?, ?, ?) RETURNING {_ACCOUNT_COLUMNS}",
                    (email, developer_key_hash, ingest_token_hash, now),
                ).fetchone()
        except sqlite3.IntegrityError as exc:
            raise AccountError(f"An account for {email} already exists.") from exc
        account = _account(row)
        assert account is not None
        return account

    def account_by_email(self, email: str) -> Account | None:
        with self._reading() as conn:
            return _account(
                conn.execute(
                    f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE email = ?", (email,)
                ).fetchone()
            )

    def account_by_ingest_hash(self, token_hash: str) -> Account | None:
        with self._reading() as conn:
            return _account(
                conn.execute(
                    f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE ingest_token_hash = ?",
                    (token_hash,),
                ).fetchone()
            )

    def list_accounts(self) -> list[Account]:
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY email"
            ).fetchall()
        return [a for a in map(_account, rows) if a is not None]

    def set_account_active(self, email: str, active: bool) -> Account | None:
        with self._writing() as conn:
            return _account(
                conn.execute(
                    f"UPDATE accounts SET active = ? WHERE email = ? RETURNING {_ACCOUNT_COLUMNS}",
                    (int(active), email),
                ).fetchone()
            )

    def set_account_credentials(
        self, email: str, developer_key_hash: str, ingest_token_hash: str
    ) -> Account | None:
        with self._writing() as conn:
            return _account(
                conn.execute(
                    "UPDATE accounts SET developer_key_hash = ?, ingest_token_hash = ?"
                    f" WHERE email = ? RETURNING {_ACCOUNT_COLUMNS}",
                    (developer_key_hash, ingest_token_hash, email),
                ).fetchone()
            )

    # calls
    def put_calls(self, account_id: int, calls: Sequence[StoredCall]) -> None:
        with self._writing() as conn:
            if _put_calls(conn, account_id, calls):
                self._scrub_owed = True

    def delete_account_calls(self, account_id: int) -> int:
        with self._writing() as conn:
            conn.execute("DELETE FROM open_calls WHERE account_id = ?", (account_id,))
            conn.execute("DELETE FROM idempotency_keys WHERE account_id = ?", (account_id,))
            deleted: int = conn.execute(
                "DELETE FROM calls WHERE account_id = ?", (account_id,)
            ).rowcount
            for table in ("account_hours", "number_hours"):  # all at 0 now
                conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
            self._scrub_owed = True
            return deleted

    @contextlib.contextmanager
    def live(self) -> Iterator[_Live]:
        with self._writing() as conn:
            yield _Live(self, conn)

    def run_live(self, body: Callable[[LiveTransaction], T]) -> T:
        with self.live() as tx:
            return body(tx)

    # retention
    def retention_floor(self, cutoff: int, table: Literal["calls", "call_details"]) -> int:
        return cutoff

    def count_expired(self, detail_cutoff: int, call_cutoff: int) -> tuple[int, int]:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM calls WHERE entry_count > 0 AND start < ?),"
                " (SELECT count(*) FROM calls WHERE start < ?)",
                (detail_cutoff, call_cutoff),
            ).fetchone()
        return int(row[0]), int(row[1])

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
            self._scrub_owed = True
        return len(ids)

    def delete_calls_before(self, cutoff: int, limit: int) -> int:
        with self._writing() as conn:
            deleted: int = conn.execute(
                "DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE start < ? LIMIT ?)",
                (cutoff, limit),
            ).rowcount
            if deleted < limit:  # the last batch: the hours before the cutoff count none
                for table in ("account_hours", "number_hours"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE hour < ? AND calls = 0", (cutoff // HOUR,)
                    )
        if deleted:
            self._scrub_owed = True
        return deleted

    def delete_keys_before(self, cutoff: int, limit: int) -> int:
        with self._writing() as conn:
            deleted: int = conn.execute(
                "DELETE FROM idempotency_keys WHERE rowid IN"
                " (SELECT rowid FROM idempotency_keys WHERE created_at < ? LIMIT ?)",
                (cutoff, limit),
            ).rowcount
        return deleted

    def scrub(self, *, only_if_owed: bool = False) -> bool:
        if only_if_owed and not self._scrub_owed:
            return True
        deadline = time.monotonic() + _SCRUB_PATIENCE
        while True:
            with self._write_lock:
                if self._checkpoint():
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_SCRUB_POLL)  # readers are in the way: let them, and writers, go on

    # redaction patterns
    def add_redaction_pattern(
        self, account_id: int, label: str, pattern: str, now: int
    ) -> RedactionPattern:
        try:
            with self._writing() as conn:
                row = conn.execute(
                    "INSERT INTO redaction_patterns (account_id, label, pattern, created_at)"
                    f" VALUES (?, ?, ?, ?) RETURNING {_PATTERN_COLUMNS}",
                    (account_id, label, pattern, now),
                ).fetchone()
        except sqlite3.IntegrityError as exc:
            raise AccountError(f"The account already has a pattern labelled {label!r}.") from exc
        return RedactionPattern(*row)

    def redaction_patterns(self, account_id: int | None = None) -> list[RedactionPattern]:
        where = "" if account_id is None else " WHERE account_id = ?"
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_PATTERN_COLUMNS} FROM redaction_patterns{where} ORDER BY id",
                () if account_id is None else (account_id,),
            ).fetchall()
        return [RedactionPattern(*row) for row in rows]

    def remove_redaction_pattern(self, account_id: int, label: str) -> bool:
        with self._writing() as conn:
            removed: int = conn.execute(
                "DELETE FROM redaction_patterns WHERE account_id = ? AND label = ?",
                (account_id, label),
            ).rowcount
        return removed > 0

    # sensitive modules
    def add_sensitive_module(
        self, account_id: int, field: str, name: str, now: int
    ) -> SensitiveModule:
        try:
            with self._writing() as conn:
                row = conn.execute(
                    "INSERT INTO sensitive_modules (account_id, field, name, created_at)"
                    f" VALUES (?, ?, ?, ?) RETURNING {_SENSITIVE_COLUMNS}",
                    (account_id, field, name, now),
                ).fetchone()
        except sqlite3.IntegrityError as exc:
            raise AccountError(f"The account already has the {field} {name!r}.") from exc
        return SensitiveModule(*row)

    def sensitive_modules(self, account_id: int | None = None) -> list[SensitiveModule]:
        where = "" if account_id is None else " WHERE account_id = ?"
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_SENSITIVE_COLUMNS} FROM sensitive_modules{where} ORDER BY id",
                () if account_id is None else (account_id,),
            ).fetchall()
        return [SensitiveModule(*row) for row in rows]

    def remove_sensitive_module(self, account_id: int, field: str, name: str) -> bool:
        with self._writing() as conn:
            removed: int = conn.execute(
                "DELETE FROM sensitive_modules WHERE account_id = ? AND field = ? AND name = ?",
                (account_id, field, name),
            ).rowcount
        return removed > 0

    def open_page(self, query: CallQuery, detail: DetailFormat | None) -> _Page:
        conn = self._acquire()
        try:
            return _Page(self, conn, query, detail)
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            self._release(conn)
            raise

    def call_detail(
        self,
        account_id: int,
        session_id: str,
        fmt: DetailFormat,
        detail_cutoff: int,
        *,
        call_cutoff: int = 0,
    ) -> tuple[bool, str | None]:
        column = "json" if fmt == "json" else "xml"
        completed = (
            f"SELECT CASE WHEN c.start >= ? THEN d.{column} END"
            " FROM calls c LEFT JOIN call_details d ON d.call_id = c.id"
            " WHERE c.account_id = ? AND c.session_id = ? AND c.start >= ?"
        )
        arguments = (detail_cutoff, account_id, session_id, call_cutoff)
        with self._reading() as conn:
            # a completed call: one statement is a snapshot of its own (B1's hot path)
            row = conn.execute(completed, arguments).fetchone()
            if row is not None:
                return True, row[0]
            # else a call in progress, read with its entries in one snapshot; the calls
            # table again, in case the call was completed meanwhile
            conn.execute("BEGIN")
            row = conn.execute(completed, arguments).fetchone()
            if row is not None:
                return True, row[0]
            live = conn.execute(
                "SELECT id, start >= ? AND NOT private FROM open_calls"
                " WHERE account_id = ? AND session_id = ? AND start >= ?",
                (detail_cutoff, account_id, session_id, call_cutoff),
            ).fetchone()
            if live is None:
                return False, None
            if not live[1]:
                return True, None
            parts = [
                part
                for (part,) in conn.execute(
                    f"SELECT {column} FROM open_entries WHERE call_id = ? ORDER BY timestamp, seq",
                    (live[0],),
                )
            ]
        return True, joined_entries(parts, fmt)
