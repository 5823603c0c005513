"""Unit tests of core services run on the in-memory store (tests/fake_store.py): no
database, no HTTP, no clock but the one a test gives."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ivrlog.core.model import CallQuery, CallRow
from ivrlog.core.ports import Store
from tests.factories import DAY, NOW
from tests.fake_store import MemoryStore


@pytest.fixture
def fake() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def account_id(fake: MemoryStore) -> int:
    return fake.create_account("dev@example.com", "keyhash", "tokenhash", NOW).id


def listed(store: Store, account_id: int, *, detail_cutoff: int = 0) -> dict[str, CallRow]:
    """Every completed call of the account, by session id, with its JSON detail."""
    query = CallQuery(account_id, 0, NOW + DAY, None, 0, 10_000, detail_cutoff)
    page = store.open_page(query, "json")
    try:
        return {row[4]: row for batch in page.batches() for row in batch}
    finally:
        page.close()


def lines(store: Store, account_id: int, session_id: str) -> list[Any]:
    """The `line` of each readable entry of a call (completed or in progress)."""
    found, fragment = store.call_detail(account_id, session_id, "json", 0)
    assert found, session_id
    return [] if fragment is None else [e["event"]["line"] for e in orjson.loads(fragment)]
