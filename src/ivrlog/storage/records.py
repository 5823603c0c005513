"""Migration 8 and what uses it: each call's CSV record kept ready for the export of a time
window (core/records.py, docs/architecture.md "the export's records").

An export with `limit=all` reads every call of its window. Reading each call's 13 columns
as Python objects and writing them as CSV cost some 7 µs a call, 0.06 of what nginx
takes to send the same bytes (docs/performance.md, B7). Each call's *stem* (its record but
for `log`, core/records.record_stem) is now written with the call, from the values the
store writes, and an export whose filter is its window alone reads the stems and adds
`log` (`true` or `false`, then CRLF) in the statement.

- **SQLite** keeps them in `call_records`, a WITHOUT ROWID table whose key is the order
  of the export (account, start, session id): a window's records lie together in the
  file, read in one pass, where the calls themselves are wherever their batch was written.
  The store writes a call's row with the call (INSERT OR REPLACE); triggers on `calls`
  keep the rest: a deleted call (erasure, purge, an account's deletion) takes its row
  with it, a call replaced with another start deletes its old row, and `entry_count`
  (which decides `log`, with the detail cutoff) follows the call's, set to 0 when the
  purge deletes the detail.
- **PostgreSQL** keeps the stem in `calls` beside the call, written by the same COPY
  (a replacement writes the call again; the purge drops it with the call's partition):
  in `record`, which the index of the export's order (`calls_account_start`) INCLUDEs
  with `entry_count`, so that an export is an index-only scan that never visits the
  table (whose rows lie where their batch put them); a stem longer than INDEXED_STEM
  bytes (a path of hundreds of modules), which an index entry could not hold, goes to
  `long_record` instead, and the read fetches it from the table. `log` is decided as
  search_sql.POSTGRES_DIALECT decides it (the detail is stored, the call started after
  the cutoff) without probing the detail: `detail_kept.since` is a time from which
  every call with entries still has its detail (the purge of detail raises it to its
  cutoff before it deletes), so only a call of the window before it, after the cutoff
  (the retention made longer since the last purge), is probed. The migration cannot
  know what earlier purges left (an older version's purge deleted rows in no order), so
  it sets `since` past the newest call with entries (0 on a database without one): on
  an upgraded database, an export probes the detail of the calls of the last detail
  retention period until the purge's cutoff passes that time.

On PostgreSQL migration 8 also rebuilds the indexes of `app` and `ended_variable` on
the names' first 200 characters (search_sql.Dialect.name_prefix): a name has no bound,
and one longer than an index entry holds failed its whole batch.

The stems of the calls stored before are written by the Python step "records"
(storage/backfill.py). An export reads them only once the step is done: migrate() runs
the steps to the end before the store serves. Every process writing to the database
must be of this version or later (an older one writes calls without their stem:
docs/operations.md), and a change to the record's fields (core/records.py) needs a
migration that writes every stem again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from ivrlog.core.model import StoredCall, SummaryRow
from ivrlog.core.records import record_stem
from ivrlog.storage.sql import postgres_style

SQLITE_8: Final = """
CREATE TABLE call_records (
    account_id INTEGER NOT NULL,
    start INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    entry_count INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (account_id, start, session_id)
) WITHOUT ROWID;
CREATE TRIGGER call_records_dropped AFTER DELETE ON calls BEGIN
    DELETE FROM call_records
        WHERE account_id = OLD.account_id AND start = OLD.start AND session_id = OLD.session_id;
END;
CREATE TRIGGER call_records_moved AFTER UPDATE OF start ON calls
WHEN OLD.start IS NOT NEW.start BEGIN
    DELETE FROM call_records
        WHERE account_id = OLD.account_id AND start = OLD.start AND session_id = OLD.session_id;
END;
CREATE TRIGGER call_records_detail AFTER UPDATE OF entry_count ON calls
WHEN OLD.entry_count IS NOT NEW.entry_count BEGIN
    UPDATE call_records SET entry_count = NEW.entry_count
        WHERE account_id = NEW.account_id AND start = NEW.start AND session_id = NEW.session_id;
END;
INSERT INTO pending_backfills (version, last_id) VALUES (8, 0);
"""

POSTGRESQL_8: Final = """
ALTER TABLE calls ADD COLUMN record text, ADD COLUMN long_record text;
DROP INDEX calls_account_start;
CREATE INDEX calls_account_start ON calls (account_id, start DESC, session_id DESC)
    INCLUDE (entry_count, record);
DROP INDEX calls_account_app_start;
CREATE INDEX calls_account_app_start
    ON calls (account_id, left(app, 200), start DESC, session_id DESC);
DROP INDEX calls_account_ended_start;
CREATE INDEX calls_account_ended_start
    ON calls (account_id, left(ended_variable, 200), start DESC, session_id DESC);
