"""Helpers of the PostgreSQL partition tests: a call to store, a page's total and rows, and
the rows of each partition."""

from __future__ import annotations

from typing import Any

import psycopg

from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import CallQuery, StoredCall
from ivrlog.core.retention import Retention
from ivrlog.storage.postgres import PostgresStore
from tests.factories import call

RETENTION = Retention(detail_retention_days=5, call_retention_days=365, open_call_timeout=3600)
NOVEMBER_2026 = 1_793_491_200  # 2026-11-01T00:00:00Z; NOW is 2026-11-18T11:06:40Z


def stored(session_id: str, start: int, **extra: Any) -> StoredCall:
    return prepare_call(call(session_id, start, **extra))


def total_and_rows(store: PostgresStore, account_id: int, start: int, end: int) -> tuple[int, int]:
    page = store.open_page(CallQuery(account_id, start, end, None, 0, 10_000, 0), None)
    try:
        return page.total, sum(len(batch) for batch in page.batches())
    finally:
        page.close()


def rows_per_partition(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
            )
        ]
        return {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # type: ignore[index]
            for name in names
        }
