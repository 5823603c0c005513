"""Fixtures of the store-level retention tests: every backend of conftest.STORE_BACKENDS, and
two accounts."""

from __future__ import annotations

import pytest

from ivrlog.core.ports import Store
from tests.conftest import STORE_BACKENDS
from tests.factories import NOW


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def account_id(store: Store) -> int:
    return store.create_account("a@example.com", "keyhash", "tokenhash", NOW).id


@pytest.fixture
def other_id(store: Store) -> int:
    return store.create_account("b@example.com", "keyhash2", "tokenhash2", NOW).id
