"""POST /ingest/v1/calls over HTTP: formats, validation, atomicity, idempotence, limits, auth."""

from __future__ import annotations

import asyncio
import base64
import copy
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, set_active
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.model import CallQuery
from ivrlog.core.ports import Store
from ivrlog.storage import open_store
from tests.factories import DAY, NOW, basic, call, database_text, entry, ingest

URL = "/ingest/v1/calls"
MiB = 1024 * 1024
MAX_BODY = 64 * MiB
WINDOW = f"0/{NOW + DAY}"
DETAIL_UNAVAILABLE = "There are no call log details available for this call."
CALL_NOT_FOUND = "No call log was found."


# helpers


def parse_xml(text: str | bytes) -> ET.Element:
    """Parse our own output (trusted), failing the test when it is not well-formed."""
    return ET.fromstring(text)


def bearer(creds: Credentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds.ingest_token}"}


def post_raw(
    client: TestClient,
    creds: Credentials,
    body: bytes,
    content_type: str | None = "application/json",
    **headers: str,
) -> httpx.Response:
    sent = {**bearer(creds), **headers}
    if content_type is not None:
        sent["Content-Type"] = content_type
    return client.post(URL, content=body, headers=sent)


def ndjson(*lines: Any) -> bytes:
    """One line a value; a str is taken as the raw line."""
    return b"\n".join(
        line.encode() if isinstance(line, str) else orjson.dumps(line) for line in lines
    )


def get_detail(client: TestClient, creds: Credentials, session_id: str) -> httpx.Response:
    return client.get(f"/api/call/{quote(session_id, safe='')}", auth=basic(creds))


def detail_of(client: TestClient, creds: Credentials, session_id: str) -> Any:
    response = get_detail(client, creds, session_id)
    assert response.status_code == 200, response.text
    return orjson.loads(response.content)


def listed(client: TestClient, creds: Credentials) -> dict[str, Any]:
    response = client.get(f"/api/calls/{WINDOW}", auth=basic(creds))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = orjson.loads(response.content)
    return body


def all_logs(client: TestClient, creds: Credentials) -> dict[str, Any]:
    response = client.get(f"/api/all_logs/{WINDOW}", auth=basic(creds))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = orjson.loads(response.content)
    return body


def session_ids(client: TestClient, creds: Credentials) -> list[str]:
    return [c["session_id"] for c in listed(client, creds)["calls"]]


def problems(response: httpx.Response) -> set[tuple[int, str]]:
    """The (index, path) pairs of a 422 answer, after checking its shape."""
    assert response.status_code == 422, response.text
    body = orjson.loads(response.content)
    assert list(body) == ["error", "errors"]
    assert isinstance(body["error"], str)
    assert body["error"]
    for error in body["errors"]:
        assert list(error) == ["index", "path", "message"]
        assert isinstance(error["index"], int)
        assert isinstance(error["path"], str)
        assert isinstance(error["message"], str)
        assert error["message"]
    pairs = {(e["index"], e["path"]) for e in body["errors"]}
    assert len(pairs) == len(body["errors"])
    return pairs


