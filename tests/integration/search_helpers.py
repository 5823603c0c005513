"""Helpers of the contract tests of ivrlog's own read API on every store backend
(test_search_store.py, test_changes_store.py): calls with a chosen path and lines, the
filter of an account's whole history, the erasure audit's rows as each backend keeps
them, and a window's export records read chunk by chunk."""

from __future__ import annotations

import itertools
import sqlite3
from typing import Any

import psycopg
import pytest

from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import CallFilter, CallKey, StoredCall
from ivrlog.core.ports import Store
from ivrlog.storage import sqlite_path
from tests.conftest import MEMORY_URL, STORE_BACKENDS
from tests.factories import NOW, call, entry
from tests.fake_store import MemoryStore


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def account_id(store: Store) -> int:
    return store.create_account("a@example.com", "keyhash", "tokenhash", NOW).id


def stored(session_id: str, start: int = NOW - 3600, **extra: Any) -> StoredCall:
    """A call as ingestion stores it (redacted, rendered, summarized)."""
    return prepare_call(call(session_id, start, **extra))


def visits(
    start: int, *modules: tuple[str, str], lines: tuple[str, ...] = (), cls: str = "info"
) -> list[dict[str, Any]]:
    """Entries that visit `modules` in order, one entry each (line i of `lines`, else
    "step"), a second apart from `start`; the last one of class `cls`."""
    return [
        entry(
            lines[i] if i < len(lines) else "step",
            cls if i == len(modules) - 1 else "info",
            start + i,
            module_type,
            result_variable,
        )
        for i, (module_type, result_variable) in enumerate(modules)
    ]


def everything(account_id: int, **filters: Any) -> CallFilter:
    """A filter of the account's whole history (detail readable since 0)."""
    return CallFilter(account_id, 0, NOW + 1, 0, **filters)


def found(store: Store, query: CallFilter, **kw: Any) -> list[str]:
    """The session ids a search lists, in its order."""
    return [row[0] for row in store.search_calls(query, None, 1000, **kw)]


def audit_rows(store: Store, db_url: str) -> list[tuple[int, int, int, str]]:
    """The erasure audit: (account_id, erased_at, erased, selector_hash) rows."""
    if db_url == MEMORY_URL:
        assert isinstance(store, MemoryStore)
        return list(store._read().erasures)
    query = "SELECT account_id, erased_at, erased, selector_hash FROM erasures ORDER BY id"
    path = sqlite_path(db_url)
    if path is not None:
        conn = sqlite3.connect(path)
        try:
            return [tuple(r) for r in conn.execute(query)]
        finally:
            conn.close()
    with psycopg.connect(db_url) as pg:
        return [tuple(r) for r in pg.execute(query)]


def walk(store: Store, query: CallFilter, sizes: list[int]) -> bytes:
    """The records of a window alone (Store.window_records), read by `after` a chunk of
    each size in turn."""
    walked: list[bytes] = []
    after: CallKey | None = None
    for size in itertools.islice(itertools.cycle(sizes), 1000):  # (a walk that never ends)
        chunk = store.window_records(
            query.account_id, query.start, query.end, query.detail_cutoff, after, size
        )
        walked.append(chunk.records)
        assert chunk.records.count(b"\r\n") == chunk.total
        if chunk.total < size:
            return b"".join(walked)
        assert chunk.last is not None
        after = chunk.last
    raise AssertionError(f"no end to the walk of {query}")
