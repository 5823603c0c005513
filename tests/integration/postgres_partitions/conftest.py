"""Fixtures of the PostgreSQL partition tests: a store on a fresh database whose clock says
NOW, and an account in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ivrlog.storage.postgres import PostgresStore
from tests.factories import NOW


@pytest.fixture
def pg(postgres_server: Any) -> Iterator[tuple[PostgresStore, str]]:
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    store = PostgresStore(url, clock=lambda: NOW)  # which partitions exist depends on now
    store.migrate()
    yield store, url
    store.close()
    postgres_server.drop_database(name)


@pytest.fixture
def account_id(pg: tuple[PostgresStore, str]) -> int:
    return pg[0].create_account("a@example.com", "k", "t", NOW).id
