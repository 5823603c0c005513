"""The reports' aggregates in SQL (migration 10), the same on SQLite and PostgreSQL: their
tables, the upsert that applies core/reports.Deltas inside a write transaction, the read
of a report's rows, and what the purge and an account's deletion drop.

`report_volume` has a row for each (account, span, at, application, call type): the calls
that started in that hour (span 3600) or UTC day (86400) and a column each of the bins
of their durations. `report_modules` has a row for each (account, application, span, at,
module): how many of those calls reached it, ended there, had an error there, the sum of
its places in their flows, and a column each of the bins of the seconds spent there.
Bins are columns, not rows, so that a report reads as many rows for a thousand calls as
for a million (docs/performance.md, B8). Writers change rows in key order (Deltas'
sorted_*), after the other rows they lock (docs/architecture.md, reports)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

from ivrlog.core.reports import BINS, Deltas, Piece, ReportRow

BIN_COLUMNS: Final = {
    "report_volume": [f"d{i}" for i in range(BINS)],
    "report_modules": [f"s{i}" for i in range(BINS)],
}
KEYS: Final = {
    "report_volume": ["account_id", "span", "at", "app", "type"],
    "report_modules": ["account_id", "app", "span", "at", "module_key"],
}
# a name longer than this (characters) is keyed by its start and its SHA-256: a key of
# PostgreSQL's indexes holds at most 2,704 bytes, and a name has no bound
KEPT_NAME: Final = 200
COUNTS: Final = {
    "report_volume": ["calls", *BIN_COLUMNS["report_volume"]],
    "report_modules": ["reached", "ended", "errors", "place", *BIN_COLUMNS["report_modules"]],
}
TABLES: Final = {
    "volume": "report_volume",
    "durations": "report_volume",
    "modules": "report_modules",
}


def _ddl(integer: str, count: str, text: str, without_rowid: str) -> str:
    tables = []
    for table, keys in KEYS.items():
        key_columns = [
            f"{name} {text if name in ('app', 'type', 'module_key') else integer} NOT NULL"
            for name in keys
        ]
        if table == "report_modules":  # the module's name whole
            key_columns.append(f"module {text} NOT NULL")
        counts = [f"{name} {count} NOT NULL" for name in COUNTS[table]]
        tables.append(
            f"CREATE TABLE {table} (\n    "
            + ",\n    ".join([*key_columns, *counts, f"PRIMARY KEY ({', '.join(keys)})"])
            + f"\n){without_rowid};"
        )
    return "\n".join(tables)


# calls stored before have no steps (NULL: not counted) until the backfill counts them
_BACKFILL = "INSERT INTO pending_backfills (version, last_id) VALUES (10, 0);\n"
SQLITE_10: Final = (
    "ALTER TABLE calls ADD COLUMN steps TEXT;\n"
    + _ddl("INTEGER", "INTEGER", "TEXT", " WITHOUT ROWID")
    + "\n"
    + _BACKFILL
)
POSTGRESQL_10: Final = (
    "ALTER TABLE calls ADD COLUMN steps text;\n"
    + _ddl("bigint", "integer", 'text COLLATE "C"', "")
    + "\n"
    + _BACKFILL
)


def as_is(query: str) -> str:
    """A query's parameters as SQLite takes them (`:name`)."""
    return query


def key_name(name: str) -> str:
    """A name as a key column keeps it: itself up to KEPT_NAME characters, else its
    first KEPT_NAME characters, `#` and the SHA-256 of the whole (a shorter name is
    never one of those)."""
    if len(name) <= KEPT_NAME:
        return name
    return name[:KEPT_NAME] + "#" + hashlib.sha256(name.encode()).hexdigest()


def _columns(table: str) -> list[str]:
    """A table's columns in the order its upserts write them (`_as_stored`'s rows)."""
    return KEYS[table] + (["module"] if table == "report_modules" else []) + COUNTS[table]


