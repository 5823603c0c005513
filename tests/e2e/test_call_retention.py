"""Calls past `call_retention_days` read the same on both backends (SPEC 5): before any
purge runs, and on PostgreSQL after a purge that leaves them in a partition it cannot drop
yet, such a call is neither listed nor counted, and `/api/call/{id}` answers as for an
unknown call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import CallQuery
from ivrlog.core.ports import Store
from ivrlog.core.retention import purge_expired
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.factories import DAY, NOW, basic, call, ingest

CALL_CUTOFF = NOW - 365 * DAY  # call_retention_days is 365 by default
NOT_FOUND = {"error": "No call log was found."}
NO_DETAIL = {"error": "There are no call log details available for this call."}
LISTS = ["/api/calls", "/api/all_logs"]

ClientAt = Callable[..., TestClient]


@pytest.fixture
def client_at(settings: Settings, store: Store) -> Iterator[ClientAt]:
    """Clients of apps on the shared store whose clock says `now`, purge off."""
    with ExitStack() as stack:

        def make(now: int = NOW, **changes: Any) -> TestClient:
            changed = dataclasses.replace(settings, purge_interval=0, **changes)
            app = create_app(changed, store=store, clock=lambda: now)
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield make


@pytest.fixture
def seeded(client: TestClient, account: Credentials, store: Store) -> TestClient:
    """A call a day past the cutoff, one a second past it (in the same hour as the next),
    one exactly at it, and a fresh one; stored, never purged. They are written to the
    store directly, as calls stored while they were within retention: ingestion no
    longer stores a call already past it (test_ingesting_calls_past_retention...)."""
    calls = [
        call("past", start=CALL_CUTOFF - DAY),
        call("just-past", start=CALL_CUTOFF - 1),
        call("at", start=CALL_CUTOFF),
        call("fresh", start=NOW - 3600),
    ]
    owner = store.account_by_email(account.email)
    assert owner is not None
    store.put_calls(owner.id, [prepare_call(c) for c in calls])
    return client


def listing(
    client: TestClient, creds: Credentials, endpoint: str, start: int, end: int, **params: Any
) -> tuple[list[str], int]:
    response = client.get(f"{endpoint}/{start}/{end}", auth=basic(creds), params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return [c["session_id"] for c in body["calls"]], body["total_calls"]


@pytest.mark.parametrize("endpoint", LISTS)
def test_calls_past_retention_are_neither_listed_nor_counted(
    seeded: TestClient, account: Credentials, endpoint: str
) -> None:
    everything = (0, NOW + DAY)
    assert listing(seeded, account, endpoint, *everything) == (["fresh", "at"], 2)
    assert listing(seeded, account, endpoint, *everything, number="6177123001") == (
        ["fresh", "at"],
        2,
    )
    assert listing(seeded, account, endpoint, *everything, number="other") == ([], 0)
    assert listing(seeded, account, endpoint, *everything, offset=1, limit=1) == (["at"], 2)
    # a window that starts before the cutoff, ends past it, and is cut inside an hour
    assert listing(seeded, account, endpoint, CALL_CUTOFF - 2 * DAY, CALL_CUTOFF + 1) == (
        ["at"],
        1,
    )
    # windows wholly past the cutoff, ending at it or before it
    assert listing(seeded, account, endpoint, 0, CALL_CUTOFF) == ([], 0)
    assert listing(seeded, account, endpoint, CALL_CUTOFF - 2 * DAY, CALL_CUTOFF - DAY + 1) == (
        [],
        0,
    )


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
def test_a_call_past_retention_is_not_found_by_session_id(
    seeded: TestClient, account: Credentials, accept: str
) -> None:
    for session_id in ("past", "just-past"):
        response = seeded.get(
            f"/api/call/{session_id}", auth=basic(account), headers={"Accept": accept}
        )
        assert response.status_code == 404
        if accept == "application/json":
            assert response.json() == NOT_FOUND
        else:
            assert "<error>No call log was found.</error>" in response.text
    # the call at the cutoff is still known; its detail expired long ago
    at = seeded.get("/api/call/at", auth=basic(account))
    assert (at.status_code, at.json()) == (404, NO_DETAIL)
    assert seeded.get("/api/call/fresh", auth=basic(account)).status_code == 200


def test_call_retention_days_setting_moves_the_cutoff(
    seeded: TestClient, client_at: ClientAt, account: Credentials
) -> None:
    ingest(seeded, account, [call("month", start=NOW - 31 * DAY)])
    short = client_at(call_retention_days=30)

    assert listing(seeded, account, "/api/calls", 0, NOW + DAY)[0] == ["fresh", "month", "at"]
    assert listing(short, account, "/api/calls", 0, NOW + DAY) == (["fresh"], 1)
    assert short.get("/api/call/month", auth=basic(account)).json() == NOT_FOUND
    # the cutoff follows the clock: a year later, nothing is left
    later = client_at(NOW + 366 * DAY)
    assert listing(later, account, "/api/all_logs", 0, NOW + DAY) == ([], 0)
    assert later.get("/api/call/fresh", auth=basic(account)).json() == NOT_FOUND


def test_calls_past_retention_stay_hidden_after_a_purge_that_keeps_them(
    seeded: TestClient,
    account: Credentials,
    store: Store,
    settings: Settings,
    backend: str,
) -> None:
    report = purge_expired(store, settings.retention, now=NOW)

    # SQLite deletes by the exact cutoff; PostgreSQL drops whole monthly partitions, and
    # the cutoff's month still holds calls within retention
    owner = store.account_by_email(account.email)
    assert owner is not None
    page = store.open_page(CallQuery(owner.id, 0, NOW + DAY, None, 0, 10, 0), None)
    stored = [row[4] for batch in page.batches() for row in batch]
    page.close()
    assert ("past" in stored) == (backend == "postgresql")
    assert report.calls_deleted == (0 if backend == "postgresql" else 2)
    # and the API reads the same on both
    assert listing(seeded, account, "/api/all_logs", 0, NOW + DAY) == (["fresh", "at"], 2)
    assert seeded.get("/api/call/past", auth=basic(account)).json() == NOT_FOUND
