"""PostgreSQL's blocks of an hour's export records (storage/record_blocks.py): an export
keeps the hours it read whole and reads them again as one row; every write, erasure,
purge and move of the detail cutoff makes the export read what the calls are now, never
what a block kept. Each export is compared with the CSV of search_calls' rows.

A block is built only for an hour that has ended by the database's clock: the calls here
are three days before the tests' fixed NOW (2026-11-17), which that clock has passed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import psycopg
import pytest

from ivrlog.core.model import CallFilter, Erasure, StoredCall
from ivrlog.render.calls import csv_rows
from ivrlog.storage import record_blocks
from ivrlog.storage.postgres import PostgresStore
from tests.factories import DAY, NOW, entry
from tests.integration.postgres_partitions.helpers import stored
from tests.integration.search_helpers import walk

HOUR = 3600
H0 = (NOW - 3 * DAY) // HOUR * HOUR  # the first of six hours of calls, long ended
SIX = (H0, H0 + 6 * HOUR)


def hour_calls(hours: range, per_hour: int, prefix: str = "c") -> list[StoredCall]:
    """`per_hour` calls in each hour, every other one with detail."""
    calls = []
    for h in hours:
        for n in range(per_hour):
            start = H0 + h * HOUR + n * (HOUR // per_hour)
            detail = [entry("hello", "info", start)] * (n % 2)
            calls.append(stored(f"{prefix}{h}-{n:03}", start, detail=detail))
    return calls


def export(
    store: PostgresStore, account_id: int, window: tuple[int, int], cutoff: int, size: int
) -> bytes:
    """The window's records read by `after`, `size` at a time (search_helpers.walk);
    checked against the CSV of search_calls' rows."""
    query = CallFilter(account_id, *window, cutoff)
    records = walk(store, query, [size])
    assert records == csv_rows(store.search_calls(query, None, 10_000), False)
    return records