def error_message(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = orjson.loads(response.content)
    assert list(body) == ["error"]
    message: str = body["error"]
    assert message
    return message


def stored_count(store: Store, creds: Credentials) -> int:
    account = store.account_by_email(creds.email.lower())
    assert account is not None
    page = store.open_page(
        CallQuery(account.id, 0, MAX_TIME + 1, None, 0, 10_000, detail_cutoff=0), None
    )
    try:
        return page.total
    finally:
        page.close()


def canonical(value: Any) -> bytes:
    """JSON bytes that differ whenever keys, their order, or a value's JSON type differ."""
    return orjson.dumps(value)


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


# validation: one problem, named by index and path


def _without(*keys: str | int) -> Callable[[dict[str, Any]], None]:
    def change(target: dict[str, Any]) -> None:
        node: Any = target
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return change


def _set(value: Any, *keys: str | int) -> Callable[[dict[str, Any]], None]:
    def change(target: dict[str, Any]) -> None:
        node: Any = target
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


_DATA = ("detail", 0, "event", "data")

INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("session_id missing", _without("session_id"), "session_id"),
    ("session_id empty", _set("", "session_id"), "session_id"),
    ("session_id slash", _set("a/b", "session_id"), "session_id"),
    ("session_id 129", _set("s" * 129, "session_id"), "session_id"),
    ("session_id nul", _set("a\x00b", "session_id"), "session_id"),
    ("session_id newline", _set("a\nb", "session_id"), "session_id"),
    ("session_id tab", _set("a\tb", "session_id"), "session_id"),
    ("session_id escape", _set("a\x1bb", "session_id"), "session_id"),
    ("session_id number", _set(123, "session_id"), "session_id"),
    ("session_id null", _set(None, "session_id"), "session_id"),
    ("src 65", _set("1" * 65, "src"), "src"),
    ("dest 65", _set("1" * 65, "dest"), "dest"),
    ("src missing", _without("src"), "src"),
    ("dest number", _set(6177123001, "dest"), "dest"),
    ("type unknown", _set("sideways", "type"), "type"),
    ("type upper", _set("INBOUND", "type"), "type"),
    ("type missing", _without("type"), "type"),
    ("start string", _set(str(NOW), "start"), "start"),
    ("start float", _set(float(NOW), "start"), "start"),
    ("start bool", _set(True, "start"), "start"),
    ("start negative", _set(-1, "start"), "start"),
    ("start after 9999", _set(MAX_TIME + 1, "start"), "start"),
    ("start missing", _without("start"), "start"),
    ("end before start", _set(NOW - 3601, "end"), "end"),
    ("end bool", _set(False, "end"), "end"),
    ("end null", _set(None, "end"), "end"),
    ("private string", _set("true", "private"), "private"),
    ("private number", _set(1, "private"), "private"),
    ("detail object", _set({}, "detail"), "detail"),
    ("detail null", _set(None, "detail"), "detail"),
    ("detail string", _set("[]", "detail"), "detail"),
    ("entry number", _set(42, "detail", 0), "detail[0]"),
    ("entry list", _set([], "detail", 0), "detail[0]"),
    ("event missing", _without("detail", 0, "event"), "detail[0].event"),
    ("event string", _set("hello", "detail", 0, "event"), "detail[0].event"),
    ("line missing", _without("detail", 0, "event", "line"), "detail[0].event.line"),
    ("line number", _set(5, "detail", 0, "event", "line"), "detail[0].event.line"),
    ("line null", _set(None, "detail", 0, "event", "line"), "detail[0].event.line"),
    ("data missing", _without("detail", 0, "event", "data"), "detail[0].event.data"),
    ("data list", _set([], "detail", 0, "event", "data"), "detail[0].event.data"),
    ("data string", _set("{}", "detail", 0, "event", "data"), "detail[0].event.data"),
    ("module_type missing", _without(*_DATA, "module_type"), "detail[0].event.data.module_type"),
    ("module_type number", _set(7, *_DATA, "module_type"), "detail[0].event.data.module_type"),
    (
        "result_variable missing",
        _without(*_DATA, "result_variable"),
        "detail[0].event.data.result_variable",
    ),
    (
        "result_variable null",
        _set(None, *_DATA, "result_variable"),
        "detail[0].event.data.result_variable",
    ),
    ("class unknown", _set("warning", "detail", 0, "class"), "detail[0].class"),
    ("class upper", _set("INFO", "detail", 0, "class"), "detail[0].class"),
    ("class missing", _without("detail", 0, "class"), "detail[0].class"),
    ("timestamp float", _set(float(NOW), "detail", 0, "timestamp"), "detail[0].timestamp"),
    ("timestamp fraction", _set(NOW + 0.5, "detail", 0, "timestamp"), "detail[0].timestamp"),
    ("timestamp string", _set(str(NOW), "detail", 0, "timestamp"), "detail[0].timestamp"),
    ("timestamp bool", _set(True, "detail", 0, "timestamp"), "detail[0].timestamp"),
    ("timestamp negative", _set(-5, "detail", 0, "timestamp"), "detail[0].timestamp"),
    ("timestamp missing", _without("detail", 0, "timestamp"), "detail[0].timestamp"),
    ("entry private string", _set("yes", "detail", 0, "private"), "detail[0].private"),
    ("entry private null", _set(None, "detail", 0, "private"), "detail[0].private"),
    ("unknown call field", _set("x", "note"), "note"),
    ("misspelt call field", _set(True, "Private"), "Private"),
    ("unknown entry field", _set(1, "detail", 0, "level"), "detail[0].level"),
    ("unknown event field", _set("x", "detail", 0, "event", "extra"), "detail[0].event.extra"),
]


