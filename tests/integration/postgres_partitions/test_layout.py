"""Where the PostgreSQL store puts rows: calls in month partitions and detail in day ones,
few partitions for old imports, one row per call under concurrent writers, a bounded number
of locks a batch, and pages streamed from a server-side cursor."""

from __future__ import annotations

import threading

import psycopg

from ivrlog.core.model import CallQuery
from ivrlog.core.retention import purge_expired
from ivrlog.storage.partitions import choose_partition, partition_of
from ivrlog.storage.postgres import PostgresStore
from tests.factories import DAY, NOW
from tests.integration.postgres_partitions.helpers import (
    NOVEMBER_2026,
    RETENTION,
    rows_per_partition,
    stored,
)


def test_partition_bounds_are_utc_months_for_calls_and_days_for_detail() -> None:
    assert partition_of("calls", NOW) == ("calls_202611", NOVEMBER_2026, NOVEMBER_2026 + 30 * DAY)
    day = NOW - NOW % DAY
    assert partition_of("call_details", NOW) == ("call_details_20261118", day, day + DAY)
    assert partition_of("calls", 0) == ("calls_197001", 0, 31 * DAY)
    # the last second ingestion accepts still has a partition
    assert partition_of("calls", 253_402_300_799)[2] == 253_402_300_800


def test_calls_land_in_month_partitions_and_their_detail_in_day_partitions(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    store.put_calls(
        account_id,
        [
            stored("a", NOW - 60),
            stored("b", NOW - 2 * DAY),
            stored("c", NOW - 40 * DAY),
            stored("private", NOW - 2 * DAY, private=True),  # no detail: no detail row
        ],
    )
    filled = {name: rows for name, rows in rows_per_partition(url).items() if rows}
    assert filled == {
        "calls_202611": 3,
        "calls_202610": 1,
        "call_details_20261118": 1,
        "call_details_20261116": 1,
        "call_details_20261009": 1,
    }
    # the list query reads only the partitions of its window
    with psycopg.connect(url) as conn:
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT * FROM calls WHERE account_id = 1"
                f" AND start >= {NOW - DAY} AND start < {NOW}"
            )
        )
    assert "calls_202611" in plan
    assert "calls_202610" not in plan


def test_concurrent_writers_of_the_same_calls_leave_one_row_each(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    """No unique index spans the partitions; the per-call advisory locks keep each call
    once, even when its start (so its partition) changes between writes."""
    store, url = pg
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for round_ in range(10):
                # the same ten calls, alternating between two months and in changing order
                start = NOW - (40 * DAY if (n + round_) % 2 else 60)
                calls = [stored(f"s{k}", start + k) for k in range(10)]
                store.put_calls(account_id, calls[::-1] if n % 2 else calls)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with psycopg.connect(url) as conn:
        counts = conn.execute(
            "SELECT session_id, count(*) FROM calls GROUP BY 1 ORDER BY 1"
        ).fetchall()
        details = conn.execute("SELECT count(*) FROM call_details").fetchone()
    assert counts == [(f"s{k}", 1) for k in range(10)]
    assert details == (10,)
    # the hourly counts' rows of changes, written by every writer at once, add up
    for start, end in ((0, NOW + DAY), (NOW - 41 * DAY, NOW - 30 * DAY), (NOW - DAY, NOW)):
        page = store.open_page(CallQuery(account_id, start, end, None, 0, 100, 0), None)
        try:
            listed = sum(len(batch) for batch in page.batches())
        finally:
            page.close()
        assert page.total == listed


def test_a_page_streams_from_a_server_side_cursor(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    store.put_calls(account_id, [stored(f"c{n:04}", NOW - 10 * n) for n in range(450)])
    query = CallQuery(account_id, 0, NOW + DAY, None, 0, 10_000, 0)
    page = store.open_page(query, "json")
    try:
        batches = page.batches()
        first = next(batches)
        with psycopg.connect(url) as conn:
            cursors = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%ivrlog_page%%'"
                " AND pid <> pg_backend_pid()"
                " AND application_name = current_setting('application_name')"
            ).fetchone()
        rest = [row for batch in batches for row in batch]
    finally:
        page.close()
    assert page.total == 450
    assert len(first) == 200  # fetched in batches, not all at once
    assert cursors == (1,)
    assert [row[4] for row in [*first, *rest]] == [f"c{n:04}" for n in range(450)]


def test_old_and_far_future_calls_share_a_partition_a_year() -> None:
    year_2019 = 1_546_300_800  # 2019-01-01T00:00:00Z
    # far from now: a year, for calls and detail alike
    assert choose_partition("calls", year_2019 + 99 * DAY, NOW, []) == (
        "calls_y2019",
        year_2019,
        year_2019 + 365 * DAY,
    )
    assert choose_partition("call_details", year_2019 + 5, NOW, [])[0] == "call_details_y2019"
    assert choose_partition("calls", 253_402_300_799, NOW, [])[0] == "calls_y9999"
    # near now: a month of calls, a day of detail
    assert choose_partition("calls", NOW - 40 * DAY, NOW, [])[0] == "calls_202610"
    assert choose_partition("call_details", NOW - 3 * DAY, NOW, [])[0] == "call_details_20261115"
    # detail a few months old: its year overlaps the window, so a month
    assert choose_partition("call_details", NOW - 200 * DAY, NOW, [])[0] == "call_details_202605"
    # a year that would overlap a partition made earlier (when it was near): a month
    october_2023 = partition_of("calls", NOW - 3 * 366 * DAY - 40 * DAY)
    assert choose_partition("calls", october_2023[1] - 60 * DAY, NOW, [october_2023[1:]])[0] == (
        "calls_202308"
    )


def test_an_import_of_old_calls_makes_few_partitions(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    before = set(rows_per_partition(url))
    year_2019 = 1_546_300_800
    calls = [stored(f"old{n}", year_2019 + n * DAY + 7) for n in range(365)]
    store.put_calls(account_id, calls)
    made = {name: rows for name, rows in rows_per_partition(url).items() if name not in before}
    assert made == {"calls_y2019": 365, "call_details_y2019": 365}
    # the purge drops them whole
    report = purge_expired(store, RETENTION, now=NOW)
    assert (report.details_deleted, report.calls_deleted) == (365, 365)
    assert not {"calls_y2019", "call_details_y2019"} & set(rows_per_partition(url))


def test_a_batch_takes_a_bounded_number_of_call_locks(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, _ = pg
    calls = [stored(f"many{n}", NOW - 60 - n, detail=[]) for n in range(2000)]
    store._partitions.ensure(calls)
    with store._transaction() as conn:
        store._write_calls(conn, account_id, calls)
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        ).fetchone()
    assert row is not None
    assert 200 < row[0] <= 256  # stripes, not one lock a call
