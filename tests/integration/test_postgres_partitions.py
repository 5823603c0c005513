"""What only the PostgreSQL store does: partitions made as calls arrive, a purge that drops
whole partitions instead of deleting rows, one row per call across partitions under
concurrent writers, and pages streamed from a server-side cursor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ivrlog.core.ingest import prepare_call
from ivrlog.core.live import append_entries, complete_stale
from ivrlog.core.model import CallQuery, StoredCall
from ivrlog.core.retention import Retention, purge_expired
from ivrlog.storage import open_store
from ivrlog.storage.partitions import choose_partition, is_missing_partition, partition_of
from ivrlog.storage.postgres import PostgresStore
from tests.factories import DAY, NOW, call, counting_live_transactions, database_text, entry

RETENTION = Retention(detail_retention_days=5, call_retention_days=365, open_call_timeout=3600)
NOVEMBER_2026 = 1_793_491_200  # 2026-11-01T00:00:00Z; NOW is 2026-11-18T11:06:40Z


def stored(session_id: str, start: int, **extra: Any) -> StoredCall:
    return prepare_call(call(session_id, start, **extra))


@pytest.fixture
def pg(postgres_server: Any) -> Iterator[tuple[PostgresStore, str]]:
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    store = PostgresStore(url, clock=lambda: NOW)  # which partitions exist depends on now
    store.migrate()
    yield store, url
    store.close()
    postgres_server.drop_database(name)


@pytest.fixture
def account_id(pg: tuple[PostgresStore, str]) -> int:
    return pg[0].create_account("a@example.com", "k", "t", NOW).id


def total_and_rows(store: PostgresStore, account_id: int, start: int, end: int) -> tuple[int, int]:
    page = store.open_page(CallQuery(account_id, start, end, None, 0, 10_000, 0), None)
    try:
        return page.total, sum(len(batch) for batch in page.batches())
    finally:
        page.close()


def rows_per_partition(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
            )
        ]
        return {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # type: ignore[index]
            for name in names
        }


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


def test_the_purge_drops_whole_partitions_and_deletes_no_row(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    detail_cutoff, call_cutoff = RETENTION.cutoffs(NOW)
    store.put_calls(
        account_id,
        [
            stored("ancient", call_cutoff - 40 * DAY),  # its month is wholly past retention
            stored("just-past", call_cutoff - 60),  # past retention, its month is not
            stored("old-detail", detail_cutoff - 3 * DAY),
            stored("edge-detail", detail_cutoff - 60),  # shares a day with younger detail
            stored("fresh", NOW - 60),
        ],
    )
    with psycopg.connect(url) as conn:  # any row deleted one by one fails the purge
        conn.execute(
            b"""CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'row deleted from %', TG_TABLE_NAME; END $$;
                CREATE TRIGGER no_row_delete BEFORE DELETE ON calls
                    FOR EACH ROW EXECUTE FUNCTION refuse();
                CREATE TRIGGER no_row_delete BEFORE DELETE ON call_details
                    FOR EACH ROW EXECUTE FUNCTION refuse();"""
        )
    report = purge_expired(store, RETENTION, now=NOW)

    assert report.detail_cutoff == detail_cutoff - detail_cutoff % DAY
    assert report.call_cutoff == partition_of("calls", call_cutoff)[1]
    # ancient: its call and detail partitions; old-detail and just-past: their detail's day
    assert (report.details_deleted, report.calls_deleted) == (3, 1)
    partitions = rows_per_partition(url)
    assert partition_of("calls", call_cutoff - 40 * DAY)[0] not in partitions
    assert partition_of("call_details", detail_cutoff - 3 * DAY)[0] not in partitions
    # past the cutoff but sharing a partition with younger rows: kept until it is all past
    assert partitions[partition_of("call_details", detail_cutoff - 60)[0]] == 1
    with pytest.raises(Exception, match="row deleted"):
        store.delete_details_before(detail_cutoff, 10)
    query = CallQuery(account_id, 0, NOW + DAY, None, 0, 100, detail_cutoff)
    page = store.open_page(query, "json")
    try:
        rows = {row[4]: row for batch in page.batches() for row in batch}
    finally:
        page.close()
    assert set(rows) == {"just-past", "old-detail", "edge-detail", "fresh"}
    assert page.total == 4  # the dropped month's calls left the hourly counts with it
    _, dropped_from, dropped_to = partition_of("calls", call_cutoff - 40 * DAY)
    with psycopg.connect(url) as conn:
        hours = conn.execute(
            "SELECT hour, count(*) FROM account_hours WHERE account_id = %s GROUP BY 1",
            (account_id,),
        ).fetchall()
    assert all(rows_an_hour == 1 for _, rows_an_hour in hours)  # folded by the purge
    assert not [hour for hour, _ in hours if dropped_from <= hour * 3600 < dropped_to]
    # detail kept on disk past the cutoff is still unreadable: the API decides by age
    assert rows["edge-detail"][6:] == (0, None)
    assert rows["fresh"][6] == 1
    assert store.call_detail(account_id, "edge-detail", "json", detail_cutoff) == (True, None)


def test_a_partition_dropped_by_another_process_is_made_again(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    store.put_calls(account_id, [stored("first", NOW - 400 * DAY)])
    other = open_store(url)  # another server process: it purges the old partitions
    try:
        assert other.delete_calls_before(NOW - 300 * DAY, 1000) == 1
    finally:
        other.close()
    # this store still believes the partition exists: the write makes it again
    store.put_calls(account_id, [stored("second", NOW - 400 * DAY)])
    assert store.call_detail(account_id, "second", "json", 0)[1] is not None
    assert store.count_expired(0, NOW - 300 * DAY) == (0, 1)


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


def test_a_partition_left_detached_by_an_interrupted_drop_is_dropped_later(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    marker = "zq-left-detached-6620"
    start = NOW - 20 * DAY
    store.put_calls(account_id, [stored("old", start, detail=[entry(marker, timestamp=start)])])
    name = partition_of("call_details", start)[0]
    with psycopg.connect(url, autocommit=True) as conn:  # a purge killed between two steps
        conn.execute(f'ALTER TABLE call_details DETACH PARTITION "{name}" CONCURRENTLY')
    assert marker in database_text(url)
    store.delete_details_before(NOW - 5 * DAY, 100)
    assert name not in rows_per_partition(url)
    assert marker not in database_text(url)


def test_concurrent_purges_of_several_processes_share_the_drops(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    store.put_calls(account_id, [stored(f"d{n}", NOW - (10 + n) * DAY) for n in range(30)])
    stores = [PostgresStore(url, clock=lambda: NOW) for _ in range(3)]
    reports: list[Any] = []
    errors: list[BaseException] = []

    def purge(other: PostgresStore) -> None:
        try:
            reports.append(purge_expired(other, RETENTION, now=NOW))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=purge, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for other in stores:
            other.close()
    assert errors == []
    assert store.count_expired(NOW - 5 * DAY, 0) == (0, 0)
    # a partition is dropped once, by one of them; nobody deleted rows of another's
    assert sum(r.details_deleted for r in reports) == 30


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


def test_a_live_call_completing_into_a_missing_partition_makes_it_outside_its_transaction(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    """The partition is never made while the live transaction is open (a wait on another
    connection there could hang unseen): the update rolls back, the partition is made,
    and the update runs again, once."""
    store, url = pg
    old = 1_546_300_800 + 40 * DAY  # 2019: no partition yet
    update = {"src": "1", "dest": "2", "type": "inbound", "entries": [entry(timestamp=old)]}
    append_entries(store, account_id, "late", update, now=NOW)
    with counting_live_transactions(store) as transactions:
        result = append_entries(store, account_id, "late", {"end": old + 60}, now=NOW)
    assert result.complete
    assert transactions == [2]
    assert rows_per_partition(url)["calls_y2019"] == 1
    assert store.call_detail(account_id, "late", "json", 0)[1] is not None


def test_stale_calls_complete_into_a_partition_another_process_dropped(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    start = NOW - 20 * DAY
    store.put_calls(account_id, [stored("made-it", start)])  # this process caches it
    update = {"src": "1", "dest": "2", "type": "inbound", "entries": [entry(timestamp=start)]}
    append_entries(store, account_id, "open", update, now=start)
    other = PostgresStore(url, clock=lambda: NOW)  # another server's purge drops the day
    try:
        assert other.delete_details_before(NOW - 10 * DAY, 100) == 1
    finally:
        other.close()
    assert partition_of("call_details", start)[0] not in rows_per_partition(url)
    assert complete_stale(store, now=NOW, timeout=3600) == 1
    assert store.call_detail(account_id, "open", "json", 0)[1] is not None


def test_a_half_detached_partition_is_finished_before_rows_need_its_range(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    store, url = pg
    old = 1_546_300_800 + 5 * DAY  # 2019
    store.put_calls(account_id, [stored("old", old)])
    with (
        psycopg.connect(url, autocommit=True) as reader,
        psycopg.connect(url, autocommit=True) as purger,
    ):
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM calls")  # an old snapshot the detach waits for
        purger.execute("SET statement_timeout = '500ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):  # a purge stopped half-way
            purger.execute("ALTER TABLE calls DETACH PARTITION calls_y2019 CONCURRENTLY")
        reader.execute("ROLLBACK")
    # a new call of that year is stored (the old partition, expired, is dropped first)
    store.put_calls(account_id, [stored("again", old + DAY)])
    assert store.call_detail(account_id, "again", "json", 0)[1] is not None
    assert rows_per_partition(url)["calls_y2019"] == 1
    assert total_and_rows(store, account_id, old - DAY, old + 2 * DAY) == (1, 1)


def test_a_calls_partition_left_detached_leaves_the_counts_when_it_is_dropped(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    """A purge that died between its DETACH and its DROP: the table is dropped when a call
    of its range arrives, and its calls leave the hourly counts with it (review of #5)."""
    store, url = pg
    old = 1_560_000_000  # June 2019: a year partition
    store.put_calls(account_id, [stored(f"o{i}", old + i * 3600) for i in range(5)])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE calls DETACH PARTITION calls_y2019 CONCURRENTLY")
    store.put_calls(account_id, [stored("late", old + 50 * 3600)])
    assert total_and_rows(store, account_id, old - DAY, old + 5 * DAY) == (1, 1)


def test_a_drop_racing_a_fold_leaves_no_count_behind(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    """The drop subtracts the partition's own calls in its transaction: a fold of the
    same hours committing meanwhile cannot leave a count without its calls."""
    store, url = pg
    old = 1_560_000_000
    store.put_calls(account_id, [stored("a", old)])
    store.put_calls(account_id, [stored("b", old + 60)])  # two rows of changes, one hour
    folding = psycopg.connect(url)
    try:
        folding.execute(
            "WITH moved AS (DELETE FROM account_hours RETURNING *)"
            " INSERT INTO account_hours SELECT account_id, hour, sum(calls) FROM moved"
            " GROUP BY 1, 2"
        )  # uncommitted while the drop runs
        dropper = threading.Thread(target=store.delete_calls_before, args=(old + 400 * DAY, 100))
        dropper.start()
        dropper.join(1.0)
        folding.commit()
        dropper.join(30)
    finally:
        folding.close()
    assert total_and_rows(store, account_id, old - DAY, old + DAY) == (0, 0)
    store.delete_calls_before(0, 100)  # the next purge folds: nothing is left
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT sum(calls) FROM account_hours").fetchone() in ((None,), (0,))


def test_a_missing_partition_is_known_by_its_error_data_not_its_text(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    _, url = pg
    errors: list[psycopg.Error] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in (
            # 1970: no partition of calls covers it
            'INSERT INTO calls (account_id, session_id, src, dest, type, start, "end",'
            " private, entry_count) VALUES (%s, 'old', '1', '2', 'inbound', 1000, 1000, false, 0)",
            # a CHECK constraint: also a CheckViolation (SQLSTATE 23514), naming its constraint
            "INSERT INTO sensitive_modules (account_id, field, name, created_at)"
            " VALUES (%s, 'no_such_field', 'x', 0)",
        ):
            with pytest.raises(psycopg.errors.CheckViolation) as raised:
                conn.execute(statement, (account_id,))
            errors.append(raised.value)
        conn.execute(
            "INSERT INTO redaction_patterns (account_id, label, pattern, created_at)"
            " VALUES (%s, 'l', 'p', 0)",
            (account_id,),
        )
        with pytest.raises(psycopg.errors.UniqueViolation) as duplicate:
            conn.execute(
                "INSERT INTO redaction_patterns (account_id, label, pattern, created_at)"
                " VALUES (%s, 'l', 'p', 0)",
                (account_id,),
            )
    missing, check = errors
    assert is_missing_partition(missing)
    assert missing.diag.table_name == "calls"
    assert not is_missing_partition(check)
    assert check.diag.constraint_name is not None
    assert not is_missing_partition(duplicate.value)


def test_a_batch_whose_partition_was_dropped_meanwhile_is_written_once_it_is_made_again(
    pg: tuple[PostgresStore, str], account_id: int
) -> None:
    """The store believes the partition is there (its cache); another process dropped it:
    the write fails on the missing partition, the store makes it again and writes."""
    store, url = pg
    start = NOW - 40 * DAY
    store.put_calls(account_id, [stored("first", start)])
    name = partition_of("calls", start)[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'ALTER TABLE calls DETACH PARTITION "{name}"')
        conn.execute(f'DROP TABLE "{name}"')
    store.put_calls(account_id, [stored("second", start + 60)])
    assert store.call_detail(account_id, "second", "json", 0).found
    assert name in rows_per_partition(url)