CREATE TABLE detail_kept (id integer PRIMARY KEY CHECK (id = 1), since bigint NOT NULL);
INSERT INTO detail_kept (id, since)
    SELECT 1, coalesce((SELECT max(start) + 1 FROM calls WHERE entry_count > 0), 0);
INSERT INTO pending_backfills (version, last_id) VALUES (8, 0);
"""
# the longest stem (UTF-8 bytes) an index entry holds, well below PostgreSQL's limit of
# an entry (2,704 bytes) with its key (a session id of up to 128 characters)
INDEXED_STEM: Final = 1500


# the columns of `calls` a stem is made of, in the order of a SummaryRow (`log` and
# `detail` read as 0 and NULL)
STEM_COLUMNS: Final = (
    'session_id, src, dest, type, start, "end", 0, app, app_version, path, ended_in,'
    " has_error, NULL"
)


def stem(call: StoredCall, summary: Sequence[Any]) -> str:
    """The stem of `call` as the store writes it: `summary` is its summary columns as
    search_sql.summary_values gave them for this store (names as it keeps them)."""
    app, version, path, _modules, ended_in, _variable, error, _inputs = summary
    row: SummaryRow = (
        call.session_id,
        call.src,
        call.dest,
        call.type,
        call.start,
        call.end,
        0,
        app,
        version,
        path,
        ended_in,
        int(error),
        None,
    )
    return record_stem(row)


# a call's row of call_records (SQLite): (account_id, start, session_id, entry_count, stem)
SQLITE_PUT: Final = (
    "INSERT OR REPLACE INTO call_records (account_id, start, session_id, entry_count, record)"
    " VALUES (?, ?, ?, ?, ?)"
)


def stems(rows: Sequence[Sequence[Any]]) -> list[str]:
    """The stems of rows read as STEM_COLUMNS."""
    return [record_stem((*row[:11], int(row[11]), None)) for row in rows]


def split(stem: str) -> tuple[str | None, str | None]:
    """PostgreSQL's (record, long_record) of a stem."""
    return (stem, None) if len(stem.encode()) <= INDEXED_STEM else (None, stem)


# the same call as `c`, for what the export's index does not hold
_SAME = "l.account_id = c.account_id AND l.session_id = c.session_id AND l.start = c.start"
_RECORD: Final = {
    "sqlite": "c.record",
    "postgresql": f"coalesce(c.record, (SELECT l.long_record FROM calls l WHERE {_SAME}))",
}
_LOG: Final = {
    # as search_sql's dialects decide `log`
    "sqlite": "c.entry_count > 0 AND c.start >= :cutoff",
    # (in this order: the detail is probed only for a call before detail_kept.since)
    "postgresql": "CASE WHEN c.entry_count = 0 OR c.start < :cutoff THEN false"
    " WHEN c.start >= (SELECT since FROM detail_kept) THEN true"
    # a value, not EXISTS, which the planner would hash: every detail's key, each statement
    " ELSE (SELECT true FROM calls l JOIN call_details d"
    f" ON d.call_id = l.id AND d.start = l.start WHERE {_SAME} LIMIT 1) IS NOT NULL END",
}
# the record as the answer's bytes (UTF-8; PostgreSQL's read in binary): its stem, then
# `log` and CRLF. On PostgreSQL textsend gives the stem in the client's encoding (UTF8: the
# store's connections ask for it) as it is stored, and the two ends are constant bytes: a
# tenth less of the server's time than converting (and checking) the whole record
_LINE: Final = {
    "sqlite": "CAST({stem} || CASE WHEN {log} THEN 'true' ELSE 'false' END || char(13, 10)"
    " AS BLOB)",
    # (escape strings: the same bytes whatever standard_conforming_strings says)
    "postgresql": "textsend({stem}) || CASE WHEN {log} THEN E'\\\\x747275650d0a'::bytea"
    " ELSE E'\\\\x66616c73650d0a'::bytea END",
}
_TABLE: Final = {"sqlite": "call_records c", "postgresql": "calls c"}


def records_sql(backend: str) -> str:
    """Up to :limit records of the account's calls with :start <= start < :end, newest
    first, strictly before (:after_start, :after_session): rows of (start, session id,
    the record with its `log` and CRLF)."""
    named: Callable[[str], str] = postgres_style if backend == "postgresql" else (lambda q: q)
    return named(
        "SELECT c.start, c.session_id,"
        f" {_LINE[backend].format(stem=_RECORD[backend], log=_LOG[backend])} FROM {_TABLE[backend]}"
        " WHERE c.account_id = :account AND c.start >= :start AND c.start < :end AND"
        " (c.start < :after_start OR (c.start = :after_start AND c.session_id < :after_session))"
        " ORDER BY c.start DESC, c.session_id DESC LIMIT :limit"
    )


SQLITE_RECORDS: Final = records_sql("sqlite")
POSTGRES_RECORDS: Final = records_sql("postgresql")  # read in binary: the bytes as they are
