"""The outbox: every writer of a completed or erased call writes its webhook deliveries in
its own transaction (storage/places.py), for the account's enabled endpoints that asked
for the event; and the store's claims, outcomes, log and replay, on both backends."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.live import append_entries
from ivrlog.core.ports import Database
from ivrlog.core.webhooks import (
    COMPLETED,
    ERASED,
    Claimed,
    Outcome,
    Policy,
    Sent,
    decide,
    new_secret,
)
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.factories import NOW, call, entry, ingest

# the dispatcher's clock (ms): the outbox dates deliveries by the wall clock
T = 0  # set as each test starts (deliveries are dated by the wall clock as they are made)


@pytest.fixture(autouse=True)
def _clock() -> None:
    global T
    T = int(time.time() * 1000) + 60_000


def account_id(store: Database, creds: Credentials) -> int:
    account = store.account_by_email(creds.email)
    assert account is not None
    return account.id


def add(store: Database, owner: int, events: tuple[str, ...] = (COMPLETED, ERASED)) -> int:
    endpoint = store.add_endpoint(
        owner, "https://hooks.example.com/in", events, False, new_secret(), T
    )
    return endpoint.id


def queued(store: Database, owner: int, endpoint: int | None = None) -> list[tuple[str, str]]:
    rows = store.deliveries(owner, endpoint, failed=False, before=None, limit=1000)
    return [(d.session_id, d.event) for d in reversed(rows)]


def erase(client: TestClient, creds: Credentials, session_id: str) -> None:
    response = client.delete(
        f"/v1/calls/{quote(session_id, safe='')}",
        headers={"Authorization": f"Bearer {creds.ingest_token}"},
    )
    assert response.status_code == 200, response.text


def claim_all(
    store: Database, now: int | None = None, limit: int = 100, per_endpoint: int = 100
) -> list[Claimed]:
    at = T if now is None else now
    return store.claim_deliveries(at, at + 30_000, limit, per_endpoint)


def test_bulk_ingest_replacement_and_erasure_queue_events_per_endpoint(
    store: Database, client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    mine, theirs = account_id(store, account), account_id(store, other_account)
    both = add(store, mine)
    erased_only = add(store, mine, (ERASED,))
    off = add(store, mine)
    store.set_endpoint_enabled(mine, off, False, "paused")
    add(store, theirs)

    assert ingest(client, account, [call("a"), call("b", start=NOW - 100)]).status_code == 200
    assert ingest(client, account, [call("a", end=NOW - 3000)]).status_code == 200  # replaced
    erase(client, account, "b")

    assert queued(store, mine, both) == [
        ("a", COMPLETED),
        ("b", COMPLETED),
        ("a", COMPLETED),
        ("b", ERASED),
    ]
    assert queued(store, mine, erased_only) == [("b", ERASED)]
    assert queued(store, mine, off) == []
    assert queued(store, theirs) == []


def test_live_completion_and_the_timeout_queue_an_event(
    store: Database, account: Credentials
) -> None:
    mine = account_id(store, account)
    endpoint = add(store, mine)
    body = {"src": "1", "dest": "2", "type": "inbound", "entries": [entry(timestamp=NOW - 60)]}
    append_entries(store, mine, "live", body, now=NOW)
    append_entries(store, mine, "silent", body, now=NOW)
    assert queued(store, mine) == []  # in progress: nothing yet
    append_entries(store, mine, "live", {"end": NOW}, now=NOW)
    assert queued(store, mine) == [("live", COMPLETED)]

    settings = Settings(database="unused.db", open_call_timeout=3600, purge_interval=0)
    app: FastAPI = create_app(settings, store=store, clock=lambda: NOW + 7200)
    with TestClient(app):
        assert app.state.ctx.purge().open_calls_completed == 1
    assert queued(store, mine, endpoint) == [("live", COMPLETED), ("silent", COMPLETED)]


def test_claims_lease_keep_a_calls_order_and_outcomes_are_logged(
    store: Database, client: TestClient, account: Credentials
) -> None:
    mine = account_id(store, account)
    endpoint = add(store, mine)
    assert ingest(client, account, [call("a"), call("b")]).status_code == 200
    erase(client, account, "a")
    assert store.next_delivery_at() is not None

    first = claim_all(store)
    # "a" erased waits for "a" completed: one delivery per call at a time
    assert [(c.session_id, c.event) for c in first] == [("a", COMPLETED), ("b", COMPLETED)]
    assert first[0].secrets[0].startswith("whsec_")
    assert claim_all(store) == []  # leased
    taken_over = claim_all(store, now=T + 31_000)  # the lease ran out: claimable again
    assert [c.id for c in taken_over] == [c.id for c in first]

    policy = Policy(backoff_ms=1000)
    # the first claim's outcomes come late: its leases are another's now, nothing changes
    late = [decide(c, Sent(204, None, 12), T + 100, policy) for c in first]
    store.finish_deliveries(late)
    assert all(
        not d.attempts
        for d in store.deliveries(mine, endpoint, failed=False, before=None, limit=10)
    )
    assert claim_all(store, now=T + 32_000) == []  # still the second claim's

    ok = decide(taken_over[0], Sent(204, None, 12), T + 100, policy)
    failed = decide(taken_over[1], Sent(500, "status 500: boom", 40), T + 100, policy, lambda: 0.0)
    store.finish_deliveries([ok, failed])
    store.finish_deliveries([ok])  # written once: the lease is gone with the outcome

    later = claim_all(store, now=T + 500)
    assert [(c.session_id, c.event) for c in later] == [("a", ERASED)]  # b waits its backoff
    log = store.deliveries(mine, endpoint, failed=True, before=None, limit=10)
    assert [(d.session_id, d.state) for d in log] == [("b", "waiting")]
    assert log[0].attempts[0].status == 500
    assert log[0].attempts[0].error == "status 500: boom"
    assert log[0].next_at == T + 100 + 1000
    stats = store.webhook_queue(T + 1100)
    assert (stats.waiting, stats.failing) == (2, 1)
    assert stats.oldest_ms > 0
    [delivered] = [
        d
        for d in store.deliveries(mine, endpoint, failed=False, before=None, limit=10)
        if d.state == "delivered"
    ]
    assert len(delivered.attempts) == 1


def test_a_gone_call_410_and_replay(
    store: Database, client: TestClient, account: Credentials
) -> None:
    mine = account_id(store, account)
    endpoint = add(store, mine)
    assert (
        ingest(
            client, account, [call("a", start=NOW - 500), call("b", start=NOW - 400)]
        ).status_code
        == 200
    )
    claimed = claim_all(store)
    store.finish_deliveries([decide(claimed[0], Sent(410, "status 410", 5), T, Policy())])
    shown = store.endpoint(mine, endpoint)
    assert shown is not None
    assert not shown.enabled
    assert shown.disabled_reason == "the receiver answered 410 Gone"
    assert claim_all(store, now=T + 60_000) == []  # disabled: nothing is claimed

    enabled = store.set_endpoint_enabled(mine, endpoint, True, None)
    assert enabled is not None
    assert enabled.enabled
    assert enabled.disabled_reason is None
    [failed] = store.deliveries(mine, endpoint, failed=True, before=None, limit=10)
    assert failed.state == "failed"
    assert store.replay_delivery(mine, failed.id, T + 1000)
    assert not store.replay_delivery(mine + 999, failed.id, T + 1000)  # not the account's
    again = claim_all(store, now=T + 60_000)
    assert sorted(c.session_id for c in again) == ["a", "b"]
    assert [c.attempts for c in again if c.session_id == "a"] == [0]

    assert store.replay_calls(mine, endpoint, NOW - 450, NOW, T, 100) == 1  # b only
    assert store.replay_calls(mine, endpoint, 0, NOW, T, 1) == 1  # the oldest one only
    assert store.replay_calls(mine, endpoint + 999, 0, NOW, T, 100) == 0
    assert queued(store, mine)[-2:] == [("b", COMPLETED), ("a", COMPLETED)]


def test_each_endpoint_has_at_most_its_share_in_flight_and_none_starves(
    store: Database, client: TestClient, account: Credentials
) -> None:
    mine = account_id(store, account)
    busy = add(store, mine)
    assert (
        ingest(client, account, [call(f"c{i}", start=NOW - 900 + i) for i in range(30)]).status_code
        == 200
    )
    quiet = add(store, mine)  # added after: only the next call is its
    assert ingest(client, account, [call("late", start=NOW - 10)]).status_code == 200
    first = claim_all(store, limit=100, per_endpoint=4)
    by_endpoint = {e: [c for c in first if c.endpoint_id == e] for e in (busy, quiet)}
    assert len(by_endpoint[busy]) == 4  # the oldest four of its 31
    assert [c.session_id for c in by_endpoint[busy]] == ["c0", "c1", "c2", "c3"]
    assert [c.session_id for c in by_endpoint[quiet]] == ["late"]  # not held up by busy's
    # another dispatcher finds the share taken while the leases last
    assert claim_all(store, per_endpoint=4) == []
    store.finish_deliveries([decide(by_endpoint[busy][0], Sent(204, None, 1), T, Policy())])
    [next_one] = claim_all(store, per_endpoint=4)
    assert next_one.session_id == "c4"


def test_an_outcome_for_a_removed_endpoint_does_not_stop_the_others(
    store: Database, client: TestClient, account: Credentials
) -> None:
    mine = account_id(store, account)
    gone_endpoint, kept = add(store, mine), add(store, mine)
    assert ingest(client, account, [call("a")]).status_code == 200
    claimed = claim_all(store)
    assert store.remove_endpoint(mine, gone_endpoint)
    store.finish_deliveries([decide(c, Sent(204, None, 1), T, Policy()) for c in claimed])
    [delivery] = store.deliveries(mine, kept, failed=False, before=None, limit=10)
    assert delivery.state == "delivered"


def test_removing_an_endpoint_takes_its_deliveries_and_log(
    store: Database, client: TestClient, account: Credentials
) -> None:
    mine = account_id(store, account)
    endpoint = add(store, mine)
    assert ingest(client, account, [call("a")]).status_code == 200
    [claimed] = claim_all(store)
    outcome: Outcome = decide(claimed, Sent(200, None, 3), T, Policy())
    store.finish_deliveries([outcome])
    assert store.remove_endpoint(mine, endpoint)
    assert not store.remove_endpoint(mine, endpoint)
    assert store.deliveries(mine, None, failed=False, before=None, limit=10) == []
    assert store.endpoints(mine) == []


def test_the_log_purge_keeps_waiting_deliveries(
    store: Database, client: TestClient, account: Credentials
) -> None:
    mine = account_id(store, account)
    add(store, mine)
    assert ingest(client, account, [call("a"), call("b")]).status_code == 200
    first, second = claim_all(store)
    store.finish_deliveries(
        [
            decide(first, Sent(200, None, 3), T, Policy()),
            decide(second, Sent(503, "status 503", 3), T, Policy()),
        ]
    )
    # a's delivery (its attempt goes with it) and b's attempt
    assert store.delete_webhook_log_before(T + 1, 100) == 2
    [left] = store.deliveries(mine, None, failed=False, before=None, limit=10)
    assert (left.session_id, left.state, left.attempts) == ("b", "waiting", ())
