"""Helpers of the store-level retention tests: the cutoffs, the backends a test runs on, and
a listing of an account's calls with whether each still has detail."""

from __future__ import annotations

from typing import Any

import pytest

from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import CallQuery, StoredCall
from ivrlog.core.ports import Store
from ivrlog.core.retention import Retention
from tests.conftest import BACKENDS
from tests.factories import DAY, NOW, call

CUTOFF = NOW - 5 * DAY  # a detail cutoff for the store-level tests
TIMEOUT = 4 * 3600
RETENTION = Retention(detail_retention_days=5, call_retention_days=365, open_call_timeout=TIMEOUT)
# the purge deletes row by row, in batches, on these (PostgreSQL drops partitions)
row_batches = pytest.mark.parametrize("backend", ["sqlite", "memory"])
# what stays in a database's files, and a store opened again by its URL
databases_only = pytest.mark.parametrize("backend", BACKENDS)


def stored(session_id: str, start: int, **extra: Any) -> StoredCall:
    return prepare_call(call(session_id, start, **extra))


def listed(store: Store, account_id: int) -> dict[str, bool]:
    """Every call of the account (session id -> log), with a detail cutoff of 0 so that
    `log` says whether the call still has stored detail, whatever its age."""
    query = CallQuery(
        account_id=account_id,
        start=0,
        end=NOW + DAY,
        number=None,
        offset=0,
        limit=1000,
        detail_cutoff=0,
    )
    page = store.open_page(query, None)
    try:
        return {row[4]: bool(row[6]) for batch in page.batches() for row in batch}
    finally:
        page.close()
