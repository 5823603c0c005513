"""One real `ivrlog serve` (SQLite) for the client's tests, with an account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ivrlog.client import Client
from ivrlog.core.accounts import Credentials
from tests.e2e.serving import Serving, account, serving


@dataclass
class Live:
    server: Serving
    creds: Credentials

    def client(self, **options: object) -> Client:
        return Client(
            self.server.url,
            email=self.creds.email,
            key=self.creds.developer_key,
            token=self.creds.ingest_token,
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("client")
    db = str(directory / "ivrlog.db")
    creds = account(db)
    with serving(db, directory / "server.log", "--detail-retention-days", "30") as server:
        yield Live(server, creds)
