"""What deleted content leaves in a database's files: nothing once scrubbed, a scrub that
waits for no reader and is owed when a purge stops, and a closed store opening nothing."""

from __future__ import annotations

import threading

import pytest

from ivrlog.core.model import CallQuery
from ivrlog.core.ports import Store
from ivrlog.core.retention import purge_expired
from tests.conftest import sqlite_only
from tests.factories import DAY, NOW, database_text, entry
from tests.integration.retention_store.helpers import (
    CUTOFF,
    RETENTION,
    databases_only,
    listed,
    stored,
)

# deleted content does not stay readable in the database files


@databases_only
def test_expired_detail_is_gone_from_the_database_files(
    store: Store, db_url: str, account_id: int
) -> None:
    marker = "DETAILMARK-5c1e9a"
    kept = "KEPTMARK-0b7d44"
    store.put_calls(
        account_id,
        [
            stored(
                "middle",
                NOW - 10 * DAY,
                detail=[entry(f"said {marker}", timestamp=NOW - 10 * DAY, note=marker)],
            ),
            stored("fresh", NOW - DAY, detail=[entry(kept, timestamp=NOW - DAY)]),
        ],
    )
    before = database_text(db_url)
    assert marker in before
    assert kept in before

    report = purge_expired(store, RETENTION, now=NOW)

    assert report.details_deleted == 1
    assert report.scrubbed is True
    after = database_text(db_url)
    assert marker not in after
    assert kept in after
    assert listed(store, account_id) == {"middle": False, "fresh": True}


@databases_only
def test_a_call_past_call_retention_is_gone_from_the_database_files(
    store: Store, db_url: str, account_id: int
) -> None:
    src_marker = "SRCMARK9137"
    data_marker = "DATAMARK-e2f4c8"
    start = NOW - 400 * DAY
    store.put_calls(
        account_id,
        [
            stored(
                "ancient",
                start,
                src=src_marker,
                detail=[entry(timestamp=start, caller=data_marker)],
            ),
            stored("fresh", NOW - DAY),
        ],
    )
    before = database_text(db_url)
    assert src_marker in before
    assert data_marker in before

    # the calls step alone: the call's detail goes with it
    assert store.delete_calls_before(NOW - 365 * DAY, 10) == 1
    assert store.scrub() is True

    after = database_text(db_url)
    assert src_marker not in after
    assert data_marker not in after
    assert listed(store, account_id) == {"fresh": True}


@databases_only
def test_a_replaced_call_leaves_no_old_detail_after_scrub(
    store: Store, db_url: str, account_id: int
) -> None:
    old_marker = "OLDMARK-77a0f3"
    new_marker = "NEWMARK-1d5b92"
    store.put_calls(account_id, [stored("s", NOW - 60, detail=[entry(old_marker)])])
    assert old_marker in database_text(db_url)

    store.put_calls(account_id, [stored("s", NOW - 60, detail=[entry(new_marker)])])
    assert store.scrub() is True

    after = database_text(db_url)
    assert old_marker not in after
    assert new_marker in after
    found, fragment = store.call_detail(account_id, "s", "json", 0)
    assert found
    assert fragment is not None
    assert new_marker in fragment


@sqlite_only
def test_scrub_does_not_wait_for_readers_and_finishes_once_they_are_gone(
    store: Store, account_id: int, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ivrlog.storage.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "_SCRUB_PATIENCE", 0.2)
    marker = "zq-scrub-later-7781"
    store.put_calls(account_id, [stored("r", NOW - 60, detail=[entry(line=marker)])])
    query = CallQuery(account_id, 0, NOW + DAY, None, 0, 10, 0)
    page = store.open_page(query, "json")  # a reader holding a snapshot
    try:
        rows = page.batches()
        next(rows)  # (kept referenced: a dropped generator would close the page)
        store.put_calls(account_id, [stored("r", NOW - 60, private=True)])  # replaces it
        assert store.scrub() is False  # gave up instead of waiting for the reader
    finally:
        page.close()
    assert store.scrub() is True
    assert marker not in database_text(db_url)


@sqlite_only
def test_a_stopped_purge_ends_between_transactions_and_leaves_the_scrub_owed(
    store: Store, account_id: int, db_url: str
) -> None:
    marker = "zq-stopped-purge-3391"
    calls = [stored(f"old{i}", CUTOFF - 100 - i, detail=[entry(line=marker)]) for i in range(5)]
    store.put_calls(account_id, calls)
    stop = threading.Event()

    def stop_after_first(step: str, count: int) -> None:
        stop.set()

    report = purge_expired(store, RETENTION, now=NOW, batch=2, progress=stop_after_first, stop=stop)
    assert (report.details_deleted, report.scrubbed) == (2, False)
    assert store.count_expired(CUTOFF, 0) == (3, 0)
    assert store.scrub(only_if_owed=True) is True  # the deletion left it owed: done now
    again = purge_expired(store, RETENTION, now=NOW)
    assert (again.details_deleted, again.scrubbed) == (3, True)
    assert marker not in database_text(db_url)


@sqlite_only
def test_scrub_only_if_owed(store: Store, account_id: int, db_url: str) -> None:
    marker = "zq-owed-5512"
    store.put_calls(account_id, [stored("x", CUTOFF - 100, detail=[entry(line=marker)])])
    assert store.delete_details_before(CUTOFF, 10) == 1
    assert marker in database_text(db_url)  # deleted, still in the -wal: owed
    assert store.scrub(only_if_owed=True) is True
    assert marker not in database_text(db_url)


@databases_only
def test_a_closed_store_opens_no_new_connection(db_url: str) -> None:
    from ivrlog.storage import open_store

    closed = open_store(db_url)
    closed.close()
    with pytest.raises(Exception, match="closed"):
        closed.ping()
