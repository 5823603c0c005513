"""`GET /-/metrics`: parsed with Prometheus' own parser, counters moved by real requests,
the database's size on both backends, and a real `ivrlog serve --workers 2` whose
workers' counts are added up."""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from ivrlog.core.accounts import Credentials, add_account
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.storage import open_store
from ivrlog.web import create_app
from tests.e2e.serving import serving
from tests.factories import NOW, basic, call, entry, ingest

CARD = "4111111111111111"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client: TestClient | httpx.Client) -> Samples:
    response = client.get("/-/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def test_counters_move_with_real_requests(client: TestClient, account: Credentials) -> None:
    me = basic(account)
    detail = [entry(timestamp=NOW - 3600 + i) for i in range(3)]
    assert ingest(client, account, [call(detail=detail), call("two", detail=detail)]).is_success
    for _ in range(2):  # the retry is answered from its Idempotency-Key: nothing ingested
        live = client.post(
            "/ingest/v1/calls/live-1/entries",
            json={"src": "1", "dest": "2", "type": "inbound", "entries": [entry(), entry()]},
            headers={"Authorization": f"Bearer {account.ingest_token}", "Idempotency-Key": "k1"},
        )
        assert live.status_code == 200, live.text
    for _ in range(3):
        assert client.get("/api/call/two", auth=me).status_code == 200
    assert client.get(f"/api/call/{CARD}", auth=me).status_code == 404
    assert client.get("/api/call/two").status_code == 401
    assert client.get(f"/no/such/{CARD}").status_code == 404

    response = client.get("/-/metrics")
    text = response.text
    samples = parse(text)
    route = "/api/call/{session_id}"
    assert (
        value(samples, "ivrlog_http_requests_total", route=route, method="GET", status="200") == 3
    )
    assert (
        value(samples, "ivrlog_http_requests_total", route=route, method="GET", status="404") == 1
    )
    assert (
        value(samples, "ivrlog_http_requests_total", route=route, method="GET", status="401") == 1
    )
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(samples, "ivrlog_http_requests_total", **unmatched) == 1
    bulk = {"route": "/ingest/v1/calls", "method": "POST", "status": "200"}
    assert value(samples, "ivrlog_http_requests_total", **bulk) == 1
    latency = "ivrlog_http_request_duration_seconds"
    assert value(samples, f"{latency}_count", route=route, method="GET") == 5
    assert value(samples, f"{latency}_bucket", route=route, method="GET", le="+Inf") == 5
    assert value(samples, f"{latency}_sum", route=route, method="GET") > 0
    assert value(samples, "ivrlog_ingested_entries_total", mode="bulk") == 6
    assert value(samples, "ivrlog_ingested_entries_total", mode="live") == 2
    assert value(samples, "ivrlog_ingested_calls_total") == 2
    assert value(samples, "ivrlog_auth_failures_total", scheme="basic") == 1
    assert value(samples, "ivrlog_database_bytes") > 0
    # labels are route templates: no raw path, no session id, no card number
    assert CARD not in text
    assert "/api/call/two" not in text
    # the scrape itself is counted by the next one
    again = scrape(client)
    scraped = {"route": "/-/metrics", "method": "GET", "status": "200"}
    assert value(again, "ivrlog_http_requests_total", **scraped) == 1


def test_the_database_size_is_the_stores(store: Store, backend: str, account: Credentials) -> None:
    size = store.database_bytes()
    assert size > 0
    if backend == "sqlite":
        path = str(store.path)  # type: ignore[attr-defined]
        files = [Path(path), Path(f"{path}-wal")]
        assert size == sum(f.stat().st_size for f in files if f.exists())


def test_each_app_counts_on_its_own(settings: Settings, store: Store) -> None:
    with (
        TestClient(create_app(settings, store=store, clock=lambda: NOW)) as one,
        TestClient(create_app(settings, store=store, clock=lambda: NOW)) as two,
    ):
        for _ in range(4):
            one.get("/-/health")
        two.get("/-/health")
        health = {"route": "/-/health", "method": "GET", "status": "200"}
        assert value(scrape(one), "ivrlog_http_requests_total", **health) == 4
        assert value(scrape(two), "ivrlog_http_requests_total", **health) == 1


def test_metrics_can_be_turned_off(settings: Settings, store: Store) -> None:
    off = dataclasses.replace(settings, metrics=False)
    with TestClient(create_app(off, store=store, clock=lambda: NOW)) as client:
        response = client.get("/-/metrics")
        assert response.status_code == 404
        assert response.json() == {"error": "Not found."}


def test_every_answer_has_a_request_id(client: TestClient) -> None:
    first = client.get("/-/health").headers["x-request-id"]
    second = client.get("/-/health").headers["x-request-id"]
    assert re.fullmatch("[0-9a-f]{16}", first)
    assert first != second
    kept = client.get("/-/health", headers={"X-Request-ID": "lb-7f3a.19:2"})
    assert kept.headers["x-request-id"] == "lb-7f3a.19:2"
    for bad in ("has space", "x" * 129, "-leading", '"quoted"'):
        replaced = client.get("/nope", headers={"X-Request-ID": bad})
        assert re.fullmatch("[0-9a-f]{16}", replaced.headers["x-request-id"]), bad


# a real server with two workers


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    db = str(tmp_path / "workers.db")
    the_store = open_store(db)
    add_account(the_store, "dev@example.com")
    the_store.close()
    log = tmp_path / "server.log"
    # the workers' metrics go to a directory made in TMPDIR: this test's own
    env = {"TMPDIR": str(tmp_path)}
    with serving(db, log, "--workers", "2", log_level="warning", env=env) as server:
        yield server.url, tmp_path


def per_worker(directory: Path, route: str) -> list[float]:
    """Each worker's own count of `route`, read from its files alone."""
    counts = []
    for file in sorted(directory.glob("counter_*.db")):
        alone = Path(tempfile.mkdtemp(dir=directory.parent))
        shutil.copy(file, alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        samples = parse(generate_latest(registry).decode())
        health = {"route": route, "method": "GET", "status": "200"}
        counts.append(value(samples, "ivrlog_http_requests_total", **health))
    return counts


@pytest.mark.e2e
def test_two_workers_counts_are_added_up(two_workers: tuple[str, Path]) -> None:
    base, tmp = two_workers
    [directory] = tmp.glob("ivrlog-metrics-*")
    sent = 0

    def fresh_connection(_: int) -> int:
        with httpx.Client(base_url=base, timeout=10) as http:
            return http.get("/-/health").status_code

    with ThreadPoolExecutor(8) as pool:
        while True:
            statuses = list(pool.map(fresh_connection, range(100)))
            assert set(statuses) == {200}
            sent += len(statuses)
            counts = per_worker(directory, "/-/health")
            if (len(counts) == 2 and min(counts) > 0) or sent >= 2000:
                break
    assert len(counts) == 2
    assert min(counts) > 0, counts  # both workers answered some
    health = {"route": "/-/health", "method": "GET", "status": "200"}
    # whichever worker answers the scrape shows every worker's count (+1: the readiness probe)
    with httpx.Client(base_url=base, timeout=10) as http:
        for _ in range(6):
            assert value(scrape(http), "ivrlog_http_requests_total", **health) == sent + 1
    assert sum(counts) == sent + 1


@pytest.mark.e2e
def test_the_metrics_directory_is_removed_at_exit(tmp_path: Path) -> None:
    db = str(tmp_path / "exit.db")
    env = {"TMPDIR": str(tmp_path)}
    with serving(db, tmp_path / "server.log", "--workers", "2", log_level="warning", env=env):
        assert list(tmp_path.glob("ivrlog-metrics-*"))
    assert not list(tmp_path.glob("ivrlog-metrics-*"))
