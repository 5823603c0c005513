"""The Python steps of migrations (Migration.backfill).

- Migration 6, "summaries": every call whose detail is stored gets its summary from it
  (core/summary.summarize_detail) and its search words (all of them: reads check the
  detail cutoff). Calls without stored detail keep the empty path they were given
  (docs/api.md, call summaries).
- Migration 7, "words" (SQLite only): the search index rows of migration 6 move to the
  newest-first index of migration 7 (storage/sqlite_words.py).
- Migration 8, "records": every call's CSV record stem (storage/records.py), from the
  columns the call has now.

It runs in batches of BATCH calls, each in a write transaction of its own that also
records how far it got (`pending_backfills.last_id`, calls in id order): a database of
millions of calls is never held in one transaction nor in memory, and a step interrupted
by a crash goes on from its last batch at the next start. The row is deleted when the
step is done. On PostgreSQL the row is locked by each batch, so that processes starting
together take turns instead of repeating each other's work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from ivrlog.core.reports import CallFacts, Deltas, call_steps, path_steps, steps_json
from ivrlog.core.summary import summarize_detail
from ivrlog.storage import records, report_sql, sqlite_words
from ivrlog.storage.migrations import MIGRATIONS
from ivrlog.storage.search_sql import SUMMARY_COLUMNS, same, summary_values, without_nul

BATCH: Final = 500
_SET = ", ".join(f"{c} = ?" for c in SUMMARY_COLUMNS.split(", "))


def _summaries(
    rows: list[Any], name: Callable[[str | None], str | None] = same
) -> list[tuple[Any, ...]]:
    """(id, start, summary values..., words or None) of rows of (id, start, json)."""
    done = []
    for call_id, start, json in rows:
        summary = summarize_detail(json)
        done.append((call_id, start, *summary_values(summary, name), summary.words or None))
    return done


def _step(version: int) -> str:
    """The name of a migration's Python step (Migration.backfill)."""
    return next(m.backfill or "" for m in MIGRATIONS if m.version == version)


def sqlite_batch(conn: Any, limit: int = BATCH) -> bool:
    """Backfill one batch on SQLite, inside the caller's write transaction; False when no
    step is pending."""
    pending = conn.execute(
        "SELECT version, last_id FROM pending_backfills ORDER BY version LIMIT 1"
    ).fetchone()
    if pending is None:
        return False
    version, last = pending
    steps = {
        "summaries": _sqlite_summaries,
        "words": _sqlite_words,
        "records": _sqlite_records,
        "reports": _sqlite_reports,
    }
    step = steps[_step(version)]
    done = step(conn, last, limit)
    if done is None:
        conn.execute("DELETE FROM pending_backfills WHERE version = ?", (version,))
    else:
        conn.execute("UPDATE pending_backfills SET last_id = ? WHERE version = ?", (done, version))
    return True


def _sqlite_summaries(conn: Any, last: int, limit: int) -> int | None:
    """Migration 6's step: the next calls' summaries and search index rows (in the form
    of migration 7, whichever version left this step pending); the last call id done, or
    None when no call is left."""
    rows = conn.execute(
        "SELECT c.id, c.start, d.json, c.account_id, c.type, c.src, c.dest FROM calls c"
        " JOIN call_details d ON d.call_id = c.id WHERE c.id > ? ORDER BY c.id LIMIT ?",
        (last, limit),
    ).fetchall()
    if not rows:
        return None
    done = _summaries([row[:3] for row in rows])
    conn.executemany(f"UPDATE calls SET {_SET} WHERE id = ?", [(*d[2:-1], d[0]) for d in done])
    _put_words(
        conn,
        [
            # (call id, account, start, words, then sqlite_words.document's row)
            (d[0], row[3], d[1], d[-1], row[4], d[2], d[5], d[6], d[7], d[8], row[5], row[6])
            for d, row in zip(done, rows, strict=True)
            if d[-1]
        ],
    )
    return int(rows[-1][0])


