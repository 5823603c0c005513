"""The reports' aggregates in SQL (migration 10), the same on SQLite and PostgreSQL: their
tables, the write that applies core/reports.Deltas inside a write transaction, the read
of a report's rows, and what the purge and an account's deletion drop.

`report_volume` has a row for each (account, span, at, application, call type): the calls
that started in that hour (span 3600) or UTC day (86400) and a column each of the bins
of their durations. `report_modules` has a row for each (account, application, span, at,
module): how many of those calls reached it, ended there, had an error there, the sum of
its places in their flows, and a column each of the bins of the seconds spent there.
Bins are columns, not rows, so that a report reads as many rows for a thousand calls as
for a million (docs/performance.md, B8).

SQLite, one writer at a time, upserts a write's rows in place (in key order). PostgreSQL
appends them (migration 13): COPY into a table of pending rows of the same columns and no
key, where no conflict is resolved and no row is locked; a read sums both tables, and
`fold` moves the pending rows into the aggregates, summed a key, every few seconds in the
server, in each purge and after a backfill (docs/architecture.md, reports;
docs/performance.md, B3). As the hourly counts of migration 3, for the same reason: many
writers would queue on the rows of the current hour, and the upsert was a third of the
database's work an entry."""

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


# PostgreSQL's pending rows (migration 13): the same columns, no key, no index (a read
# scans them: a few seconds' writes, as `fold` empties them)
PENDING: Final = {table: f"{table}_pending" for table in KEYS}
POSTGRESQL_13: Final = "\n".join(f"CREATE TABLE {PENDING[t]} (LIKE {t});" for t in KEYS)
SQLITE_13: Final = "SELECT 1 -- SQLite upserts its aggregates in place: nothing pending"


def _column_type(column: str) -> str:
    if column in ("app", "type", "module_key", "module"):
        return "text"
    return "int8" if column in ("account_id", "span", "at") else "int4"


COPY_PENDING: Final = {
    table: f"COPY {PENDING[table]} ({', '.join(_columns(table))}) FROM STDIN (FORMAT BINARY)"
    for table in KEYS
}
COPY_TYPES: Final = {table: [_column_type(c) for c in _columns(table)] for table in KEYS}


def _fold(table: str) -> str:
    keys = ", ".join(KEYS[table])
    name = ", max(module)" if table == "report_modules" else ""
    sums = ", ".join(f"sum({c})" for c in COUNTS[table])
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTS[table])
    # the GROUP BY reads every row the DELETE took before the first row is upserted
    return (
        f"WITH moved AS (DELETE FROM {PENDING[table]} RETURNING *)"
        f" INSERT INTO {table} ({', '.join(_columns(table))})"
        f" SELECT {keys}{name}, {sums} FROM moved GROUP BY {keys} ORDER BY {keys}"
        f" ON CONFLICT ({keys}) DO UPDATE SET {added}"
    )


FOLD: Final = {table: _fold(table) for table in KEYS}
# after a fold, outside its transaction; a table another VACUUM holds is left to it
VACUUM_PENDING: Final = f"VACUUM (SKIP_LOCKED) {', '.join(PENDING.values())}"


def fold(conn: Any) -> int:
    """Move PostgreSQL's pending rows into the aggregates, summed a key, inside the
    caller's transaction; how many keys they changed. Rows committed meanwhile are not
    in the statement's snapshot: they stay for the next fold. The caller holds the fold's
    lock (storage/postgres.py), so that two folds never lock the same pending rows in
    different orders, and a deletion of report rows waits for the fold under way."""
    return sum(int(conn.execute(FOLD[table]).rowcount) for table in KEYS)


StoredRows = tuple[tuple[str, list[tuple[Any, ...]]], ...]


def stored_rows(changes: Deltas, name: Callable[[str | None], str | None]) -> StoredRows:
    """The rows `changes` make, as `write_rows` writes them: each table's, in key order
    (the order SQLite's upserts lock them in); `name` is how the backend keeps application
    and module names. Made without the database, so a store can make them before its
    transaction."""
    return (
        ("report_volume", _as_stored("report_volume", changes.sorted_volume(), name)),
        ("report_modules", _as_stored("report_modules", changes.sorted_modules(), name)),
    )


