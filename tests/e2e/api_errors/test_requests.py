"""SPEC section 2's error table for bad requests, over HTTP in JSON and XML: 400 for a
malformed parameter, 404 for an unknown call or path, 405 with Allow: GET."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_errors.helpers import (
    ALL_PATHS,
    END,
    NO_CALL,
    NO_DETAIL,
    NOT_FOUND,
    ONLY_GET,
    PAGE_PATHS,
    START,
    UNAUTHORIZED,
    XML,
    assert_json_error,
    assert_no_leak,
    assert_xml_error,
    json_message,
    stored,
)
from tests.factories import DAY, NOW, basic, call

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
