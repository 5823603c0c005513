"""POST /ingest/v1/calls: its limits on calls, entries and body size, declared or streamed."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import Store
from tests.e2e.api_ingest.helpers import (
    MAX_BODY,
    URL,
    MiB,
    detail_of,
    error_message,
    listed,
    ndjson,
    post_raw,
    stored_count,
)
from tests.factories import NOW, call, entry, ingest

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
