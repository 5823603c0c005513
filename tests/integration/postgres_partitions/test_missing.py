"""A partition missing when rows need it (dropped by another process, or while a batch ran)
is made again, known by its error data, outside the writing transaction."""

from __future__ import annotations

import psycopg
import pytest

from ivrlog.core.live import append_entries, complete_stale
from ivrlog.storage import open_store
from ivrlog.storage.partitions import is_missing_partition, partition_of
from ivrlog.storage.postgres import PostgresStore
from tests.factories import DAY, NOW, counting_live_transactions, entry
from tests.integration.postgres_partitions.helpers import (
    rows_per_partition,
    stored,
)


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
