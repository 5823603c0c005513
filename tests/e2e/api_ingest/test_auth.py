"""POST /ingest/v1/calls: bearer-token authentication, and calls going to the token's owner."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, set_active
from ivrlog.core.ports import Store
from tests.e2e.api_ingest.helpers import (
    CALL_NOT_FOUND,
    URL,
    WINDOW,
    error_message,
    get_detail,
    listed,
    session_ids,
    stored_count,
)
from tests.factories import call, ingest

# authentication


def _basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


UNAUTHORIZED: list[tuple[str, Callable[[Credentials], dict[str, str]]]] = [
    ("no header", lambda c: {}),
    ("empty bearer", lambda c: {"Authorization": "Bearer "}),
    ("wrong token", lambda c: {"Authorization": "Bearer ivt_not-a-real-token"}),
    ("token with a typo", lambda c: {"Authorization": f"Bearer {c.ingest_token}x"}),
    ("developer key as bearer", lambda c: {"Authorization": f"Bearer {c.developer_key}"}),
    ("basic developer key", lambda c: {"Authorization": _basic_header(c.email, c.developer_key)}),
    ("basic ingest token", lambda c: {"Authorization": _basic_header(c.email, c.ingest_token)}),
    ("other scheme", lambda c: {"Authorization": f"Token {c.ingest_token}"}),
    ("bare token", lambda c: {"Authorization": c.ingest_token}),
]


@pytest.mark.parametrize(
    "headers", [case[1] for case in UNAUTHORIZED], ids=[case[0] for case in UNAUTHORIZED]
)
def test_bad_credentials_are_401(
    client: TestClient,
    account: Credentials,
    store: Store,
    headers: Callable[[Credentials], dict[str, str]],
) -> None:
    response = client.post(URL, json=[call()], headers=headers(account))
    error_message(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert stored_count(store, account) == 0


def test_disabled_account_is_401(client: TestClient, account: Credentials, store: Store) -> None:
    set_active(store, account.email, False)
    response = ingest(client, account, [call()])
    error_message(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert stored_count(store, account) == 0


def test_bearer_scheme_is_case_insensitive(client: TestClient, account: Credentials) -> None:
    response = client.post(
        URL, json=[call()], headers={"Authorization": f"bearer {account.ingest_token}"}
    )
    assert response.status_code == 200, response.text


def test_ingest_token_cannot_read(client: TestClient, account: Credentials) -> None:
    assert ingest(client, account, [call("x")]).status_code == 200
    response = client.get(f"/api/calls/{WINDOW}", auth=(account.email, account.ingest_token))
    assert response.status_code == 401
    response = client.get(
        "/api/call/x", headers={"Authorization": f"Bearer {account.ingest_token}"}
    )
    assert response.status_code == 401


def test_calls_go_to_the_token_owner(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    assert ingest(client, other_account, [call("theirs")]).status_code == 200
    assert listed(client, account)["total_calls"] == 0
    assert error_message(get_detail(client, account, "theirs"), 404) == CALL_NOT_FOUND
    assert session_ids(client, other_account) == ["theirs"]
