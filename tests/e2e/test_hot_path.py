"""The hot read path (web/hot.py): `GET /api/call/{id}` answered in front of FastAPI must
answer exactly what the declared route answers (status, headers, bytes), errors and
metrics included, on both backends; and on PostgreSQL it reads through the async pool
that the app's lifespan opens on the serving loop."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import AsyncLookups, Store
from ivrlog.web.hot import IvrlogApp, is_hot
from tests.factories import basic, call, entry, ingest

SESSION = "100035;000;1575898377"
# headers that differ between any two answers
VARYING = {"date", "server", "x-request-id"}


@pytest.fixture
def seeded(client: TestClient, account: Credentials) -> Credentials:
    calls = [
        call(SESSION, detail=[entry(), entry("Second", timestamp=1_794_996_500)]),
        call("no-detail;1", detail=[]),
        call("ünïcode;2"),
    ]
    assert ingest(client, account, calls).status_code == 200
    return account


@pytest.fixture
def route_client(app: FastAPI) -> Iterator[TestClient]:
    """The same app, asked through FastAPI's own routing (the declared route), past the
    hot path; it shares the app's state, and so its store, cache and throttle."""
    through_fastapi = functools.partial(FastAPI.__call__, app)
    with TestClient(through_fastapi, raise_server_exceptions=False) as the_client:
        yield the_client


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in VARYING]
    return response.status_code, headers, response.content


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (f"/api/call/{SESSION}", {}),
    ("/api/call/100035%3B000%3B1575898377", {}),
    (f"/api/call/{SESSION}", {"headers": {"Accept": "text/xml"}}),
    (f"/api/call/{SESSION}", {"headers": {"Accept": "application/xml;q=0.5, */*"}}),
    ("/api/call/%C3%BCn%C3%AFcode%3B2", {}),
    ("/api/call/no-detail;1", {}),
    ("/api/call/no-detail;1", {"headers": {"Accept": "application/xml"}}),
    ("/api/call/unknown;9", {}),
    ("/api/call/", {}),
    ("/api/call/a/b", {}),
    ("/api/call/%FF%FE", {}),
    ("/api/call/nul%00", {}),
]


@pytest.mark.parametrize(("path", "options"), REQUESTS)
def test_the_hot_path_answers_what_the_route_answers(
    client: TestClient,
    route_client: TestClient,
    seeded: Credentials,
    path: str,
    options: dict[str, Any],
) -> None:
    hot = client.get(path, auth=basic(seeded), **options)
    routed = route_client.get(path, auth=basic(seeded), **options)
    assert _answer(hot) == _answer(routed)
    assert hot.headers["x-request-id"]


@pytest.mark.parametrize(
    "auth",
    [None, ("Dev@Example.com", "wrong"), ("nobody@example.com", "x")],
    ids=["none", "wrong-key", "unknown-email"],
)
def test_refused_credentials_are_answered_alike(
    client: TestClient, route_client: TestClient, seeded: Credentials, auth: Any
) -> None:
    for accept in ("application/json", "text/xml"):
        hot = client.get(f"/api/call/{SESSION}", auth=auth, headers={"Accept": accept})
        routed = route_client.get(f"/api/call/{SESSION}", auth=auth, headers={"Accept": accept})
        assert hot.status_code == 401
        assert hot.headers["www-authenticate"] == 'Basic realm="ivrlog"'
        assert _answer(hot) == _answer(routed)


def test_a_header_that_is_not_base64_text_is_refused_alike(
    client: TestClient, route_client: TestClient, seeded: Credentials
) -> None:
    headers = {"Authorization": b"Basic \xe9"}  # latin-1 bytes: was a 500
    hot = client.get(f"/api/call/{SESSION}", headers=headers)  # type: ignore[arg-type]
    routed = route_client.get(f"/api/call/{SESSION}", headers=headers)  # type: ignore[arg-type]
    assert hot.status_code == 401
    assert _answer(hot) == _answer(routed)


def test_a_found_call_is_its_entries(client: TestClient, seeded: Credentials) -> None:
    response = client.get(f"/api/call/{SESSION}", auth=basic(seeded))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert [e["event"]["line"] for e in response.json()] == ["Executing application", "Second"]
    xml = client.get(f"/api/call/{SESSION}", auth=basic(seeded), headers={"Accept": "text/xml"})
    assert xml.headers["content-type"] == "application/xml"
    assert xml.content.startswith(b'<?xml version="1.0"?>')


def test_only_gets_of_the_route_take_the_hot_path() -> None:
    def scope(method: str, path: str, kind: str = "http") -> dict[str, Any]:
        return {"type": kind, "method": method, "path": path}

    assert is_hot(scope("GET", "/api/call/x"))
    assert is_hot(scope("GET", "/api/call/"))
    # matched as Starlette's router matches: on the path less the root path
    assert is_hot({**scope("GET", "/ivr/api/call/x"), "root_path": "/ivr"})
    assert not is_hot({**scope("GET", "/api/call/x"), "root_path": "/api"})
    assert not is_hot(scope("HEAD", "/api/call/x"))
    assert not is_hot(scope("POST", "/api/call/x"))
    assert not is_hot(scope("GET", "/api/calls/1/2"))
    assert not is_hot(scope("GET", "/api/call"))
    assert not is_hot({"type": "lifespan"})


