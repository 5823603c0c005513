"""POST /ingest/v1/calls: the bodies it takes (JSON arrays, NDJSON), those it refuses,
and the methods it answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_ingest.helpers import (
    URL,
    bearer,
    detail_of,
    error_message,
    listed,
    ndjson,
    post_raw,
    problems,
    session_ids,
)
from tests.factories import NOW, call, ingest

# accepted bodies


def test_json_array_is_accepted_and_readable(client: TestClient, account: Credentials) -> None:
    first = call("a;1", NOW - 3600)
    second = call("b;2", NOW - 7200, type="outbound")
    response = ingest(client, account, [first, second])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert orjson.loads(response.content) == {"accepted": 2}
    assert detail_of(client, account, "a;1") == first["detail"]
    assert detail_of(client, account, "b;2") == second["detail"]
    assert listed(client, account)["calls"] == [
        {
            "dest": "6177123001",
            "src": "6177123000",
            "start": NOW - 3600,
            "end": NOW - 3600 + 37,
            "session_id": "a;1",
            "type": "inbound",
            "log": True,
        },
        {
            "dest": "6177123001",
            "src": "Outbound",
            "start": NOW - 7200,
            "end": NOW - 7200 + 37,
            "session_id": "b;2",
            "type": "outbound",
            "log": True,
        },
    ]


def test_empty_array_accepts_nothing(client: TestClient, account: Credentials) -> None:
    response = ingest(client, account, [])
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == {"accepted": 0}
    assert listed(client, account)["total_calls"] == 0


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=utf-8", "Application/JSON"],
)
def test_json_content_types(
    client: TestClient, account: Credentials, content_type: str | None
) -> None:
    response = post_raw(client, account, orjson.dumps([call("ct")]), content_type)
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == {"accepted": 1}
    assert session_ids(client, account) == ["ct"]


@pytest.mark.parametrize(
    "content_type", ["application/x-ndjson", "application/x-ndjson; charset=utf-8"]
)
def test_ndjson_skips_blank_lines(
    client: TestClient, account: Credentials, content_type: str
) -> None:
    body = ndjson("", call("n;1", NOW - 100), "   ", "", call("n;2", NOW - 200), "\t", "")
    response = post_raw(client, account, body, content_type)
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == {"accepted": 2}
    assert session_ids(client, account) == ["n;1", "n;2"]
    assert detail_of(client, account, "n;2") == call("n;2", NOW - 200)["detail"]


def test_ndjson_with_crlf_line_ends(client: TestClient, account: Credentials) -> None:
    body = orjson.dumps(call("r;1")) + b"\r\n\r\n" + orjson.dumps(call("r;2")) + b"\r\n"
    response = post_raw(client, account, body, "application/x-ndjson")
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == {"accepted": 2}


def test_empty_ndjson_accepts_nothing(client: TestClient, account: Credentials) -> None:
    response = post_raw(client, account, b"\n\n", "application/x-ndjson")
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == {"accepted": 0}


def test_ndjson_bad_line_is_named(client: TestClient, account: Credentials) -> None:
    body = ndjson(call("ok;1"), "", '{"session_id": "broken"', call("ok;2"))
    message = error_message(post_raw(client, account, body, "application/x-ndjson"), 400)
    assert "line 3" in message
    assert listed(client, account)["total_calls"] == 0


def test_ndjson_invalid_call_indexes_count_calls_not_lines(
    client: TestClient, account: Credentials
) -> None:
    body = ndjson(call("ok;1"), "", call("bad;2", type="sideways"))
    response = post_raw(client, account, body, "application/x-ndjson")
    assert problems(response) == {(1, "type")}
    assert listed(client, account)["total_calls"] == 0


def test_ndjson_line_that_is_not_an_object(client: TestClient, account: Credentials) -> None:
    body = ndjson(call("ok;1"), [call("nested")])
    response = post_raw(client, account, body, "application/x-ndjson")
    assert problems(response) == {(1, "")}


# refused bodies


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
def test_other_content_types_are_415(
    client: TestClient, account: Credentials, content_type: str
) -> None:
    response = post_raw(client, account, orjson.dumps([call()]), content_type)
    error_message(response, 415)
    assert listed(client, account)["total_calls"] == 0


@pytest.mark.parametrize("body", [b"[", b"", b"[{]", b"not json", b"[1,]", b"\xff\xfe"], ids=repr)
def test_invalid_json_is_400(client: TestClient, account: Credentials, body: bytes) -> None:
    error_message(post_raw(client, account, body), 400)


@pytest.mark.parametrize(
    "value",
    [call(), {"calls": [call()]}, None, "calls", 3],
    ids=["call", "object", "null", "str", "int"],
)
def test_json_that_is_not_an_array_is_400(
    client: TestClient, account: Credentials, value: Any
) -> None:
    error_message(post_raw(client, account, orjson.dumps(value)), 400)
    assert listed(client, account)["total_calls"] == 0


def test_non_numeric_content_length_is_400(client: TestClient, account: Credentials) -> None:
    response = post_raw(client, account, b"[]", **{"Content-Length": "abc"})
    error_message(response, 400)


# methods


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: TestClient, account: Credentials, method: str) -> None:
    response = client.request(method, URL, headers=bearer(account))
    message = error_message(response, 405)
    assert "POST" in message
    assert response.headers["allow"] == "POST"
