"""Fixtures of the /v1 read API tests: every store backend (the in-memory one too), an
account, and a client at the tests' fixed now."""

from __future__ import annotations

import pytest

from tests.conftest import STORE_BACKENDS


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
