"""SPEC section 2's error table for unexpected failures: 500 "Database error.", and no error
body leaking internals."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import AsyncLookups, Store
from tests.e2e.api_errors.helpers import (
    CALL_PATH,
    DATABASE_ERROR,
    PAGE_PATHS,
    XML,
    assert_json_error,
    assert_xml_error,
    auth_header,
    stored,
    xml_tree,
)
from tests.factories import basic, call

# 500: unexpected failures

SECRET = "secret sql /path"
LEAKY = (
    'Traceback (most recent call last):\n  File "/work/x.py"\n'
    "sqlite3.OperationalError: near SELECT: /var/lib/ivrlog/ivrlog.db"
)


def _raise(message: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(message)

    return fail


@pytest.mark.parametrize(
    ("method", "path"),
    [("open_page", PAGE_PATHS[0]), ("open_page", PAGE_PATHS[1]), ("call_detail", CALL_PATH)],
)
@pytest.mark.parametrize("message", [SECRET, LEAKY])
def test_store_failure_is_500_database_error_without_its_text(
    client: TestClient,
    store: Store,
    account: Credentials,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    message: str,
) -> None:
    stored(client, account, [call()])
    monkeypatch.setattr(store, method, _raise(message))
    if method == "call_detail" and isinstance(store, AsyncLookups):
        # PostgreSQL's lookup is awaited on the event loop (web/hot.py)
        monkeypatch.setattr(store, "call_detail_async", _raise(message))

    with caplog.at_level(logging.ERROR):
        response = client.get(path, auth=basic(account))
        in_xml = client.get(path, auth=basic(account), headers=XML)

    assert_json_error(response, 500, DATABASE_ERROR)
    assert_xml_error(in_xml, 500, DATABASE_ERROR)
    for answer in (response, in_xml):
        assert "secret" not in answer.text
        assert "/path" not in answer.text
    assert message in caplog.text  # the internals go to the server log


def test_failure_while_authenticating_is_500_not_401(
    client: TestClient, store: Store, account: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(email: str) -> None:
        raise sqlite3.OperationalError("database is locked: /tmp/ivrlog.db")

    monkeypatch.setattr(store, "account_by_email", locked)

    response = client.get(PAGE_PATHS[0], auth=basic(account))

    assert_json_error(response, 500, DATABASE_ERROR)
    assert "www-authenticate" not in response.headers


# no error leaks internals


ERROR_REQUESTS = [
    ("GET", "/api/calls/abc/1", True),
    ("GET", f"{PAGE_PATHS[0]}?limit=99999999999999999999999", True),
    ("GET", f"{PAGE_PATHS[0]}?offset=1e3", True),
    ("GET", "/api/calls/99999999999999999999999/1", True),
    ("GET", "/api/calls/1/2", False),
    ("GET", "/api/call/%27%3B%20DROP%20TABLE%20calls%3B--", True),
    ("GET", "/api/call/nope", True),
    ("GET", "/api/call/nope%00", True),
    ("GET", "/no/such/file.py", True),
    ("POST", "/api/call/nope", True),
]


@pytest.mark.parametrize("accept", [None, "application/xml"])
@pytest.mark.parametrize(("method", "path", "with_auth"), ERROR_REQUESTS)
def test_error_bodies_never_leak_internals(
    client: TestClient,
    account: Credentials,
    method: str,
    path: str,
    with_auth: bool,
    accept: str | None,
) -> None:
    headers = auth_header(account) if with_auth else {}
    if accept is not None:
        headers["Accept"] = accept

    response = client.request(method, path, headers=headers)

    assert 400 <= response.status_code < 500
    if accept is None:
        assert set(response.json()) == {"error"}
    else:
        assert [child.tag for child in xml_tree(response)] == ["error"]
    for marker in ("Traceback", "sqlite", "File ", "site-packages", "/src/", "/work/"):
        assert marker.lower() not in response.text.lower()
