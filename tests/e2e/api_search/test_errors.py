"""/v1/calls' and /v1/changes' errors: the compatible API's envelope, 401 (credentials
checked first), a 400 naming each bad parameter, 405, and the throttle's 429."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.e2e.api_search.helpers import find
from tests.factories import NOW

PATHS = ["/v1/calls", "/v1/changes"]
UNAUTHORIZED = "Authentication headers invalid or the account is inactive."


@pytest.mark.parametrize("path", PATHS)
def test_401_without_or_with_bad_credentials(
    client: TestClient, account: Credentials, path: str
) -> None:
    wrong = dataclasses.replace(account, developer_key="ivk_wrong")
    as_writer = dataclasses.replace(account, developer_key=account.ingest_token)
    for creds in (None, wrong, as_writer):
        # credentials come before parameters: a bad one is not even looked at
        response = find(client, creds, ("limit", "0"), path=path)
        assert response.status_code == 401
        assert response.json() == {"error": UNAUTHORIZED}
        assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("from", "yesterday")], "Invalid from 'yesterday': must be UNIX seconds"),
        ([("to", "-1y")], "Invalid to '-1y': must be UNIX seconds"),
        ([("from", "-1h"), ("to", "-2h")], "Invalid from '-1h': must be before to"),
        ([("number", "617*")], "Invalid number '617*': must be exact"),
        ([("src", "")], "Invalid src '': must be a number of 1 to 64 characters"),
        ([("dest", "6*1")], "Invalid dest '6*1'"),
        ([("type", "local")], "Invalid type 'local': must be one of inbound, outbound, transfer."),
        ([("min_duration", "ten")], "Invalid min_duration 'ten': must be a whole number"),
        ([("max_duration", "-5")], "Invalid max_duration '-5': must be a whole number"),
        ([("app", "")], "Invalid app: must be 1 to 1000 characters"),
        ([("reached", "")], "Invalid reached"),
        ([("ended_in", "")], "Invalid ended_in"),
        ([("has_error", "1")], "Invalid has_error '1': must be true or false."),
        ([("q", "?!")], "Invalid q '?!': must hold 1 to 32 words"),
        ([("limit", "0")], "Invalid limit '0': must be a whole number from 1 to 10000, or all."),
        ([("limit", "10001")], "Invalid limit '10001'"),
        ([("cursor", "nope")], "Invalid cursor 'nope': must be a cursor from a `next` link"),
        ([("include", "summary")], "Invalid include 'summary': must be detail."),
        ([("format", "xml")], "Invalid format 'xml': must be one of json, ndjson, csv."),
        ([("offset", "5")], "Unknown parameter 'offset'; allowed: from, to, number,"),
        ([("limit", "5"), ("limit", "5")], "Parameter 'limit' is given more than once"),
    ],
)
def test_each_bad_parameter_is_a_400_naming_it(
    client: TestClient, account: Credentials, params: list[tuple[str, str]], message: str
) -> None:
    response = find(client, account, *params)
    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    assert response.json()["error"].startswith(message)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("after", "-1")], "Invalid after '-1': must be a whole number from 0 to"),
        ([("limit", "all")], "Invalid limit 'all': must be a whole number from 1 to 10000."),
        ([("cursor", "x")], "Unknown parameter 'cursor'; allowed: after, limit."),
        ([("after", "1"), ("after", "1")], "Parameter 'after' is given more than once"),
    ],
)
def test_each_bad_changes_parameter_is_a_400_naming_it(
    client: TestClient, account: Credentials, params: list[tuple[str, str]], message: str
) -> None:
    response = find(client, account, *params, path="/v1/changes")
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_a_400_follows_accept_as_every_error_does(client: TestClient, account: Credentials) -> None:
    response = find(client, account, ("type", "x"), headers={"Accept": "application/xml"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/xml")
    assert "<error>Invalid type" in response.text


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(
    client: TestClient, account: Credentials, path: str, method: str
) -> None:
    response = client.request(method, path, auth=(account.email, account.developer_key))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


def test_failed_attempts_are_throttled(
    settings: Settings, store: Store, account: Credentials
) -> None:
    strict = dataclasses.replace(settings, auth_failures_per_address="2/minute")
    app = create_app(strict, store=store, clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        wrong = dataclasses.replace(account, developer_key="ivk_wrong")
        statuses = [find(client, wrong).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        throttled = find(client, account, path="/v1/changes")
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
