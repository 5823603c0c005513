"""purge_expired over the Store: batches that shrink and grow, calls left open completed, and
writers and readers getting in between batches."""

from __future__ import annotations

import threading

import orjson
import pytest

from ivrlog.core.errors import CallComplete
from ivrlog.core.live import append_entries, complete_stale
from ivrlog.core.model import CallQuery
from ivrlog.core.ports import Store
from ivrlog.core.retention import purge_expired
from tests.factories import DAY, NOW, counting_live_transactions, entry
from tests.integration.retention_store.helpers import (
    CUTOFF,
    RETENTION,
    TIMEOUT,
    listed,
    row_batches,
    stored,
)

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