def _upsert(table: str) -> str:
    columns = _columns(table)
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTS[table])
    return (
        f"INSERT INTO {table} ({', '.join(columns)})"
        f" VALUES ({', '.join('?' for _ in columns)})"
        f" ON CONFLICT ({', '.join(KEYS[table])}) DO UPDATE SET {added}"
    )


UPSERT: Final = {table: _upsert(table) for table in KEYS}


def _array_type(column: str) -> str:
    if column in ("app", "type", "module_key", "module"):
        return "text[]"
    return "bigint[]" if column in ("account_id", "span", "at") else "integer[]"


def _upsert_arrays(table: str) -> str:
    """PostgreSQL's upsert of every row at once: one statement over arrays, a column
    each, rather than a statement a row (B3)."""
    columns = _columns(table)
    arrays = ", ".join(f"%s::{_array_type(c)}" for c in columns)
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTS[table])
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(KEYS[table])}) DO UPDATE SET {added}"
    )


UPSERT_ARRAYS: Final = {table: _upsert_arrays(table) for table in KEYS}
ARRAY_TYPES: Final = {table: [_array_type(c) for c in _columns(table)] for table in KEYS}


def _numbers(column: Sequence[int]) -> str:
    """A column of whole numbers as PostgreSQL's array literal (`{1,-2,3}`), made at C
    speed: psycopg adapts a list element by element in Python, which took half the time
    of the reports' upsert on B3 (some 40,000 numbers a batch). The statement casts it."""
    return "{" + ",".join(map(str, column)) + "}"


StoredRows = tuple[tuple[str, list[tuple[Any, ...]]], ...]


def stored_rows(changes: Deltas, name: Callable[[str | None], str | None]) -> StoredRows:
    """The rows `changes` make, as `write_rows` writes them: each table's, in key order
    (the order rows are locked in); `name` is how the backend keeps application and module
    names. Made without the database, so a store can make them before its transaction."""
    return (
        ("report_volume", _as_stored("report_volume", changes.sorted_volume(), name)),
        ("report_modules", _as_stored("report_modules", changes.sorted_modules(), name)),
    )


def write_rows(conn: Any, rows: StoredRows, *, arrays: bool = False) -> None:
    """Apply rows made by `stored_rows` inside the caller's transaction. With `arrays`
    (PostgreSQL), one statement a table over arrays; else (SQLite) a statement a row,
    its parameters by position."""
    for table, stored in rows:
        if stored and arrays:
            columns = [
                _numbers(column) if kind != "text[]" else list(column)
                for column, kind in zip(zip(*stored, strict=True), ARRAY_TYPES[table], strict=True)
            ]
            conn.execute(UPSERT_ARRAYS[table], columns)
        elif stored:
            conn.executemany(UPSERT[table], stored)


def write(
    conn: Any,
    changes: Deltas,
    name: Callable[[str | None], str | None],
    *,
    arrays: bool = False,
) -> None:
    """Apply `changes` inside the caller's transaction (stored_rows, then write_rows)."""
    write_rows(conn, stored_rows(changes, name), arrays=arrays)


def _as_stored(
    table: str, rows: Sequence[tuple[Any, list[int]]], name: Callable[[str | None], str | None]
) -> list[tuple[Any, ...]]:
    """Rows with their keys as stored, in key order; rows whose keys become one (two
    names that differ only where the backend cannot keep them: NUL on PostgreSQL, past
    KEPT_NAME characters with the same digest) summed into one, as a single statement
    may change a row only once."""
    merged: dict[tuple[Any, ...], list[Any]] = {}
    modules = table == "report_modules"
    for key, counts in rows:
        if modules:  # (account, app, span, at, module): the module's whole name after
            module = name(key[4]) or ""
            stored = (key[0], key_name(name(key[1]) or ""), key[2], key[3], key_name(module))
            extra: list[Any] = [module]
        else:  # (account, span, at, app, type)
            stored = (key[0], key[1], key[2], key_name(name(key[3]) or ""), name(key[4]) or "")
            extra = []
        total = merged.get(stored)
        if total is None:
            merged[stored] = [*extra, *counts]
        else:
            for i, value in enumerate(counts, start=len(extra)):
                total[i] += value
    return [(*k, *v) for k, v in sorted(merged.items())]


