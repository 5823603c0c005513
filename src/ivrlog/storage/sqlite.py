"""The SQLite store: WAL, one writer connection behind a lock, a pool of readers.

Every write runs in an explicit `BEGIN IMMEDIATE` transaction and is rolled back on
any exception; `synchronous=FULL` makes a commit durable before it returns. A page is
read inside one read transaction, so its total and its rows agree.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from ivrlog.core.errors import AccountError
from ivrlog.core.model import Account, CallQuery, CallRow, DetailFormat, StoredCall
from ivrlog.storage.migrations import pending

_BATCH_ROWS = 200
_ACCOUNT_COLUMNS = "id, email, active, developer_key_hash, ingest_token_hash, created_at"


def _account(row: tuple[int, str, int, str, str, int] | None) -> Account | None:
    if row is None:
        return None
    return Account(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


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
        (self.total,) = conn.execute(
            f"SELECT count(*) FROM calls c WHERE {where}", params
        ).fetchone()
        fragment = f"CASE WHEN c.start >= :cutoff THEN d.{detail} END" if detail else "NULL"
        self._cursor = conn.execute(
            f"""SELECT c.dest, c.src, c.start, c."end", c.session_id, c.type,
                       d.call_id IS NOT NULL AND c.start >= :cutoff, {fragment}
                FROM calls c LEFT JOIN call_details d ON d.call_id = c.id
                WHERE {where}
                ORDER BY c.start DESC, c.session_id DESC LIMIT :limit OFFSET :offset""",
            params,
        )

    def batches(self) -> Iterator[Sequence[CallRow]]:
        try:
            while rows := self._cursor.fetchmany(_BATCH_ROWS):
                yield rows
        finally:
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._cursor.close()
            conn.rollback()
            self._store._release(conn)


class SqliteStore:
    """A Store on one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
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
                # statements are split on ';': migration SQL keeps none inside literals
                for statement in migration.sqlite.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                    (migration.version, migration.description),
                )

    def ping(self) -> None:
        with self._reading() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
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
            conn.executemany(
                "DELETE FROM call_details WHERE call_id ="
                " (SELECT id FROM calls WHERE account_id = ? AND session_id = ?)",
                [(account_id, c.session_id) for c in calls if c.detail_json is None],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO call_details (call_id, json, xml)"
                " SELECT id, ?, ? FROM calls WHERE account_id = ? AND session_id = ?",
                [
                    (c.detail_json, c.detail_xml, account_id, c.session_id)
                    for c in calls
                    if c.detail_json is not None
                ],
            )

    def delete_account_calls(self, account_id: int) -> int:
        with self._writing() as conn:
            return conn.execute("DELETE FROM calls WHERE account_id = ?", (account_id,)).rowcount

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
        self, account_id: int, session_id: str, fmt: DetailFormat, detail_cutoff: int
    ) -> tuple[bool, str | None]:
        column = "json" if fmt == "json" else "xml"
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT CASE WHEN c.start >= ? THEN d.{column} END"
                " FROM calls c LEFT JOIN call_details d ON d.call_id = c.id"
                " WHERE c.account_id = ? AND c.session_id = ?",
                (detail_cutoff, account_id, session_id),
            ).fetchone()
        if row is None:
            return False, None
        return True, row[0]