def _sqlite_words(conn: Any, last: int, limit: int) -> int | None:
    """Migration 7's step: move the next rows of migration 6's index (call_words_6, keyed
    by call id) to the new one; the last call id moved, or None (the old table dropped,
    the new one merged) when none is left."""
    rows = conn.execute(
        "SELECT w.rowid, c.account_id, c.start, w.words, c.type, c.app, c.modules,"
        " c.ended_in, c.ended_variable, c.has_error, c.src, c.dest"
        " FROM call_words_6 w JOIN calls c ON c.id = w.rowid"
        " WHERE w.rowid > ? ORDER BY w.rowid LIMIT ?",
        (last, limit),
    ).fetchall()
    if not rows:
        conn.execute("DROP TABLE call_words_6")
        # rows written a batch at a time leave many segments: one reads faster
        conn.execute("INSERT INTO call_words (call_words) VALUES ('optimize')")
        return None
    _put_words(conn, rows)
    return int(rows[-1][0])


def _put_words(conn: Any, rows: list[Any]) -> None:
    """Index rows for calls that have none, from rows of (call id, account, start, words,
    type, app, modules, ended_in, ended_variable, has_error, src, dest)."""
    given = sqlite_words.places(conn, [row[2] for row in rows])
    conn.executemany(
        "INSERT INTO call_words (rowid, words, call_id) VALUES (?, ?, ?)",
        [
            (place, sqlite_words.document(row[1], row[3], row[4:]), row[0])
            for row, place in zip(rows, given, strict=True)
        ],
    )
    placed = [(place, row[0]) for row, place in zip(rows, given, strict=True)]
    conn.executemany("UPDATE call_details SET words_id = ? WHERE call_id = ?", placed)
    conn.executemany("UPDATE calls SET words_id = ? WHERE id = ?", placed)


def _sqlite_records(conn: Any, last: int, limit: int) -> int | None:
    """Migration 8's step: the next calls' rows of call_records; the last call id done, or
    None when no call is left."""
    rows = conn.execute(
        f"SELECT id, account_id, entry_count, {records.STEM_COLUMNS} FROM calls"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (last, limit),
    ).fetchall()
    if not rows:
        return None
    conn.executemany(
        records.SQLITE_PUT,
        [
            (row[1], row[7], row[3], row[2], stem)
            for row, stem in zip(rows, records.stems([row[3:] for row in rows]), strict=True)
        ],
    )
    return int(rows[-1][0])


def postgres_batch(conn: Any, limit: int = BATCH) -> bool:
    """Backfill one batch on PostgreSQL, inside the caller's transaction; False when no
    step is pending."""
    pending = conn.execute(
        "SELECT version, last_id FROM pending_backfills ORDER BY version LIMIT 1 FOR UPDATE"
    ).fetchone()
    if pending is None:
        return False
    version, last = pending
    step = {
        "summaries": _postgres_summaries,
        "records": _postgres_records,
        "reports": _postgres_reports,
    }[_step(version)]
    done = step(conn, last, limit)
    if done is None:
        conn.execute("DELETE FROM pending_backfills WHERE version = %s", (version,))
    else:
        conn.execute(
            "UPDATE pending_backfills SET last_id = %s WHERE version = %s", (done, version)
        )
    return True


def _postgres_records(conn: Any, last: int, limit: int) -> int | None:
    """Migration 8's step on PostgreSQL: the next calls' `record` or `long_record`."""
    rows = conn.execute(
        f"SELECT id, {records.STEM_COLUMNS} FROM calls WHERE id > %s ORDER BY id LIMIT %s",
        (last, limit),
    ).fetchall()
    if not rows:
        return None
    stems = records.stems([row[1:] for row in rows])
    short, long = zip(*(records.split(stem) for stem in stems), strict=True)
    conn.execute(
        "UPDATE calls c SET record = u.record, long_record = u.long_record"
        " FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])"
        " AS u(id, start, record, long_record) WHERE c.id = u.id AND c.start = u.start",
        ([row[0] for row in rows], [row[5] for row in rows], list(short), list(long)),
    )
    return int(rows[-1][0])


