"""core.retention.purge_expired on the in-memory store, its `now` and batch clock given by
the test: what each step removes and when, the report, batch sizes and stopping."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from ivrlog.core.idempotency import KEY_LIFETIME, idempotent_request
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.live import append_entries
from ivrlog.core.retention import PurgeReport, Retention, purge_expired
from tests.factories import DAY, NOW, call, entry
from tests.fake_store import MemoryStore
from tests.unit.conftest import listed

HOUR = 3600
RETENTION = Retention(detail_retention_days=5, call_retention_days=365, open_call_timeout=4 * HOUR)
OPENED = {"src": "1", "dest": "2", "type": "inbound"}


def logs(store: MemoryStore, account_id: int) -> dict[str, int]:
    """Each completed call (session id -> whether its detail is still stored)."""
    return {sid: row[6] for sid, row in listed(store, account_id).items()}


def test_one_purge_applies_every_rule_and_reports_it(fake: MemoryStore, account_id: int) -> None:
    ingest_calls(
        fake,
        account_id,
        [
            call("ancient", NOW - 366 * DAY),
            call("old", NOW - 6 * DAY),
            call("edge", NOW - 5 * DAY),  # exactly at the detail cutoff: kept
            call("fresh", NOW - HOUR),
        ],
    )
    append_entries(
        fake, account_id, "open", {**OPENED, "entries": [entry(timestamp=NOW - 5 * HOUR)]}, now=NOW
    )
    append_entries(
        fake,
        account_id,
        "stale",
        {**OPENED, "entries": [entry(timestamp=NOW - 5 * HOUR)]},
        now=NOW - 5 * HOUR,
    )

    report = purge_expired(fake, RETENTION, now=NOW)

    assert report == PurgeReport(
        open_calls_completed=1,
        details_deleted=2,  # ancient's and old's: the calls step then takes ancient
        calls_deleted=1,
        detail_cutoff=NOW - 5 * DAY,
        call_cutoff=NOW - 365 * DAY,
        scrubbed=True,
    )
    assert logs(fake, account_id) == {"old": 0, "edge": 1, "fresh": 1, "stale": 1}
    assert fake.call_detail(account_id, "ancient", "json", 0) == (False, None)
    assert fake.call_detail(account_id, "open", "json", 0)[1] is not None  # still open
    assert purge_expired(fake, RETENTION, now=NOW).as_dict() == {
        **report.as_dict(),
        "open_calls_completed": 0,
        "details_deleted": 0,
        "calls_deleted": 0,
    }


def test_the_same_calls_expire_as_now_moves_on(fake: MemoryStore, account_id: int) -> None:
    ingest_calls(fake, account_id, [call("s", NOW - DAY)])  # its detail expires 4 days on
    for days_later, expected in [(3, {"s": 1}), (4, {"s": 0}), (363, {"s": 0}), (364, {})]:
        purge_expired(fake, RETENTION, now=NOW + days_later * DAY + 1)
        assert logs(fake, account_id) == expected, days_later


def test_idempotency_keys_are_deleted_after_their_lifetime(
    fake: MemoryStore, account_id: int
) -> None:
    key = idempotent_request("k", b"body")
    update = {**OPENED, "entries": [entry(timestamp=NOW)]}
    append_entries(fake, account_id, "s", update, now=NOW, idempotent=key)
    keep_open = Retention(5, 365, open_call_timeout=2 * KEY_LIFETIME)  # "s" stays open
    purge_expired(fake, keep_open, now=NOW + KEY_LIFETIME)
    assert append_entries(fake, account_id, "s", update, now=NOW, idempotent=key).replayed
    purge_expired(fake, keep_open, now=NOW + KEY_LIFETIME + 1)
    # the key is gone: the same update is applied again (a second entry)
    again = append_entries(fake, account_id, "s", update, now=NOW, idempotent=key)
    assert (again.replayed, again.entries) == (False, 2)


def test_batches_follow_the_injected_clock(fake: MemoryStore, account_id: int) -> None:
    ingest_calls(fake, account_id, [call(f"m{n:02}", NOW - 6 * DAY - n) for n in range(12)])
    # each batch "takes" the seconds between two readings of the clock: 1, 1, then 0
    readings: Iterator[float] = iter([0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    sizes: list[tuple[str, int]] = []
    report = purge_expired(
        fake,
        RETENTION,
        now=NOW,
        batch=4,
        target=0.5,
        clock=lambda: next(readings),
        progress=lambda step, count: sizes.append((step, count)),
    )
    # slow, slow: halved twice; quick: doubled back towards the batch size
    assert sizes == [("details", 4), ("details", 2), ("details", 1), ("details", 2), ("details", 3)]
    assert report.details_deleted == 12


def test_a_purge_told_to_stop_ends_before_its_next_transaction(
    fake: MemoryStore, account_id: int
) -> None:
    ingest_calls(fake, account_id, [call(f"m{n}", NOW - 6 * DAY - n) for n in range(5)])
    stop = threading.Event()
    report = purge_expired(
        fake, RETENTION, now=NOW, batch=2, progress=lambda step, count: stop.set(), stop=stop
    )
    assert (report.details_deleted, report.calls_deleted, report.scrubbed) == (2, 0, False)
    assert fake.count_expired(NOW - 5 * DAY, 0) == (3, 0)
    assert purge_expired(fake, RETENTION, now=NOW).details_deleted == 3