@pytest.mark.parametrize(
    ("change", "path"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_one_invalid_call_is_named_and_nothing_is_stored(
    client: TestClient,
    account: Credentials,
    store: Store,
    change: Callable[[dict[str, Any]], None],
    path: str,
) -> None:
    bad = call("bad;1", NOW - 3600)
    change(bad)
    batch = [call("good;0", NOW - 100), bad, call("good;2", NOW - 200)]
    response = ingest(client, account, batch)
    assert problems(response) == {(1, path)}
    assert listed(client, account)["total_calls"] == 0
    assert stored_count(store, account) == 0


def test_duplicate_session_id_in_one_batch(client: TestClient, account: Credentials) -> None:
    batch = [call("a"), call("dup"), call("b"), call("dup", NOW - 10)]
    assert problems(ingest(client, account, batch)) == {(3, "session_id")}
    assert listed(client, account)["total_calls"] == 0


def test_call_that_is_not_an_object_has_an_empty_path(
    client: TestClient, account: Credentials
) -> None:
    batch: list[Any] = [call("a"), "call", None, [call("b")]]
    assert problems(ingest(client, account, batch)) == {(1, ""), (2, ""), (3, "")}


@pytest.mark.parametrize(
    "valid",
    [
        call("s" * 128),
        call("printable ;:?#%&=+ é ☎ 𝄞 \\"),
        call(src="1" * 64, dest="2" * 64),
        call(src="", dest=""),
        call(start=0, end=0, detail=[entry(timestamp=0)]),
        call(start=MAX_TIME, end=MAX_TIME, detail=[entry(timestamp=MAX_TIME)]),
        call(end=NOW - 3600),
        call(private=False, type="transfer"),
        call(detail=[{**entry(), "private": True}]),
        {k: v for k, v in call().items() if k != "detail"},
        call(detail=[entry(line="")]),
        call(detail=[entry(module_type="", result_variable="")]),
    ],
    ids=[
        "session_id 128",
        "session_id punctuation",
        "numbers 64",
        "numbers empty",
        "time 0",
        "time max",
        "end equals start",
        "private false",
        "entry private",
        "no detail",
        "empty line",
        "empty kept data",
    ],
)
def test_boundary_values_are_accepted(
    client: TestClient, account: Credentials, store: Store, valid: dict[str, Any]
) -> None:
    response = ingest(client, account, [valid])
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == {"accepted": 1}
    past_retention = valid["start"] < NOW - 365 * DAY
    # a call past call retention is accepted, but not stored: it would read as gone
    assert stored_count(store, account) == (0 if past_retention else 1)
    found = get_detail(client, account, valid["session_id"])
    if past_retention:
        assert error_message(found, 404) == CALL_NOT_FOUND
    elif found.status_code == 200:
        assert len(orjson.loads(found.content)) == len(valid["detail"])
    else:
        assert error_message(found, 404) == DETAIL_UNAVAILABLE


def test_several_problems_are_reported_at_once(client: TestClient, account: Credentials) -> None:
    entries = [entry(timestamp=NOW - 3600 + i) for i in range(5)]
    entries[3]["class"] = "warning"
    second = call("two", detail=entries, src="9" * 65)
    fourth = call("four", type="sideways", note="x")
    del fourth["detail"][0]["event"]["data"]["module_type"]
    fourth["detail"].append({**entry(), "timestamp": 1.5})
    batch: list[Any] = [call("one"), second, 42, fourth, call("one")]
    assert problems(ingest(client, account, batch)) == {
        (1, "src"),
        (1, "detail[3].class"),
        (2, ""),
        (3, "note"),
        (3, "type"),
        (3, "detail[0].event.data.module_type"),
        (3, "detail[1].timestamp"),
        (4, "session_id"),
    }
    assert listed(client, account)["total_calls"] == 0


def test_every_problem_of_one_entry(client: TestClient, account: Credentials) -> None:
    bad = {"event": {"data": {}, "x": 1}, "class": "loud", "timestamp": "now", "private": 0}
    response = ingest(client, account, [call(detail=[entry(), bad])])
    assert problems(response) == {
        (0, "detail[1].event.x"),
        (0, "detail[1].event.line"),
        (0, "detail[1].event.data.module_type"),
        (0, "detail[1].event.data.result_variable"),
        (0, "detail[1].class"),
        (0, "detail[1].timestamp"),
        (0, "detail[1].private"),
    }


def test_problems_beyond_a_thousand_are_counted(client: TestClient, account: Credentials) -> None:
    batch = [call(f"c{i}", type="sideways") for i in range(1001)]
    response = ingest(client, account, batch)
    body = orjson.loads(response.content)
    assert response.status_code == 422
    assert len(body["errors"]) == 1000
    assert "1001" in body["error"]
    assert {e["index"] for e in body["errors"]} == set(range(1000))


def test_validation_errors_in_xml(client: TestClient, account: Credentials) -> None:
    response = client.post(
        URL,
        json=[call("a"), call("b", type="sideways")],
        headers={**bearer(account), "Accept": "application/xml"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/xml")
    root = parse_xml(response.content)
    assert root.tag == "result"
    assert [child.tag for child in root] == ["error", "errors"]
    items = root.findall("errors/item")
    assert [(i.findtext("index"), i.findtext("path")) for i in items] == [("1", "type")]


# atomic


def test_invalid_batch_leaves_existing_calls_untouched(
    client: TestClient, account: Credentials
) -> None:
    original = call("keep", NOW - 3600, detail=[entry(line="original")])
    assert ingest(client, account, [original]).status_code == 200
    replacement = call("keep", NOW - 60, src="555", detail=[entry(line="replaced")])
    response = ingest(
        client, account, [replacement, call("new"), call("bad", start=-1, detail=[entry()])]
    )
    assert problems(response) == {(2, "start")}
    assert session_ids(client, account) == ["keep"]
    assert listed(client, account)["calls"][0]["src"] == "6177123000"
    assert detail_of(client, account, "keep") == original["detail"]


def test_too_many_entries_in_one_call_stores_nothing(
    client: TestClient, account: Credentials
) -> None:
    batch = [call("fine"), call("huge", detail=[entry()] * 10_001)]
    error_message(ingest(client, account, batch), 413)
    assert listed(client, account)["total_calls"] == 0


# idempotent


def test_reposting_a_call_replaces_it(client: TestClient, account: Credentials) -> None:
    first = call("same;1", NOW - 3600, detail=[entry(line="one"), entry(line="two")])
    assert ingest(client, account, [first, call("other")]).status_code == 200
    again = call(
        "same;1",
        NOW - 1800,
        end=NOW - 1000,
        src="6170000000",
        dest="6179999999",
        type="transfer",
        detail=[entry(line="three", cls="error", timestamp=NOW - 1800)],
    )
    response = ingest(client, account, [again])
    assert response.status_code == 200
    assert orjson.loads(response.content) == {"accepted": 1}
    page = listed(client, account)
    assert page["total_calls"] == 2
    assert [c["session_id"] for c in page["calls"]].count("same;1") == 1
    assert page["calls"][0] == {
        "dest": "6179999999",
        "src": "6170000000",
        "start": NOW - 1800,
        "end": NOW - 1000,
        "session_id": "same;1",
        "type": "transfer",
        "log": True,
    }
    assert detail_of(client, account, "same;1") == again["detail"]
    logs = all_logs(client, account)
    assert [c["session_id"] for c in logs["calls"]] == ["same;1", "other"]
    assert logs["calls"][0]["detail"] == again["detail"]


def test_retrying_the_same_batch_is_harmless(client: TestClient, account: Credentials) -> None:
    batch = [call(f"r;{i}", NOW - 60 * i) for i in range(5)]
    for _ in range(3):
        response = ingest(client, account, batch)
        assert orjson.loads(response.content) == {"accepted": 5}
    assert listed(client, account)["total_calls"] == 5
    assert session_ids(client, account) == [f"r;{i}" for i in range(5)]


def test_reposting_as_private_drops_the_detail(client: TestClient, account: Credentials) -> None:
    assert ingest(client, account, [call("p", detail=[entry(line="before")])]).status_code == 200
    assert detail_of(client, account, "p")[0]["event"]["line"] == "before"
    response = ingest(client, account, [call("p", private=True, detail=[entry(line="after")])])
    assert response.status_code == 200
    assert orjson.loads(response.content) == {"accepted": 1}
    assert error_message(get_detail(client, account, "p"), 404) == DETAIL_UNAVAILABLE
    assert listed(client, account)["calls"][0]["log"] is False
    assert listed(client, account)["total_calls"] == 1
    assert all_logs(client, account)["calls"][0]["detail"] == []


def test_detail_replaced_by_a_private_call_is_not_left_on_disk(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    marker = "zq-private-marker-7f3a"
    assert ingest(client, account, [call("p", detail=[entry(line=marker)])]).status_code == 200
    assert ingest(client, account, [call("p", private=True)]).status_code == 200
    assert marker not in database_text(db_url)


def test_reposting_with_no_entries_drops_the_detail(
    client: TestClient, account: Credentials
) -> None:
    assert ingest(client, account, [call("e")]).status_code == 200
    assert ingest(client, account, [call("e", detail=[])]).status_code == 200
    assert error_message(get_detail(client, account, "e"), 404) == DETAIL_UNAVAILABLE
    assert listed(client, account)["calls"][0]["log"] is False


def test_reposting_private_call_with_detail_restores_it(
    client: TestClient, account: Credentials
) -> None:
    assert ingest(client, account, [call("back", private=True)]).status_code == 200
    again = call("back", detail=[entry(line="visible")])
    assert ingest(client, account, [again]).status_code == 200
    assert detail_of(client, account, "back") == again["detail"]
    assert listed(client, account)["calls"][0]["log"] is True


def test_same_session_id_in_two_accounts_is_two_calls(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    mine = call("shared", detail=[entry(line="mine")])
    theirs = call("shared", detail=[entry(line="theirs")])
    assert ingest(client, account, [mine]).status_code == 200
    assert ingest(client, other_account, [theirs]).status_code == 200
    assert detail_of(client, account, "shared") == mine["detail"]
    assert detail_of(client, other_account, "shared") == theirs["detail"]


# privacy


def test_private_call_keeps_its_summary_only(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    marker = "zq-secret-line-91c2"
    private = call("priv", private=True, detail=[entry(line=marker, secret=marker)])
    assert ingest(client, account, [private]).status_code == 200
    summary = listed(client, account)["calls"][0]
    assert (summary["session_id"], summary["log"], summary["src"]) == ("priv", False, "6177123000")
    assert error_message(get_detail(client, account, "priv"), 404) == DETAIL_UNAVAILABLE
    assert marker not in database_text(db_url)


def test_private_entry_is_masked(client: TestClient, account: Credentials, db_url: str) -> None:
    marker = "zq-secret-value-44d0"
    hidden = {
        "event": {
            "line": f"Caller said {marker}",
            "data": {
                "zeta": marker,
                "module_type": "input",
                "count": 3,
                "result_variable": "pin",
                "nested": {"inner": marker},
                "flag": True,
                "nothing": None,
                "list": [marker],
            },
        },
        "class": "event",
        "timestamp": NOW - 3590,
        "private": True,
    }
    shown = entry(line="visible", timestamp=NOW - 3580, note="kept")
    assert ingest(client, account, [call("pe", detail=[hidden, shown])]).status_code == 200
    masked, plain = detail_of(client, account, "pe")
    assert canonical(masked) == canonical(
        {
            "event": {
                "line": "[private]",
                "data": {
                    "zeta": "[private]",
                    "module_type": "input",
                    "count": "[private]",
                    "result_variable": "pin",
                    "nested": "[private]",
                    "flag": "[private]",
                    "nothing": "[private]",
                    "list": "[private]",
                },
            },
            "class": "event",
            "timestamp": NOW - 3590,
        }
    )
    assert canonical(plain) == canonical(shown)
    assert marker not in database_text(db_url)


# exact round trip of data


def test_data_keys_order_and_types_are_kept(client: TestClient, account: Credentials) -> None:
    data = {
        "zulu": 1,
        "module_type": "custom",
        "alpha": 1.0,
        "mike": -0.0,
        "result_variable": "answer",
        "big": 9_223_372_036_854_775_807,
        "small": -9_223_372_036_854_775_808,
        "tiny": 5e-324,
        "huge": 1.7976931348623157e308,
        "yes": True,
        "no": False,
        "null": None,
        "text": 'héllo ☎ 𝄞 "quoted" <tag> & \\ \n\t\r\x00',
        "empty_text": "",
        "empty_list": [],
        "empty_object": {},
        "list": [1, "1", 1.5, True, None, [], {}, [[2]], {"b": 1, "a": 2}],
        "nested": {"z": {"y": {"x": [{"w": None}]}}, "a": 0},
        "1": "numeric key",
        "caller id": "space key",
        "": "empty key",
        "número": "unicode key",
    }
    line = 'Executing application "Welcome" version "1.0" — ünïcödé 🎉 <&>'
    sent = {"event": {"line": line, "data": data}, "class": "prompt", "timestamp": NOW - 3500}
    assert ingest(client, account, [call("types", detail=[sent])]).status_code == 200
    (got,) = detail_of(client, account, "types")
    assert canonical(got) == canonical(sent)
    assert list(got["event"]["data"]) == list(data)
    assert list(got["event"]["data"]["list"][8]) == ["b", "a"]
    (listed_call,) = all_logs(client, account)["calls"]
    assert canonical(listed_call["detail"]) == canonical([sent])


def test_entries_keep_their_order(client: TestClient, account: Credentials) -> None:
    entries = [
        entry(line=f"step {i}", cls=cls, timestamp=NOW - 3600 + (7 - i))
        for i, cls in enumerate(["info", "event", "debug", "prompt", "error", "info", "event"])
    ]
    assert ingest(client, account, [call("order", detail=entries)]).status_code == 200
    assert detail_of(client, account, "order") == entries


@pytest.mark.parametrize("literal", [b"18446744073709551616", b"-9223372036854775809"])
def test_integer_beyond_64_bits_is_refused(
    client: TestClient, account: Credentials, literal: bytes
) -> None:
    body = orjson.dumps([call("big", detail=[entry()])]).replace(
        b'"module_type"', b'"big":' + literal + b',"module_type"', 1
    )
    response = post_raw(client, account, body)
    assert response.status_code == 400
    assert "64 bits" in response.json()["error"]
    assert get_detail(client, account, "big").status_code == 404


def test_largest_64_bit_integers_are_kept(client: TestClient, account: Credentials) -> None:
    body = orjson.dumps([call("edge", detail=[entry()])]).replace(
        b'"module_type"', b'"hi":18446744073709551615,"lo":-9223372036854775808,"module_type"', 1
    )
    assert post_raw(client, account, body).status_code == 200
    (got,) = detail_of(client, account, "edge")
    assert (got["event"]["data"]["hi"], got["event"]["data"]["lo"]) == (2**64 - 1, -(2**63))


def test_infinite_float_is_refused_even_beside_long_digit_runs(
    client: TestClient, account: Credentials
) -> None:
    body = orjson.dumps([call("inf", detail=[entry(ref="1234567890123456789012")])]).replace(
        b'"module_type"', b'"x":1e400,"module_type"', 1
    )
    response = post_raw(client, account, body)
    assert response.status_code == 400
    assert get_detail(client, account, "inf").status_code == 404


@pytest.mark.parametrize("depth", [65, 300, 1000, 2000])
def test_data_nested_too_deep_is_422_with_its_path(
    client: TestClient, account: Credentials, depth: int
) -> None:
    nested = b"[" * depth + b"1" + b"]" * depth
    body = orjson.dumps([call("deep", detail=[entry(), entry()])]).replace(
        b'"module_type"', b'"deep":' + nested + b',"module_type"'
    )
    response = post_raw(client, account, body)
    if depth > 1024:  # beyond what the JSON parser itself reads
        assert response.status_code == 400
        return
    assert response.status_code == 422
    problems = [(e["index"], e["path"]) for e in response.json()["errors"]]
    assert problems == [(0, "detail[0].event.data"), (0, "detail[1].event.data")]


def test_data_nested_to_the_limit_is_kept(client: TestClient, account: Credentials) -> None:
    nested = b"[" * 63 + b"1" + b"]" * 63
    body = orjson.dumps([call("deep-ok", detail=[entry()])]).replace(
        b'"module_type"', b'"deep":' + nested + b',"module_type"', 1
    )
    assert post_raw(client, account, body).status_code == 200
    (got,) = detail_of(client, account, "deep-ok")
    assert orjson.dumps(got["event"]["data"]["deep"]) == nested
    xml = client.get(
        "/api/call/deep-ok", auth=basic(account), headers={"Accept": "application/xml"}
    )
    assert xml.status_code == 200


# durable


def test_accepted_calls_are_seen_by_a_fresh_store(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    calls = [call(f"d;{i}", NOW - 100 * i, detail=[entry(line=f"line {i}")]) for i in range(3)]
    assert ingest(client, account, calls).status_code == 200
    fresh = open_store(db_url)
    try:
        owner = fresh.account_by_email(account.email.lower())
        assert owner is not None
        found, fragment = fresh.call_detail(owner.id, "d;1", "json", 0)
        assert found
        assert fragment is not None
        assert orjson.loads(fragment) == calls[1]["detail"]
        page = fresh.open_page(CallQuery(owner.id, 0, NOW + 1, None, 0, 10, detail_cutoff=0), None)
        try:
            assert page.total == 3
            rows = [row for batch in page.batches() for row in batch]
        finally:
            page.close()
        assert [row[4] for row in rows] == ["d;0", "d;1", "d;2"]
    finally:
        fresh.close()


# limits


def test_more_than_ten_thousand_calls_is_413(client: TestClient, account: Credentials) -> None:
    batch = [call(f"c{i}", detail=[]) for i in range(10_001)]
    error_message(ingest(client, account, batch), 413)
    assert listed(client, account)["total_calls"] == 0


def test_more_than_ten_thousand_ndjson_lines_is_413(
    client: TestClient, account: Credentials
) -> None:
    body = ndjson(*(call(f"c{i}", detail=[]) for i in range(10_001)))
    error_message(post_raw(client, account, body, "application/x-ndjson"), 413)
    assert listed(client, account)["total_calls"] == 0


def test_ten_thousand_calls_are_accepted(client: TestClient, account: Credentials) -> None:
    batch = [call(f"c{i:05}", NOW - i, detail=[]) for i in range(10_000)]
    response = ingest(client, account, batch)
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == {"accepted": 10_000}
    assert listed(client, account)["total_calls"] == 10_000


def test_ten_thousand_entries_are_accepted(client: TestClient, account: Credentials) -> None:
    entries = [entry(line=f"e{i}", timestamp=NOW - 3600 + i) for i in range(10_000)]
    assert ingest(client, account, [call("full", detail=entries)]).status_code == 200
    got = detail_of(client, account, "full")
    assert len(got) == 10_000
    assert got[-1] == entries[-1]


def test_declared_body_over_64_mib_is_413(client: TestClient, account: Credentials) -> None:
    response = post_raw(client, account, b"[]", **{"Content-Length": str(MAX_BODY + 1)})
    assert "64 MiB" in error_message(response, 413)


def test_credentials_are_checked_before_the_body(client: TestClient, account: Credentials) -> None:
    response = client.post(
        URL, content=b"[", headers={"Content-Length": str(MAX_BODY + 1), "Content-Type": "x/y"}
    )
    assert response.status_code == 401


async def _stream(app: FastAPI, creds: Credentials, chunks: list[bytes]) -> tuple[int, bytes, int]:
    """POST chunks without Content-Length straight to the ASGI app.

    The answer's status and body, and how many chunks the app read."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {
                "type": "http.request",
                "body": chunks[read - 1],
                "more_body": read < len(chunks),
            }
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {creds.ingest_token}".encode()),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, read


def test_streamed_body_over_64_mib_is_cut_off(app: FastAPI, account: Credentials) -> None:
    chunk = b" " * MiB
    chunks = [b"["] + [chunk] * 100 + [b"]"]
    status, body, read = asyncio.run(_stream(app, account, chunks))
    assert status == 413
    assert "64 MiB" in orjson.loads(body)["error"]
    assert read < len(chunks) - 30  # stopped soon after the limit, not at the end


def test_streamed_body_of_exactly_64_mib_is_read(
    app: FastAPI, account: Credentials, store: Store
) -> None:
    payload = orjson.dumps([call("edge")])
    chunk = b" " * MiB
    padding = MAX_BODY - 63 * MiB - len(payload)
    chunks = [payload[:-1], *([chunk] * 63), b" " * padding + b"]"]
    assert sum(map(len, chunks)) == MAX_BODY
    status, body, _ = asyncio.run(_stream(app, account, chunks))
    assert status == 200, body
    assert orjson.loads(body) == {"accepted": 1}
    assert stored_count(store, account) == 1


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


# methods


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: TestClient, account: Credentials, method: str) -> None:
    response = client.request(method, URL, headers=bearer(account))
    message = error_message(response, 405)
    assert "POST" in message
    assert response.headers["allow"] == "POST"


def test_entry_private_flag_is_not_stored(client: TestClient, account: Credentials) -> None:
    """The entry's own `private` flag is not part of the stored entry."""
    sent = call("shape", detail=[{**entry(), "private": False}])
    expected = copy.deepcopy(sent["detail"])
    del expected[0]["private"]
    assert ingest(client, account, [sent]).status_code == 200
    (got,) = detail_of(client, account, "shape")
    assert list(got) == ["event", "class", "timestamp"]
    assert canonical([got]) == canonical(expected)
