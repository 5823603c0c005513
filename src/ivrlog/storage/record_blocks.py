"""Migration 9 and what uses it: on PostgreSQL, the records of a whole hour of an
account's calls kept together as one value, so that the export of a window
(Store.window_records) reads an hour in one row instead of a row a call
(docs/architecture.md, "the export's hours").

PostgreSQL spends about a microsecond on each row it reads and sends, however narrow the
index-only scan of storage/records.py: 100,000 records cost it 100 ms of its CPU, more
than the whole export may take (docs/performance.md, B7). A block costs it one row.

- **What a block is.** `record_blocks` has a row per (account, hour) that holds calls or
  held them: `version`, and once an export has read the whole hour, `body` (its records
  as the export sends them, `log` and CRLF included), `count`, the place of its last
  record and `past`, which says how `log` was decided (below).
- **Writes make it stale.** Every transaction that writes, replaces or deletes a call
  (ingestion, live completion, erasure) gives the hours of the calls' old and new starts
  a new version from one sequence, and clears their bodies, in its own transaction
  (`touch`). An account's deletion deletes its rows.
- **An export builds it.** When a read of the export's records has covered a whole hour
  (storage/records.py's statement, in one REPEATABLE READ snapshot with the hour's
  version), the records are stored as the hour's body, by an UPDATE that matches only
  that version: a write committed after the snapshot has changed the version (never
  back to an old one: a sequence), and a row deleted meanwhile (the purge, an account
  deleted) is not made again. The UPDATE skips rows a writer holds: an export never
  waits for one, and a failed build only costs the next export the rows again.
- **When a block is right.** `log` moves with the detail cutoff. A block is built only
  for an hour that has ended, and only where `log` cannot move until the cutoff passes
  a boundary of the hour: entirely before the cutoff (`past`: every `log` false) or
  entirely after it and after `detail_kept.since` (every call with entries keeps them:
  `log` is `entry_count > 0`). An export uses it while the same holds of its own cutoff.
  The purge raises `detail_kept.calls_since` to its cutoff before it drops calls, and a
  block is used only from there on: a dropped call is never sent from a block.
- **An hour of more than BLOCK_MAX calls** is read a row a call, as before: a block is at
  most a few megabytes, and an export's memory stays bounded.

SQLite keeps no blocks: its read of a window's records already meets B7.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, Final, NamedTuple

from ivrlog.core.model import CallKey, RecordChunk

HOUR: Final = 3600
BLOCK_MAX: Final = 5000  # records a block holds at most
_RUN: Final = 64  # the blocks looked up at once
# the records a chunk of blocks holds at least, whatever the export asks (a few MB): each
# chunk costs two statements and a write to the client, which are most of a block's cost
RUN_RECORDS: Final = 10_000

POSTGRESQL_9: Final = """
CREATE SEQUENCE record_block_versions;
CREATE TABLE record_blocks (
    account_id bigint NOT NULL,
    hour bigint NOT NULL,
    version bigint NOT NULL,
    past boolean,
    count integer,
    last_start bigint,
    last_session text COLLATE "C",
    body bytea,
    PRIMARY KEY (account_id, hour)
);
ALTER TABLE record_blocks ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE detail_kept ADD COLUMN calls_since bigint NOT NULL DEFAULT 0;
INSERT INTO record_blocks (account_id, hour, version)
    SELECT account_id, hour, nextval('record_block_versions')
    FROM (SELECT DISTINCT account_id, div(start, 3600) AS hour FROM calls) AS hours;
