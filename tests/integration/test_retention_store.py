"""The retention purge at the store level: the Store's retention methods and
purge_expired over them. Every backend in conftest.STORE_BACKENDS runs these unchanged,
except the row-by-row batching of SQLite and the fake (PostgreSQL drops partitions:
tests/integration/test_postgres_partitions.py) and what deleted content leaves in a
database's files (the fake has none: its scrub() is always True)."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest

from ivrlog.core.errors import CallComplete
from ivrlog.core.ingest import prepare_call
from ivrlog.core.live import append_entries, complete_stale
from ivrlog.core.model import CallQuery, StoredCall
from ivrlog.core.ports import Store
from ivrlog.core.retention import Retention, purge_expired
from tests.conftest import BACKENDS, STORE_BACKENDS, sqlite_only
from tests.factories import DAY, NOW, call, counting_live_transactions, database_text, entry

CUTOFF = NOW - 5 * DAY  # a detail cutoff for the store-level tests
TIMEOUT = 4 * 3600
RETENTION = Retention(detail_retention_days=5, call_retention_days=365, open_call_timeout=TIMEOUT)
# the purge deletes row by row, in batches, on these (PostgreSQL drops partitions)
row_batches = pytest.mark.parametrize("backend", ["sqlite", "memory"])
# what stays in a database's files, and a store opened again by its URL
databases_only = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stored(session_id: str, start: int, **extra: Any) -> StoredCall:
    return prepare_call(call(session_id, start, **extra))


def listed(store: Store, account_id: int) -> dict[str, bool]:
    """Every call of the account (session id -> log), with a detail cutoff of 0 so that
    `log` says whether the call still has stored detail, whatever its age."""
    query = CallQuery(
        account_id=account_id,
        start=0,
        end=NOW + DAY,
        number=None,
        offset=0,
        limit=1000,
        detail_cutoff=0,
    )
    page = store.open_page(query, None)
    try:
        return {row[4]: bool(row[6]) for batch in page.batches() for row in batch}
    finally:
        page.close()


@pytest.fixture
def account_id(store: Store) -> int:
    return store.create_account("a@example.com", "keyhash", "tokenhash", NOW).id


@pytest.fixture
def other_id(store: Store) -> int:
    return store.create_account("b@example.com", "keyhash2", "tokenhash2", NOW).id


# delete_details_before


def test_delete_details_before_deletes_only_details_of_calls_started_before_the_cutoff(
    store: Store, account_id: int, other_id: int
) -> None:
    store.put_calls(
        account_id,
        [
            stored("old-1", CUTOFF - 2 * DAY),
            stored("old-2", CUTOFF - 1),
            stored("edge", CUTOFF),
            stored("fresh", CUTOFF + 1),
            stored("old-private", CUTOFF - DAY, private=True),
        ],
    )
    store.put_calls(other_id, [stored("theirs-old", CUTOFF - 10), stored("theirs", CUTOFF + 10)])
    # the private call has no stored detail: it is not counted
    assert store.count_expired(CUTOFF, 0) == (3, 0)

    assert store.delete_details_before(CUTOFF, 2) == 2
    assert store.count_expired(CUTOFF, 0) == (1, 0)
    assert store.delete_details_before(CUTOFF, 2) == 1
    assert store.delete_details_before(CUTOFF, 2) == 0
    assert store.count_expired(CUTOFF, 0) == (0, 0)

    # the summaries stay, without detail; the call exactly at the cutoff keeps its detail
    assert listed(store, account_id) == {
        "old-1": False,
        "old-2": False,
        "edge": True,
        "fresh": True,
        "old-private": False,
    }
    assert listed(store, other_id) == {"theirs-old": False, "theirs": True}
    assert store.call_detail(account_id, "old-2", "json", 0) == (True, None)
    assert store.call_detail(account_id, "old-2", "xml", 0) == (True, None)
    found, fragment = store.call_detail(account_id, "edge", "json", 0)
    assert found
    assert fragment is not None
    assert fragment.startswith("[")
    # everything left is younger than the cutoff
    assert store.count_expired(CUTOFF + 11, 0) == (3, 0)


def test_count_expired_counts_details_and_calls_by_their_own_cutoffs(
    store: Store, account_id: int
) -> None:
    store.put_calls(
        account_id,
        [
            stored("ancient", NOW - 400 * DAY),
            stored("ancient-private", NOW - 400 * DAY, private=True),
            stored("middle", NOW - 10 * DAY),
            stored("fresh", NOW - DAY),
        ],
    )
    detail_cutoff, call_cutoff = RETENTION.cutoffs(NOW)
    # details: ancient + middle (the private call has none); calls: both ancient ones
    assert store.count_expired(detail_cutoff, call_cutoff) == (2, 2)
    assert store.count_expired(NOW - 400 * DAY, NOW - 400 * DAY) == (0, 0)
    assert store.count_expired(NOW, NOW) == (3, 4)


# delete_calls_before


def test_delete_calls_before_removes_only_older_calls_of_every_account_in_batches(
    store: Store, account_id: int, other_id: int
) -> None:
    cutoff = NOW - 365 * DAY
    store.put_calls(
        account_id,
        [
            stored("old-1", cutoff - 3 * DAY),
            stored("old-2", cutoff - 1),
            stored("edge", cutoff),
            stored("young", NOW - DAY),
        ],
    )
    store.put_calls(
        other_id, [stored("theirs-old", cutoff - DAY), stored("theirs-old-2", cutoff - 5)]
    )
    assert store.count_expired(NOW, cutoff) == (6, 4)

    assert store.delete_calls_before(cutoff, 3) == 3
    assert store.count_expired(NOW, cutoff) == (3, 1)
    assert store.delete_calls_before(cutoff, 3) == 1
    assert store.delete_calls_before(cutoff, 3) == 0

    assert listed(store, account_id) == {"edge": True, "young": True}
    assert listed(store, other_id) == {}
    for account, session_id in [
        (account_id, "old-1"),
        (account_id, "old-2"),
        (other_id, "theirs-old"),
        (other_id, "theirs-old-2"),
    ]:
        assert store.call_detail(account, session_id, "json", 0) == (False, None)
    # their details went with them: only the two kept calls' details remain
    assert store.count_expired(NOW, cutoff) == (2, 0)


# purge_expired


@row_batches
def test_purge_works_in_batches_and_reports_what_it_removed(
    store: Store, account_id: int, other_id: int
) -> None:
    detail_cutoff, call_cutoff = RETENTION.cutoffs(NOW)
    assert (detail_cutoff, call_cutoff) == (NOW - 5 * DAY, NOW - 365 * DAY)
    # 3 calls past call retention and 2 past detail retention only: 5 expired details
    store.put_calls(
        account_id,
        [
            stored("ancient-1", call_cutoff - DAY),
            stored("ancient-2", call_cutoff - 1),
            stored("middle-1", detail_cutoff - 1),
            stored("fresh", NOW - 60),
        ],
    )
    store.put_calls(
        other_id, [stored("ancient-3", call_cutoff - 10 * DAY), stored("middle-2", NOW - 9 * DAY)]
    )
    assert store.count_expired(detail_cutoff, call_cutoff) == (5, 3)
    steps: list[tuple[str, int]] = []

    report = purge_expired(
        store, RETENTION, now=NOW, batch=2, progress=lambda step, n: steps.append((step, n))
    )

    assert steps == [
        ("details", 2),
        ("details", 2),
        ("details", 1),
        ("calls", 2),
        ("calls", 1),
    ]
    assert report.as_dict() == {
        "open_calls_completed": 0,
        "details_deleted": 5,
        "calls_deleted": 3,
        "detail_cutoff": NOW - 5 * DAY,
        "call_cutoff": NOW - 365 * DAY,
        "scrubbed": True,
    }
    assert listed(store, account_id) == {"middle-1": False, "fresh": True}
    assert listed(store, other_id) == {"middle-2": False}
    assert store.count_expired(detail_cutoff, call_cutoff) == (0, 0)

    again: list[tuple[str, int]] = []
    second = purge_expired(
        store, RETENTION, now=NOW, batch=2, progress=lambda step, n: again.append((step, n))
    )
    assert again == []
    assert (second.open_calls_completed, second.details_deleted, second.calls_deleted) == (0, 0, 0)
    assert listed(store, account_id) == {"middle-1": False, "fresh": True}


@row_batches
def test_a_full_batch_is_followed_by_another_until_one_comes_back_short(
    store: Store, account_id: int
) -> None:
    detail_cutoff, _ = RETENTION.cutoffs(NOW)
    store.put_calls(account_id, [stored(f"m{n}", detail_cutoff - 1 - n) for n in range(4)])
    steps: list[tuple[str, int]] = []
    report = purge_expired(
        store, RETENTION, now=NOW, batch=2, progress=lambda step, n: steps.append((step, n))
    )
    # 2 + 2, then an empty batch that ends the step and is not reported
    assert steps == [("details", 2), ("details", 2)]
    assert report.details_deleted == 4
    assert report.calls_deleted == 0


def test_purge_completes_calls_left_open_past_the_timeout(store: Store, account_id: int) -> None:
    t = NOW - 3 * 3600
    opened = {"src": "6177123000", "dest": "6177123001", "type": "inbound"}
    append_entries(
        store,
        account_id,
        "stale",
        {**opened, "entries": [entry("hello", timestamp=t), entry("menu", timestamp=t + 40)]},
        now=t,
    )
    append_entries(
        store, account_id, "at-timeout", {**opened, "entries": [entry(timestamp=t)]}, now=t + 1
    )
    append_entries(
        store, account_id, "recent", {**opened, "entries": [entry(timestamp=t)]}, now=t + 600
    )
    assert listed(store, account_id) == {}  # calls in progress are not listed

    report = purge_expired(store, RETENTION, now=t + TIMEOUT + 1)

    assert report.open_calls_completed == 1
    assert (report.details_deleted, report.calls_deleted) == (0, 0)
    assert listed(store, account_id) == {"stale": True}
    found, fragment = store.call_detail(account_id, "stale", "json", 0)
    assert found
    assert fragment is not None
    assert [e["event"]["line"] for e in orjson.loads(fragment)] == ["hello", "menu"]
    query = CallQuery(account_id, 0, NOW + DAY, None, 0, 10, 0)
    page = store.open_page(query, None)
    [row] = [row for batch in page.batches() for row in batch]
    page.close()
    assert (row[2], row[3]) == (t, t + 40)  # end is the last entry's timestamp
    # the completed call takes no more entries
    with pytest.raises(CallComplete):
        append_entries(store, account_id, "stale", {"entries": [entry(timestamp=t + 50)]}, now=t)
    # the other two are still in progress: readable, not listed
    assert store.call_detail(account_id, "at-timeout", "json", 0)[1] is not None
    assert store.call_detail(account_id, "recent", "json", 0)[1] is not None

    later = purge_expired(store, RETENTION, now=t + 600 + TIMEOUT + 1)
    assert later.open_calls_completed == 2
    assert listed(store, account_id) == {"stale": True, "at-timeout": True, "recent": True}


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


@row_batches
def test_writers_and_readers_get_in_between_purge_batches(store: Store, account_id: int) -> None:
    """The purge holds the writer for one batch at a time: an ingest and a read started
    between two batches finish before the purge goes on (they would wait for the whole
    purge if it kept one transaction)."""
    store.put_calls(account_id, [stored(f"old{i:03}", CUTOFF - 100 - i) for i in range(30)])
    done: list[str] = []

    def between_batches(step: str, count: int) -> None:
        if done:
            return

        def ingest_and_read() -> None:
            store.put_calls(account_id, [stored("during", NOW - 60)])
            assert "during" in listed(store, account_id)
            done.append("ingested and read")

        worker = threading.Thread(target=ingest_and_read)
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive(), "the ingest waited for the purge"

    report = purge_expired(store, RETENTION, now=NOW, batch=10, progress=between_batches)
    assert done == ["ingested and read"]
    assert report.details_deleted == 30
    assert listed(store, account_id)["during"] is True


@row_batches
def test_slow_batches_shrink_and_quick_ones_grow_back(store: Store, account_id: int) -> None:
    """With a target, a batch slower than it halves the next; the sizes follow the clock."""
    store.put_calls(account_id, [stored(f"old{i:02}", CUTOFF - 100 - i) for i in range(20)])
    ticks = iter([0, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3])  # three slow, then quick
    sizes: list[int] = []
    report = purge_expired(
        store,
        RETENTION,
        now=NOW,
        batch=8,
        target=0.5,
        clock=lambda: float(next(ticks)),
        progress=lambda step, count: sizes.append(count) if step == "details" else None,
    )
    assert sizes == [8, 4, 2, 1, 2, 3]  # halved after each slow one, then doubled again
    assert report.details_deleted == 20


def test_completing_stale_calls_moves_a_bounded_number_of_entries_a_transaction(
    store: Store, account_id: int
) -> None:
    for n in range(5):
        update = {
            "src": "1",
            "dest": "2",
            "type": "inbound",
            "entries": [entry(timestamp=NOW - 9000), entry(timestamp=NOW - 9000)],
        }
        append_entries(store, account_id, f"open{n}", update, now=NOW - 9000)
    # a completed call of that day first: on PostgreSQL its partitions exist then, and no
    # transaction below has to run again to make them
    store.put_calls(account_id, [stored("warm", NOW - 9000)])
    with counting_live_transactions(store) as transactions:
        done = complete_stale(store, now=NOW, timeout=3600, entries_per_transaction=5)
    assert done == 5
    assert transactions == [4]  # 2 + 2 calls, 2 + 2 calls, 1 call, then one finding none
    assert all(store.call_detail(account_id, f"open{n}", "json", 0)[1] for n in range(5))


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
