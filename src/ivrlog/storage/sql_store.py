"""The half of a SQL store that is the same on SQLite and PostgreSQL: accounts, redaction
patterns, sensitive modules and a call's detail (SqlStore), the reads and writes of a
live transaction (SqlLive), a page's batches (SqlPage). Each adapter subclasses them
and provides its connections (`_read`, `_write`, `_snapshot`), its Statements (sql.py)
and what differs (its error of a duplicate key, a lock taken before a live read)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from ivrlog.core.errors import AccountError
from ivrlog.core.model import (
    Account,
    CallDetail,
    CallRow,
    DetailFormat,
    ExpiredCounts,
    Fragments,
    KeptAnswer,
    OpenCall,
    RedactionPattern,
    SensitiveModule,
)
from ivrlog.storage import sql
from ivrlog.storage.sql import AccountRows, Statements


def _row(row: Sequence[Any] | None) -> Sequence[Any]:
    assert row is not None  # INSERT ... RETURNING, or an aggregate: always a row
    return row


class SqlStore:
    """Store methods written once over the adapter's connections (sqlite3 or psycopg:
    both answer `execute(query, params)` with a cursor)."""

    _sql: ClassVar[Statements]
    # what the driver raises when a row's key is taken
    _duplicate: ClassVar[tuple[type[Exception], ...]]

    def _read(self) -> AbstractContextManager[Any]:
        """A connection to read on (autocommit: each statement its own snapshot)."""
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        """A connection inside a write transaction, committed when the block ends."""
        raise NotImplementedError

    def _snapshot(self) -> AbstractContextManager[Any]:
        """A connection inside a read transaction: its statements share one snapshot."""
        raise NotImplementedError

    def _matches_none(self, *values: Any) -> bool:
        """Whether no stored row can hold these values (PostgreSQL: text with NUL)."""
        return False

    # accounts
    def create_account(
        self, email: str, developer_key_hash: str, ingest_token_hash: str, now: int
    ) -> Account:
        params = {
            "email": email,
            "active": True,
            "developer_key": developer_key_hash,
            "ingest_token": ingest_token_hash,
            "now": now,
        }
        try:
            with self._write() as conn:
                row = conn.execute(self._sql.insert_account, params).fetchone()
        except self._duplicate as exc:
            raise AccountError(f"An account for {email} already exists.") from exc
        account = sql.account(row)
        assert account is not None
        return account

    def _one_account(self, column: str, value: str) -> Account | None:
        if self._matches_none(value):
            return None
        with self._read() as conn:
            return sql.account(
                conn.execute(self._sql.account_by[column], {"value": value}).fetchone()
            )

    def account_by_email(self, email: str) -> Account | None:
        return self._one_account("email", email)

    def account_by_ingest_hash(self, token_hash: str) -> Account | None:
        return self._one_account("ingest_token_hash", token_hash)

    def list_accounts(self) -> list[Account]:
        with self._read() as conn:
            rows = conn.execute(self._sql.list_accounts).fetchall()
        return [a for a in map(sql.account, rows) if a is not None]

    def set_account_active(self, email: str, active: bool) -> Account | None:
        if self._matches_none(email):
            return None
        with self._write() as conn:
            row = conn.execute(self._sql.set_active, {"active": active, "email": email})
            return sql.account(row.fetchone())

    def set_account_credentials(
        self, email: str, developer_key_hash: str, ingest_token_hash: str
    ) -> Account | None:
        if self._matches_none(email):
            return None
        params = {
            "developer_key": developer_key_hash,
            "ingest_token": ingest_token_hash,
            "email": email,
        }
        with self._write() as conn:
            return sql.account(conn.execute(self._sql.set_credentials, params).fetchone())

    # retention
    def count_expired(self, detail_cutoff: int, call_cutoff: int) -> ExpiredCounts:
        with self._read() as conn:
            params = {"details": detail_cutoff, "calls": call_cutoff}
            row = _row(conn.execute(self._sql.count_expired, params).fetchone())
        return ExpiredCounts(int(row[0]), int(row[1]))

    def delete_keys_before(self, cutoff: int, limit: int) -> int:
        with self._write() as conn:
            deleted: int = conn.execute(
                self._sql.delete_keys, {"cutoff": cutoff, "limit": limit}
            ).rowcount
        return deleted

    # sync checkpoints
    def sync_checkpoint(self, account_id: int, source: str) -> int | None:
        if self._matches_none(source):
            return None
        with self._read() as conn:
            params = {"account": account_id, "source": source}
            row = conn.execute(self._sql.sync_checkpoint, params).fetchone()
        return None if row is None else int(row[0])

    def save_sync_checkpoint(self, account_id: int, source: str, synced_to: int, now: int) -> None:
        params = {"account": account_id, "source": source, "synced_to": synced_to, "now": now}
        with self._write() as conn:
            conn.execute(self._sql.save_sync_checkpoint, params)

    # redaction patterns and sensitive modules
    def _add_row(
        self, statements: AccountRows, params: dict[str, Any], taken: str
    ) -> Sequence[Any]:
        try:
            with self._write() as conn:
                row = conn.execute(statements.insert, params).fetchone()
        except self._duplicate as exc:
            raise AccountError(taken) from exc
        return _row(row)

    def _rows(self, statements: AccountRows, account_id: int | None) -> list[Sequence[Any]]:
        with self._read() as conn:
            if account_id is None:
                return list(conn.execute(statements.every).fetchall())
            return list(conn.execute(statements.one_account, {"account": account_id}).fetchall())

    def _remove_row(self, statements: AccountRows, params: dict[str, Any]) -> bool:
        if self._matches_none(*params.values()):
            return False
        with self._write() as conn:
            removed: int = conn.execute(statements.remove, params).rowcount
        return removed > 0

    def add_redaction_pattern(
        self, account_id: int, label: str, pattern: str, now: int
    ) -> RedactionPattern:
        params = {"account": account_id, "label": label, "pattern": pattern, "now": now}
        taken = f"The account already has a pattern labelled {label!r}."
        return RedactionPattern(*self._add_row(self._sql.patterns, params, taken))

    def redaction_patterns(self, account_id: int | None = None) -> list[RedactionPattern]:
        return [RedactionPattern(*row) for row in self._rows(self._sql.patterns, account_id)]

    def remove_redaction_pattern(self, account_id: int, label: str) -> bool:
        return self._remove_row(self._sql.patterns, {"account": account_id, "label": label})

    def add_sensitive_module(
        self, account_id: int, field: str, name: str, now: int
    ) -> SensitiveModule:
        params = {"account": account_id, "field": field, "name": name, "now": now}
        taken = f"The account already has the {field} {name!r}."
        return SensitiveModule(*self._add_row(self._sql.sensitive, params, taken))

    def sensitive_modules(self, account_id: int | None = None) -> list[SensitiveModule]:
        return [SensitiveModule(*row) for row in self._rows(self._sql.sensitive, account_id)]

    def remove_sensitive_module(self, account_id: int, field: str, name: str) -> bool:
        params = {"account": account_id, "field": field, "name": name}
        return self._remove_row(self._sql.sensitive, params)

    def call_in_progress(self, account_id: int, session_id: str) -> OpenCall | None:
        if self._matches_none(session_id):
            return None
        with self._read() as conn:
            row = conn.execute(
                self._sql.open_call, {"account": account_id, "session": session_id}
            ).fetchone()
        return None if row is None else sql.open_call(row)

    # a call's detail
    def call_detail(
        self,
        account_id: int,
        session_id: str,
        fmt: DetailFormat,
        detail_cutoff: int,
        *,
        call_cutoff: int = 0,
    ) -> CallDetail:
        if self._matches_none(session_id):
            return CallDetail(False, None)
        completed = self._sql.completed_detail[fmt]
        params = {
            "cutoff": detail_cutoff,
            "account": account_id,
            "session": session_id,
            "call_cutoff": call_cutoff,
        }
        with self._read() as conn:
            # a completed call: one statement, a snapshot of its own (B1's hot path)
            row = conn.execute(completed, params).fetchone()
        if row is not None:
            return CallDetail(True, row[0])
        # else a call in progress, read with its entries in one snapshot; the calls table
        # again, in case the call was completed meanwhile
        with self._snapshot() as conn:
            row = conn.execute(completed, params).fetchone()
            if row is not None:
                return CallDetail(True, row[0])
            live = conn.execute(self._sql.open_detail, params).fetchone()
            if live is None:
                return CallDetail(False, None)
            if not live[1]:
                return CallDetail(True, None)
            entries = conn.execute(self._sql.open_entries[fmt], {"call": live[0]})
            parts = [part for (part,) in entries]
        return CallDetail(True, sql.joined_entries(parts, fmt))


class SqlLive:
    """LiveTransaction methods written once, on the connection of the transaction."""

    _sql: ClassVar[Statements]

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def _lock_call(self, account_id: int, session_id: str) -> None:
        """Wait for the call's lock, held until the transaction ends (PostgreSQL; SQLite
        has one writer at a time)."""

    def open_call(self, account_id: int, session_id: str) -> OpenCall | None:
        # the call's lock first: a concurrent update of the same call waits here
        self._lock_call(account_id, session_id)
        row = self._conn.execute(
            self._sql.open_call, {"account": account_id, "session": session_id}
        ).fetchone()
        return None if row is None else sql.open_call(row)

    def is_completed(self, account_id: int, session_id: str) -> bool:
        params = {"account": account_id, "session": session_id}
        return self._conn.execute(self._sql.is_completed, params).fetchone() is not None

    def save_open(self, account_id: int, call: OpenCall, touched_at: int | None) -> OpenCall:
        params = {
            "src": call.src,
            "dest": call.dest,
            "type": call.type,
            "start": call.start,
            "start_given": call.start_given,
            "private": call.private,
            "entry_count": call.entry_count,
            "last_timestamp": call.last_timestamp,
            "touched_at": touched_at,
        }
        if call.id:
            self._conn.execute(self._sql.update_open, {**params, "id": call.id})
            return call
        inserted = {**params, "account": account_id, "session": call.session_id}
        row = _row(self._conn.execute(self._sql.insert_open, inserted).fetchone())
        return dataclasses.replace(call, id=row[0])

    def entries(self, call_id: int) -> list[Fragments]:
        return sql.fragments(self._conn.execute(self._sql.entries, {"call": call_id}))

    def kept_answer(self, account_id: int, session_id: str, key: str) -> KeptAnswer | None:
        # the call's lock first: an identical request racing this one waits here until
        # this transaction ends, then reads the key it kept (on PostgreSQL, READ
        # COMMITTED: each statement sees what was committed before it began)
        self._lock_call(account_id, session_id)
        params = {"account": account_id, "session": session_id, "key": key}
        row = self._conn.execute(self._sql.kept_answer, params).fetchone()
        return None if row is None else KeptAnswer(row[0], row[1])

    def keep_answer(
        self, account_id: int, session_id: str, key: str, body_sha256: str, answer: str, now: int
    ) -> None:
        params = {
            "account": account_id,
            "session": session_id,
            "key": key,
            "body_sha256": body_sha256,
            "answer": answer,
            "now": now,
        }
        self._conn.execute(self._sql.keep_answer, params)


class SqlPage:
    """A page's rows in batches from the adapter's open cursor; `close` ends its snapshot."""

    _cursor: Any
    _batch_rows: int

    def batches(self) -> Iterator[Sequence[CallRow]]:
        try:
            while rows := self._cursor.fetchmany(self._batch_rows):
                yield rows
        finally:
            self.close()

    def close(self) -> None:
        raise NotImplementedError
