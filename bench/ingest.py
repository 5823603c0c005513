"""B3: entries a second through POST /ingest/v1/calls, against raw writes of the same rows
(executemany on SQLite, COPY on PostgreSQL)."""

from __future__ import annotations

import http.client
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import psycopg
from tests.pg import free_port

from bench.config import OUT
from bench.dataset import Shape, batches
from bench.processes import ivrlog_server
from bench.results import record
from ivrlog.core.accounts import add_account
from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import StoredCall
from ivrlog.storage import open_store, records, sqlite_words
from ivrlog.storage.migration_7 import WORDS_SLOT
from ivrlog.storage.search_sql import (
    SUMMARY_COLUMNS,
    indexed_words,
    same,
    summary_values,
    without_nul,
)
from ivrlog.storage.sql import call_values


def _ingest_batches(now: int, calls: int = 5000, size: int = 100) -> list[list[dict[str, Any]]]:
    shape = Shape(calls, accounts=1, span_days=2, detail_days=2, seed=7)
    return [batch for _, batch in batches(shape, now, size)]


def _post_all(port: int, token: str, bodies: list[bytes], clients: int = 2) -> None:
    """POST every body, `clients` at once; the first refusal is raised. Each body has a
    connection of its own: the worker processes of a server share its socket, and each
    connection goes to whichever accepts it first, so that a few long-lived connections
    could leave a worker with most of the work (and one with none)."""

    def post(part: list[bytes]) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for body in part:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                conn.request("POST", "/ingest/v1/calls", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            finally:
                conn.close()
            if response.status != 200:
                raise RuntimeError(f"ingest: {response.status} {answer[:300]!r}")

    with ThreadPoolExecutor(clients) as pool:
        for done in [pool.submit(post, bodies[i::clients]) for i in range(clients)]:
            done.result()


def b3_ingest(backend: str, new_database: Callable[[str], str]) -> None:
    """Entries a second through POST /ingest/v1/calls, against raw writes of the same rows:
    into a server of one worker process, then (on a machine of several cores) of a worker a
    core, each into a database of its own, from two client threads a core; both against
    one floor."""
    now = int(time.time())
    groups = _ingest_batches(now)
    entries = sum(len(call["detail"]) for group in groups for call in group)
    bodies = [orjson.dumps(group) for group in groups]
    cores = os.cpu_count() or 1
    rates = {}
    url = ""
    for workers in sorted({1, cores}):
        url = new_database(f"ingest-{workers}")
        store = open_store(url)
        store.migrate()
        token = add_account(store, "ingest@ivrlog.example", now).ingest_token
        store.close()
        port = free_port()
        with ivrlog_server(url, port, workers):
            began = time.perf_counter()
            _post_all(port, token, bodies, clients=2 * cores)
            rates[workers] = entries / (time.perf_counter() - began)
    rows = [[prepare_call(call) for call in group] for group in groups]
    floor = entries / (_sqlite_floor(rows) if backend == "sqlite" else _copy_floor(url, rows))
    name = "executemany" if backend == "sqlite" else "COPY"
    for workers, ours in rates.items():
        record(
            "B3 ingest" if workers == 1 else f"B3 ingest, {workers} workers",
            backend,
            f"{ours:,.0f} entries/s",
            f"{name} {floor:,.0f} entries/s",
            ours / floor,
            ">= 0.5",
        )


def _sqlite_floor(groups: list[list[Any]]) -> float:
    """Seconds to write the rows with executemany, a transaction a batch, in a fresh
    database of ivrlog's schema with the store's durability settings. The rows are made
    before the clock starts: the floor is the storage's alone."""
    rows = _sqlite_rows(groups)
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        path = str(Path(folder) / "floor.db")
        store = open_store(path)
        store.migrate()
        store.close()
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(
            "INSERT INTO accounts (id, email, active, developer_key_hash, ingest_token_hash,"
            " created_at) VALUES (1, 'a@b.example', 1, 'x', 'y', 0)"
        )
        began = time.perf_counter()
        for calls, details, words, kept, changes, last in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                f"INSERT INTO calls ({_CALL_COLUMNS}, words_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                calls,
            )
            conn.executemany(
                "INSERT INTO call_details (call_id, json, xml, words_id) VALUES (?, ?, ?, ?)",
                details,
            )
            conn.executemany(
                "INSERT INTO call_words (rowid, words, call_id) VALUES (?, ?, ?)", words
            )
            conn.executemany(
                "INSERT INTO call_records (account_id, start, session_id, entry_count, record)"
                " VALUES (1, ?, ?, ?, ?)",
                kept,
            )
            conn.executemany(
                "INSERT INTO changes (account_id, seq, session_id, change, start)"
                " VALUES (1, ?, ?, 'completed', ?)",
                changes,
            )
            conn.execute("UPDATE accounts SET change_seq = ? WHERE id = 1", (last,))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - began
        conn.close()
        return elapsed


