"""The Store methods of ivrlog's own read API that are the same on SQLite and PostgreSQL
(search_calls, changes, erase, audit_key), over the adapter's connections and the SQL of
search_sql.py; each adapter adds what only it does (its locks, deleting a call's detail,
scrubbing after an erasure)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Final, Literal

import orjson

from ivrlog.core.model import (
    CallFilter,
    CallKey,
    ChangeRow,
    Erasure,
    RecordChunk,
    SummaryRow,
)
from ivrlog.core.reports import CallFacts, Piece, ReportRow, deltas, row_facts
from ivrlog.core.summary import words
from ivrlog.storage import report_sql, search_sql
from ivrlog.storage.migration_7 import WORDS_SLOT
from ivrlog.storage.places import Place, PlaceStatements, take_places
from ivrlog.storage.records import POSTGRES_RECORDS, SQLITE_RECORDS
from ivrlog.storage.search_sql import Dialect
from ivrlog.storage.sql import postgres_style

# an erasure without `before`: every start is before this
_NO_BEFORE: Final = 2**62


class EraseStatements:
    """The statements of an erasure, for one backend's style of parameters."""

    def __init__(self, named: Callable[[str], str]) -> None:
        by_session = "account_id = :account AND session_id = :session"
        by_number = (
            "account_id = :account AND (src = :number OR dest = :number) AND start < :before"
        )
        self.calls = {
            key: named(f"SELECT id, session_id, start, dest FROM calls WHERE {where}")
            for key, where in (("session", by_session), ("number", by_number))
        }
        self.open_calls = {
            key: named(f"SELECT id, session_id, start, dest FROM open_calls WHERE {where}")
            for key, where in (("session", by_session), ("number", by_number))
        }
        self.delete_open = named("DELETE FROM open_calls WHERE id = :id")
        self.delete_keys = named(
            "DELETE FROM idempotency_keys WHERE account_id = :account AND session_id = :session"
        )
        # the hourly counts by number (migration 3) of the erased calls' numbers: an hour
        # that counts none of its calls any more goes, and the number with it
        self.drop_hours = named(
            "DELETE FROM number_hours WHERE account_id = :account AND dest = :dest AND hour IN"
            " (SELECT hour FROM number_hours WHERE account_id = :account AND dest = :dest"
            " GROUP BY hour HAVING sum(calls) = 0)"
        )
        self.audit = named(
            "INSERT INTO erasures (account_id, erased_at, erased, selector_hash)"
            " VALUES (:account, :now, :erased, :hash)"
        )
        self.put_key = named(
            "INSERT INTO audit_key (id, key) VALUES (1, :key) ON CONFLICT (id) DO NOTHING"
        )
        self.key = "SELECT key FROM audit_key WHERE id = 1"


# a call found by an erasure: (id, session_id, start, dest)
Found = tuple[int, str, int, str]
# the most index rows (SQLite) or calls (PostgreSQL) one chunk of a word search reads
_MAX_CHUNK: Final = 10_000
# the index rows (SQLite) or calls (PostgreSQL) a word search may read for each call of
# its page before it asks another index for the rest (a page of 100: 2,000, some 3 ms on
# SQLite, 10 ms on PostgreSQL); tests lower it
WALK_BUDGET = 20


def _newest(row: SummaryRow) -> tuple[int, str]:
    return row[4], row[0]


