"""Bulk ingest requests take turns in a server process, from parsing to commit
(docs/performance.md, B3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ingest import ingest_calls
from tests.factories import basic, call, entry, ingest


def test_bulk_requests_take_turns_in_a_process(
    client: TestClient, account: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    real: Callable[..., int] = ingest_calls
    inside = 0
    most = 0
    lock = threading.Lock()

    def counted(*args: Any, **kwargs: Any) -> int:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.3)  # long enough for the other requests to arrive meanwhile
            return real(*args, **kwargs)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr("ivrlog.web.ingest.ingest_calls", counted)
    batches = [[call(f"s{i}", detail=[entry(f"line {i}")])] for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda batch: ingest(client, account, batch), batches))

    assert [a.status_code for a in answers] == [200, 200, 200]
    for i in range(3):  # each batch was stored
        assert client.get(f"/api/call/s{i}", auth=basic(account)).json()[0]["event"]["line"] == (
            f"line {i}"
        )
    assert most == 1
