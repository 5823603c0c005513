"""`--log-format json`: a real server's log is one JSON object a line, each with the id
of the request it was logged for, access lines with their fields, redacted; and a record
logged while a request fails carries that request's id."""

from __future__ import annotations

import io
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, add_account
from ivrlog.core.ports import Store
from ivrlog.storage import open_store
from ivrlog.web.jsonlog import JsonFormatter, RequestFilter
from ivrlog.web.logs import log_config
from tests.e2e.serving import serving
from tests.factories import basic

CARD = "4111111111111111"
HEX16 = re.compile("[0-9a-f]{16}")


def serve_json(tmp_path: Path) -> tuple[list[dict[str, Any]], list[str], list[httpx.Response]]:
    db = str(tmp_path / "json.db")
    store = open_store(db)
    try:
        creds = add_account(store, "dev@example.com")
    finally:
        store.close()
    log = tmp_path / "server.log"
    answers: list[httpx.Response] = []
    with (
        serving(db, log, "--log-format", "json") as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        answers.append(http.get(f"/api/call/{CARD}", auth=basic(creds)))
        answers.append(http.get(f"/api/call/{CARD}"))
        answers.append(
            http.get("/api/calls/0/10", headers={"X-Request-ID": "proxy-42"}, auth=basic(creds))
        )
        answers.append(http.get(f"/api/calls/0/10?number={CARD}", auth=basic(creds)))
    text = log.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    return [orjson.loads(line) for line in lines], lines, answers


def test_a_json_log_is_json_lines_with_request_ids(tmp_path: Path) -> None:
    records, lines, answers = serve_json(tmp_path)
    assert [a.status_code for a in answers] == [404, 401, 200, 200]
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    assert any("Uvicorn running on" in r["message"] for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert len(access) == 5  # the health probe and four requests
    for record in access:
        assert record["request_id"] is not None
        assert record["method"] == "GET"
        assert record["http_version"] == "1.1"
        assert isinstance(record["duration"], float)
        assert record["duration"] >= 0
    by_path = {r["path"]: r for r in access}
    assert by_path["/-/health"]["status"] == 200
    # the answer's id is the line's id; a well-formed incoming id is kept
    requests = access[1:]
    for answer, record in zip(answers, requests, strict=True):
        assert answer.headers["x-request-id"] == record["request_id"]
        assert record["status"] == answer.status_code
    assert requests[2]["request_id"] == "proxy-42"
    assert HEX16.fullmatch(requests[0]["request_id"])
    # redacted before formatting: paths and query strings alike
    assert requests[0]["path"] == "/api/call/[redacted]"
    assert requests[1]["path"] == "/api/call/[redacted]"
    assert requests[3]["path"] == "/api/calls/0/10?number=[redacted]"
    for line in lines:
        assert CARD not in line


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """ivrlog's loggers written to a buffer as the json log_config would write them."""
    config = log_config("info", "json")
    assert config["formatters"]["default"]["()"].endswith("JsonFormatter")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestFilter())
    logger = logging.getLogger("ivrlog")
    logger.addHandler(handler)
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)


def test_a_failure_logged_while_handling_a_request_carries_its_id(
    client: TestClient,
    store: Store,
    account: Credentials,
    monkeypatch: pytest.MonkeyPatch,
    json_lines: io.StringIO,
) -> None:
    def locked(email: str) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "account_by_email", locked)
    response = client.get(
        "/api/calls/0/10", auth=basic(account), headers={"X-Request-ID": "req-500"}
    )
    assert response.status_code == 500
    [line] = [orjson.loads(x) for x in json_lines.getvalue().splitlines()]
    assert line["request_id"] == "req-500"
    assert line["level"] == "ERROR"
    assert line["logger"] == "ivrlog.web"
    assert line["message"] == "unexpected failure on GET /api/calls/0/10"
    assert "OperationalError: database is locked" in line["exception"]
