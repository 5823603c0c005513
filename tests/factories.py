"""Tiny factories for calls and entries in the ingestion shape, and request helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import Store
from ivrlog.storage import sqlite_path
from tests import pg

NOW = 1_795_000_000  # the fixed "now" of every test app
DAY = 86_400


def entry(
    line: str = "Executing application",
    cls: str = "info",
    timestamp: int = NOW - 3600,
    module_type: str = "start",
    result_variable: str = "start",
    **data: Any,
) -> dict[str, Any]:
    return {
        "event": {
            "line": line,
            "data": {**data, "module_type": module_type, "result_variable": result_variable},
        },
        "class": cls,
        "timestamp": timestamp,
    }


def call(
    session_id: str = "100035;000;1575898377",
    start: int = NOW - 3600,
    *,
    end: int | None = None,
    src: str = "6177123000",
    dest: str = "6177123001",
    type: str = "inbound",
    detail: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "src": src,
        "dest": dest,
        "type": type,
        "start": start,
        "end": start + 37 if end is None else end,
        "detail": [entry(timestamp=start)] if detail is None else detail,
        **extra,
    }


def ingest(client: TestClient, creds: Credentials, calls: list[dict[str, Any]]) -> httpx.Response:
    return client.post(
        "/ingest/v1/calls",
        json=calls,
        headers={"Authorization": f"Bearer {creds.ingest_token}"},
    )


def basic(creds: Credentials) -> tuple[str, str]:
    return (creds.email, creds.developer_key)


def database_text(db_url: str) -> str:
    """Every byte of the SQLite database file and its journals, as text; on PostgreSQL,
    every row of every table (see docs/privacy.md on what PostgreSQL keeps on disk)."""
    path = sqlite_path(db_url)
    if path is None:
        return pg.database_text(db_url)
    files = [Path(path + suffix) for suffix in ("", "-wal", "-journal", "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists()).decode("latin-1")


@contextmanager
def counting_live_transactions(store: Store) -> Iterator[list[int]]:
    """Count the store's live transactions while the block runs: the list's one item.

    Both adapters run each transaction of run_live() through their own `live()` (a
    PostgreSQL run that needed a partition first counts twice)."""
    count = [0]
    adapter: Any = store  # _live() is the adapters' own, not the Store port's
    real_live = adapter._live

    def counted() -> Any:
        count[0] += 1
        return real_live()

    adapter._live = counted
    try:
        yield count
    finally:
        adapter._live = real_live