def _newest_with_words(
    conn: Any, chunk_sql: str, rest_sql: str, params: dict[str, Any], limit: int, *, alone: bool
) -> list[SummaryRow] | None:
    """The first `limit` calls, newest first, of a word search on an index read newest
    first (Dialect.ordered_words, search_sql._newest_words_sql): chunks of the index's
    places, each below the last, until `limit` calls pass every filter; then the rest of
    the last one's second (calls of one second are ordered by session id here, not by
    place). The next chunk is sized by the share of rows that passed so far. When that
    share says the page would need more than WALK_BUDGET index rows a call of the page
    (filters without a mark that take few of the word's calls: a number's prefix, a
    duration), the calls' own indexes find the rest, the places below the last one read
    tested as a set (`rest_sql`). `alone`: None when one statement does not answer."""
    slot = WORDS_SLOT
    low, high = params["words_from"], params["words_to"]
    chunk = min(limit + 1, _MAX_CHUNK)
    found: list[SummaryRow] = []
    read = 0
    while low < high:
        if alone and read:
            return None
        chunked = {**params, "words_from": low, "words_to": high, "chunk": chunk}
        rows = conn.execute(chunk_sql, chunked).fetchall()
        found += [tuple(row[1:]) for row in rows if row[1] is not None]
        if len(rows) < chunk:
            break
        high = min(row[0] for row in rows)
        read += len(rows)
        if len(found) >= limit:
            found.sort(key=_newest, reverse=True)
            low = max(low, found[limit - 1][4] * slot)
            continue
        # the index rows the share that passed so far says the page still needs
        needed = (limit - len(found)) * read / max(len(found), 1)
        if read + needed > WALK_BUDGET * limit:
            if alone:
                return None
            rest = {**params, "words_from": low, "words_to": high, "limit": limit}
            found += [tuple(row) for row in conn.execute(rest_sql, rest).fetchall()]
            break
        chunk = min(int(needed * 1.25) + 1, _MAX_CHUNK)  # and a quarter more
    found.sort(key=_newest, reverse=True)
    return found[:limit]


def _walked_with_words(
    conn: Any, walk: str, rest: str, params: dict[str, Any], limit: int, *, alone: bool
) -> list[SummaryRow] | None:
    """The first `limit` calls, newest first, of a word search whose index returns its
    calls in no order (PostgreSQL's GIN: a page would sort every match): the newest calls
    that pass the other filters, a chunk at a time (search_sql._walk_words_sql), each
    one's words tested, until `limit` match; after the first chunk (twice the page: a word
    in half the calls answers in one statement), each is sized by the share of calls
    that matched so far. When that share says the page would need more than WALK_BUDGET
    calls a call of the page (a rare word), the word index finds the rest, below the last
    call walked. `alone`: None when one statement does not answer."""
    found: list[SummaryRow] = []
    chunk = min(2 * limit + 1, _MAX_CHUNK)
    key = (params["after_start"], params["after_session"])
    walked = 0
    while True:
        rows = conn.execute(walk, {**_below(params, key), "chunk": chunk}).fetchall()
        found += [tuple(row[1:]) for row in rows if row[0]]
        if len(found) >= limit or len(rows) < chunk:
            return found[:limit]
        if alone:
            return None
        key = (rows[-1][5], rows[-1][1])  # the last call walked: (start, session id)
        walked += len(rows)
        # the calls the share that matched so far says the page still needs
        needed = (limit - len(found)) * walked / max(len(found), 1)
        if walked + needed > WALK_BUDGET * limit:
            break  # a rare word: its index finds the rest sooner
        chunk = min(int(needed * 1.25) + 1, _MAX_CHUNK)  # and a quarter more
    rows = conn.execute(rest, {**_below(params, key), "limit": limit - len(found)}).fetchall()
    return found + [tuple(row) for row in rows]


def _below(params: dict[str, Any], key: tuple[int, str]) -> dict[str, Any]:
    """The parameters with the cursor at `key` (and the window ending there)."""
    after = {"after_start": key[0], "after_session": key[1], "end": min(params["end"], key[0] + 1)}
    return {**params, **after}


