"""POST /ingest/v1/calls: every invalid call is named by index and path, and an invalid
batch stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.ports import Store
from tests.e2e.api_ingest.helpers import (
    CALL_NOT_FOUND,
    DETAIL_UNAVAILABLE,
    URL,
    bearer,
    detail_of,
    error_message,
    get_detail,
    listed,
    parse_xml,
    problems,
    session_ids,
    stored_count,
)
from tests.factories import DAY, NOW, call, entry, ingest

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
