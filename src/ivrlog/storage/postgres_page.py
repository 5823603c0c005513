"""A page of the compatible API read from PostgreSQL (PostgresStore.open_page): one
REPEATABLE READ snapshot streamed from a server-side cursor, its connection returned to
the pool when it closes."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ivrlog.core.model import CallQuery, DetailFormat
from ivrlog.storage.sql import POSTGRES, page_params, window_total
from ivrlog.storage.sql_store import SqlPage

log = logging.getLogger("ivrlog.storage")
_BATCH_ROWS = 200


def has_nul(*values: Any) -> bool:
    """Whether a text holds NUL: PostgreSQL text cannot, so no stored value matches it
    (ingestion refuses NUL where it would be stored as text)."""
    return any(isinstance(v, str) and "\x00" in v for v in values)


class Page(SqlPage):
    """One page read in a REPEATABLE READ snapshot, streamed from a server-side cursor."""

    _batch_rows = _BATCH_ROWS

    def __init__(
        self,
        pool: ConnectionPool[psycopg.Connection[Any]],
        conn: psycopg.Connection[Any],
        query: CallQuery,
        detail: DetailFormat | None,
    ) -> None:
        self._pool = pool
        self._conn: psycopg.Connection[Any] | None = conn
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        where = "c.account_id = %(account)s AND c.start >= %(start)s AND c.start < %(end)s"
        if query.number is not None:
            # no stored number holds NUL (PostgreSQL text cannot): such a number matches none
            where += " AND false" if has_nul(query.number) else " AND c.dest = %(number)s"
        params = page_params(query)
        no_match = query.number is not None and has_nul(query.number)
        self.total = 0 if no_match else window_total(conn, params, POSTGRES)
        fragment = f"CASE WHEN c.start >= %(cutoff)s THEN d.{detail} END" if detail else "NULL"
        self._cursor = conn.cursor(name="ivrlog_page")
        self._cursor.execute(
            f"""SELECT c.dest, c.src, c.start, c."end", c.session_id, c.type,
                       (d.call_id IS NOT NULL AND c.start >= %(cutoff)s)::int, {fragment}
                FROM calls c LEFT JOIN call_details d ON d.call_id = c.id AND d.start = c.start
                WHERE {where}
                ORDER BY c.start DESC, c.session_id DESC LIMIT %(limit)s OFFSET %(offset)s""",
            params,
        )

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                self._cursor.close()
                conn.execute("ROLLBACK")
            except psycopg.Error:  # a broken connection: the pool replaces it
                log.debug("closing a page failed", exc_info=True)
            finally:
                self._pool.putconn(conn)