class SearchStore:
    """search_calls, changes, erase and audit_key, on the adapter's connections."""

    _dialect: ClassVar[Dialect]
    _places: ClassVar[PlaceStatements]
    _erase_sql: ClassVar[EraseStatements]

    def _read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    @property
    def _appended_reports(self) -> bool:
        """Whether writes append the reports' rows, to be folded (PostgreSQL: report_sql)."""
        return self._dialect.name != "sqlite"

    def _snapshot(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _matches_none(self, *values: Any) -> bool:
        raise NotImplementedError

    def search_calls(
        self, query: CallFilter, after: CallKey | None, limit: int, *, detail: bool = False
    ) -> list[SummaryRow]:
        # numbers, types and session ids hold no NUL (ingestion refuses it there); module
        # names may, and `reached` searches their JSON text, where NUL is escaped
        texts = [query.type, query.session_id]
        texts += [m.value for m in (query.src, query.dest) if m is not None]
        if self._matches_none(*texts) or any(words(w) != [w] for w in query.words):
            return []  # no stored row holds it; a search word is an index word or none
        app, ended_in = self._stored_name(query.app), self._stored_name(query.ended_in)
        query = dataclasses.replace(query, app=app, ended_in=ended_in)
        if limit <= 0:
            return []
        if not query.words:
            statement, params = search_sql.search(self._dialect, query, after, limit, detail)
            with self._read() as conn:
                return [tuple(row) for row in conn.execute(statement, params).fetchall()]
        chunk, rest, params = search_sql.walk_search(self._dialect, query, after, limit, detail)
        runs = _newest_with_words if self._dialect.ordered_words else _walked_with_words
        with self._read() as conn:  # most pages take one statement: no transaction
            found = runs(conn, chunk, rest, params, limit, alone=True)
        if found is None:
            # again in one snapshot: read in several statements, a call written
            # meanwhile could be passed over or read twice
            with self._snapshot() as conn:
                found = runs(conn, chunk, rest, params, limit, alone=False)
        return found or []

    def window_records(
        self,
        account_id: int,
        start: int,
        end: int,
        detail_cutoff: int,
        after: CallKey | None,
        limit: int,
    ) -> RecordChunk:
        if limit <= 0:
            return RecordChunk(b"", 0, None)
        after_start, after_session = (end, "") if after is None else after
        params = {
            "account": account_id,
            "start": start,
            "end": min(end, after_start + 1),
            "cutoff": detail_cutoff,
            "after_start": after_start,
            "after_session": after_session,
            "limit": limit,
        }
        with self._read() as conn:
            rows = self._records(conn, params)
        last = CallKey(rows[-1][0], rows[-1][1]) if rows else None
        return RecordChunk(b"".join([row[2] for row in rows]), len(rows), last)

    def _records(self, conn: Any, params: dict[str, Any]) -> list[tuple[int, str, bytes]]:
        """window_records' statement (storage/records.py) on the read connection."""
        if self._dialect.name == "sqlite":
            rows: list[tuple[int, str, bytes]] = conn.execute(SQLITE_RECORDS, params).fetchall()
        else:  # in binary: the records' bytes as the server keeps them, never decoded
            rows = conn.execute(POSTGRES_RECORDS, params, binary=True).fetchall()
        return rows

    def changes(
        self, account_id: int, after: int, limit: int, detail_cutoff: int
    ) -> list[ChangeRow]:
        params = {"account": account_id, "after": after, "limit": limit, "cutoff": detail_cutoff}
        with self._read() as conn:
            rows = conn.execute(search_sql.changes_sql(self._dialect), params).fetchall()
        return [
            ChangeRow(row[0], row[1], row[2], tuple(row[4:]) if row[3] else None) for row in rows
        ]

    def _named(self, query: str) -> str:
        """A query with `:name` parameters in the driver's style."""
        return query if self._dialect.name == "sqlite" else postgres_style(query)

    def _facts(self, conn: Any, calls: Sequence[Found]) -> list[CallFacts | None]:
        """What the reports counted of these calls (read before they are deleted)."""
        if not calls:
            return []
        if self._dialect.name == "sqlite":
            where = "id IN (SELECT value FROM json_each(:ids))"
            ids: Any = orjson.dumps([c[0] for c in calls]).decode()
        else:
            where = "id = ANY(:ids) AND start = ANY(:starts)"
            ids = [c[0] for c in calls]
        query = f'SELECT app, type, start, "end", steps FROM calls WHERE {where}'
        params = {"ids": ids, "starts": sorted({c[2] for c in calls})}
        return [row_facts(*row) for row in conn.execute(self._named(query), params)]

    def report_rows(
        self,
        account_id: int,
        table: Literal["volume", "durations", "modules"],
        app: str | None,
        wanted: Sequence[Piece],
        *,
        by: int | None,
    ) -> list[ReportRow]:
        if self._matches_none(app):
            return []
        with self._read() as conn:
            return report_sql.read(
                conn,
                self._named,
                account_id,
                table,
                self._stored_name(app),
                wanted,
                by,
                appended=self._appended_reports,
            )

    def report_apps(self, account_id: int, wanted: Sequence[Piece]) -> list[str]:
        with self._read() as conn:
            return report_sql.apps(
                conn, self._named, account_id, wanted, appended=self._appended_reports
            )

    def audit_key(self) -> bytes:
        with self._write() as conn:
            conn.execute(self._erase_sql.put_key, {"key": secrets.token_bytes(32)})
            (key,) = conn.execute(self._erase_sql.key).fetchone()
        return bytes(key)

    def _stored_name(self, value: str | None) -> str | None:
        """A name as the backend keeps it in a column (PostgreSQL: search_sql.without_nul)."""
        return value

    # erasure
    def _lock_sessions(self, conn: Any, account_id: int, sessions: list[str]) -> None:
        """Take the locks of these calls for the transaction (PostgreSQL)."""

    def _delete_calls(self, conn: Any, calls: Sequence[Found]) -> None:
        """Delete completed calls with their detail and search words."""
        raise NotImplementedError

    def _erased_hours(self, conn: Any, account_id: int, calls: Sequence[Found]) -> None:
        """What the adapter keeps of the hours of erased calls (PostgreSQL: their export
        blocks), after the account's change places (the order of every writer's locks)."""

    def _erased(self) -> None:
        """Make what an erasure deleted unreadable in the database's files."""

    def _find(
        self, conn: Any, erasure: Erasure, params: dict[str, Any]
    ) -> tuple[list[Found], list[Found]]:
        key = "session" if erasure.session_id is not None else "number"
        calls = [tuple(r) for r in conn.execute(self._erase_sql.calls[key], params)]
        live = [tuple(r) for r in conn.execute(self._erase_sql.open_calls[key], params)]
        return calls, live

    def erase(self, account_id: int, erasure: Erasure, selector_hash: str, now: int) -> int:
        params: dict[str, Any] = {
            "account": account_id,
            "session": erasure.session_id,
            "number": erasure.number,
            "before": _NO_BEFORE if erasure.before is None else erasure.before,
        }
        if self._matches_none(erasure.session_id, erasure.number):
            return 0
        with self._write() as conn:
            calls, live = self._find(conn, erasure, params)
            sessions = sorted({c[1] for c in calls} | {o[1] for o in live})
            if not sessions:
                return 0
            self._lock_sessions(conn, account_id, sessions)
            # again, under the locks: a call completed or replaced meanwhile is as it is now
            calls, live = self._find(conn, erasure, params)
            calls = [c for c in calls if c[1] in sessions]
            live = [o for o in live if o[1] in sessions]
            count = len(calls) + len(live)
            if not count:
                return 0
            removed = self._facts(conn, calls)
            self._delete_calls(conn, calls)
            sql = self._erase_sql
            conn.cursor().executemany(sql.delete_open, [{"id": o[0]} for o in live])
            erased = {c[1] for c in calls} | {o[1] for o in live}
            conn.cursor().executemany(
                sql.delete_keys, [{"account": account_id, "session": s} for s in sorted(erased)]
            )
            conn.cursor().executemany(
                sql.drop_hours,
                [{"account": account_id, "dest": d} for d in sorted({c[3] for c in calls})],
            )
            places: list[Place] = [
                (c[1], "erased", c[2]) for c in sorted(calls, key=lambda c: (c[2], c[1]))
            ]
            take_places(conn, self._places, account_id, places)
            self._erased_hours(conn, account_id, calls)
            # the reports' rows last, as SQLite's writers lock them (storage/report_sql.py)
            removals = deltas(account_id, removed, [])
            report_sql.write(conn, removals, self._stored_name, appended=self._appended_reports)
            audit = {"account": account_id, "now": now, "erased": count, "hash": selector_hash}
            conn.execute(sql.audit, audit)
        self._erased()
        return count
