"""Erasure is for good: after it, the database (on SQLite its files, journal included;
on PostgreSQL every row) holds no number or word of what was erased, and a real server's
log never printed the number.

An erased completed call keeps its session id in the change sequence (its `erased`
place, which tells a mirror what to delete; docs/privacy.md), so only the session id of
an erased call in progress, which has no place, is gone with it."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.conftest import BACKENDS
from tests.e2e.api_ingest.helpers import bearer
from tests.e2e.serving import account, serving
from tests.factories import NOW, call, database_text, entry, ingest

NUMBER = "6175550123"
KEPT = "6175550999"
# distinctive words of the erased calls' lines, and of the call that stays
ERASED_WORDS = ("zqxvbnmerased", "plughfrobnitz", "wibblequark")
KEPT_WORD = "keptxyzzyword"


def _calls(start: int) -> list[dict[str, object]]:
    return [
        call(
            "gone;by-session;1",
            start,
            src=KEPT,
            dest=KEPT,
            detail=[entry(f"said {ERASED_WORDS[0]}", timestamp=start)],
        ),
        call(
            "gone;by-number;2",
            start,
            src=NUMBER,
            dest=KEPT,
            detail=[entry(f"said {ERASED_WORDS[1]}", timestamp=start)],
        ),
        call(
            "stays;3",
            start,
            src=KEPT,
            dest=KEPT,
            detail=[entry(f"said {KEPT_WORD}", timestamp=start)],
        ),
    ]


def _live_update(start: int) -> dict[str, object]:
    line = f"said {ERASED_WORDS[2]}"
    return {
        "src": NUMBER,
        "dest": KEPT,
        "type": "inbound",
        "entries": [entry(line, timestamp=start)],
    }


def _erase_all(http: httpx.Client | TestClient, creds: Credentials) -> None:
    deleted = http.delete(f"/v1/calls/{quote('gone;by-session;1', safe='')}", headers=bearer(creds))
    assert deleted.json() == {"erased": 1}, deleted.text
    posted = http.post("/v1/erasures", json={"number": NUMBER}, headers=bearer(creds))
    assert posted.json() == {"erased": 2}, posted.text  # gone;by-number;2 and the live call


def _assert_gone(text: str) -> None:
    assert KEPT_WORD in text  # the reading sees stored text
    for erased in ("live;4", NUMBER, *ERASED_WORDS):
        assert erased not in text, f"{erased!r} is still in the database"


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_erased_stays_in_the_database(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    assert ingest(client, account, _calls(NOW - 3600)).status_code == 200
    url = "/ingest/v1/calls/live%3B4/entries"
    assert client.post(url, json=_live_update(NOW - 60), headers=bearer(account)).status_code == 200
    before = database_text(db_url)
    assert NUMBER in before
    assert all(word in before for word in ERASED_WORDS)
    _erase_all(client, account)
    _assert_gone(database_text(db_url))


@pytest.mark.e2e
def test_a_real_server_erases_for_good_and_never_logs_the_number(tmp_path: Path) -> None:
    db = str(tmp_path / "server.db")
    creds = account(db)
    log = tmp_path / "server.log"
    now = int(time.time())
    with serving(db, log) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert (
            http.post(
                "/ingest/v1/calls", json=_calls(now - 3600), headers=bearer(creds)
            ).status_code
            == 200
        )
        url = "/ingest/v1/calls/live%3B4/entries"
        assert http.post(url, json=_live_update(now - 60), headers=bearer(creds)).status_code == 200
        _erase_all(http, creds)
        refused = http.post("/v1/erasures", json={"number": NUMBER, "x": 1}, headers=bearer(creds))
        assert refused.status_code == 400
        _assert_gone(database_text(db))  # while the server runs, its files hold none of it
    text = server.log()
    assert '"POST /v1/erasures HTTP/1.1" 200' in text
    assert '"POST /v1/erasures HTTP/1.1" 400' in text
    assert NUMBER not in text
    _assert_gone(database_text(db))
