"""SQL and row handling shared by the two storage adapters (sqlite.py, postgres.py).

Queries here are written once with named parameters in SQLite's `:name` style and built
once per backend into a Statements (postgres_style turns `:name` into psycopg's
`%(name)s`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NamedTuple

from ivrlog.core.model import (
    Account,
    CallQuery,
    DetailFormat,
    Fragments,
    OpenCall,
    StaleCall,
    StoredCall,
)

HOUR = 3600


def window_total_sql(by_number: bool) -> str:
    """The query of a window's total_calls: its whole hours summed from the hourly counts
    (migration 3), and the calls of its partial hours at the edges counted one by one, so
    that the cost follows the window's length and not the calls in it
    (docs/performance.md, B4). Its parameters: those of window_total_params() and
    `account`, `start`, `end` and, by number, `number`."""
    number = " AND dest = :number" if by_number else ""
    hours = f"{'number' if by_number else 'account'}_hours WHERE account_id = :account{number}"
    calls = f"calls WHERE account_id = :account{number}"
    return (
        f"SELECT CAST(coalesce(sum(calls), 0) AS BIGINT) FROM {hours}"
        " AND hour >= :first_hour AND hour < :last_hour"
        f" UNION ALL SELECT count(*) FROM {calls} AND start >= :start AND start < :edge_start"
        f" UNION ALL SELECT count(*) FROM {calls} AND start >= :edge_end AND start < :end"
    )


def window_total_params(start: int, end: int) -> dict[str, int]:
    """The whole hours of [start, end), [first_hour, last_hour), and the edges counted
    call by call, [start, edge_start) and [edge_end, end)."""
    first, last = -(-start // HOUR), end // HOUR
    if first >= last:  # no whole hour: every call is counted
        return {"first_hour": 0, "last_hour": 0, "edge_start": end, "edge_end": end}
    return {
        "first_hour": first,
        "last_hour": last,
        "edge_start": first * HOUR,
        "edge_end": last * HOUR,
    }


def window_total(conn: Any, params: dict[str, Any], statements: Statements) -> int:
    """A page's total_calls, read on `conn` (an sqlite3 or psycopg connection, with the
    backend's `statements`) with the page's own parameters: `account`, `start`, `end` and
    `number` (None for every number)."""
    query = statements.window_total[params["number"] is not None]
    parts = conn.execute(query, {**params, **window_total_params(params["start"], params["end"])})
    return sum(part for (part,) in parts)


def joined_entries(parts: Sequence[str], fmt: DetailFormat) -> str | None:
    """A call in progress's detail fragment from its entries' fragments (None if none)."""
    if not parts:
        return None
    return "[" + ",".join(parts) + "]" if fmt == "json" else "".join(parts)


ACCOUNT_COLUMNS: Final = "id, email, active, developer_key_hash, ingest_token_hash, created_at"
OPEN_COLUMNS: Final = (
    "id, session_id, src, dest, type, start, start_given, private, entry_count, last_timestamp"
)
PATTERN_COLUMNS: Final = "id, account_id, label, pattern, created_at"
SENSITIVE_COLUMNS: Final = "id, account_id, field, name, created_at"
_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def postgres_style(query: str) -> str:
    """A query written with SQLite's `:name` parameters in psycopg's `%(name)s` style
    (a literal `%` doubled, as psycopg wants it)."""
    return _NAMED.sub(r"%(\1)s", query.replace("%", "%%"))


def account(row: Sequence[Any] | None) -> Account | None:
    """An account from a row of ACCOUNT_COLUMNS (None for no row)."""
    if row is None:
        return None
    return Account(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


def open_call(row: Sequence[Any]) -> OpenCall:
    """A call in progress from a row of OPEN_COLUMNS."""
    return OpenCall(
        row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), bool(row[7]), row[8], row[9]
    )


def stale_calls(rows: Iterable[Sequence[Any]]) -> list[StaleCall]:
    """Calls in progress from rows of `account_id, OPEN_COLUMNS`."""
    return [StaleCall(row[0], open_call(row[1:])) for row in rows]


def fragments(rows: Iterable[Sequence[Any]]) -> list[Fragments]:
    """Entries' fragments from rows of (json, xml)."""
    return [Fragments(row[0], row[1]) for row in rows]


