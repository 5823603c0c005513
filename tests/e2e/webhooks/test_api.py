"""/v1/webhooks over HTTP (the app in-process, both backends): the ingest token's, with
every refusal named; the delivery log, replay and the queue's metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import Database
from ivrlog.core.webhooks import Policy, Sent, decide
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.factories import NOW, basic, call, ingest

HOSTS = {
    "hooks.example.com": ["93.184.216.34"],
    "inside.example.com": ["93.184.216.34", "10.0.0.7"],
    "metadata.example.com": ["169.254.169.254"],
}
URL = "https://hooks.example.com/ivrlog"


def fake_resolve(host: str, port: int) -> Sequence[str]:
    if host not in HOSTS:
        raise OSError("Name or service not known")
    return HOSTS[host]


@pytest.fixture
def api(store: Database, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, store=store, clock=lambda: NOW, resolve=fake_resolve)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def bearer(creds: Credentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds.ingest_token}"}


def add(api: TestClient, creds: Credentials, **body: Any) -> dict[str, Any]:
    answer = api.post("/v1/webhooks", json={"url": URL, **body}, headers=bearer(creds))
    assert answer.status_code == 201, answer.text
    document: dict[str, Any] = answer.json()
    return document


def test_endpoints_are_added_listed_changed_rotated_and_removed(
    api: TestClient, account: Credentials, other_account: Credentials
) -> None:
    made = add(api, account, events=["call.erased"], entries=True)
    assert made["secret"].startswith("whsec_")
    assert (made["url"], made["events"], made["entries"], made["enabled"]) == (
        URL,
        ["call.erased"],
        True,
        True,
    )
    default = add(api, account)
    assert default["events"] == ["call.completed", "call.erased"]
    assert default["entries"] is False

    listed = api.get("/v1/webhooks", headers=bearer(account)).json()["endpoints"]
    assert [e["id"] for e in listed] == [made["id"], default["id"]]
    assert all("secret" not in e for e in listed)
    assert made["secret"] not in api.get("/v1/webhooks", headers=bearer(account)).text
    assert api.get("/v1/webhooks", headers=bearer(other_account)).json() == {"endpoints": []}

    path = f"/v1/webhooks/{made['id']}"
    assert api.get(path, headers=bearer(other_account)).status_code == 404
    off = api.patch(path, json={"enabled": False}, headers=bearer(account))
    assert off.status_code == 200, off.text
    assert (off.json()["enabled"], off.json()["disabled_reason"]) == (
        False,
        "disabled by the account",
    )
    on = api.patch(path, json={"enabled": True}, headers=bearer(account)).json()
    assert (on["enabled"], on["disabled_reason"]) == (True, None)

    rotated = api.post(f"{path}/rotate", json={"grace_hours": 0}, headers=bearer(account))
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != made["secret"]

    assert api.delete(path, headers=bearer(other_account)).status_code == 404
    assert api.delete(path, headers=bearer(account)).json() == {"removed": made["id"]}
    assert api.get(path, headers=bearer(account)).status_code == 404
    assert api.delete(path, headers=bearer(account)).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "http://hooks.example.com/x"}, "url: must start with https://"),
        ({"url": "https://127.0.0.1/x"}, "127.0.0.1 is a loopback address"),
        ({"url": "https://[::1]:8443/x"}, "::1 is a loopback address"),
        ({"url": "https://10.1.2.3/x"}, "10.1.2.3 is a private address"),
        (
            {"url": "https://metadata.example.com/"},
            "metadata.example.com resolves to a refused address (169.254.169.254 is a link-local",
        ),
        ({"url": "https://inside.example.com/"}, "10.0.0.7 is a private address"),
        ({"url": "https://nowhere.example.com/"}, "does not resolve"),
        ({"url": "https://user:pw@hooks.example.com/"}, "must not carry credentials"),
        ({"url": "ftp://hooks.example.com/"}, "url: must start with https://"),
        ({"url": URL, "events": ["call.started"]}, "events: 'call.started' is not one of"),
        ({"url": URL, "events": []}, "events: name at least one"),
        ({"url": URL, "entries": "yes"}, "entries: must be true or false"),
        ({"url": URL, "secret": "mine"}, "Unknown field 'secret'"),
        ({"url": 7}, "url: must be a string"),
        ({}, "url: must be a string"),
    ],
)
def test_refused_endpoints_say_why(
    api: TestClient, account: Credentials, body: dict[str, Any], message: str
) -> None:
    answer = api.post("/v1/webhooks", json=body, headers=bearer(account))
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]
    assert api.get("/v1/webhooks", headers=bearer(account)).json() == {"endpoints": []}


def test_private_addresses_and_http_with_the_setting(
    store: Database, db_url: str, account: Credentials
) -> None:
    settings = Settings(database=db_url, purge_interval=0, webhook_allow_private=True)
    app = create_app(settings, store=store, clock=lambda: NOW, resolve=fake_resolve)
    with TestClient(app) as client:
        answer = client.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=bearer(account)
        )
    assert answer.status_code == 201, answer.text


def test_credentials_and_bodies(api: TestClient, account: Credentials) -> None:
    assert api.get("/v1/webhooks").status_code == 401
    assert api.get("/v1/webhooks", headers={"Authorization": "Bearer nope"}).status_code == 401
    # a developer key only reads
    read_only = api.get("/v1/webhooks", auth=basic(account))
    assert read_only.status_code == 403
    assert "ingest token" in read_only.json()["error"]
    text = api.post(
        "/v1/webhooks",
        content=b"url=x",
        headers={**bearer(account), "Content-Type": "text/plain"},
    )
    assert text.status_code == 415
    big = api.post(
        "/v1/webhooks",
        content=orjson.dumps({"url": URL + "?" + "x" * 9000}),
        headers={**bearer(account), "Content-Type": "application/json"},
    )
    assert big.status_code == 413
    not_object = api.post("/v1/webhooks", json=[URL], headers=bearer(account))
    assert not_object.status_code == 400
    made = add(api, account)
    path = f"/v1/webhooks/{made['id']}"
    assert api.patch(path, json={}, headers=bearer(account)).status_code == 400
    assert api.patch(path, json={"enabled": 1}, headers=bearer(account)).status_code == 400
    bad_grace = api.post(f"{path}/rotate", json={"grace_hours": 721}, headers=bearer(account))
    assert bad_grace.status_code == 400
    assert "grace" in bad_grace.json()["error"]


def test_the_log_pages_and_replays(api: TestClient, store: Database, account: Credentials) -> None:
    made = add(api, account)
    calls = [call(f"c{i}", start=NOW - 3600 + i) for i in range(5)]
    assert ingest(api, account, calls).status_code == 200
    path = f"/v1/webhooks/{made['id']}"
    later = int(time.time() * 1000) + 60_000  # the dispatcher's clock
    claimed = store.claim_deliveries(later, later + 1, 10, 100)
    store.finish_deliveries(
        [
            decide(c, Sent(204, None, 5) if i else Sent(500, "status 500", 7), later, Policy())
            for i, c in enumerate(claimed)
        ]
    )
    page = api.get(f"{path}/deliveries?limit=2", headers=bearer(account)).json()
    assert [d["session_id"] for d in page["deliveries"]] == ["c4", "c3"]
    assert page["deliveries"][0]["state"] == "delivered"
    assert page["deliveries"][0]["attempts"][0]["status"] == 204
    assert page["deliveries"][0]["webhook_id"] == f"msg_{page['deliveries'][0]['id']}"
    following = api.get(page["next"], headers=bearer(account)).json()
    assert [d["session_id"] for d in following["deliveries"]] == ["c2", "c1"]
    failed = api.get(f"{path}/deliveries?failed=true", headers=bearer(account)).json()
    assert [(d["session_id"], d["state"]) for d in failed["deliveries"]] == [("c0", "waiting")]
    assert failed["deliveries"][0]["attempts"][0]["error"] == "status 500"
    assert failed["next"] is None
    assert api.get(f"{path}/deliveries?limit=0", headers=bearer(account)).status_code == 400

    one = page["deliveries"][0]["id"]
    again = api.post(f"{path}/replay", json={"delivery": one}, headers=bearer(account))
    assert again.json() == {"queued": 1}
    shown = api.get(f"{path}/deliveries?limit=1", headers=bearer(account)).json()
    assert shown["deliveries"][0]["state"] == "waiting"
    missing = api.post(f"{path}/replay", json={"delivery": one + 100}, headers=bearer(account))
    assert missing.status_code == 404
    ranged = api.post(
        f"{path}/replay", json={"from": NOW - 3600, "to": NOW - 3597}, headers=bearer(account)
    )
    assert ranged.json() == {"queued": 3}
    both = api.post(f"{path}/replay", json={"delivery": one, "from": 0}, headers=bearer(account))
    assert both.status_code == 400
    backwards = api.post(f"{path}/replay", json={"from": NOW, "to": 5}, headers=bearer(account))
    assert backwards.status_code == 400
    assert api.post(f"{path}/replay", json={}, headers=bearer(account)).status_code == 400


def test_the_queue_is_in_the_metrics(api: TestClient, account: Credentials) -> None:
    add(api, account)
    assert ingest(api, account, [call("a"), call("b")]).status_code == 200
    text = api.get("/-/metrics").text
    assert "ivrlog_webhook_deliveries_waiting 2.0" in text
    assert "ivrlog_webhook_deliveries_failing 0.0" in text
    assert "ivrlog_webhook_endpoints_disabled 0.0" in text
    assert "ivrlog_webhook_oldest_waiting_seconds" in text


def test_rotation_without_a_body_keeps_the_old_secret_signing(
    api: TestClient, store: Database, account: Credentials
) -> None:
    made = add(api, account)
    path = f"/v1/webhooks/{made['id']}/rotate"
    rotated = api.post(path, headers=bearer(account))  # no body: a grace of 24 h
    assert rotated.status_code == 200, rotated.text
    assert ingest(api, account, [call("a")]).status_code == 200
    later = int(time.time() * 1000) + 1000
    [claimed] = store.claim_deliveries(later, later + 1, 10, 100)
    assert claimed.secrets == (rotated.json()["secret"], made["secret"])
    api.post(path, json={"grace_hours": 0}, headers=bearer(account))
    store.finish_deliveries([decide(claimed, Sent(500, "x", 1), later, Policy())])
    [again] = store.claim_deliveries(later + 10**7, later + 10**7 + 1, 10, 100)
    assert len(again.secrets) == 1


def test_a_range_replay_needs_an_endpoint_of_completed_calls(
    api: TestClient, account: Credentials
) -> None:
    made = add(api, account, events=["call.erased"])
    answer = api.post(
        f"/v1/webhooks/{made['id']}/replay", json={"from": 0}, headers=bearer(account)
    )
    assert answer.status_code == 400
    assert "does not take call.completed" in answer.json()["error"]
