"""Every row of SPEC section 2's error table, over HTTP, in JSON and in XML.

Status, exact message, headers (WWW-Authenticate on 401, Allow on 405) and the one
envelope: `{"error": ...}` or `<result><error>...</error></result>`.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, rotate_account
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.factories import DAY, NOW, basic, call, ingest

START, END = NOW - 10 * DAY, NOW + DAY
PAGE_PATHS = [f"/api/calls/{START}/{END}", f"/api/all_logs/{START}/{END}"]
CALL_PATH = "/api/call/100035;000;1575898377"
ALL_PATHS = [*PAGE_PATHS, CALL_PATH]

UNAUTHORIZED = "Authentication headers invalid or the account is inactive."
NO_CALL = "No call log was found."
NO_DETAIL = "There are no call log details available for this call."
NOT_FOUND = "Not found."
ONLY_GET = "Invalid HTTP method supplied (only GET allowed)."
DATABASE_ERROR = "Database error."

XML = {"Accept": "application/xml"}
LEAKS = ("traceback", "sqlite", "select ", ".py", "/tmp", "/work", "/var", "site-packages")


# helpers


def header(email: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()


def auth_header(creds: Credentials) -> dict[str, str]:
    return {"Authorization": header(*basic(creds))}


def xml_tree(response: httpx.Response) -> ET.Element:
    """Parse a body of the server under test: trusted input."""
    return ET.fromstring(response.content)


def assert_no_leak(response: httpx.Response) -> None:
    text = response.text.lower()
    for marker in LEAKS:
        assert marker not in text, f"{marker!r} in {response.text!r}"


def assert_json_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert response.json() == {"error": message}
    assert_no_leak(response)


def assert_xml_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/xml"
    assert response.text.startswith('<?xml version="1.0"?>')
    root = xml_tree(response)
    assert root.tag == "result"
    assert [(child.tag, child.text, len(child)) for child in root] == [("error", message, 0)]
    assert_no_leak(response)


def json_message(response: httpx.Response) -> str:
    body = response.json()
    assert list(body) == ["error"]
    message: str = body["error"]
    return message


def stored(client: TestClient, creds: Credentials, calls: list[dict[str, Any]]) -> None:
    response = ingest(client, creds, calls)
    assert response.status_code == 200, response.text


# 400: malformed parameters

BAD_PARAMETERS = [
    # (path after /api/<endpoint>/, query, parameter, the value, what is allowed)
    ("abc/100", {}, "start", "abc", "whole number of UNIX seconds"),
    ("-5/100", {}, "start", "-5", "whole number of UNIX seconds"),
    ("1.5/100", {}, "start", "1.5", "whole number of UNIX seconds"),
    ("253402300800/253402300801", {}, "start", "253402300800", "0 to 253402300799"),
    ("0/xyz", {}, "end", "xyz", "whole number of UNIX seconds"),
    ("0/-1", {}, "end", "-1", "whole number of UNIX seconds"),
    ("200/100", {}, "end", "100", "greater than start"),
    ("100/100", {}, "end", "100", "greater than start"),
    (f"{START}/{END}", {"limit": "0"}, "limit", "0", "1 to 10000"),
    (f"{START}/{END}", {"limit": "10001"}, "limit", "10001", "1 to 10000"),
    (f"{START}/{END}", {"limit": "abc"}, "limit", "abc", "1 to 10000"),
    (f"{START}/{END}", {"limit": "-1"}, "limit", "-1", "1 to 10000"),
    (f"{START}/{END}", {"offset": "-1"}, "offset", "-1", "from 0 to 9223372036854775807"),
    (f"{START}/{END}", {"offset": "abc"}, "offset", "abc", "from 0 to 9223372036854775807"),
    (
        f"{START}/{END}",
        {"offset": "9223372036854775808"},
        "offset",
        "9223372036854775808",
        "from 0 to 9223372036854775807",
    ),
]


@pytest.mark.parametrize("endpoint", ["/api/calls", "/api/all_logs"])
@pytest.mark.parametrize(
    ("window", "query", "parameter", "value", "allowed"),
    BAD_PARAMETERS,
    ids=[f"{row[2]}={row[3]}" for row in BAD_PARAMETERS],
)
def test_malformed_parameter_is_400_naming_it(
    client: TestClient,
    account: Credentials,
    endpoint: str,
    window: str,
    query: dict[str, str],
    parameter: str,
    value: str,
    allowed: str,
) -> None:
    response = client.get(f"{endpoint}/{window}", params=query, auth=basic(account))

    assert response.status_code == 400
    message = json_message(response)
    assert message.startswith(f"Invalid {parameter} ")
    assert value in message
    assert allowed in message
    assert_no_leak(response)


def test_limit_0_message_is_the_documented_one(client: TestClient, account: Credentials) -> None:
    response = client.get(PAGE_PATHS[0], params={"limit": "0"}, auth=basic(account))

    assert_json_error(response, 400, "Invalid limit '0': must be a whole number from 1 to 10000.")


def test_malformed_parameter_in_xml(client: TestClient, account: Credentials) -> None:
    response = client.get("/api/all_logs/200/100", auth=basic(account), headers=XML)

    assert_xml_error(response, 400, "Invalid end 100: must be greater than start (200).")


@pytest.mark.parametrize("path", ["/api/calls/abc/100", f"{PAGE_PATHS[1]}?limit=0"])
def test_credentials_are_checked_before_parameters(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert_json_error(response, 401, UNAUTHORIZED)


# 401: credentials

BAD_CREDENTIALS: dict[str, Callable[[Credentials, Credentials], str]] = {
    "empty header": lambda me, other: "",
    "scheme only": lambda me, other: "Basic",
    "not base64": lambda me, other: "Basic !!!not-base64!!!",
    "not utf-8": lambda me, other: "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "no colon": lambda me, other: (
        "Basic " + base64.b64encode((me.email + me.developer_key).encode()).decode()
    ),
    "empty key": lambda me, other: header(me.email, ""),
    "bearer scheme": lambda me, other: f"Bearer {me.developer_key}",
    "digest scheme": lambda me, other: "Digest " + header(*basic(me)).removeprefix("Basic "),
    "wrong key": lambda me, other: header(me.email, "ivk_" + "x" * 32),
    "key of another account": lambda me, other: header(me.email, other.developer_key),
    "unknown email": lambda me, other: header("nobody@example.com", me.developer_key),
    "ingest token as password": lambda me, other: header(me.email, me.ingest_token),
    "key as user": lambda me, other: header(me.developer_key, me.email),
}


@pytest.mark.parametrize("path", ALL_PATHS)
def test_no_authorization_header_is_401(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert_json_error(response, 401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("path", ALL_PATHS)
@pytest.mark.parametrize("case", list(BAD_CREDENTIALS))
def test_bad_credentials_are_401_with_www_authenticate(
    client: TestClient,
    account: Credentials,
    other_account: Credentials,
    path: str,
    case: str,
) -> None:
    stored(client, account, [call()])
    authorization = BAD_CREDENTIALS[case](account, other_account)

    response = client.get(path, headers={"Authorization": authorization})

    assert_json_error(response, 401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("path", ALL_PATHS)
def test_401_in_xml(client: TestClient, account: Credentials, path: str) -> None:
    response = client.get(path, headers={**XML, "Authorization": header(account.email, "nope")})

    assert_xml_error(response, 401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("path", ALL_PATHS)
def test_disabled_account_is_401(
    client: TestClient, store: Store, account: Credentials, path: str
) -> None:
    stored(client, account, [call()])
    store.set_account_active(account.email, False)

    response = client.get(path, auth=basic(account))

    assert_json_error(response, 401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("email", ["DEV@EXAMPLE.COM", "Dev@Example.com", "dev@example.com"])
@pytest.mark.parametrize("path", ALL_PATHS)
def test_email_is_matched_case_insensitively(
    client: TestClient, account: Credentials, email: str, path: str
) -> None:
    stored(client, account, [call()])

    response = client.get(path, headers={"Authorization": header(email, account.developer_key)})

    assert response.status_code == 200, response.text


def test_basic_scheme_name_is_case_insensitive(client: TestClient, account: Credentials) -> None:
    scheme_lower = "basic " + header(*basic(account)).removeprefix("Basic ")

    response = client.get(PAGE_PATHS[0], headers={"Authorization": scheme_lower})

    assert response.status_code == 200, response.text


# account changes reach a running app within a second


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked_client(settings: Settings, store: Store, clock: Clock) -> Iterator[TestClient]:
    """The app as create_app builds it (its own cache ttls), its caches aging by `clock`
    instead of the real monotonic clock."""
    app = create_app(settings, store=store, clock=lambda: NOW, cache_clock=clock)
    with TestClient(app, raise_server_exceptions=False) as the_client:
        yield the_client


def test_disable_and_enable_take_effect_within_a_second(
    clocked_client: TestClient, store: Store, account: Credentials, clock: Clock
) -> None:
    assert clocked_client.get(PAGE_PATHS[0], auth=basic(account)).status_code == 200

    store.set_account_active(account.email, False)
    clock.advance(1.0)
    disabled = clocked_client.get(PAGE_PATHS[0], auth=basic(account))
    store.set_account_active(account.email, True)
    clock.advance(1.0)
    enabled = clocked_client.get(PAGE_PATHS[0], auth=basic(account))

    assert_json_error(disabled, 401, UNAUTHORIZED)
    assert enabled.status_code == 200


def test_rotation_takes_effect_within_a_second(
    clocked_client: TestClient, store: Store, account: Credentials, clock: Clock
) -> None:
    assert clocked_client.get(CALL_PATH, auth=basic(account)).status_code == 404

    rotated = rotate_account(store, account.email)
    clock.advance(1.0)

    assert_json_error(clocked_client.get(CALL_PATH, auth=basic(account)), 401, UNAUTHORIZED)
    assert_json_error(clocked_client.get(CALL_PATH, auth=basic(rotated)), 404, NO_CALL)


def test_account_changes_reach_the_default_app_within_a_second(
    clocked_client: TestClient, store: Store, account: Credentials, clock: Clock
) -> None:
    assert clocked_client.get(PAGE_PATHS[0], auth=basic(account)).status_code == 200

    rotated = rotate_account(store, account.email)
    cached = clocked_client.get(PAGE_PATHS[0], auth=basic(account))
    clock.advance(1.0)
    old_key = clocked_client.get(PAGE_PATHS[0], auth=basic(account))
    new_key = clocked_client.get(PAGE_PATHS[0], auth=basic(rotated))
    store.set_account_active(account.email, False)
    clock.advance(1.0)
    disabled = clocked_client.get(PAGE_PATHS[0], auth=basic(rotated))

    assert cached.status_code == 200  # the app does cache: the change waits for the clock
    assert_json_error(old_key, 401, UNAUTHORIZED)
    assert new_key.status_code == 200
    assert_json_error(disabled, 401, UNAUTHORIZED)


# 404: /api/call/{id}


@pytest.mark.parametrize("session_id", ["nope", "100035;000;1575898378", "100035"])
def test_unknown_call_is_404_no_call_log(
    client: TestClient, account: Credentials, session_id: str
) -> None:
    stored(client, account, [call("100035;000;1575898377")])

    response = client.get(f"/api/call/{session_id}", auth=basic(account))

    assert_json_error(response, 404, NO_CALL)


def test_another_accounts_call_is_404_no_call_log(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    stored(client, other_account, [call("theirs")])

    response = client.get("/api/call/theirs", auth=basic(account))

    assert_json_error(response, 404, NO_CALL)


def test_no_call_log_in_xml_is_the_seeds_form(client: TestClient, account: Credentials) -> None:
    response = client.get("/api/call/300060%3B001%3B1529552581", auth=basic(account), headers=XML)

    assert_xml_error(response, 404, NO_CALL)


@pytest.mark.parametrize(
    "unreadable",
    [
        call("s1", private=True),
        call("s1", detail=[]),
        call("s1", start=NOW - 5 * DAY - 1),
        call("s1", start=NOW - 30 * DAY),
    ],
    ids=["private", "no entries", "just expired", "long expired"],
)
def test_call_without_readable_detail_is_404_no_details(
    client: TestClient, account: Credentials, unreadable: dict[str, Any]
) -> None:
    stored(client, account, [unreadable])

    response = client.get("/api/call/s1", auth=basic(account))
    in_xml = client.get("/api/call/s1", auth=basic(account), headers=XML)

    assert_json_error(response, 404, NO_DETAIL)
    assert_xml_error(in_xml, 404, NO_DETAIL)


# 404: unknown paths


UNKNOWN_PATHS = [
    "/nope",
    "/api",
    "/api/calls",
    "/api/calls/1",
    "/api/calls/1/2/3",
    "/api/all_logs/1",
    "/api/logs/1/2",
    "/api/calls/1/",
]


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_path_is_404_in_the_envelope(
    client: TestClient, account: Credentials, path: str
) -> None:
    response = client.get(path, auth=basic(account))
    in_xml = client.get(path, headers=XML)

    assert_json_error(response, 404, NOT_FOUND)
    assert_xml_error(in_xml, 404, NOT_FOUND)


# 405: only GET


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ALL_PATHS)
def test_other_methods_are_405_with_allow_get(
    client: TestClient, account: Credentials, path: str, method: str
) -> None:
    response = client.request(method, path, auth=basic(account))

    assert_json_error(response, 405, ONLY_GET)
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("path", ALL_PATHS)
def test_405_in_xml_and_without_credentials(client: TestClient, path: str, method: str) -> None:
    response = client.request(method, path, headers=XML)

    assert_xml_error(response, 405, ONLY_GET)
    assert response.headers["allow"] == "GET"


def test_405_does_not_change_anything(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call("s1")])

    client.delete("/api/call/s1", auth=basic(account))
    client.put(PAGE_PATHS[0], auth=basic(account), json=[])

    assert client.get("/api/call/s1", auth=basic(account)).status_code == 200


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
