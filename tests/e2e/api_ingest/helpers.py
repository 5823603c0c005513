"""Helpers of the ingest API tests: posting bodies, reading back what was stored, and the
shapes of its error answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.model import CallQuery
from ivrlog.core.ports import Store
from tests.factories import DAY, NOW, basic

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
