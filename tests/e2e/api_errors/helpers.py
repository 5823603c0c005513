"""Helpers of the error tests: the paths and messages of SPEC section 2's error table, and
checks of the one envelope, `{"error": ...}` or `<result><error>...</error></result>`."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.factories import DAY, NOW, basic, ingest

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
