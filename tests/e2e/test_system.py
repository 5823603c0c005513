from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.ports import Store


def test_health_answers_without_auth(client: TestClient) -> None:
    response = client.get("/-/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_503_when_the_database_does_not_answer(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise OSError("disk /var/secret gone")

    monkeypatch.setattr(store, "ping", broken)
    response = client.get("/-/health")
    assert response.status_code == 503
    assert response.json() == {"error": "The database does not answer."}
    assert "secret" not in response.text


@pytest.mark.parametrize("path", ["/api/calls/0/10/", "/api/all_logs/0/10/x", "/nothing/here"])
def test_unknown_and_trailing_slash_paths_are_404_envelopes(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}
