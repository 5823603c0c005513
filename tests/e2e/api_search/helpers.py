"""Helpers of the /v1 read API tests: requests, ingestion through the HTTP API (so that
summaries are derived as in production), and the call shape docs/api.md gives."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.factories import DAY, NOW, basic, call, entry, ingest

CALL_KEYS = [
    "session_id",
    "src",
    "dest",
    "type",
    "start",
    "end",
    "duration",
    "app",
    "app_version",
    "ended_in",
    "has_error",
    "path",
    "log",
]
WIDE = {"from": str(NOW - 30 * DAY), "to": str(NOW + DAY)}


def find(
    client: TestClient,
    creds: Credentials | None,
    *params: tuple[str, str],
    headers: dict[str, str] | None = None,
    path: str = "/v1/calls",
) -> httpx.Response:
    """GET path with the parameters in this order (repeats kept)."""
    auth = basic(creds) if creds is not None else None
    return client.get(path, params=list(params), auth=auth, headers=headers or {})


def found(client: TestClient, creds: Credentials, **params: str) -> dict[str, Any]:
    """The JSON answer of /v1/calls over WIDE (unless from/to are given)."""
    response = find(client, creds, *{**WIDE, **params}.items())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [c["session_id"] for c in body["calls"]]


def stored(client: TestClient, creds: Credentials, calls: list[dict[str, Any]]) -> None:
    response = ingest(client, creds, calls)
    assert response.status_code == 200, response.text


def relative(url: str) -> str:
    """An absolute `next` URL as a path and query the test client can GET."""
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("http", "testserver")
    return f"{parts.path}?{parts.query}"


def step(module_type: str, result_variable: str, timestamp: int, **kw: Any) -> dict[str, Any]:
    return entry(
        kw.pop("line", "Next step"),
        timestamp=timestamp,
        module_type=module_type,
        result_variable=result_variable,
        **kw,
    )


def flow(
    session_id: str,
    start: int,
    steps: list[tuple[str, str]],
    *,
    app: str | None = "Card Payments",
    version: str = "2.1",
    lines: tuple[str, ...] = (),
    error: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    """A call that starts an application (when `app`: module start:start), says `lines`
    (module say:prompt), has an error entry (module webservice:lookup) when `error`, then
    visits `steps` in order, each a (module_type, result_variable): its path ends with
    them."""
    detail = [
        step("start", "start", start, line=f'Executing application "{app}" version "{version}"')
        if app is not None
        else step("start", "start", start, line="Call started")
    ]
    detail += [step("say", "prompt", start, line=line) for line in lines]
    if error:
        detail.append(step("webservice", "lookup", start, line="lookup failed", cls="error"))
    detail += [step(m, r, start + n + 1) for n, (m, r) in enumerate(steps)]
    return call(session_id, start, detail=detail, **kw)
