"""Ingestion does not write what retention has already removed (docs/operations.md): the
detail of a call started before the detail window, and calls started before the call
window. Such writes could never be read, and on PostgreSQL they raced the purge, which
drops the partitions they were written to ("no partition of relation call_details")."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import Store
from ivrlog.core.retention import purge_expired
from ivrlog.settings import Settings
from tests.factories import DAY, NOW, basic, call, database_text, entry, ingest

NO_DETAIL = {"error": "There are no call log details available for this call."}
NOT_FOUND = {"error": "No call log was found."}


def bearer(creds: Credentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds.ingest_token}"}


def test_detail_past_the_window_is_not_written(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    old, fresh = NOW - 6 * DAY, NOW - 3600
    batch = [
        call("old", start=old, detail=[entry("zq-old-detail-7431", timestamp=old)]),
        call("fresh", start=fresh, detail=[entry("zq-fresh-detail-7431", timestamp=fresh)]),
    ]
    assert ingest(client, account, batch).json() == {"accepted": 2}

    text = database_text(db_url)
    assert "zq-old-detail-7431" not in text
    assert "zq-fresh-detail-7431" in text
    listed = client.get(f"/api/calls/0/{NOW}", auth=basic(account)).json()
    assert [(c["session_id"], c["log"]) for c in listed["calls"]] == [
        ("fresh", True),
        ("old", False),
    ]
    assert client.get("/api/call/old", auth=basic(account)).json() == NO_DETAIL


def test_calls_past_call_retention_are_accepted_and_not_stored(
    client: TestClient, account: Credentials, db_url: str, store: Store
) -> None:
    ancient = NOW - 400 * DAY
    batch = [call("zq-ancient-call-7431", start=ancient), call("kept")]
    assert ingest(client, account, batch).json() == {"accepted": 2}

    assert "zq-ancient-call-7431" not in database_text(db_url)
    owner = store.account_by_email(account.email)
    assert owner is not None
    assert store.count_expired(0, NOW) == (0, 1)  # only "kept" is stored
    assert client.get("/api/call/zq-ancient-call-7431", auth=basic(account)).json() == NOT_FOUND


def test_a_live_call_completed_past_the_window_keeps_no_detail(
    client: TestClient, account: Credentials, db_url: str, store: Store
) -> None:
    old = NOW - 6 * DAY
    update = {
        "src": "6177123000",
        "dest": "6177123001",
        "type": "inbound",
        "entries": [entry("zq-old-live-7431", timestamp=old)],
    }
    path = "/ingest/v1/calls/live-old/entries"
    assert client.post(path, json=update, headers=bearer(account)).status_code == 200
    assert "zq-old-live-7431" in database_text(db_url)  # a call in progress holds it
    done = client.post(path, json={"end": old + 30}, headers=bearer(account))
    assert done.json()["complete"] is True

    assert store.count_expired(NOW + 1, 0) == (0, 0)  # no stored detail (nor old call)
    assert client.get("/api/call/live-old", auth=basic(account)).json() == NO_DETAIL


def test_old_batches_and_purges_run_together_without_errors(
    client: TestClient, account: Credentials, store: Store, settings: Settings
) -> None:
    """What the B11 soak found on PostgreSQL: batches of calls spread over weeks, some
    past the detail window, while purges drop expired partitions. Every batch is stored
    and every purge completes."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def purging() -> None:
        while not stop.is_set():
            try:
                purge_expired(store, settings.retention, now=NOW)
            except BaseException as exc:  # pragma: no cover - the failure this test finds
                failures.append(exc)
                return

    purger = threading.Thread(target=purging)
    purger.start()
    try:
        for round_ in range(40):
            batch = [
                call(f"r{round_}-{n}", start=NOW - (n * 3 + round_ % 3) * DAY) for n in range(12)
            ]
            response = ingest(client, account, batch)
            assert response.status_code == 200, response.text
    finally:
        stop.set()
        purger.join(timeout=60)
    assert not failures
    listed = client.get(f"/api/calls/0/{NOW + 1}", auth=basic(account), params={"limit": 1})
    assert listed.json()["total_calls"] == 40 * 12
