"""The Python step of migration 6 (Migration.backfill "summaries"): every call whose
detail is stored gets its summary from it (core/summary.summarize_detail) and its search
words (all of them: reads check the detail cutoff). Calls without stored detail keep the
empty path they were given (docs/api.md, call summaries).

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

from ivrlog.core.summary import summarize_detail
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


def sqlite_batch(conn: Any, limit: int = BATCH) -> bool:
    """Backfill one batch on SQLite, inside the caller's write transaction; False when no
    step is pending."""
    pending = conn.execute(
        "SELECT version, last_id FROM pending_backfills ORDER BY version LIMIT 1"
    ).fetchone()
    if pending is None:
        return False
    version, last = pending
    rows = conn.execute(
        "SELECT c.id, c.start, d.json FROM calls c JOIN call_details d ON d.call_id = c.id"
        " WHERE c.id > ? ORDER BY c.id LIMIT ?",
        (last, limit),
    ).fetchall()
    if not rows:
        conn.execute("DELETE FROM pending_backfills WHERE version = ?", (version,))
        return True
    done = _summaries(rows)
    conn.executemany(f"UPDATE calls SET {_SET} WHERE id = ?", [(*d[2:-1], d[0]) for d in done])
    conn.executemany(
        "INSERT INTO call_words (rowid, words) VALUES (?, ?)",
        [(d[0], d[-1]) for d in done if d[-1]],
    )
    conn.execute(
        "UPDATE pending_backfills SET last_id = ? WHERE version = ?", (rows[-1][0], version)
    )
    return True


def postgres_batch(conn: Any, limit: int = BATCH) -> bool:
    """Backfill one batch on PostgreSQL, inside the caller's transaction; False when no
    step is pending."""
    pending = conn.execute(
        "SELECT version, last_id FROM pending_backfills ORDER BY version LIMIT 1 FOR UPDATE"
    ).fetchone()
    if pending is None:
        return False
    version, last = pending
    rows = conn.execute(
        "SELECT c.id, c.start, d.json FROM calls c"
        " JOIN call_details d ON d.call_id = c.id AND d.start = c.start"
        " WHERE c.id > %s ORDER BY c.id LIMIT %s",
        (last, limit),
    ).fetchall()
    if not rows:
        conn.execute("DELETE FROM pending_backfills WHERE version = %s", (version,))
        return True
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
    conn.execute(
        "UPDATE pending_backfills SET last_id = %s WHERE version = %s", (rows[-1][0], version)
    )
    return True
