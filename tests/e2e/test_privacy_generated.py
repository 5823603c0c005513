"""Generated card and SSN spellings (the strategies of tests/unit/test_redact_spellings.py:
digits of any script, every kind of separator, percent-encoding) ingested in bulk and live
on both backends: never served by the API, never in the database's bytes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrlog.core.accounts import add_account
from ivrlog.settings import Settings
from ivrlog.storage import open_store
from ivrlog.web import create_app
from tests.conftest import new_database
from tests.factories import DAY, NOW, basic, call, entry, ingest
from tests.pg import PostgresServer
from tests.raw_files import ascii_digits, database_bytes, digits_of, leaks
from tests.unit.test_redact_spellings import cards, ssns

T0 = NOW - 600
GENERATED = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def postgres(request: pytest.FixtureRequest, backend: str) -> Callable[[], PostgresServer]:
    return lambda: request.getfixturevalue("postgres_server")


@GENERATED
@given(secrets=st.lists(cards() | ssns(), min_size=3, max_size=3), live=st.booleans())
def test_generated_spellings_never_reach_the_api_or_the_disk(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    postgres: Callable[[], PostgresServer],
    secrets: list[str],
    live: bool,
) -> None:
    directory = Path(tmp_path_factory.mktemp("generated"))
    with new_database(backend, directory, postgres) as url:
        store = open_store(url)
        try:
            creds = add_account(store, "gen@example.com", now=NOW)
            app = create_app(
                Settings(database=url, purge_interval=0), store=store, clock=lambda: NOW
            )
            with TestClient(app, raise_server_exceptions=False) as client:
                data = {f"k{i}": f"v {secret} v" for i, secret in enumerate(secrets)}
                lines = " / ".join(f"paid {secret} ok" for secret in secrets)
                one = entry(f"zqG {lines}", timestamp=T0, **data)
                if live:
                    body: dict[str, Any] = {
                        "src": "1",
                        "dest": "2",
                        "type": "inbound",
                        "entries": [one],
                    }
                    body["end"] = T0 + 30  # completed, so that /api/all_logs lists it
                    answer = client.post(
                        "/ingest/v1/calls/gen/entries",
                        json=body,
                        headers={"Authorization": f"Bearer {creds.ingest_token}"},
                    )
                else:
                    answer = ingest(client, creds, [call("gen", T0, detail=[one])])
                assert answer.status_code == 200, answer.text
                shown = [
                    client.get("/api/call/gen", auth=basic(creds), headers={"Accept": a}).text
                    for a in ("application/json", "application/xml")
                ]
                page = client.get(f"/api/all_logs/0/{NOW + DAY}", auth=basic(creds))
                shown.append(page.text)
            assert all("zqG" in text for text in shown)  # the entry is there, redacted
            server = postgres() if backend == "postgresql" else None
            raw = database_bytes(url, server)
            raw_digits = ascii_digits(database_bytes(url, server, wal=False))
        finally:
            store.close()
        for secret in secrets:
            digits = digits_of(unquoted(secret))  # its own digits, not those of %XX
            for text in shown:
                assert secret not in text
                assert digits not in digits_of(text)
            assert leaks(secret, digits, raw, raw_digits) == [], secret


def unquoted(text: str) -> str:
    """`text` with its percent-encoding decoded (the strategies encode up to three times)."""
    for _ in range(3):
        text = unquote(text)
    return text
