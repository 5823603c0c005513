"""JSON or XML as the Accept header prefers, and the XML rendering of pages and details
(SPEC section 2)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_read.helpers import (
    DETAIL_KEYS,
    SUMMARY_KEYS,
    WINDOW,
    expected_tree,
    get,
    media_type,
    page,
    parse_xml,
    stored,
    tree,
)
from tests.factories import NOW, call, entry

# formats


JSON_ACCEPTS = [
    None,
    "application/json",
    "*/*",
    "text/html",
    "application/json, application/xml",
    "application/xml;q=0.5, application/json",
    "application/xml;q=0",
    "application/*",
]
XML_ACCEPTS = [
    "application/xml",
    "text/xml",
    "Application/XML",
    "application/xml, application/json",
    "application/json;q=0.5, application/xml",
    "text/xml;q=0.9, */*;q=0.1",
    "text/html, application/xml;q=0.9",
]
ENDPOINTS = [f"/api/calls/{WINDOW[0]}/{WINDOW[1]}", f"/api/all_logs/{WINDOW[0]}/{WINDOW[1]}"]


@pytest.mark.parametrize("path", [*ENDPOINTS, "/api/call/s1"])
@pytest.mark.parametrize("accept", JSON_ACCEPTS)
def test_json_unless_xml_is_preferred(
    client: TestClient, account: Credentials, path: str, accept: str | None
) -> None:
    stored(client, account, [call("s1")])

    response = get(client, account, path, accept)

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert isinstance(response.json(), dict | list)


@pytest.mark.parametrize("path", [*ENDPOINTS, "/api/call/s1"])
@pytest.mark.parametrize("accept", XML_ACCEPTS)
def test_xml_when_preferred(
    client: TestClient, account: Credentials, path: str, accept: str
) -> None:
    stored(client, account, [call("s1")])

    response = get(client, account, path, accept)

    assert response.status_code == 200
    assert parse_xml(response).tag == "result"


def test_xml_calls_page_shape(client: TestClient, account: Credentials) -> None:
    stored(
        client,
        account,
        [call("b", start=NOW - 100), call("a", start=NOW - 200, private=True)],
    )
    json_body = page(client, account)

    root = parse_xml(get(client, account, ENDPOINTS[0], "application/xml"))

    assert tree(root) == expected_tree("result", json_body)
    assert [child.tag for child in root] == ["calls", "total_calls"]
    assert [item.tag for item in root.find("calls") or []] == ["item", "item"]
    assert [child.tag for child in root.find("calls/item") or []] == SUMMARY_KEYS
    assert [item.findtext("log") for item in root.iterfind("calls/item")] == ["true", "false"]
    assert root.findtext("total_calls") == "2"


def test_xml_all_logs_page_shape(client: TestClient, account: Credentials) -> None:
    detail = [entry("hello", "prompt", NOW - 100, "prompt", "hi", has_audio=True, n=3)]
    stored(client, account, [call("b", start=NOW - 100, detail=detail), call("a", detail=[])])
    json_body = page(client, account, "/api/all_logs")

    root = parse_xml(get(client, account, ENDPOINTS[1], "application/xml"))

    assert tree(root) == expected_tree("result", json_body)
    first, second = root.iterfind("calls/item")
    assert [child.tag for child in first] == DETAIL_KEYS
    assert first.findtext("detail/item/event/data/has_audio") == "true"
    assert first.findtext("detail/item/event/data/n") == "3"
    empty = second.find("detail")
    assert empty is not None
    assert len(empty) == 0
    assert not (empty.text or "").strip()
    assert second.findtext("log") == "false"


def test_xml_empty_page(client: TestClient, account: Credentials) -> None:
    root = parse_xml(get(client, account, ENDPOINTS[0], "application/xml"))

    assert tree(root) == ("result", "", [("calls", "", []), ("total_calls", "0", [])])


def test_xml_detail_maps_values_as_the_spec_says(client: TestClient, account: Credentials) -> None:
    detail = [
        entry(
            "a < b & c > d",
            timestamp=NOW - 100,
            flag=False,
            on=True,
            nothing=None,
            tags=["x", "y"],
            count=42,
            ratio=0.25,
            nested={"inner": "v"},
        )
    ]
    stored(client, account, [call("s1", detail=detail)])

    root = parse_xml(get(client, account, "/api/call/s1", "application/xml"))

    assert tree(root) == expected_tree("result", detail)
    data = root.find("item/event/data")
    assert data is not None
    assert root.findtext("item/event/line") == "a < b & c > d"
    assert data.findtext("flag") == "false"
    assert data.findtext("on") == "true"
    nothing = data.find("nothing")
    assert nothing is not None
    assert len(nothing) == 0
    assert nothing.text is None
    assert [item.text for item in data.iterfind("tags/item")] == ["x", "y"]
    assert data.findtext("nested/inner") == "v"
    assert [child.tag for child in data][-2:] == ["module_type", "result_variable"]


def test_xml_keys_that_are_not_xml_names_are_encoded(
    client: TestClient, account: Credentials
) -> None:
    detail = [entry(timestamp=NOW - 100, **{"caller id": "1", "2fa": "2", "número": "3"})]
    stored(client, account, [call("s1", detail=detail)])

    root = parse_xml(get(client, account, "/api/call/s1", "application/xml"))

    data = root.find("item/event/data")
    assert data is not None
    assert [(child.tag, child.text) for child in data][:3] == [
        ("caller_x0020_id", "1"),
        ("_x0032_fa", "2"),
        ("n_x00FA_mero", "3"),
    ]


def test_xml_session_id_with_markup_stays_well_formed(
    client: TestClient, account: Credentials
) -> None:
    stored(client, account, [call("<a&b>;1", src="<src>", dest="&dest")])

    root = parse_xml(get(client, account, ENDPOINTS[1], "text/xml"))

    assert root.findtext("calls/item/session_id") == "<a&b>;1"
    assert root.findtext("calls/item/src") == "<src>"
    assert root.findtext("calls/item/dest") == "&dest"
