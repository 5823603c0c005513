"""SPEC 4: the server log of a real `ivrlog serve` never holds a redacted value."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2 as httpx
import pytest

from ivrlog.core.accounts import add_account
from ivrlog.core.patterns import add_pattern
from ivrlog.core.redact import REDACTED
from ivrlog.storage import open_store
from tests.e2e.privacy.helpers import (
    CARD,
    CARD_DASHED,
    CARD_SPACED,
    DEST,
    MEMBER_PATTERN,
    SRC,
    SSN,
)
from tests.e2e.serving import serving
from tests.factories import DAY, basic, entry

# ---------------------------------------------------------------- the server log


@pytest.mark.e2e
@pytest.mark.parametrize("flags", [[], ["--no-redaction"]], ids=["default", "no-redaction"])
def test_the_server_log_never_holds_a_redacted_value(tmp_path: Path, flags: list[str]) -> None:
    db = str(tmp_path / "server.db")
    store = open_store(db)
    try:
        creds = add_account(store, "dev@example.com")
        add_pattern(store, creds.email, "member-id", MEMBER_PATTERN)
    finally:
        store.close()
    log = tmp_path / "server.log"
    now = int(time.time())
    reader = basic(creds)
    writer = {"Authorization": f"Bearer {creds.ingest_token}"}
    body = {
        "src": SRC,
        "dest": DEST,
        "type": "inbound",
        "entries": [entry(f"card {CARD_SPACED} zq-live", timestamp=now - 60)],
    }
    with (
        serving(db, log, *flags) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        assert http.get(f"/api/call/{CARD}", auth=reader).status_code == 404
        assert http.get(f"/api/call/{CARD}").status_code == 401
        posted = http.post(f"/ingest/v1/calls/{CARD_DASHED}/entries", json=body, headers=writer)
        assert posted.status_code == 200, posted.text
        page = http.get(f"/api/calls/0/{now + DAY}?number={CARD}", auth=reader)
        assert page.status_code == 200
        assert http.get(f"/api/call/{SSN}", auth=reader).status_code == 404
        assert http.get("/api/call/MEM-123456", auth=reader).status_code == 404
        [stored] = http.get(f"/api/call/{CARD_DASHED}", auth=reader).json()
    # storage follows the setting; the log is redacted either way
    shown = CARD_SPACED if flags else REDACTED
    assert stored["event"]["line"] == f"card {shown} zq-live"
    text = log.read_text(errors="replace")
    assert "Uvicorn running on" in text
    assert f'"GET /api/call/{REDACTED} HTTP/1.1" 404' in text
    assert f'"GET /api/call/{REDACTED} HTTP/1.1" 401' in text
    assert f'"POST /ingest/v1/calls/{REDACTED}/entries HTTP/1.1" 200' in text
    assert f'"GET /api/calls/0/{now + DAY}?number={REDACTED} HTTP/1.1" 200' in text
    assert text.count(f"GET /api/call/{REDACTED} HTTP/1.1") == 5  # card, card, SSN, MEM, card
    for secret in (CARD, CARD_DASHED, CARD_SPACED, SSN, "MEM-123456"):
        assert secret not in text, f"{secret!r} is in the server log:\n{text}"
