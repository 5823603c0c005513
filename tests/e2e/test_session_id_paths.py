"""Session ids in the path: escapes that are not UTF-8 are refused, so no two merge."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.factories import NOW, basic, entry

# a lone surrogate and three bytes that start no UTF-8 character: both decode to U+FFFD
INVALID = ["%ED%A0%80", "%FF%FE%FD", "a%C3", "%80abc"]
UPDATE = {
    "src": "6177123000",
    "dest": "6177123001",
    "type": "inbound",
    "entries": [entry(timestamp=NOW - 60)],
}


@pytest.mark.parametrize("escaped", INVALID)
def test_invalid_utf8_escapes_are_refused_on_every_session_id_path(
    client: TestClient, account: Credentials, escaped: str
) -> None:
    live = client.post(
        f"/ingest/v1/calls/{escaped}/entries",
        content=orjson.dumps(UPDATE),
        headers={"Authorization": f"Bearer {account.ingest_token}"},
    )
    assert live.status_code == 400
    assert "session_id" in live.json()["error"]
    read = client.get(f"/api/call/{escaped}", auth=basic(account))
    assert read.status_code == 400
    assert "session_id" in read.json()["error"]
    xml = client.get(f"/api/call/{escaped}", auth=basic(account), headers={"Accept": "text/xml"})
    assert xml.status_code == 400
    assert xml.text.startswith('<?xml version="1.0"?>\n<result><error>Invalid session_id')


def test_the_two_ids_of_the_issue_do_not_merge_and_a_real_fffd_is_an_id(
    client: TestClient, account: Credentials
) -> None:
    headers = {"Authorization": f"Bearer {account.ingest_token}"}
    for escaped in ("%ED%A0%80", "%FF%FE%FD"):
        response = client.post(
            f"/ingest/v1/calls/{escaped}/entries", content=orjson.dumps(UPDATE), headers=headers
        )
        assert response.status_code == 400
    # U+FFFD sent properly encoded is valid UTF-8: a session id like any other
    stored = client.post(
        "/ingest/v1/calls/%EF%BF%BD/entries", content=orjson.dumps(UPDATE), headers=headers
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["session_id"] == "\ufffd"
    assert stored.json()["entries"] == 1
    assert client.get("/api/call/%EF%BF%BD", auth=basic(account)).status_code == 200
    assert client.get("/api/call/%FF", auth=basic(account)).status_code == 400


def test_credentials_are_checked_before_the_path(client: TestClient) -> None:
    assert client.get("/api/call/%FF").status_code == 401
    assert client.post("/ingest/v1/calls/%FF/entries", content=b"{}").status_code == 401
