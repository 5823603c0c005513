"""SQLite's write of completed calls (bulk ingestion, replacement, a live call's
completion): their rows, search documents, export records and report deltas made first,
without the database (`prepare`), so that the write transaction, which every other
writer of the file waits for, holds the SQL and little else (`write`). With several
server processes on one file, that transaction is what they take turns at
(docs/performance.md, B3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ivrlog.core.model import StoredCall
from ivrlog.core.reports import Deltas, call_facts, deltas, row_facts, steps_json
from ivrlog.storage import records, report_sql, sql, sqlite_words
from ivrlog.storage.places import completion_places, place_statements, take_places
from ivrlog.storage.search_sql import SUMMARY_COLUMNS, indexed_words, same, summary_values

PLACES = place_statements(lambda query: query, arrays=False)  # the change sequence's statements
_UPSERT_CALL = f"""INSERT INTO calls (account_id, session_id, src, dest, type, start, "end",
                              private, entry_count, {SUMMARY_COLUMNS}, words_id, steps)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (account_id, session_id) DO UPDATE SET
             src = excluded.src, dest = excluded.dest, type = excluded.type,
             start = excluded.start, "end" = excluded."end",
             private = excluded.private, entry_count = excluded.entry_count,
             app = excluded.app, app_version = excluded.app_version, path = excluded.path,
             modules = excluded.modules, ended_in = excluded.ended_in,
             ended_variable = excluded.ended_variable, has_error = excluded.has_error,
             inputs = excluded.inputs, words_id = excluded.words_id,
             steps = excluded.steps"""


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of calls as SQLite writes them, all but what the database decides (each
    call's place in the search index, the rows a replacement takes away).

    `rows` are the calls' rows of `calls` up to their place, `steps` the rest; `texts`
    their search words (None: no index row) and `documents` their index texts; `changes`
    the report deltas of the calls added, to which `write` adds those of the calls they
    replace (a batch is written once), and `reports` the rows those deltas make, which
    `write` uses when the batch replaces no counted call (the usual case: no Python
    sorting and naming in the transaction)."""

    account_id: int
    calls: Sequence[StoredCall]
    sessions: str
    rows: list[tuple[Any, ...]]
    steps: list[str]
    texts: list[str | None]
    documents: list[str | None]
    records: list[tuple[Any, ...]]
    changes: Deltas
    reports: report_sql.StoredRows


def prepare(account_id: int, calls: Sequence[StoredCall]) -> Batch:
    """Everything of `calls`' write that needs no database."""
    summaries = [summary_values(c.summary) for c in calls]
    texts = [indexed_words(c) for c in calls]
    changes = deltas(account_id, (), map(call_facts, calls))
    names: sqlite_words.Marks = {}  # the marks of names, for this batch's documents
    return Batch(
        account_id=account_id,
        calls=calls,
        sessions=orjson.dumps([c.session_id for c in calls]).decode(),
        rows=[
            (*sql.call_values(account_id, c), *summary)
            for c, summary in zip(calls, summaries, strict=True)
        ],
        steps=[steps_json(c.steps) for c in calls],
        texts=texts,
        documents=[
            sqlite_words.call_document(account_id, c, text, summary, names) if text else None
            for c, text, summary in zip(calls, texts, summaries, strict=True)
        ],
        records=[
            (account_id, c.start, c.session_id, c.entry_count, records.stem(c, summary))
            for c, summary in zip(calls, summaries, strict=True)
        ],
        changes=changes,
        reports=report_sql.stored_rows(changes, same),
    )


def write(conn: Any, batch: Batch) -> int:
    """Upsert the batch's calls with their detail, summary, search words, records, places
    in the change sequence and report deltas, inside the caller's transaction; how many
    stored details or open calls it replaced."""
    account_id, calls = batch.account_id, batch.calls
    old = conn.execute(
        'SELECT session_id, app, type, start, "end", steps FROM calls WHERE account_id = ?'
        " AND session_id IN (SELECT value FROM json_each(?))",
        (account_id, batch.sessions),
    ).fetchall()
    existing = {row[0] for row in old}
    # each call with search words takes its place in the index (sqlite_words) first: a
    # replaced call's old row, still there, is passed over, and goes with its detail below
    starts = [c.start for c, text in zip(calls, batch.texts, strict=True) if text]
    given = iter(sqlite_words.places(conn, starts))
    places = [next(given) if text else None for text in batch.texts]
    conn.executemany(
        _UPSERT_CALL,
        [
            (*row, place, steps)
            for row, place, steps in zip(batch.rows, places, batch.steps, strict=True)
        ],
    )
    conn.executemany(records.SQLITE_PUT, batch.records)
    keys = [(account_id, c.session_id) for c in calls]
    # a replaced detail takes its search words with it (the trigger call_words_dropped)
    replaced: int = conn.executemany(
        "DELETE FROM call_details WHERE call_id ="
        " (SELECT id FROM calls WHERE account_id = ? AND session_id = ?)",
        keys,
    ).rowcount
    replaced += conn.executemany(
        "DELETE FROM open_calls WHERE account_id = ? AND session_id = ?", keys
    ).rowcount
    conn.executemany(
        "INSERT INTO call_details (call_id, json, xml, words_id)"
        " SELECT id, ?, ?, ? FROM calls WHERE account_id = ? AND session_id = ?",
        [
            (c.detail_json, c.detail_xml, place, account_id, c.session_id)
            for c, place in zip(calls, places, strict=True)
            if c.detail_json is not None
        ],
    )
    conn.executemany(
        "INSERT INTO call_words (rowid, words, call_id)"
        " SELECT ?, ?, id FROM calls WHERE account_id = ? AND session_id = ?",
        [
            (place, document, account_id, c.session_id)
            for c, document, place in zip(calls, batch.documents, places, strict=True)
            if document is not None and place is not None
        ],
    )
    take_places(conn, PLACES, account_id, completion_places(calls, existing))
    counted = [facts for facts in (row_facts(*row[1:]) for row in old) if facts is not None]
    for facts in counted:  # a counted call replaced: its counts are taken away
        batch.changes.add(account_id, facts, -1)
    reports = report_sql.stored_rows(batch.changes, same) if counted else batch.reports
    report_sql.write_rows(conn, reports)
    return max(replaced, 0)
