"""The erasure API runs on every store: SQLite, PostgreSQL and the in-memory fake."""

from __future__ import annotations

import pytest

from tests.conftest import STORE_BACKENDS


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