def write_rows(conn: Any, rows: StoredRows, *, appended: bool = False) -> None:
    """Apply rows made by `stored_rows` inside the caller's transaction. With `appended`
    (PostgreSQL), each table's rows are copied into its pending rows; else (SQLite) a
    statement a row upserts them, their parameters by position."""
    for table, stored in rows:
        if stored and appended:
            with conn.cursor().copy(COPY_PENDING[table]) as copy:
                copy.set_types(COPY_TYPES[table])
                for row in stored:
                    copy.write_row(row)
        elif stored:
            conn.executemany(UPSERT[table], stored)


def write(
    conn: Any,
    changes: Deltas,
    name: Callable[[str | None], str | None],
    *,
    appended: bool = False,
) -> None:
    """Apply `changes` inside the caller's transaction (stored_rows, then write_rows)."""
    write_rows(conn, stored_rows(changes, name), appended=appended)


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


def _tables(table: str, appended: bool) -> tuple[str, ...]:
    """Where a table's rows are: itself, and its pending rows where writes append."""
    return (table, PENDING[table]) if appended else (table,)


def _pieces(
    tables: Sequence[str],
    columns: str,
    where: str,
    wanted: Sequence[Piece],
    counted: Sequence[str] = (),
) -> tuple[str, dict[str, Any]]:
    """The rows of `wanted` in `tables` as one SELECT a piece and table joined by UNION
    ALL, each a range of the table's key (one condition with OR would make the databases
    read every row of the account), and its parameters; the `counted` columns of a piece
    taken away are negated."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, piece in enumerate(wanted):
        selected = columns
        if piece.sign < 0:
            selected = ", ".join([columns, *(f"-{c} AS {c}" for c in counted)])
        elif counted:
            selected = ", ".join([columns, *counted])
        parts.extend(
            f"SELECT {selected} FROM {table} WHERE {where}"
            f" AND span = :span{i} AND at >= :first{i} AND at < :end{i}"
            for table in tables
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
    *,
    appended: bool = False,
) -> list[ReportRow]:
    """The summed rows of `wanted` (see Store.report_rows); `appended`: the backend's
    writes append rows (PostgreSQL), pending ones included."""
    if not wanted:
        return []
    table = TABLES[which]
    # volume by the hour or day sums its calls alone: the bins are the durations'
    counted = COUNTS[table][:1] if which == "volume" else COUNTS[table]
    key, named_key = ("module_key", "max(module)") if which == "modules" else ("type", "type")
    inner = ", ".join(["at", key, *(["module"] if which == "modules" else [])])
    where = "account_id = :account" + ("" if app is None else " AND app = :app")
    rows_of, params = _pieces(_tables(table, appended), inner, where, wanted, counted)
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
    conn: Any,
    named: Callable[[str], str],
    account_id: int,
    wanted: Sequence[Piece],
    *,
    appended: bool = False,
) -> list[str]:
    """The applications with calls in the account's volume rows of `wanted` (names as
    keyed): a key's rows are summed first, as a key may have several (`appended`)."""
    if not wanted:
        return []
    where = "account_id = :account AND app <> ''"
    tables = _tables("report_volume", appended)
    rows_of, params = _pieces(tables, "span, at, app, type, calls", where, wanted)
    params["account"] = account_id
    query = (
        f"SELECT DISTINCT app FROM ({rows_of}) AS r GROUP BY span, at, app, type"
        " HAVING sum(calls) > 0 ORDER BY app"
    )
    return [row[0] for row in conn.execute(named(query), params).fetchall()]


def forget_account(
    conn: Any, named: Callable[[str], str], account_id: int, *, appended: bool = False
) -> None:
    for table in (t for name in KEYS for t in _tables(name, appended)):
        conn.execute(
            named(f"DELETE FROM {table} WHERE account_id = :account"), {"account": account_id}
        )


def drop_before(
    conn: Any, named: Callable[[str], str], cutoff: int, *, appended: bool = False
) -> int:
    """Delete the rows of hours and days that ended before `cutoff` (their calls are past
    call retention), an account and a span at a time (each a range of the key); how
    many."""
    dropped = 0
    accounts = [row[0] for row in conn.execute("SELECT id FROM accounts").fetchall()]
    for account_id in accounts:
        for table in (t for name in KEYS for t in _tables(name, appended)):
            for span in (3600, 86_400):
                where = "account_id = :account AND span = :span AND at <= :last"
                params = {"account": account_id, "span": span, "last": cutoff - span}
                dropped += conn.execute(
                    named(f"DELETE FROM {table} WHERE {where}"), params
                ).rowcount
    return dropped
