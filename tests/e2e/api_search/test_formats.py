"""/v1/calls' formats: the JSON shape exactly, NDJSON and CSV parsed back by their standard
parsers, the choice by `format` or `Accept` (406 for neither), `include=detail`, and
gzip (decompressed, the same bytes)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_search.helpers import CALL_KEYS, WIDE, find, flow, found, stored
from tests.factories import NOW

ACCEPTS = {
    "json": ["application/json", "*/*", "application/*", "text/html, */*;q=0.1"],
    "ndjson": ["application/x-ndjson", "application/x-ndjson, application/json;q=0.9"],
    "csv": ["text/csv", "text/*", "text/csv;q=0.9, application/xml"],
}
MEDIA = {"json": "application/json", "ndjson": "application/x-ndjson", "csv": "text/csv"}
STEPS = [("getdigits", "card_number"), ("exit", "goodbye")]


@pytest.fixture
def calls(client: TestClient, account: Credentials) -> list[str]:
    stored(
        client,
        account,
        [
            flow("a;1", NOW - 300, STEPS, lines=('He said "hi", then\nleft',), error=True),
            flow("b;2", NOW - 200, STEPS, type="outbound", src="6175550100", app=None),
            flow("c;3", NOW - 100, STEPS, private=True),
        ],
    )
    return ["c;3", "b;2", "a;1"]


def media_type(response: Any) -> str:
    return str(response.headers["content-type"]).split(";")[0].strip()


def test_the_json_shape_exactly(client: TestClient, account: Credentials, calls: list[str]) -> None:
    response = find(client, account, *WIDE.items())
    assert media_type(response) == "application/json"
    body = response.json()
    assert list(body) == ["from", "to", "calls", "next"]
    for shown in body["calls"]:
        assert list(shown) == CALL_KEYS
        assert [
            type(shown[k]).__name__ for k in ("start", "end", "duration", "has_error", "log")
        ] == [
            "int",
            "int",
            "int",
            "bool",
            "bool",
        ]
        assert shown["ended_in"] == (shown["path"][-1] if shown["path"] else None)
    outbound = body["calls"][1]
    assert (outbound["type"], outbound["src"]) == ("outbound", "6175550100")


def test_include_detail_adds_the_entries_as_api_call_gives_them(
    client: TestClient, account: Credentials, calls: list[str]
) -> None:
    body = found(client, account, include="detail")
    for shown in body["calls"]:
        if shown["log"]:
            assert list(shown) == [*CALL_KEYS, "detail"]
            plain = client.get(
                f"/api/call/{shown['session_id']}", auth=(account.email, account.developer_key)
            )
            assert shown["detail"] == plain.json()
        else:  # a private call has no entries to show
            assert shown.get("detail", []) == []
    assert "detail" not in found(client, account)["calls"][0]


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_the_format_by_accept_or_by_format(
    client: TestClient, account: Credentials, calls: list[str], fmt: str
) -> None:
    for accept in ACCEPTS[fmt]:
        response = find(client, account, headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert media_type(response) == MEDIA[fmt], accept
        assert "Accept" in response.headers["vary"]
    # format wins over any Accept, even one naming none of the three
    for accept in ("application/xml", *(a for f in ACCEPTS for a in ACCEPTS[f])):
        response = find(client, account, ("format", fmt), headers={"Accept": accept})
        assert media_type(response) == MEDIA[fmt], accept


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "image/png", "*/*;q=0"])
def test_an_accept_naming_none_of_the_three_is_406(
    client: TestClient, account: Credentials, accept: str
) -> None:
    response = find(client, account, headers={"Accept": accept})
    assert response.status_code == 406
    message = response.text
    for media in ("application/json", "application/x-ndjson", "text/csv"):
        assert media in message


def test_ndjson_is_one_json_call_a_line(
    client: TestClient, account: Credentials, calls: list[str]
) -> None:
    as_json = found(client, account, include="detail")["calls"]
    response = find(client, account, *WIDE.items(), ("include", "detail"), ("format", "ndjson"))
    lines = response.text.split("\n")
    assert lines[-1] == ""  # every line ends with \n
    assert [json.loads(line) for line in lines[:-1]] == as_json


def test_csv_is_rfc_4180_one_row_a_call(
    client: TestClient, account: Credentials, calls: list[str]
) -> None:
    as_json = found(client, account)["calls"]
    response = find(client, account, *WIDE.items(), ("format", "csv"))
    assert response.content.endswith(b"\r\n")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert list(rows[0]) == CALL_KEYS
    assert [r["session_id"] for r in rows] == calls
    for row, shown in zip(rows, as_json, strict=True):
        assert row["src"] == shown["src"]
        assert int(row["start"]) == shown["start"]
        assert int(row["duration"]) == shown["duration"]
        assert row["has_error"] == str(shown["has_error"]).lower()
        assert row["ended_in"] == (shown["ended_in"] or "")
        assert row["app"] == (shown["app"] or "")


def test_csv_with_detail_is_one_row_an_entry(
    client: TestClient, account: Credentials, calls: list[str]
) -> None:
    as_json = found(client, account, include="detail")["calls"]
    response = find(client, account, *WIDE.items(), ("format", "csv"), ("include", "detail"))
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    expected = sum(max(1, len(c.get("detail", []))) for c in as_json)
    assert len(rows) == expected
    said = [r for r in rows if r["session_id"] == "a;1"]
    entries = next(c for c in as_json if c["session_id"] == "a;1")["detail"]
    assert [r["line"] for r in said] == [e["event"]["line"] for e in entries]
    assert 'He said "hi", then\nleft' in [r["line"] for r in said]  # quoted, parsed back whole


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
@pytest.mark.parametrize("limit", ["2", "all"])
def test_gzip_when_accepted_decompresses_to_the_plain_answer(
    client: TestClient, account: Credentials, calls: list[str], fmt: str, limit: str
) -> None:
    params = (*WIDE.items(), ("format", fmt), ("limit", limit), ("include", "detail"))
    plain = find(client, account, *params, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    # read the raw bytes: the test client would otherwise decompress them itself
    with client.stream(
        "GET",
        "/v1/calls",
        params=list(params),
        auth=(account.email, account.developer_key),
        headers={"Accept-Encoding": "gzip"},
    ) as zipped:
        raw = b"".join(zipped.iter_raw())
        assert zipped.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in zipped.headers["vary"]
        assert plain.headers.get("link") == zipped.headers.get("link")
    assert gzip.decompress(raw) == plain.content


def test_an_empty_answer_in_each_format(client: TestClient, account: Credentials) -> None:
    assert found(client, account)["calls"] == []
    assert find(client, account, ("format", "ndjson")).content == b""
    header = find(client, account, ("format", "csv")).text
    assert list(csv.reader(io.StringIO(header, newline=""))) == [CALL_KEYS]
    export = find(client, account, ("limit", "all"))
    assert export.json()["calls"] == []


def test_a_large_page_and_a_page_with_detail_answer_as_a_small_one(
    client: TestClient, account: Credentials, calls: list[str]
) -> None:
    small = found(client, account, limit="3")
    assert found(client, account, limit="10000") == small
    with_detail = found(client, account, limit="3", include="detail")
    assert [{k: v for k, v in c.items() if k != "detail"} for c in with_detail["calls"]] == small[
        "calls"
    ]