def call_values(account_id: int, call: StoredCall) -> tuple[Any, ...]:
    """A call's row of `calls`, in the order account_id, session_id, src, dest, type,
    start, "end", private, entry_count."""
    return (
        account_id,
        call.session_id,
        call.src,
        call.dest,
        call.type,
        call.start,
        call.end,
        call.private,
        call.entry_count,
    )


def page_params(query: CallQuery) -> dict[str, Any]:
    """The named parameters of a page's queries."""
    return {
        "account": query.account_id,
        "start": query.start,
        "end": query.end,
        "number": query.number,
        "cutoff": query.detail_cutoff,
        "limit": query.limit,
        "offset": query.offset,
    }


class Statements:
    """The statements both adapters run, written once and built once per backend:
    `named` writes a `:name` parameter the backend's way; `detail_join` matches a call's
    row of call_details (PostgreSQL partitions it by the call's start too); `row_lock`
    ends a read of an open call that the transaction will update; `row_id` names a
    row's physical id (SQLite's rowid, PostgreSQL's ctid) and `any_of` tests a value
    against a subquery's; `stored_detail` finds the calls started before :details whose
    detail is stored (SQLite reads entry_count, which the purge zeroes; PostgreSQL counts
    call_details)."""

    def __init__(
        self,
        named: Callable[[str], str],
        *,
        detail_join: str,
        row_lock: str,
        row_id: str,
        any_of: str,
        stored_detail: str,
    ) -> None:
        # a page's total_calls (window_total), by number or not
        self.window_total = {
            by_number: named(window_total_sql(by_number)) for by_number in (False, True)
        }
        # accounts
        self.insert_account = named(
            "INSERT INTO accounts (email, active, developer_key_hash, ingest_token_hash,"
            " created_at) VALUES (:email, :active, :developer_key, :ingest_token, :now)"
            f" RETURNING {ACCOUNT_COLUMNS}"
        )
        self.account_by = {
            column: named(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = :value")
            for column in ("email", "ingest_token_hash")
        }
        self.list_accounts = f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY email"
        self.set_active = named(
            f"UPDATE accounts SET active = :active WHERE email = :email RETURNING {ACCOUNT_COLUMNS}"
        )
        self.set_credentials = named(
            "UPDATE accounts SET developer_key_hash = :developer_key,"
            " ingest_token_hash = :ingest_token"
            f" WHERE email = :email RETURNING {ACCOUNT_COLUMNS}"
        )
        # redaction patterns and sensitive modules
        self.patterns = _account_rows(
            named, "redaction_patterns", PATTERN_COLUMNS, ("label", "pattern"), ("label",)
        )
        self.sensitive = _account_rows(
            named, "sensitive_modules", SENSITIVE_COLUMNS, ("field", "name"), ("field", "name")
        )
        # calls in progress
        self.open_call = named(
            f"SELECT {OPEN_COLUMNS} FROM open_calls"
            f" WHERE account_id = :account AND session_id = :session{row_lock}"
        )
        self.is_completed = named(
            "SELECT 1 FROM calls WHERE account_id = :account AND session_id = :session LIMIT 1"
        )
        summary = (
            "src = :src, dest = :dest, type = :type, start = :start, start_given = :start_given,"
            " private = :private, entry_count = :entry_count, last_timestamp = :last_timestamp"
        )
        self.update_open = named(
            f"UPDATE open_calls SET {summary},"
            " touched_at = coalesce(:touched_at, touched_at) WHERE id = :id"
        )
        self.insert_open = named(
            "INSERT INTO open_calls (src, dest, type, start, start_given, private, entry_count,"
            " last_timestamp, touched_at, account_id, session_id)"
            " VALUES (:src, :dest, :type, :start, :start_given, :private, :entry_count,"
            " :last_timestamp, :touched_at, :account, :session) RETURNING id"
        )
        self.entries = named(
            "SELECT json, xml FROM open_entries WHERE call_id = :call ORDER BY timestamp, seq"
        )
        self.kept_answer = named(
            "SELECT body_sha256, answer FROM idempotency_keys"
            " WHERE account_id = :account AND session_id = :session AND key = :key"
        )
        self.keep_answer = named(
            "INSERT INTO idempotency_keys"
            " (account_id, session_id, key, body_sha256, answer, created_at)"
            " VALUES (:account, :session, :key, :body_sha256, :answer, :now)"
        )
        # where each sync of an account from a source got to (core/sync.py)
        self.sync_checkpoint = named(
            "SELECT synced_to FROM sync_checkpoints"
            " WHERE account_id = :account AND source = :source"
        )
        self.save_sync_checkpoint = named(
            "INSERT INTO sync_checkpoints (account_id, source, synced_to, updated_at)"
            " VALUES (:account, :source, :synced_to, :now) ON CONFLICT (account_id, source)"
            " DO UPDATE SET synced_to = excluded.synced_to, updated_at = excluded.updated_at"
        )
        # what the purge would delete
        self.count_expired = named(
            f"SELECT (SELECT count(*) FROM {stored_detail}),"
            " (SELECT count(*) FROM calls WHERE start < :calls)"
        )
        # a batch of idempotency keys past their lifetime
        batch = f"SELECT {row_id} FROM idempotency_keys WHERE created_at < :cutoff LIMIT :limit"
        self.delete_keys = named(
            f"DELETE FROM idempotency_keys WHERE {row_id} {any_of.format(batch)}"
        )
        # a call's detail: a completed call's, else the entries so far of one in progress
        self.completed_detail = {
            fmt: named(
                f"SELECT CASE WHEN c.start >= :cutoff THEN d.{fmt} END"
                f" FROM calls c LEFT JOIN call_details d ON {detail_join}"
                " WHERE c.account_id = :account AND c.session_id = :session"
                " AND c.start >= :call_cutoff"
            )
            for fmt in ("json", "xml")
        }
        self.open_detail = named(
            "SELECT id, start >= :cutoff AND NOT private FROM open_calls"
            " WHERE account_id = :account AND session_id = :session AND start >= :call_cutoff"
        )
        self.open_entries = {
            fmt: named(
                f"SELECT {fmt} FROM open_entries WHERE call_id = :call ORDER BY timestamp, seq"
            )
            for fmt in ("json", "xml")
        }


class AccountRows(NamedTuple):
    """The statements of a table of an account's rows (redaction patterns, sensitive
    modules): add one, list every account's, list one account's, remove one by its key."""

    insert: str
    every: str
    one_account: str
    remove: str


def _account_rows(
    named: Callable[[str], str],
    table: str,
    columns: str,
    values: tuple[str, ...],
    key: tuple[str, ...],
) -> AccountRows:
    listed = f"SELECT {columns} FROM {table}"
    return AccountRows(
        named(
            f"INSERT INTO {table} (account_id, {', '.join(values)}, created_at)"
            f" VALUES (:account, {', '.join(':' + v for v in values)}, :now) RETURNING {columns}"
        ),
        f"{listed} ORDER BY id",
        named(f"{listed} WHERE account_id = :account ORDER BY id"),
        named(
            f"DELETE FROM {table} WHERE account_id = :account"
            + "".join(f" AND {k} = :{k}" for k in key)
        ),
    )


SQLITE: Final = Statements(
    lambda query: query,
    detail_join="d.call_id = c.id",
    row_lock="",
    row_id="rowid",
    any_of="IN ({})",
    stored_detail="calls WHERE entry_count > 0 AND start < :details",
)
POSTGRES: Final = Statements(
    postgres_style,
    detail_join="d.call_id = c.id AND d.start = c.start",
    row_lock=" FOR UPDATE",
    row_id="ctid",
    any_of="= ANY(ARRAY({}))",
    stored_detail="call_details WHERE start < :details",
)