def test_other_methods_go_to_the_route(
    client: TestClient, route_client: TestClient, seeded: Credentials
) -> None:
    for method in ("HEAD", "POST", "DELETE"):
        hot = client.request(method, f"/api/call/{SESSION}", auth=basic(seeded))
        routed = route_client.request(method, f"/api/call/{SESSION}", auth=basic(seeded))
        assert hot.status_code == 405
        assert hot.headers["allow"] == "GET"
        assert _answer(hot) == _answer(routed)


def test_the_request_id_is_echoed_and_the_answer_counted(
    client: TestClient, route_client: TestClient, seeded: Credentials
) -> None:
    response = client.get(
        f"/api/call/{SESSION}", auth=basic(seeded), headers={"X-Request-ID": "trace-17"}
    )
    assert response.headers["x-request-id"] == "trace-17"
    fresh = client.get("/api/call/unknown;9", auth=basic(seeded))
    assert len(fresh.headers["x-request-id"]) == 16
    # the declared route counts its answers under the same labels
    assert route_client.get(f"/api/call/{SESSION}", auth=basic(seeded)).status_code == 200
    metrics = client.get("/-/metrics").text
    labels = 'method="GET",route="/api/call/{session_id}"'
    assert f'ivrlog_http_requests_total{{{labels},status="200"}} 2.0' in metrics
    assert f'ivrlog_http_requests_total{{{labels},status="404"}} 1.0' in metrics
    assert f"ivrlog_http_request_duration_seconds_count{{{labels}}} 3.0" in metrics


def test_an_unexpected_failure_is_the_envelope_and_is_logged(
    client: TestClient,
    route_client: TestClient,
    seeded: Credentials,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "call_detail", broken)
    if isinstance(store, AsyncLookups):
        monkeypatch.setattr(store, "call_detail_async", broken)
    response = client.get(
        f"/api/call/{SESSION}", auth=basic(seeded), headers={"X-Request-ID": "fire-1"}
    )
    assert response.status_code == 500
    assert response.json() == {"error": "Database error."}
    assert "unexpected failure on GET /api/call/" in caplog.text
    assert "disk on fire" in caplog.text
    # as the route answers, but for the request id, which only the hot path's 500 echoes
    assert response.headers["x-request-id"] == "fire-1"
    routed = route_client.get(
        f"/api/call/{SESSION}", auth=basic(seeded), headers={"X-Request-ID": "fire-1"}
    )
    assert "x-request-id" not in routed.headers
    assert _answer(response) == _answer(routed)


def test_the_app_is_ivrlogs(app: FastAPI) -> None:
    assert isinstance(app, IvrlogApp)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_reads_through_the_async_pool_while_the_app_runs(
    app: FastAPI, store: Store, account: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(store, AsyncLookups)
    with TestClient(app) as client:
        assert ingest(client, account, [call(SESSION)]).status_code == 200

        def no_thread(*_: Any, **__: Any) -> Any:
            raise AssertionError("a completed call's lookup took the synchronous store")

        with monkeypatch.context() as patched:
            patched.setattr(store, "call_detail", no_thread)
            for _ in range(3):
                response = client.get(f"/api/call/{SESSION}", auth=basic(account))
                assert response.status_code == 200
                assert response.json()[0]["event"]["line"] == "Executing application"
        # a call not among the completed ones goes to the synchronous store (the snapshot
        # of a call in progress): still answered
        assert client.get("/api/call/unknown;9", auth=basic(account)).status_code == 404
    # the lifespan closed its loop's pool; a new one on the next serving loop
    with TestClient(app) as again:
        assert again.get(f"/api/call/{SESSION}", auth=basic(account)).status_code == 200


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_credentials_not_in_the_cache_are_read_off_the_loop(
    app: FastAPI, store: Store, account: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that waits on a network is never read on the event loop: an account read
    for credentials not yet in the cache happens in a worker thread."""
    assert isinstance(store, AsyncLookups)
    threads: dict[str, set[int]] = {"loop": set(), "account": set()}
    lookup, by_email = store.call_detail_async, store.account_by_email

    async def on_loop(*args: Any, **kwargs: Any) -> Any:
        threads["loop"].add(threading.get_ident())
        return await lookup(*args, **kwargs)

    def reading(email: str) -> Any:
        threads["account"].add(threading.get_ident())
        return by_email(email)

    monkeypatch.setattr(store, "call_detail_async", on_loop)
    monkeypatch.setattr(store, "account_by_email", reading)
    with TestClient(app) as client:
        assert ingest(client, account, [call(SESSION)]).status_code == 200
        assert client.get(f"/api/call/{SESSION}", auth=basic(account)).status_code == 200
        wrong = client.get(f"/api/call/{SESSION}", auth=(account.email, "nope"))
        assert wrong.status_code == 401
    assert len(threads["loop"]) == 1
    assert threads["account"]  # read, and never on the loop's thread
    assert not threads["account"] & threads["loop"]
