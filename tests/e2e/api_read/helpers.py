"""Helpers of the read API tests: requests, pages, and the JSON and XML shapes SPEC
section 2 gives them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.factories import DAY, NOW, basic, ingest

LISTS = ["/api/calls", "/api/all_logs"]
SUMMARY_KEYS = ["dest", "src", "start", "end", "session_id", "type", "log"]
DETAIL_KEYS = ["dest", "src", "start", "end", "session_id", "detail", "type", "log"]
WINDOW = (NOW - 30 * DAY, NOW + DAY)
CUTOFF = NOW - 5 * DAY  # detail_retention_days is 5 by default

ClientAt = Callable[..., TestClient]


# helpers


def get(
    client: TestClient,
    creds: Credentials,
    path: str,
    accept: str | None = None,
    **params: Any,
) -> httpx.Response:
    headers = {"Accept": accept} if accept is not None else {}
    return client.get(path, auth=basic(creds), headers=headers, params=params)


def page(
    client: TestClient,
    creds: Credentials,
    endpoint: str = "/api/calls",
    window: tuple[int, int] = WINDOW,
    **params: Any,
) -> dict[str, Any]:
    response = get(client, creds, f"{endpoint}/{window[0]}/{window[1]}", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [c["session_id"] for c in body["calls"]]


def stored(client: TestClient, creds: Credentials, calls: list[dict[str, Any]]) -> None:
    response = ingest(client, creds, calls)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": len(calls)}


def shape(value: Any) -> Any:
    """Keys in order and JSON types, all the way down (values left out)."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def xml_tree(text: str | bytes) -> ET.Element:
    """Parse XML written by the server under test or by this file: trusted input."""
    return ET.fromstring(text)


def parse_xml(response: httpx.Response) -> ET.Element:
    assert media_type(response) == "application/xml"
    assert response.text.startswith('<?xml version="1.0"?>')
    return xml_tree(response.content)


def tree(element: ET.Element) -> tuple[str, str, list[Any]]:
    """An element as (tag, stripped text, children), whitespace between elements ignored."""
    return (element.tag, (element.text or "").strip(), [tree(child) for child in element])


def expected_tree(tag: str, value: Any) -> tuple[str, str, list[Any]]:
    """The element SPEC section 2 says a JSON value becomes, as `tree` shows it."""
    if isinstance(value, dict):
        return (tag, "", [expected_tree(key, item) for key, item in value.items()])
    if isinstance(value, list):
        return (tag, "", [expected_tree("item", item) for item in value])
    if isinstance(value, bool):
        return (tag, "true" if value else "false", [])
    if value is None:
        return (tag, "", [])
    return (tag, str(value).strip(), [])
