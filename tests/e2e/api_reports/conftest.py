"""Fixtures of the /v1/reports tests: every store backend (the in-memory one too)."""

from __future__ import annotations

import pytest

from tests.conftest import STORE_BACKENDS


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