"""
SQLITE_9: Final = ""

_TOUCH: Final = (
    "INSERT INTO record_blocks (account_id, hour, version)"
    " SELECT %s, h, nextval('record_block_versions') FROM unnest(%s::bigint[]) AS h ORDER BY h"
    " ON CONFLICT (account_id, hour) DO UPDATE SET version = excluded.version, past = NULL,"
    " count = NULL, last_start = NULL, last_session = NULL, body = NULL"
)
# a block whose `log`s are those of an export with :cutoff, of calls not purged
_VALID: Final = (
    "b.body IS NOT NULL AND b.hour * 3600 >= k.calls_since AND CASE WHEN b.past"
    " THEN (b.hour + 1) * 3600 <= %(cutoff)s"
    " ELSE b.hour * 3600 >= %(cutoff)s AND b.hour * 3600 >= k.since END"
)
_FOUND: Final = (
    "SELECT b.hour, b.version, b.count, b.last_start, b.last_session"
    " FROM record_blocks b CROSS JOIN detail_kept k"
    " WHERE b.account_id = %(account)s AND b.hour <= %(top)s AND b.hour >= %(low)s"
    f" AND {_VALID} ORDER BY b.hour DESC LIMIT {_RUN}"
)
_BODIES: Final = (
    "SELECT b.hour, b.body FROM record_blocks b CROSS JOIN detail_kept k"
    " WHERE b.account_id = %(account)s AND b.hour = ANY(%(hours)s)"
    f" AND b.version = ANY(%(versions)s) AND {_VALID}"
)
_KEPT: Final = "SELECT since, calls_since, extract(epoch FROM now())::bigint FROM detail_kept"
_VERSIONS: Final = (
    "SELECT hour, version FROM record_blocks WHERE account_id = %s AND hour >= %s AND hour <= %s"
)
# one statement a block: an UPDATE joined to arrays of the blocks took 13 times as long
# as as many single ones (pipelined by executemany)
_BUILD: Final = (
    "UPDATE record_blocks SET past = %(past)s, count = %(count)s, last_start = %(last_start)s,"
    " last_session = %(last_session)s, body = %(body)s"
    " WHERE (account_id, hour) = (SELECT account_id, hour FROM record_blocks"
    " WHERE account_id = %(account)s AND hour = %(hour)s AND version = %(version)s"
    " FOR UPDATE SKIP LOCKED)"
)

Rows = list[tuple[int, str, bytes]]
Connect = Callable[[], AbstractContextManager[Any]]


def touch(conn: Any, account_id: int, starts: Iterable[int]) -> None:
    """Make the blocks of the hours of `starts` stale, in the caller's transaction (in
    ascending order: two writers never wait for each other in a cycle)."""
    hours = sorted({start // HOUR for start in starts})
    if hours:
        conn.execute(_TOUCH, (account_id, hours))


def forget_account(conn: Any, account_id: int) -> None:
    """Delete an account's blocks, in the caller's transaction."""
    conn.execute("DELETE FROM record_blocks WHERE account_id = %s", (account_id,))


def raise_calls_since(conn: Any, cutoff: int) -> None:
    """Before the purge drops the calls before `cutoff`: no block of them is used again."""
    conn.execute("UPDATE detail_kept SET calls_since = greatest(calls_since, %s)", (cutoff,))


def forget_before(conn: Any, cutoff: int) -> None:
    """After the purge dropped the calls before `cutoff`: their hours' rows, but for those
    a writer holds (calls_since keeps every one of them unused; the next purge goes on)."""
    conn.execute(
        "DELETE FROM record_blocks WHERE (account_id, hour) IN (SELECT account_id, hour"
        " FROM record_blocks WHERE hour < %s FOR UPDATE SKIP LOCKED)",
        (-(-cutoff // HOUR),),
    )


Block = tuple[int, int, int, int | None, str | None]  # hour, version, count, last place


class Blocks:
    """window_records on PostgreSQL: blocks where they are right, rows elsewhere.

    `read` and `snapshot` give the store's connections (autocommit; one REPEATABLE READ
    transaction), `write` one in a transaction, and `records` runs storage/records.py's
    statement on a connection."""

    def __init__(
        self,
        read: Connect,
        snapshot: Connect,
        write: Connect,
        records: Callable[[Any, dict[str, Any]], Rows],
    ) -> None:
        self._read, self._snapshot, self._write, self._records = read, snapshot, write, records

    def window_records(
        self,
        account_id: int,
        start: int,
        end: int,
        cutoff: int,
        after: CallKey | None,
        limit: int,
    ) -> RecordChunk:
        # `place`: the records left are strictly before it (start, then session id)
        place = CallKey(end, "") if after is None else after
        parts: list[bytes] = []
        count = 0
        last: CallKey | None = None
        while count < limit:
            # the newest start a record left can have ("" is before every session id)
            newest = min(end - 1, place.start - (place.session_id == ""))
            if newest < start:
                break
            hour = newest // HOUR
            low = max(start, hour * HOUR)  # the hour alone, when part of it is left
            if hour * HOUR >= start and (hour + 1) * HOUR <= min(end, place.start):
                found = self._found(account_id, hour, -(-start // HOUR), cutoff)
                run = _run(found, hour, max(limit, RUN_RECORDS) - count)
                blocks = self._bodies(account_id, run, cutoff)
                for hour_start, body, n, key in blocks:
                    parts.append(body)
                    count += n
                    last = key or last
                    place = CallKey(hour_start, "")
                if blocks:
                    continue
                if not found or found[0][0] < hour:  # rows down to the next block
                    low = max(start, (found[0][0] + 1) * HOUR) if found else start
            rows, place = self._rows(account_id, (start, end), low, cutoff, place, limit - count)
            if rows:
                parts.append(b"".join([row[2] for row in rows]))
                count += len(rows)
                last = CallKey(rows[-1][0], rows[-1][1])
        return RecordChunk(b"".join(parts), count, last)

    def _found(self, account_id: int, top: int, low: int, cutoff: int) -> list[Block]:
        """The newest blocks right for `cutoff` from hour `top` down to hour `low` (their
        bodies aside)."""
        params = {"account": account_id, "top": top, "low": low, "cutoff": cutoff}
        with self._read() as conn:
            return [tuple(row) for row in conn.execute(_FOUND, params).fetchall()]

    def _bodies(
        self, account_id: int, run: list[Block], cutoff: int
    ) -> list[tuple[int, bytes, int, CallKey | None]]:
        """(the hour's start, body, count, last place) of a run of consecutive blocks,
        newest first, up to the first that changed since `_found`."""
        if not run:
            return []
        params = {
            "account": account_id,
            "hours": [block[0] for block in run],
            "versions": [block[1] for block in run],
            "cutoff": cutoff,
        }
        with self._read() as conn:
            bodies = dict(conn.execute(_BODIES, params, binary=True).fetchall())
        out = []
        for hour, _version, n, last_start, last_session in run:
            if hour not in bodies:
                break
            key = None if last_start is None else CallKey(last_start, str(last_session))
            out.append((hour * HOUR, bytes(bodies[hour]), n, key))
        return out

    def _rows(
        self,
        account_id: int,
        window: tuple[int, int],
        low: int,
        cutoff: int,
        place: CallKey,
        need: int,
    ) -> tuple[Rows, CallKey]:
        """The records from `place` down to `low`: `need` of them, then the rest of the
        last one's hour; and the place after them. The hours they hold whole are kept as
        blocks."""
        start, end = window
        params = {
            "account": account_id,
            "start": low,
            "end": min(end, place.start + 1),
            "cutoff": cutoff,
            "after_start": place.start,
            "after_session": place.session_id,
            "limit": need,
        }
        with self._snapshot() as conn:
            rows = self._records(conn, params)
            lowest: int | None = low  # every record from `low` on is in `rows`
            if len(rows) == need:  # on to the start of the last one's hour
                bottom = max(low, rows[-1][0] // HOUR * HOUR)
                more = self._records(
                    conn,
                    {
                        **params,
                        "start": bottom,
                        "end": rows[-1][0] + 1,
                        "after_start": rows[-1][0],
                        "after_session": rows[-1][1],
                        "limit": BLOCK_MAX + 1,
                    },
                )
                rows += more
                # an hour of more than BLOCK_MAX calls: on from the last record
                lowest = bottom if len(more) <= BLOCK_MAX else None
            whole = (rows[-1][0] // HOUR + 1) * HOUR if lowest is None else lowest
            # the hours that lie whole in [max(start, whole), min(end, place.start)), with
            # a version (the hours that ever held a call)
            bounds = (-(-max(start, whole) // HOUR), min(end, place.start) // HOUR - 1)
            versions: dict[int, int] = {}
            if bounds[0] <= bounds[1]:  # (in the rows' snapshot)
                versions = dict(conn.execute(_VERSIONS, (account_id, *bounds)).fetchall())
                kept = Kept(cutoff, *conn.execute(_KEPT).fetchone())
        if versions:
            self._build(account_id, rows, versions, kept)
        if lowest is None:
            return rows, CallKey(rows[-1][0], rows[-1][1])
        return rows, CallKey(lowest, "")

    def _build(
        self,
        account_id: int,
        rows: Rows,
        versions: dict[int, int],
        kept: Kept,
    ) -> None:
        """Keep the hours read whole (those of `versions`) whose `log`s cannot move as
        blocks."""
        by_hour: dict[int, Rows] = {hour: [] for hour in versions}
        for row in rows:
            if row[0] // HOUR in by_hour:
                by_hour[row[0] // HOUR].append(row)
        built = []
        for hour, held in by_hour.items():
            past = kept.past(hour)
            if past is None or len(held) > BLOCK_MAX:
                continue
            built.append(
                {
                    "account": account_id,
                    "hour": hour,
                    "version": versions[hour],
                    "past": past,
                    "count": len(held),
                    "last_start": held[-1][0] if held else None,
                    "last_session": held[-1][1] if held else None,
                    "body": b"".join([row[2] for row in held]),
                }
            )
        if built:
            with self._write() as conn:
                conn.cursor().executemany(_BUILD, built)


class Kept(NamedTuple):
    """What decides whether an hour's `log`s can move: the export's detail cutoff,
    detail_kept's `since` and `calls_since`, and the database's time."""

    cutoff: int
    since: int
    calls_since: int
    now: int

    def past(self, hour: int) -> bool | None:
        """Whether a block of `hour` is built with every `log` false (True), with `log`
        the call's having entries (False), or not at all (None: the hour has not ended,
        its calls are being purged, or the cutoff is inside it)."""
        begins, ends = hour * HOUR, (hour + 1) * HOUR
        if ends > self.now or begins < self.calls_since:
            return None
        if ends <= self.cutoff:
            return True
        if begins >= self.cutoff and begins >= self.since:
            return False
        return None


def _run(found: list[Block], hour: int, need: int) -> list[Block]:
    """The blocks of `found` (newest first) that follow each other from `hour` down,
    until they hold `need` records."""
    run: list[Block] = []
    held = 0
    for block in found:
        if block[0] != hour - len(run) or held >= need:
            break
        run.append(block)
        held += block[2]
    return run