def blocks(url: str) -> dict[int, tuple[int, bool]]:
    """Each built block's hour (from H0) with its count and `past`."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT hour, count, past FROM record_blocks WHERE body IS NOT NULL ORDER BY hour"
        ).fetchall()
    return {hour * HOUR - H0: (count, past) for hour, count, past in rows}


@pytest.fixture
def filled(pg: tuple[PostgresStore, str], account_id: int) -> tuple[PostgresStore, str]:
    pg[0].put_calls(account_id, hour_calls(range(6), 10))
    return pg


def built(hours: Iterable[int], count: int = 10, past: bool = False) -> dict[int, tuple[int, bool]]:
    return {h * HOUR: (count, past) for h in hours}


def test_an_export_keeps_the_hours_it_read_whole_and_reads_them_again(
    filled: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = filled
    # a window from the middle of hour 0 to the middle of hour 5: hours 1 to 4 are whole
    window = (H0 + HOUR // 2, H0 + 5 * HOUR + HOUR // 2)
    first = export(store, account_id, window, H0 - DAY, 7)
    assert blocks(url) == built(range(1, 5))
    assert export(store, account_id, window, H0 - DAY, 7) == first
    assert export(store, account_id, window, H0 - DAY, 1000) == first
    # what the next exports send is the blocks' bytes
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE record_blocks SET body = 'kept' || body WHERE hour = %s",
            ((H0 + 2 * HOUR) // HOUR,),
        )
    chunk = store.window_records(account_id, *window, H0 - DAY, None, 1000)
    assert chunk.records.count(b"kept") == 1
    assert chunk.total == 50


def test_every_write_makes_the_blocks_of_its_hours_stale(
    filled: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = filled
    export(store, account_id, SIX, H0 - DAY, 25)
    assert blocks(url) == built(range(6))
    store.put_calls(account_id, hour_calls(range(2, 3), 1, prefix="new"))  # a call more
    moved = hour_calls(range(4, 5), 1)[0]  # c1-000 moves from hour 1 to hour 4
    store.put_calls(account_id, [stored("c1-000", moved.start + 1)])
    store.erase(account_id, Erasure(session_id="c5-003"), "hash", NOW)
    assert blocks(url) == built([0, 3])
    export(store, account_id, SIX, H0 - DAY, 25)
    assert blocks(url) == {
        **built(range(6)),
        1 * HOUR: (9, False),
        2 * HOUR: (11, False),
        4 * HOUR: (11, False),
        5 * HOUR: (9, False),
    }
    # another account's calls are its own
    other = store.create_account("b@example.com", "k", "u", NOW).id
    store.put_calls(other, hour_calls(range(6), 2))
    assert len(blocks(url)) == 6
    store.delete_account_calls(account_id)
    assert blocks(url) == {}
    export(store, account_id, SIX, H0 - DAY, 25)


def test_a_block_follows_the_detail_cutoff(
    filled: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = filled
    export(store, account_id, SIX, H0 - DAY, 1000)  # every `log` as the detail says
    assert blocks(url) == built(range(6))
    # the cutoff inside hour 2: hours 0 and 1 are past it (every `log` false), hour 2 is
    # read row by row (its block, built for the other cutoff, is kept), hours 3 to 5 are
    # still right
    cutoff = H0 + 2 * HOUR + 60
    records = export(store, account_id, SIX, cutoff, 1000)
    assert records.count(b",true\r\n") == 20
    assert blocks(url) == {**built(range(2), past=True), **built(range(2, 6))}
    # an older export's cutoff again: the past blocks are not its own
    export(store, account_id, SIX, H0 - DAY, 1000)
    assert blocks(url) == built(range(6))
    # every hour past the cutoff
    assert b",true\r\n" not in export(store, account_id, SIX, NOW, 1000)
    assert blocks(url) == built(range(6), past=True)


def test_the_detail_purge_leaves_no_block_of_the_detail_it_deleted(
    filled: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = filled
    export(store, account_id, SIX, H0 - DAY, 1000)
    store.delete_details_before(H0 + 3 * HOUR, 10_000)
    # an export whose cutoff is older than the purge's: the detail of hours 0 to 2 is gone
    # (what hours 0 to 2 kept is still stored, and never sent)
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE record_blocks SET body = 'kept' || body WHERE hour < %s", (H0 // HOUR + 3,)
        )
    records = export(store, account_id, SIX, H0 - DAY, 1000)
    assert records.count(b",true\r\n") == 15


def test_the_purge_of_calls_leaves_no_block_of_the_calls_it_dropped(
    filled: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = filled
    export(store, account_id, SIX, H0 - DAY, 1000)
    # from the moment the purge begins, before it drops anything (another process's
    # purge, say), the blocks of the hours before its cutoff are not sent
    with psycopg.connect(url) as conn:
        record_blocks.raise_calls_since(conn, H0 + 2 * HOUR + 60)
        conn.execute(
            "UPDATE record_blocks SET body = 'kept' || body WHERE hour < %s", (H0 // HOUR + 3,)
        )
    assert export(store, account_id, SIX, H0 - DAY, 1000).count(b"kept") == 0
    store.delete_calls_before(H0 + 2 * HOUR + 60, 10_000)
    export(store, account_id, SIX, H0 - DAY, 1000)
    assert blocks(url) == built(range(3, 6))
    with psycopg.connect(url) as conn:
        hours = [row[0] for row in conn.execute("SELECT hour FROM record_blocks ORDER BY hour")]
    assert hours == [(H0 // HOUR) + h for h in range(3, 6)]


def test_a_write_during_the_read_of_an_hour_keeps_no_block_of_it(
    filled: tuple[PostgresStore, str], account_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, url = filled
    read = store._blocks._records
    late = hour_calls(range(3, 4), 1, prefix="late")

    def racing(conn: Any, params: dict[str, Any]) -> list[tuple[int, str, bytes]]:
        rows = read(conn, params)
        if late:  # committed after the snapshot that read the hour, before its block
            store.put_calls(account_id, [late.pop()])
        return rows

    monkeypatch.setattr(store._blocks, "_records", racing)
    chunk = store.window_records(account_id, *SIX, H0 - DAY, None, 1000)
    monkeypatch.undo()
    assert chunk.total == 60
    assert 3 * HOUR not in blocks(url)
    records = export(store, account_id, SIX, H0 - DAY, 1000)
    assert records.count(b"late") == 1
    assert blocks(url)[3 * HOUR] == (11, False)


def test_an_hour_a_writer_holds_is_not_kept_and_the_export_does_not_wait(
    filled: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = filled
    with psycopg.connect(url) as writer:  # a transaction that has touched hour 4, open
        record_blocks.touch(writer, account_id, [H0 + 4 * HOUR])
        export(store, account_id, SIX, H0 - DAY, 1000)
        assert blocks(url) == {**built(range(4)), 5 * HOUR: (10, False)}
        writer.rollback()
    export(store, account_id, SIX, H0 - DAY, 1000)
    assert blocks(url) == built(range(6))


def test_an_hour_of_more_calls_than_a_block_holds_is_read_row_by_row(
    pg: tuple[PostgresStore, str], account_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, url = pg
    monkeypatch.setattr(record_blocks, "BLOCK_MAX", 8)
    store.put_calls(account_id, hour_calls(range(3), 10) + hour_calls(range(3, 6), 4))
    for size in (3, 9, 1000):
        export(store, account_id, SIX, H0 - DAY, size)
    assert blocks(url) == built(range(3, 6), count=4)
    export(store, account_id, SIX, H0 - DAY, 2)


def test_the_hour_going_on_has_no_block(pg: tuple[PostgresStore, str], account_id: int) -> None:
    store, url = pg
    with psycopg.connect(url) as conn:
        now = conn.execute("SELECT extract(epoch FROM now())::bigint").fetchone()[0]  # type: ignore[index]
    if now % HOUR > HOUR - 10:  # not across the hour's end
        time.sleep(11)
        now += 11
    hour = now // HOUR * HOUR
    store.put_calls(account_id, [stored("now", now - 1), stored("before", hour - 60)])
    export(store, account_id, (hour - HOUR, hour + HOUR), hour - DAY, 100)
    with psycopg.connect(url) as conn:
        kept = conn.execute("SELECT hour FROM record_blocks WHERE body IS NOT NULL").fetchall()
    assert kept == [(hour // HOUR - 1,)]


def test_an_erasure_and_a_write_take_their_locks_in_one_order(
    filled: tuple[PostgresStore, str], account_id: int
) -> None:
    """A writer takes its account's change counter, then its hours (_write_calls). An
    erasure that took the hours first would wait for the counter while the writer waits
    for the hour: PostgreSQL would abort one of them as a deadlock."""
    store, url = filled
    erased: list[int] = []
    with psycopg.connect(url) as writer:
        writer.execute("SELECT 1 FROM accounts WHERE id = %s FOR UPDATE", (account_id,))
        erasure = threading.Thread(
            target=lambda: erased.append(
                store.erase(account_id, Erasure(session_id="c4-003"), "hash", NOW)
            )
        )
        erasure.start()
        time.sleep(0.5)  # the erasure is waiting for the counter by now
        record_blocks.touch(writer, account_id, [H0 + 4 * HOUR])  # the erased call's hour
        writer.commit()
    erasure.join()
    assert erased == [1]
    assert b"c4-003" not in export(store, account_id, SIX, H0 - DAY, 1000)
