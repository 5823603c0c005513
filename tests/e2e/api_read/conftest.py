"""Fixtures of the read API tests: clients of apps whose clock says a given time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.e2e.api_read.helpers import ClientAt


@pytest.fixture
def client_at(settings: Settings, store: Store) -> Iterator[ClientAt]:
    """Clients of apps on the shared store whose clock says `now`. Their purge is off: these
    tests pin what the API decides by age alone, before any purge deletes a thing."""
    with ExitStack() as stack:

        def make(now: int, **changes: Any) -> TestClient:
            changed = dataclasses.replace(settings, purge_interval=0, **changes)
            app = create_app(changed, store=store, clock=lambda: now)
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield make