def _pieces(
    table: str, columns: str, where: str, wanted: Sequence[Piece], counted: Sequence[str] = ()
) -> tuple[str, dict[str, Any]]:
    """The rows of `wanted` as one SELECT a piece joined by UNION ALL, each a range of
    the table's key (one condition with OR would make the databases read every row of
    the account), and its parameters; the `counted` columns of a piece taken away are
    negated."""
    parts, params = [], {}
    for i, piece in enumerate(wanted):
        selected = columns
        if piece.sign < 0:
            selected = ", ".join([columns, *(f"-{c} AS {c}" for c in counted)])
        elif counted:
            selected = ", ".join([columns, *counted])
        parts.append(
            f"SELECT {selected} FROM {table} WHERE {where}"
            f" AND span = :span{i} AND at >= :first{i} AND at < :end{i}"
        )
        params.update({f"span{i}": piece.span, f"first{i}": piece.first, f"end{i}": piece.end})
    return " UNION ALL ".join(parts), params


def read(
    conn: Any,
    named: Callable[[str], str],
    account_id: int,
    which: Literal["volume", "durations", "modules"],
    app: str | None,
    wanted: Sequence[Piece],
    by: int | None,
) -> list[ReportRow]:
    """The summed rows of `wanted` (see Store.report_rows)."""
    if not wanted:
        return []
    table = TABLES[which]
    # volume by the hour or day sums its calls alone: the bins are the durations'
    counted = COUNTS[table][:1] if which == "volume" else COUNTS[table]
    key, named_key = ("module_key", "max(module)") if which == "modules" else ("type", "type")
    inner = ", ".join(["at", key, *(["module"] if which == "modules" else [])])
    where = "account_id = :account" + ("" if app is None else " AND app = :app")
    rows_of, params = _pieces(table, inner, where, wanted, counted)
    params.update(account=account_id, app=None if app is None else key_name(app))
    sums = ", ".join(f"sum({c})" for c in counted)
    # summed into buckets here: a year by day is 365 rows to send, not 8,760 hours'
    bucket = "0" if by is None else f"at - at % {int(by)}"
    query = (
        f"SELECT {bucket}, {named_key}, {sums} FROM ({rows_of}) AS r"
        f" GROUP BY 1, {key} ORDER BY 1, {key}"
    )
    rows = conn.execute(named(query), params).fetchall()
    return [ReportRow(int(r[0]), r[1], tuple(int(v) for v in r[2:])) for r in rows]


def apps(
    conn: Any, named: Callable[[str], str], account_id: int, wanted: Sequence[Piece]
) -> list[str]:
    """The applications of the account's volume rows of `wanted` (names as keyed)."""
    if not wanted:
        return []
    where = "account_id = :account AND app <> '' AND calls > 0"
    rows_of, params = _pieces("report_volume", "app", where, wanted)
    params["account"] = account_id
    query = f"SELECT DISTINCT app FROM ({rows_of}) AS r ORDER BY app"
    return [row[0] for row in conn.execute(named(query), params).fetchall()]


def forget_account(conn: Any, named: Callable[[str], str], account_id: int) -> None:
    for table in KEYS:
        conn.execute(
            named(f"DELETE FROM {table} WHERE account_id = :account"), {"account": account_id}
        )


def drop_before(conn: Any, named: Callable[[str], str], cutoff: int) -> int:
    """Delete the rows of hours and days that ended before `cutoff` (their calls are past
    call retention), an account and a span at a time (each a range of the key); how
    many."""
    dropped = 0
    accounts = [row[0] for row in conn.execute("SELECT id FROM accounts").fetchall()]
    for account_id in accounts:
        for table in KEYS:
            for span in (3600, 86_400):
                where = "account_id = :account AND span = :span AND at <= :last"
                params = {"account": account_id, "span": span, "last": cutoff - span}
                dropped += conn.execute(
                    named(f"DELETE FROM {table} WHERE {where}"), params
                ).rowcount
    return dropped
