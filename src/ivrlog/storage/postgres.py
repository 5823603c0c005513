"""The PostgreSQL store: a connection pool, calls partitioned by time, COPY to write,
server-side cursors to read.

Calls are range-partitioned by month of `start` and their detail by day (a whole year
far from now: choose_partition), so that the retention purge drops whole partitions (a
catalogue change) instead of deleting rows. Partitions are made as rows arrive, never
inside an open write transaction.

There is no unique index on (account_id, session_id) across partitions (PostgreSQL
requires the partition key in every unique index), so every write that creates or
replaces a call first takes a transaction-scoped advisory lock on that key's stripe:
writers of the same call run one after the other, and a call exists at most once. Writes
take the locks in key order and the purge only tries them, so no two writers deadlock.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final, Literal, TypeVar

import psycopg
from psycopg import sql
from psycopg.errors import CheckViolation, LockNotAvailable, ObjectInUse, UniqueViolation
from psycopg_pool import ConnectionPool

from ivrlog.core.errors import AccountError
from ivrlog.core.model import (
    Account,
    CallQuery,
    CallRow,
    DetailFormat,
    OpenCall,
    RedactionPattern,
    SensitiveModule,
    StoredCall,
)
from ivrlog.core.ports import LiveTransaction, StoreOpenError
from ivrlog.storage.migrations import pending
from ivrlog.storage.sql import joined_entries, window_total

log = logging.getLogger("ivrlog.storage")
T = TypeVar("T")
_LIVE_RUNS: Final = 3  # runs of a live transaction that needed a partition first

POOL_SIZE: Final = 20  # connections per server process (a page holds one while it streams)
_BATCH_ROWS = 200
# the hourly counts' tables (migration 3), their key, and the key's match in _fold_counts
_FOLDS = (
    ("account_hours", "account_id, hour", "t.account_id = f.account_id AND t.hour = f.hour"),
    (
        "number_hours",
        "account_id, dest, hour",
        "t.account_id = f.account_id AND t.dest = f.dest AND t.hour = f.hour",
    ),
)
_DAY = 86_400
# advisory locks in the (class, key) space, apart from the per-call bigint keys
_LOCK_CLASS = 0x1F1
_LOCK_MIGRATE = 1
_LOCK_PARTITIONS = 2
_LOCK_PURGE = 3
_ACCOUNT_COLUMNS = "id, email, active, developer_key_hash, ingest_token_hash, created_at"
_OPEN_COLUMNS = (
    "id, session_id, src, dest, type, start, start_given, private, entry_count, last_timestamp"
)
_PATTERN_COLUMNS = "id, account_id, label, pattern, created_at"
_SENSITIVE_COLUMNS = "id, account_id, field, name, created_at"
_CALL_TYPES = ("int8", "int8", "text", "text", "text", "text", "int8", "int8", "bool", "int4")
_PARTITION_NAME = re.compile(r"^(calls|call_details)_(y?)(\d{4})(\d{2})?(\d{2})?$")
# A call's lock is one of _STRIPES keys (its hash), so that a batch of 10,000 calls takes
# at most _STRIPES locks of PostgreSQL's shared lock table, in key order.
_STRIPES = 256
_STALE_PER_TRANSACTION = 16
_LOCK_CALLS = (
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT"
    f" abs(hashtextextended(s, %s) %% {_STRIPES}) AS k FROM unnest(%s::text[]) AS s ORDER BY 1) ks"
)
# Partitions are fine-grained (a month of calls, a day of detail) for starts from `back`
# seconds ago to `forward` seconds ahead. Outside that window (an import of old data, a
# start far ahead) one partition holds a whole year, or a month where a year would overlap
# partitions made before: so old data costs few tables, and the purge still drops them.
_WINDOW: Final[dict[str, tuple[int, int]]] = {
    "calls": (3 * 366 * _DAY, 62 * _DAY),
    "call_details": (62 * _DAY, 3 * _DAY),
}
Level = Literal["year", "month", "day"]
_LEVELS: Final[dict[str, tuple[Level, ...]]] = {
    "calls": ("year", "month"),
    "call_details": ("year", "month", "day"),
}

Table = Literal["calls", "call_details"]


def _span(level: Level, start: int) -> tuple[str, int, int]:
    """(name suffix, lower bound, upper bound) of the UTC year, month or day of `start`."""
    moment = time.gmtime(start)
    if level == "day":
        lower = start - start % _DAY
        return time.strftime("%Y%m%d", moment), lower, lower + _DAY
    if level == "month":
        lower = calendar.timegm((moment.tm_year, moment.tm_mon, 1, 0, 0, 0))
        days = calendar.monthrange(moment.tm_year, moment.tm_mon)[1]
        return f"{moment.tm_year:04d}{moment.tm_mon:02d}", lower, lower + days * _DAY
    lower = calendar.timegm((moment.tm_year, 1, 1, 0, 0, 0))
    days = 366 if calendar.isleap(moment.tm_year) else 365
    return f"y{moment.tm_year:04d}", lower, lower + days * _DAY


def partition_of(table: Table, start: int) -> tuple[str, int, int]:
    """(name, lower bound, upper bound) of the fine partition for a call's `start`: a
    month for calls, a day for their detail."""
    suffix, lower, upper = _span(_LEVELS[table][-1], start)
    return f"{table}_{suffix}", lower, upper


def choose_partition(
    table: Table, start: int, now: int, existing: Sequence[tuple[int, int]]
) -> tuple[str, int, int]:
    """The partition to make for `start`, which no existing partition covers: the
    coarsest level that overlaps neither an existing partition nor, unless it is the
    finest level, the window around `now`."""
    back, forward = _WINDOW[table]
    levels = _LEVELS[table]
    for level in levels:
        suffix, lower, upper = _span(level, start)
        in_window = now - back < upper and lower < now + forward
        overlaps = any(lo < upper and lower < hi for lo, hi in existing)
        if level == levels[-1] or not (in_window or overlaps):
            return f"{table}_{suffix}", lower, upper
    raise AssertionError("unreachable")  # pragma: no cover


def _create_partition(
    conn: psycopg.Connection[Any], name: str, table: Table, lower: int, upper: int
) -> None:
    """Make one partition, inside the caller's transaction (which holds the partition
    lock): alone, then attached. ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, which
    blocks neither readers nor writers (CREATE ... PARTITION OF takes ACCESS EXCLUSIVE)."""
    ident, parent = sql.Identifier(name), sql.Identifier(table)
    # a table of that name not attached is left over from an interrupted drop: expired
    _drop_table(conn, name, table)
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(ident, parent))
    conn.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            parent, ident, sql.Literal(lower), sql.Literal(upper)
        )
    )


def _bounds(name: str) -> tuple[Table, int, int] | None:
    match = _PARTITION_NAME.match(name)
    if match is None:
        return None
    table, year_mark, year, month, day = match.groups()
    kind: Table = "calls" if table == "calls" else "call_details"
    level: Level = "year" if year_mark else "day" if day else "month"
    if (year_mark and month) or (not year_mark and not month) or level not in _LEVELS[kind]:
        return None
    first = calendar.timegm((int(year), int(month or 1), int(day or 1), 0, 0, 0))
    suffix, lower, upper = _span(level, first)
    return (kind, lower, upper) if name == f"{table}_{suffix}" else None


def _partitions(conn: psycopg.Connection[Any]) -> list[tuple[str, Table, int, int, bool]]:
    # a partition whose detach is pending counts as not attached: rows cannot go to it
    rows = conn.execute(
        "SELECT c.relname, c.relispartition AND NOT coalesce(i.inhdetachpending, false)"
        " FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
        " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
        " AND c.relname ~ '^call(s|_details)_y?[0-9]+$'"
    ).fetchall()
    found = []
    for name, attached in rows:
        bounds = _bounds(name)
        if bounds is not None:
            found.append((name, *bounds, bool(attached)))
    return sorted(found, key=lambda p: (p[2], p[0]))


def _finish_detaches(conn: psycopg.Connection[Any]) -> None:
    """Complete the detach of partitions a purge left half-detached (it was stopped
    between the two phases of DETACH CONCURRENTLY): rows of their range could go nowhere,
    and no partition could be made there. Their content had expired: they are dropped."""
    pending = conn.execute(
        "SELECT p.relname, c.relname FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
        " WHERE i.inhdetachpending AND c.relnamespace = current_schema()::regnamespace"
    ).fetchall()
    for parent, name in pending:
        try:
            _detach(conn, parent, name)
            _drop_table(conn, name, "calls" if parent == "calls" else "call_details")
        except psycopg.Error:  # another process finishes it: it is no longer in the way
            log.info("partition %s: its detach is finished elsewhere", name, exc_info=True)


def _delete_details_of(conn: psycopg.Connection[Any], calls: Sequence[tuple[int, int]]) -> None:
    """Delete the stored detail of these calls, given as (id, start)."""
    if calls:
        conn.execute(
            "DELETE FROM call_details d USING unnest(%s::bigint[], %s::bigint[]) AS o(id, s)"
            " WHERE d.call_id = o.id AND d.start = o.s",
            ([c[0] for c in calls], [c[1] for c in calls]),
        )


def _detach(conn: psycopg.Connection[Any], table: str, name: str) -> None:
    """Detach a partition (CONCURRENTLY, or FINALIZE one whose detach was left half-done);
    nothing when it is not attached."""
    pending = conn.execute(
        "SELECT i.inhdetachpending FROM pg_inherits i"
        " WHERE i.inhrelid = to_regclass(%s) AND i.inhparent = to_regclass(%s)",
        (name, table),
    ).fetchone()
    if pending is not None:
        mode = "FINALIZE" if pending[0] else "CONCURRENTLY"
        conn.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {} " + mode).format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )


def _here(conn: psycopg.Connection[Any], name: str) -> sql.Identifier:
    """A table of the current schema, qualified (a bare name would follow search_path)."""
    row = conn.execute("SELECT current_schema()").fetchone()
    assert row is not None
    return sql.Identifier(row[0], name)


def _drop_table(conn: psycopg.Connection[Any], name: str, table: Table) -> int:
    """Drop a partition that is not attached; how many calls it held (0 for detail). A
    calls partition's calls leave the hourly counts (migration 3) in the same
    transaction: the negative of its own counts, hour by hour, which the purge folds
    away later."""
    here = _here(conn, name)
    held = 0
    with conn.transaction():
        if table == "calls" and conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (name,)
        ).fetchone() == (True,):
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(here))
            row = conn.execute(
                sql.SQL(
                    "WITH gone AS (INSERT INTO account_hours"
                    " SELECT account_id, start / 3600, -count(*) FROM {} GROUP BY 1, 2"
                    " RETURNING calls) SELECT coalesce(-sum(calls), 0)::bigint FROM gone"
                ).format(here)
            ).fetchone()
            held = int(row[0]) if row else 0
            conn.execute(
                sql.SQL(
                    "INSERT INTO number_hours"
                    " SELECT account_id, dest, start / 3600, -count(*) FROM {} GROUP BY 1, 2, 3"
                ).format(here)
            )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(here))
    return held


def _nul(*values: Any) -> bool:
    """Whether a text holds NUL: PostgreSQL text cannot, so no stored value matches it
    (ingestion refuses NUL where it would be stored as text)."""
    return any(isinstance(v, str) and "\x00" in v for v in values)


def _account(row: tuple[Any, ...] | None) -> Account | None:
    if row is None:
        return None
    return Account(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


def _open_call(row: Sequence[Any]) -> OpenCall:
    return OpenCall(
        row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), bool(row[7]), row[8], row[9]
    )


class _Page:
    """One page read in a REPEATABLE READ snapshot, streamed from a server-side cursor."""

    def __init__(
        self,
        store: PostgresStore,
        conn: psycopg.Connection[Any],
        query: CallQuery,
        detail: DetailFormat | None,
    ) -> None:
        self._store = store
        self._conn: psycopg.Connection[Any] | None = conn
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        where = "c.account_id = %(account)s AND c.start >= %(start)s AND c.start < %(end)s"
        if query.number is not None:
            # no stored number holds NUL (PostgreSQL text cannot): such a number matches none
            where += " AND false" if _nul(query.number) else " AND c.dest = %(number)s"
        params = {
            "account": query.account_id,
            "start": query.start,
            "end": query.end,
            "number": query.number,
            "cutoff": query.detail_cutoff,
            "limit": query.limit,
            "offset": query.offset,
        }
        no_match = query.number is not None and _nul(query.number)
        self.total = 0 if no_match else window_total(conn, params, "%({})s")
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

    def batches(self) -> Iterator[Sequence[CallRow]]:
        try:
            while rows := self._cursor.fetchmany(_BATCH_ROWS):
                yield rows
        finally:
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                self._cursor.close()
                conn.execute("ROLLBACK")
            except psycopg.Error:  # a broken connection: the pool replaces it
                log.debug("closing a page failed", exc_info=True)
            finally:
                self._store._pool.putconn(conn)


class RetryTransaction(Exception):
    """Raised inside a live transaction when a partition must be made outside any
    transaction first: run_live lets the transaction roll back, calls `prepare()`, and
    runs it again."""

    def __init__(self, prepare: Callable[[], None]) -> None:
        super().__init__("the transaction must run again once the partition is made")
        self.prepare = prepare


class _Live:
    """A LiveTransaction on one pooled connection, inside one transaction."""

    def __init__(self, store: PostgresStore, conn: psycopg.Connection[Any]) -> None:
        self._store = store
        self._conn = conn

    def open_call(self, account_id: int, session_id: str) -> OpenCall | None:
        # the call's lock first: a concurrent update of the same call waits here
        self._conn.execute(_LOCK_CALLS, (account_id, [session_id]))
        row = self._conn.execute(
            f"SELECT {_OPEN_COLUMNS} FROM open_calls WHERE account_id = %s AND session_id = %s"
            " FOR UPDATE",
            (account_id, session_id),
        ).fetchone()
        return None if row is None else _open_call(row)

    def is_completed(self, account_id: int, session_id: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM calls WHERE account_id = %s AND session_id = %s LIMIT 1",
            (account_id, session_id),
        ).fetchone()
        return row is not None

    def save_open(self, account_id: int, call: OpenCall, touched_at: int | None) -> OpenCall:
        values = (
            call.src,
            call.dest,
            call.type,
            call.start,
            call.start_given,
            call.private,
            call.entry_count,
            call.last_timestamp,
            touched_at,
        )
        if call.id:
            self._conn.execute(
                "UPDATE open_calls SET src = %s, dest = %s, type = %s, start = %s,"
                " start_given = %s, private = %s, entry_count = %s, last_timestamp = %s,"
                " touched_at = coalesce(%s, touched_at) WHERE id = %s",
                (*values, call.id),
            )
            return call
        row = self._conn.execute(
            "INSERT INTO open_calls (src, dest, type, start, start_given, private, entry_count,"
            " last_timestamp, touched_at, account_id, session_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (*values, account_id, call.session_id),
        ).fetchone()
        assert row is not None
        return dataclasses.replace(call, id=row[0])

    def add_entries(
        self, call_id: int, first_seq: int, entries: Sequence[tuple[int, str, str]]
    ) -> None:
        with self._conn.cursor().copy(
            "COPY open_entries (call_id, timestamp, seq, json, xml) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "int8", "int4", "text", "text"])
            for seq, (timestamp, json, xml) in enumerate(entries, start=first_seq):
                copy.write_row((call_id, timestamp, seq, json, xml))

    def drop_entries(self, call_id: int) -> None:
        self._conn.execute("DELETE FROM open_entries WHERE call_id = %s", (call_id,))

    def entries(self, call_id: int) -> list[tuple[str, str]]:
        return self._conn.execute(
            "SELECT json, xml FROM open_entries WHERE call_id = %s ORDER BY timestamp, seq",
            (call_id,),
        ).fetchall()

    def finish(self, account_id: int, call_id: int, call: StoredCall) -> None:
        # No partition is made while this transaction is open: waiting here for another
        # connection (whose ATTACH may wait for locks this transaction holds) could hang
        # where PostgreSQL sees no deadlock. The caller rolls back, has the partition
        # made, and runs the transaction again.
        store = self._store
        retry = RetryTransaction(lambda: store._ensure_partitions([call], reload=True))
        if not store._covers(call):
            raise retry
        self._conn.execute("DELETE FROM open_calls WHERE id = %s", (call_id,))
        try:
            with self._conn.transaction():  # a savepoint: a stale cache is recoverable
                store._write_calls(self._conn, account_id, [call])
        except CheckViolation as exc:
            if "no partition" not in str(exc):
                raise
            raise retry from None  # another process's purge dropped the partition

    def stale(
        self, touched_before: int, started_before: int, limit: int
    ) -> list[tuple[int, OpenCall]]:
        # only calls whose lock is free now: a call being updated is left for the next run
        rows = self._conn.execute(
            f"SELECT account_id, {_OPEN_COLUMNS} FROM open_calls"
            " WHERE (touched_at < %s OR start < %s)"
            f" AND pg_try_advisory_xact_lock(abs(hashtextextended(session_id, account_id)"
            f" %% {_STRIPES}))"
            " LIMIT %s FOR UPDATE SKIP LOCKED",
            # each call found holds its stripe until commit: few at a time, so that live
            # updates of other calls rarely wait for the sweep
            (touched_before, started_before, min(limit, _STALE_PER_TRANSACTION)),
        ).fetchall()
        return [(row[0], _open_call(row[1:])) for row in rows]

    def kept_answer(self, account_id: int, session_id: str, key: str) -> tuple[str, str] | None:
        # the call's lock first: an identical request racing this one waits here until
        # this transaction ends, then reads the key it kept (READ COMMITTED: each
        # statement sees what was committed before it began)
        self._conn.execute(_LOCK_CALLS, (account_id, [session_id]))
        row = self._conn.execute(
            "SELECT body_sha256, answer FROM idempotency_keys"
            " WHERE account_id = %s AND session_id = %s AND key = %s",
            (account_id, session_id, key),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def keep_answer(
        self, account_id: int, session_id: str, key: str, body_sha256: str, answer: str, now: int
    ) -> None:
        self._conn.execute(
            "INSERT INTO idempotency_keys"
            " (account_id, session_id, key, body_sha256, answer, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (account_id, session_id, key, body_sha256, answer, now),
        )


class PostgresStore:
    """A Store on one PostgreSQL database (any number of ivrlog processes may share it)."""

    inline_reads = False  # a round trip to the server: never on the event loop

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = POOL_SIZE,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._clock = clock
        try:  # one connection first, so that a wrong URL fails at once and says why
            psycopg.connect(url, connect_timeout=max(1, int(timeout))).close()
        except psycopg.Error as exc:
            raise StoreOpenError(
                f"Cannot connect to the PostgreSQL database: {str(exc).strip()}"
            ) from None
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            open=False,
            name="ivrlog",
            timeout=30.0,
        )
        # the attached partitions' ranges, as this process last saw them
        self._ranges: dict[str, list[tuple[int, int]]] = {"calls": [], "call_details": []}
        self._partitions_lock = threading.Lock()
        try:
            self._pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            self._pool.close()
            raise StoreOpenError(f"Cannot connect to the PostgreSQL database: {exc}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    # schema
    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
            if not row or not row[0]:
                return 0
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            assert row is not None
            return int(row[0])

    def migrate(self) -> None:
        with self._transaction() as conn:
            # one migrating process at a time, however many servers start together
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _LOCK_MIGRATE))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version integer PRIMARY KEY, description text NOT NULL)"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            assert row is not None
            for migration in pending(int(row[0])):
                conn.execute(migration.postgresql.encode())
                conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                    (migration.version, migration.description),
                )
        self._ensure_partitions(())  # today's and the days' and month's just ahead

    def ping(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT 1").fetchone()

    def database_bytes(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._pool.close()

    # accounts
    def create_account(
        self, email: str, developer_key_hash: str, ingest_token_hash: str, now: int
    ) -> Account:
        try:
            with self._transaction() as conn:
                row = conn.execute(
                    "INSERT INTO accounts (email, active, developer_key_hash, ingest_token_hash,"
                    f" created_at) VALUES (%s, true, %s, %s, %s) RETURNING {_ACCOUNT_COLUMNS}",
                    (email, developer_key_hash, ingest_token_hash, now),
                ).fetchone()
        except UniqueViolation as exc:
            raise AccountError(f"An account for {email} already exists.") from exc
        account = _account(row)
        assert account is not None
        return account

    def _one_account(self, where: str, params: Sequence[Any]) -> Account | None:
        if _nul(*params):
            return None
        with self._pool.connection() as conn:
            return _account(
                conn.execute(
                    f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE {where}", params
                ).fetchone()
            )

    def account_by_email(self, email: str) -> Account | None:
        return self._one_account("email = %s", (email,))

    def account_by_ingest_hash(self, token_hash: str) -> Account | None:
        return self._one_account("ingest_token_hash = %s", (token_hash,))

    def list_accounts(self) -> list[Account]:
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY email")
            return [a for a in map(_account, rows) if a is not None]

    def set_account_active(self, email: str, active: bool) -> Account | None:
        if _nul(email):
            return None
        with self._transaction() as conn:
            return _account(
                conn.execute(
                    f"UPDATE accounts SET active = %s WHERE email = %s"
                    f" RETURNING {_ACCOUNT_COLUMNS}",
                    (active, email),
                ).fetchone()
            )

    def set_account_credentials(
        self, email: str, developer_key_hash: str, ingest_token_hash: str
    ) -> Account | None:
        if _nul(email):
            return None
        with self._transaction() as conn:
            return _account(
                conn.execute(
                    "UPDATE accounts SET developer_key_hash = %s, ingest_token_hash = %s"
                    f" WHERE email = %s RETURNING {_ACCOUNT_COLUMNS}",
                    (developer_key_hash, ingest_token_hash, email),
                ).fetchone()
            )

    # partitions
    def _covered(self, table: Table, start: int) -> bool:
        return any(lower <= start < upper for lower, upper in self._ranges[table])

    def _covers(self, call: StoredCall) -> bool:
        """Whether this process knows partitions for the call and its detail."""
        return self._covered("calls", call.start) and (
            call.detail_json is None or self._covered("call_details", call.start)
        )

    def _ensure_partitions(self, calls: Iterable[StoredCall], *, reload: bool = False) -> None:
        """Make the partitions these calls go to, and today's and those just ahead, when
        missing (choose_partition). On a connection of its own, outside the pool and the
        caller's transaction: a write never waits for a pooled connection, nor for itself,
        and ATTACH blocks no reader or writer."""
        now = int(self._clock())
        # every partition covers whole UTC days: one check a day, however many calls
        needed: set[tuple[Table, int]] = {("calls", c.start - c.start % _DAY) for c in calls}
        needed |= {
            ("call_details", c.start - c.start % _DAY) for c in calls if c.detail_json is not None
        }
        # today's, and the next ones, ready before the first call needs them
        needed |= {("calls", now), ("calls", now + 32 * _DAY)}
        needed |= {("call_details", now + ahead) for ahead in (0, _DAY, 2 * _DAY)}
        missing = sorted(n for n in needed if reload or not self._covered(*n))
        if not missing:
            return
        with (
            self._partitions_lock,
            psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn,
        ):
            conn.execute("SET lock_timeout = '30s'")  # never wait without end
            _finish_detaches(conn)
            with conn.transaction():
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _LOCK_PARTITIONS)
                )
                ranges: dict[str, list[tuple[int, int]]] = {"calls": [], "call_details": []}
                for _, kind, lower, upper, attached in _partitions(conn):
                    if attached:
                        ranges[kind].append((lower, upper))
                for table, start in missing:
                    if not any(lo <= start < hi for lo, hi in ranges[table]):
                        name, lower, upper = choose_partition(table, start, now, ranges[table])
                        _create_partition(conn, name, table, lower, upper)
                        ranges[table].append((lower, upper))
            self._ranges = ranges  # once committed

    def partitions(self) -> list[tuple[str, Table, int, int, bool]]:
        """Every partition made by ivrlog, as (name, table, lower bound, upper bound,
        attached), oldest first; one not attached is left over from an interrupted drop."""
        with self._pool.connection() as conn:
            return _partitions(conn)

    def _drop_partitions_before(self, cutoff: int, tables: Sequence[Table]) -> int | None:
        """Drop every partition of `tables` wholly before `cutoff`; how many calls (rows
        of the first table) they held, or None when another process is dropping them now.
        Each is detached CONCURRENTLY first, so readers are never blocked; one that
        cannot be detached now stays for the next purge."""
        dropped = 0
        for name, table, _, upper, attached in self.partitions():
            if table not in tables or upper > cutoff:
                continue
            with self._pool.connection() as conn:
                # one purging process at a time drops (the lock is the session's)
                got = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_CLASS, _LOCK_PURGE)
                ).fetchone()
                if not got or not got[0]:
                    return None
                try:
                    if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
                        continue  # another process dropped it since the listing
                    count = table == tables[0] and attached
                    dropped += self._drop(conn, name, table, count=count)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_CLASS, _LOCK_PURGE))
        return dropped

    def _drop(self, conn: psycopg.Connection[Any], name: str, table: Table, *, count: bool) -> int:
        rows = 0
        try:
            _detach(conn, table, name)
            if count and table == "call_details":  # detached: no write reaches it any more
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
                ).fetchone()
                rows = int(row[0]) if row else 0
            held = _drop_table(conn, name, table)  # a calls table is counted as it goes
            if count and table == "calls":
                rows = held
        except (LockNotAvailable, ObjectInUse):
            log.warning("partition %s is in use: it is dropped by a later purge", name)
            return 0
        bounds = _bounds(name)
        if bounds is not None:
            with self._partitions_lock:
                ranges = self._ranges[table]
                ranges[:] = [r for r in ranges if r != bounds[1:]]
        return rows

    # calls
    def _write_calls(
        self, conn: psycopg.Connection[Any], account_id: int, calls: Sequence[StoredCall]
    ) -> None:
        """Replace calls (by session id) inside the caller's transaction."""
        sessions = [c.session_id for c in calls]
        conn.execute(_LOCK_CALLS, (account_id, sessions))
        old = conn.execute(
            "DELETE FROM calls WHERE account_id = %s AND session_id = ANY(%s) RETURNING id, start",
            (account_id, sessions),
        ).fetchall()
        _delete_details_of(conn, old)
        conn.execute(
            "DELETE FROM open_calls WHERE account_id = %s AND session_id = ANY(%s)",
            (account_id, sessions),
        )
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT nextval('calls_id_seq') FROM generate_series(1, %s)", (len(calls),)
            )
        ]
        cursor = conn.cursor()
        with cursor.copy(
            'COPY calls (id, account_id, session_id, src, dest, type, start, "end", private,'
            " entry_count) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(list(_CALL_TYPES))
            for call_id, c in zip(ids, calls, strict=True):
                copy.write_row(
                    (
                        call_id,
                        account_id,
                        c.session_id,
                        c.src,
                        c.dest,
                        c.type,
                        c.start,
                        c.end,
                        c.private,
                        c.entry_count,
                    )
                )
        with cursor.copy(
            "COPY call_details (call_id, start, json, xml) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "int8", "text", "text"])
            for call_id, c in zip(ids, calls, strict=True):
                if c.detail_json is not None:
                    copy.write_row((call_id, c.start, c.detail_json, c.detail_xml))

    def put_calls(self, account_id: int, calls: Sequence[StoredCall]) -> None:
        if not calls:
            return
        for attempt in (1, 2):
            self._ensure_partitions(calls, reload=attempt == 2)
            try:
                with self._transaction() as conn:
                    self._write_calls(conn, account_id, calls)
                return
            except CheckViolation as exc:
                # another process's purge dropped a partition this one believed it had
                if attempt == 2 or "no partition" not in str(exc):
                    raise

    def delete_account_calls(self, account_id: int) -> int:
        with self._transaction() as conn:
            conn.execute("DELETE FROM open_calls WHERE account_id = %s", (account_id,))
            conn.execute("DELETE FROM idempotency_keys WHERE account_id = %s", (account_id,))
            deleted = conn.execute(
                "DELETE FROM calls WHERE account_id = %s RETURNING id, start", (account_id,)
            ).fetchall()
            _delete_details_of(conn, deleted)
            return len(deleted)

    @contextlib.contextmanager
    def live(self) -> Iterator[_Live]:
        with self._transaction() as conn:
            yield _Live(self, conn)

    def run_live(self, body: Callable[[LiveTransaction], T]) -> T:
        for run in range(_LIVE_RUNS):
            try:
                with self.live() as tx:
                    return body(tx)
            except RetryTransaction as retry:
                if run == _LIVE_RUNS - 1:
                    raise
                retry.prepare()
        raise AssertionError("unreachable")  # pragma: no cover

    # retention
    def retention_floor(self, cutoff: int, table: Table) -> int:
        """The start of the partition holding `cutoff`: the purge deletes before it, so
        that it drops whole partitions and never deletes rows one by one."""
        return partition_of(table, cutoff)[1]

    def count_expired(self, detail_cutoff: int, call_cutoff: int) -> tuple[int, int]:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM call_details WHERE start < %s),"
                " (SELECT count(*) FROM calls WHERE start < %s)",
                (detail_cutoff, call_cutoff),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def delete_details_before(self, cutoff: int, limit: int) -> int:
        deleted = self._drop_partitions_before(cutoff, ("call_details",))
        if deleted is None:  # another process purges: it deletes the rest too
            return 0
        if deleted >= limit:
            return deleted
        # what is left before the cutoff shares a partition with younger detail (a cutoff
        # that is not a partition's start)
        with self._transaction() as conn:
            deleted += conn.execute(
                "DELETE FROM call_details WHERE (call_id, start) IN"
                " (SELECT call_id, start FROM call_details WHERE start < %s LIMIT %s)",
                (cutoff, limit - deleted),
            ).rowcount
        return deleted

    def delete_calls_before(self, cutoff: int, limit: int) -> int:
        deleted = self._drop_partitions_before(cutoff, ("calls", "call_details"))
        if deleted is None:
            return 0
        with self._transaction() as conn:
            if deleted:
                # the detail of calls dropped above, when its partition is coarser (a year
                # of old detail) than theirs (the purge's detail step has usually removed it)
                conn.execute(
                    "DELETE FROM call_details d WHERE d.start < %s AND NOT EXISTS"
                    " (SELECT 1 FROM calls c WHERE c.id = d.call_id AND c.start = d.start)",
                    (cutoff,),
                )
            if deleted >= limit:
                return deleted
            rows = conn.execute(
                "DELETE FROM calls WHERE (id, start) IN"
                " (SELECT id, start FROM calls WHERE start < %s LIMIT %s) RETURNING id, start",
                (cutoff, limit - deleted),
            ).fetchall()
            _delete_details_of(conn, rows)
        if deleted + len(rows) < limit:  # the purge's last batch
            self._fold_counts()
        return deleted + len(rows)

    def delete_keys_before(self, cutoff: int, limit: int) -> int:
        with self._transaction() as conn:
            deleted: int = conn.execute(
                "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY("
                " SELECT ctid FROM idempotency_keys WHERE created_at < %s LIMIT %s))",
                (cutoff, limit),
            ).rowcount
        return deleted

    def _fold_counts(self) -> None:
        """Fold each hour's rows of changes (one a write statement, from the triggers of
        migration 3) into one, so that a window's total sums one row an hour."""
        with self._transaction() as conn:
            for table, key, same in _FOLDS:
                # rows written meanwhile are not in this statement's snapshot: they stay
                conn.execute(
                    f"WITH folded AS (SELECT {key} FROM {table} GROUP BY {key}"
                    "                 HAVING count(*) > 1 OR sum(calls) = 0),"
                    f" moved AS (DELETE FROM {table} t USING folded f WHERE {same}"
                    "           RETURNING t.*)"
                    f" INSERT INTO {table} SELECT {key}, sum(calls) FROM moved"
                    f" GROUP BY {key} HAVING sum(calls) <> 0"
                )

    def scrub(self, *, only_if_owed: bool = False) -> bool:
        # a dropped partition takes its files with it; rows deleted one by one (a replaced
        # call, a completed call's live entries) are PostgreSQL's to reclaim (VACUUM)
        return True

    # redaction patterns
    def add_redaction_pattern(
        self, account_id: int, label: str, pattern: str, now: int
    ) -> RedactionPattern:
        try:
            with self._transaction() as conn:
                row = conn.execute(
                    "INSERT INTO redaction_patterns (account_id, label, pattern, created_at)"
                    f" VALUES (%s, %s, %s, %s) RETURNING {_PATTERN_COLUMNS}",
                    (account_id, label, pattern, now),
                ).fetchone()
        except UniqueViolation as exc:
            raise AccountError(f"The account already has a pattern labelled {label!r}.") from exc
        assert row is not None
        return RedactionPattern(*row)

    def redaction_patterns(self, account_id: int | None = None) -> list[RedactionPattern]:
        where = "" if account_id is None else " WHERE account_id = %s"
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_PATTERN_COLUMNS} FROM redaction_patterns{where} ORDER BY id",
                () if account_id is None else (account_id,),
            ).fetchall()
        return [RedactionPattern(*row) for row in rows]

    def remove_redaction_pattern(self, account_id: int, label: str) -> bool:
        if _nul(label):
            return False
        with self._transaction() as conn:
            removed = conn.execute(
                "DELETE FROM redaction_patterns WHERE account_id = %s AND label = %s",
                (account_id, label),
            ).rowcount
        return removed > 0

    # sensitive modules
    def add_sensitive_module(
        self, account_id: int, field: str, name: str, now: int
    ) -> SensitiveModule:
        try:
            with self._transaction() as conn:
                row = conn.execute(
                    "INSERT INTO sensitive_modules (account_id, field, name, created_at)"
                    f" VALUES (%s, %s, %s, %s) RETURNING {_SENSITIVE_COLUMNS}",
                    (account_id, field, name, now),
                ).fetchone()
        except UniqueViolation as exc:
            raise AccountError(f"The account already has the {field} {name!r}.") from exc
        assert row is not None
        return SensitiveModule(*row)

    def sensitive_modules(self, account_id: int | None = None) -> list[SensitiveModule]:
        where = "" if account_id is None else " WHERE account_id = %s"
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_SENSITIVE_COLUMNS} FROM sensitive_modules{where} ORDER BY id",
                () if account_id is None else (account_id,),
            ).fetchall()
        return [SensitiveModule(*row) for row in rows]

    def remove_sensitive_module(self, account_id: int, field: str, name: str) -> bool:
        if _nul(name):
            return False
        with self._transaction() as conn:
            removed = conn.execute(
                "DELETE FROM sensitive_modules WHERE account_id = %s AND field = %s AND name = %s",
                (account_id, field, name),
            ).rowcount
        return removed > 0

    def open_page(self, query: CallQuery, detail: DetailFormat | None) -> _Page:
        conn = self._pool.getconn()
        try:
            return _Page(self, conn, query, detail)
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
            self._pool.putconn(conn)
            raise

    def call_detail(
        self,
        account_id: int,
        session_id: str,
        fmt: DetailFormat,
        detail_cutoff: int,
        *,
        call_cutoff: int = 0,
    ) -> tuple[bool, str | None]:
        column = "json" if fmt == "json" else "xml"
        if _nul(session_id):
            return False, None
        completed = (
            f"SELECT CASE WHEN c.start >= %s THEN d.{column} END"
            " FROM calls c LEFT JOIN call_details d ON d.call_id = c.id AND d.start = c.start"
            " WHERE c.account_id = %s AND c.session_id = %s AND c.start >= %s"
        )
        arguments = (detail_cutoff, account_id, session_id, call_cutoff)
        with self._pool.connection() as conn:
            # a completed call: one statement, one round trip (autocommit)
            row = conn.execute(completed, arguments).fetchone()
            if row is not None:
                return True, row[0]
        # else a call in progress, read with its entries in one snapshot; the calls table
        # again, in case the call was completed meanwhile
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute(completed, arguments).fetchone()
            if row is not None:
                return True, row[0]
            live = conn.execute(
                "SELECT id, start >= %s AND NOT private FROM open_calls"
                " WHERE account_id = %s AND session_id = %s AND start >= %s",
                (detail_cutoff, account_id, session_id, call_cutoff),
            ).fetchone()
            if live is None:
                return False, None
            if not live[1]:
                return True, None
            parts = [
                part
                for (part,) in conn.execute(
                    f"SELECT {column} FROM open_entries WHERE call_id = %s ORDER BY timestamp, seq",
                    (live[0],),
                )
            ]
        return True, joined_entries(parts, fmt)