def _postgres_summaries(conn: Any, last: int, limit: int) -> int | None:
    """Migration 6's step on PostgreSQL: the next calls' summaries and search words."""
    rows = conn.execute(
        "SELECT c.id, c.start, d.json FROM calls c"
        " JOIN call_details d ON d.call_id = c.id AND d.start = c.start"
        " WHERE c.id > %s ORDER BY c.id LIMIT %s",
        (last, limit),
    ).fetchall()
    if not rows:
        return None
    done = _summaries(rows, without_nul)
    columns = list(zip(*done, strict=True))
    conn.execute(
        "UPDATE calls c SET app = u.app, app_version = u.app_version, path = u.path,"
        " modules = u.modules, ended_in = u.ended_in, ended_variable = u.ended_variable,"
        " has_error = u.has_error, inputs = u.inputs"
        " FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[],"
        " %s::text[], %s::text[], %s::text[], %s::boolean[], %s::integer[])"
        " AS u(id, start, app, app_version, path, modules, ended_in, ended_variable,"
        " has_error, inputs)"
        " WHERE c.id = u.id AND c.start = u.start",
        [list(column) for column in columns[:10]],
    )
    worded = [d for d in done if d[-1]]
    if worded:
        conn.execute(
            "UPDATE call_details d SET words = array_to_tsvector(string_to_array(u.words, ' '))"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS u(id, start, words)"
            " WHERE d.call_id = u.id AND d.start = u.start",
            ([d[0] for d in worded], [d[1] for d in worded], [d[-1] for d in worded]),
        )
    return int(rows[-1][0])


# migration 10's step: (id, account, app, type, start, end, path, detail JSON or None)
_REPORT_ROWS = (
    'SELECT c.id, c.account_id, c.app, c.type, c.start, c."end", c.path, d.json FROM calls c'
    " LEFT JOIN call_details d ON d.call_id = c.id{same_start}"
    " WHERE c.id > {after} AND c.steps IS NULL ORDER BY c.id LIMIT {limit}"
)


def _report_steps(rows: list[Any]) -> list[tuple[int, int, CallFacts]]:
    """(id, start, facts) of calls stored before reports were kept: their steps from
    their detail, or from their path when the detail is gone (seconds unknown)."""
    done = []
    for call_id, account_id, app, call_type, start, end, path, json in rows:
        steps = (
            call_steps(orjson.loads(json), end) if json else path_steps(orjson.loads(path or "[]"))
        )
        done.append(
            (call_id, account_id, CallFacts(app or "", call_type, start, end - start, steps))
        )
    return done


def _counted(done: list[tuple[int, int, CallFacts]], ids: set[int]) -> Deltas:
    changes = Deltas()
    for call_id, account_id, facts in done:
        if call_id in ids:
            changes.add(account_id, facts, 1)
    return changes


def _sqlite_reports(conn: Any, last: int, limit: int) -> int | None:
    """Migration 10's step: the next calls' steps, counted in the reports' aggregates;
    the last call id done, or None when no call is left."""
    query = _REPORT_ROWS.format(same_start="", after="?", limit="?")
    rows = conn.execute(query, (last, limit)).fetchall()
    if not rows:
        return None
    done = _report_steps(rows)
    conn.executemany(
        "UPDATE calls SET steps = ? WHERE id = ?",
        [(steps_json(facts.steps), call_id) for call_id, _, facts in done],
    )
    report_sql.write(conn, _counted(done, {d[0] for d in done}), same)
    return int(rows[-1][0])


def _postgres_reports(conn: Any, last: int, limit: int) -> int | None:
    """Migration 10's step on PostgreSQL: only the calls whose steps this transaction set
    are counted (a call replaced or erased meanwhile is not, nor counted twice)."""
    query = _REPORT_ROWS.format(same_start=" AND d.start = c.start", after="%s", limit="%s")
    rows = conn.execute(query, (last, limit)).fetchall()
    if not rows:
        return None
    done = _report_steps(rows)
    set_now = conn.execute(
        "UPDATE calls c SET steps = u.steps"
        " FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS u(id, start, steps)"
        " WHERE c.id = u.id AND c.start = u.start AND c.steps IS NULL RETURNING c.id",
        (
            [d[0] for d in done],
            [d[2].start for d in done],
            [steps_json(d[2].steps) for d in done],
        ),
    ).fetchall()
    changes = _counted(done, {row[0] for row in set_now})
    report_sql.write(conn, changes, without_nul, appended=True)
    return int(rows[-1][0])
