"""The Store's retention methods: delete_details_before, count_expired and
delete_calls_before, each by its own cutoff."""

from __future__ import annotations

from ivrlog.core.ports import Store
from tests.factories import DAY, NOW
from tests.integration.retention_store.helpers import (
    CUTOFF,
    RETENTION,
    listed,
    stored,
)

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