_Batch = tuple[list[Any], list[Any], list[Any], list[Any], list[Any], int]


def _sqlite_rows(groups: list[list[Any]]) -> list[_Batch]:
    """Each batch's rows as the SQLite store writes them into an empty database: calls,
    details, search index rows (a place each, the words and marks:
    storage/sqlite_words.py), the export's records (storage/records.py), places in the
    change sequence, and the last place."""
    made: list[_Batch] = []
    next_id = 1
    taken: dict[int, int] = {}  # the places given in each second of start so far
    for group in groups:
        ids = range(next_id, next_id + len(group))
        next_id += len(group)
        calls: list[Any] = []
        details: list[Any] = []
        words: list[Any] = []
        for i, c in zip(ids, group, strict=True):
            text = indexed_words(c)
            place = None
            if text:
                place = c.start * WORDS_SLOT + taken.get(c.start, 0)
                taken[c.start] = taken.get(c.start, 0) + 1
                words.append(
                    (place, sqlite_words.call_document(1, c, text, summary_values(c.summary)), i)
                )
            calls.append((*_call_row(i, 1, c), place))
            details.append((i, c.detail_json, c.detail_xml, place))
        kept = [(c.start, c.session_id, c.entry_count, _stem(c)) for c in group]
        changes = [(i, c.session_id, c.start) for i, c in zip(ids, group, strict=True)]
        made.append((calls, details, words, kept, changes, next_id - 1))
    return made


def _copy_floor(url: str, groups: list[list[Any]]) -> float:
    """Seconds to COPY the rows, a transaction a batch, into the tables ivrlog just wrote
    (emptied first: the partitions stay)."""
    stems = [[records.split(_stem(c, without_nul)) for c in group] for group in groups]
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE calls, call_details, changes")
        account = conn.execute("SELECT id FROM accounts").fetchone()
        assert account is not None
        conn.commit()
        next_id = 10_000_000
        began = time.perf_counter()
        for group, kept in zip(groups, stems, strict=True):
            ids = range(next_id, next_id + len(group))
            next_id += len(group)
            with conn.cursor() as cur:
                columns = f"{_CALL_COLUMNS}, record, long_record"
                with cur.copy(f"COPY calls ({columns}) FROM STDIN") as copy:
                    for i, c, stem in zip(ids, group, kept, strict=True):
                        copy.write_row((*_call_row(i, account[0], c), *stem))
                with cur.copy(
                    "COPY call_details (call_id, start, json, xml, words) FROM STDIN"
                ) as copy:
                    for i, c in zip(ids, group, strict=True):
                        # tsvector's text form: the words, space-separated (letters and
                        # digits only: nothing to quote)
                        copy.write_row((i, c.start, c.detail_json, c.detail_xml, indexed_words(c)))
                with cur.copy(
                    "COPY changes (account_id, seq, session_id, change, start) FROM STDIN"
                ) as copy:
                    for i, c in zip(ids, group, strict=True):
                        copy.write_row((account[0], i, c.session_id, "completed", c.start))
                cur.execute(
                    "UPDATE accounts SET change_seq = %s WHERE id = %s", (next_id - 1, account[0])
                )
            conn.commit()
        return time.perf_counter() - began


_CALL_COLUMNS = (
    'id, account_id, session_id, src, dest, type, start, "end", private, entry_count, '
    + SUMMARY_COLUMNS
)


def _call_row(call_id: int, account_id: int, call: StoredCall) -> tuple[Any, ...]:
    """A call's row of `calls` as the stores write it (storage/sql.py, search_sql.py)."""
    return (call_id, *call_values(account_id, call), *summary_values(call.summary))


def _stem(call: StoredCall, name: Callable[[str | None], str | None] = same) -> str:
    """The call's record stem as the store keeps it (storage/records.py)."""
    return records.stem(call, summary_values(call.summary, name))
