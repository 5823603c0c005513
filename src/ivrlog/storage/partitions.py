"""The partitions of the PostgreSQL store: choosing, making, attaching, detaching and
dropping them, and the cache of the ranges this process knows are attached.

Calls are range-partitioned by month of `start` and their detail by day (a whole year
far from now: choose_partition), so that the retention purge drops whole partitions (a
catalogue change) instead of deleting rows. Partitions are made on a connection of their
own, never inside an open write transaction (postgres.py).
"""

from __future__ import annotations

import calendar
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Literal

import psycopg
from psycopg import sql
from psycopg.errors import CheckViolation, LockNotAvailable, ObjectInUse
from psycopg_pool import ConnectionPool

from ivrlog.core.model import StoredCall

log = logging.getLogger("ivrlog.storage")

DAY: Final = 86_400
# advisory locks in the (class, key) space, apart from the per-call bigint keys
LOCK_CLASS: Final = 0x1F1
LOCK_MIGRATE: Final = 1
_LOCK_PARTITIONS: Final = 2
LOCK_PURGE: Final = 3
LOCK_FOLD: Final = 4
_PARTITION_NAME = re.compile(r"^(calls|call_details)_(y?)(\d{4})(\d{2})?(\d{2})?$")
# Partitions are fine-grained (a month of calls, a day of detail) for starts from `back`
# seconds ago to `forward` seconds ahead. Outside that window (an import of old data, a
# start far ahead) one partition holds a whole year, or a month where a year would overlap
# partitions made before: so old data costs few tables, and the purge still drops them.
_WINDOW: Final[dict[str, tuple[int, int]]] = {
    "calls": (3 * 366 * DAY, 62 * DAY),
    "call_details": (62 * DAY, 3 * DAY),
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
        lower = start - start % DAY
        return time.strftime("%Y%m%d", moment), lower, lower + DAY
    if level == "month":
        lower = calendar.timegm((moment.tm_year, moment.tm_mon, 1, 0, 0, 0))
        days = calendar.monthrange(moment.tm_year, moment.tm_mon)[1]
        return f"{moment.tm_year:04d}{moment.tm_mon:02d}", lower, lower + days * DAY
    lower = calendar.timegm((moment.tm_year, 1, 1, 0, 0, 0))
    days = 366 if calendar.isleap(moment.tm_year) else 365
    return f"y{moment.tm_year:04d}", lower, lower + days * DAY


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


def is_missing_partition(exc: psycopg.Error) -> bool:
    """Whether a write failed because no attached partition takes its row (another
    process's purge dropped one this process believed it had). PostgreSQL raises a
    CheckViolation then, naming the table but no constraint; a CHECK constraint's
    violation names its constraint."""
    return isinstance(exc, CheckViolation) and exc.diag.constraint_name is None


class Partitions:
    """The partitions of calls and call_details, for one store: those rows need are made
    on demand, and the ranges known attached are cached (per process)."""

    def __init__(
        self,
        url: str,
        pool: ConnectionPool[psycopg.Connection[Any]],
        clock: Callable[[], float],
    ) -> None:
        self._url = url
        self._pool = pool
        self._clock = clock
        # the attached partitions' ranges, as this process last saw them
        self._ranges: dict[str, list[tuple[int, int]]] = {"calls": [], "call_details": []}
        self._lock = threading.Lock()

    def covered(self, table: Table, start: int) -> bool:
        return any(lower <= start < upper for lower, upper in self._ranges[table])

    def covers(self, call: StoredCall) -> bool:
        """Whether this process knows partitions for the call and its detail."""
        return self.covered("calls", call.start) and (
            call.detail_json is None or self.covered("call_details", call.start)
        )

    def ensure(self, calls: Iterable[StoredCall], *, reload: bool = False) -> None:
        """Make the partitions these calls go to, and today's and those just ahead, when
        missing (choose_partition). On a connection of its own, outside the pool and the
        caller's transaction: a write never waits for a pooled connection, nor for itself,
        and ATTACH blocks no reader or writer."""
        now = int(self._clock())
        # every partition covers whole UTC days: one check a day, however many calls
        needed: set[tuple[Table, int]] = {("calls", c.start - c.start % DAY) for c in calls}
        needed |= {
            ("call_details", c.start - c.start % DAY) for c in calls if c.detail_json is not None
        }
        # today's, and the next ones, ready before the first call needs them
        needed |= {("calls", now), ("calls", now + 32 * DAY)}
        needed |= {("call_details", now + ahead) for ahead in (0, DAY, 2 * DAY)}
        missing = sorted(n for n in needed if reload or not self.covered(*n))
        if not missing:
            return
        with (
            self._lock,
            psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn,
        ):
            conn.execute("SET lock_timeout = '30s'")  # never wait without end
            _finish_detaches(conn)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, _LOCK_PARTITIONS))
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

    def listing(self) -> list[tuple[str, Table, int, int, bool]]:
        """Every partition made by ivrlog, as (name, table, lower bound, upper bound,
        attached), oldest first; one not attached is left over from an interrupted drop."""
        with self._pool.connection() as conn:
            return _partitions(conn)

    def drop_before(self, cutoff: int, tables: Sequence[Table]) -> tuple[int, bool]:
        """Drop every partition of `tables` wholly before `cutoff`: (how many calls, rows
        of the first table, the partitions this process dropped held; whether it stopped
        because another process is dropping them now, which then drops the rest). Each
        is detached CONCURRENTLY first, so readers are never blocked; one that cannot be
        detached now stays for the next purge."""
        dropped = 0
        for name, table, _, upper, attached in self.listing():
            if table not in tables or upper > cutoff:
                continue
            with self._pool.connection() as conn:
                # one purging process at a time drops (the lock is the session's); the
                # partitions dropped before another took the lock are counted here
                got = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_PURGE)
                ).fetchone()
                if not got or not got[0]:
                    return dropped, True
                try:
                    if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
                        continue  # another process dropped it since the listing
                    count = table == tables[0] and attached
                    dropped += self._drop(conn, name, table, count=count)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, LOCK_PURGE))
        return dropped, False

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
            with self._lock:
                ranges = self._ranges[table]
                ranges[:] = [r for r in ranges if r != bounds[1:]]
        return rows


class RetryTransaction(Exception):
    """Raised inside a live transaction when a partition must be made outside any
    transaction first: run_live lets the transaction roll back, calls `prepare()`, and
    runs it again."""

    def __init__(self, prepare: Callable[[], None]) -> None:
        super().__init__("the transaction must run again once the partition is made")
        self.prepare = prepare
