"""Prometheus metrics: what a server process counts, and `GET /-/metrics`.

Each app has a registry of its own (prometheus-client's default one is global, and a test
run makes many apps). Under `ivrlog serve --workers N` the serving command points
`PROMETHEUS_MULTIPROC_DIR` at a fresh directory before the workers start: every process
then writes its values to files there, and the endpoint, in whichever worker answers,
adds up all of them (prometheus-client's multiprocess mode). docs/operations.md lists
the metrics.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from ivrlog.core.errors import NotFound
from ivrlog.core.ports import Store, WebhookStore
from ivrlog.core.retention import PurgeReport
from ivrlog.core.webhooks import now_ms
from ivrlog.web.schemas import error_doc

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (
    *(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
    *(0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
UNMATCHED = "unmatched"  # the route label of a request no route matched (404)
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"))


@contextmanager
def multiprocess_dir() -> Iterator[str]:
    """A fresh directory for the workers' metric files, in `PROMETHEUS_MULTIPROC_DIR`
    meanwhile (the workers, started inside, inherit it); removed afterwards."""
    directory = tempfile.mkdtemp(prefix="ivrlog-metrics-")
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


class Metrics:
    """The counters and histograms of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "ivrlog_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "ivrlog_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route and method.",
            ["route", "method"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.entries = Counter(
            "ivrlog_ingested_entries",
            "Log entries accepted, by mode: bulk (POST /ingest/v1/calls) or live.",
            ["mode"],
            registry=registry,
        )
        self.calls = Counter(
            "ivrlog_ingested_calls",
            "Completed calls accepted in bulk.",
            registry=registry,
        )
        self.auth_failures = Counter(
            "ivrlog_auth_failures",
            "Failed authentications, by scheme: basic (read) or bearer (ingest).",
            ["scheme"],
            registry=registry,
        )
        self.throttled = Counter(
            "ivrlog_auth_throttled",
            "Requests refused with 429, by the budget spent: address or account.",
            ["limit"],
            registry=registry,
        )
        self.purge_runs = Counter(
            "ivrlog_purge_runs",
            "Runs of the in-server retention purge, by outcome: ok or failed.",
            ["outcome"],
            registry=registry,
        )
        self.purged = Counter(
            "ivrlog_purge_removed",
            "What the in-server purge did: open calls completed, call details deleted, calls "
            "deleted.",
            ["what"],
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request answered (the middleware's hot path: children are cached)."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def ingested(self, mode: str, entries: int, calls: int = 0) -> None:
        self.entries.labels(mode).inc(entries)
        if calls:
            self.calls.inc(calls)

    def purge_done(self, report: PurgeReport | None) -> None:
        """A purge run: its report, or None when it failed."""
        if report is None:
            self.purge_runs.labels("failed").inc()
            return
        self.purge_runs.labels("ok").inc()
        self.purged.labels("open_calls_completed").inc(report.open_calls_completed)
        self.purged.labels("details_deleted").inc(report.details_deleted)
        self.purged.labels("calls_deleted").inc(report.calls_deleted)

    def exposition(self, store: Store, hooks: WebhookStore | None = None) -> bytes:
        """The text format: this process's metrics, or every worker's in multiprocess
        mode, and the database's size, read now."""
        if os.environ.get(MULTIPROCESS_ENV):
            source: Collector = CollectorRegistry()
            MultiProcessCollector(source)  # type: ignore[no-untyped-call]
        else:
            source = self.registry
        collectors: list[Collector] = [source, DatabaseSize(store)]
        if hooks is not None:
            collectors.append(WebhookQueue(hooks))
        return generate_latest(_Both(collectors))


class _Both:
    def __init__(self, collectors: Sequence[Collector]) -> None:
        self._collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


class DatabaseSize:
    """`ivrlog_database_bytes`, asked of the store at each scrape."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "ivrlog_database_bytes",
            "Size of the database on disk: SQLite's file and its write-ahead log, or "
            "PostgreSQL's pg_database_size.",
            value=self._store.database_bytes(),
        )


class WebhookQueue:
    """The webhook outbox's gauges (docs/webhooks.md), asked of the store at each scrape:
    one answer for every process and server on the database."""

    def __init__(self, store: WebhookStore) -> None:
        self._store = store

    def collect(self) -> Iterable[Metric]:
        queue = self._store.webhook_queue(now_ms())
        yield GaugeMetricFamily(
            "ivrlog_webhook_deliveries_waiting",
            "Webhook deliveries in the outbox, not yet delivered nor given up.",
            value=queue.waiting,
        )
        yield GaugeMetricFamily(
            "ivrlog_webhook_deliveries_failing",
            "Waiting webhook deliveries that failed at least once.",
            value=queue.failing,
        )
        yield GaugeMetricFamily(
            "ivrlog_webhook_oldest_waiting_seconds",
            "Age of the oldest waiting webhook delivery (0 when none waits).",
            value=queue.oldest_ms / 1000,
        )
        yield GaugeMetricFamily(
            "ivrlog_webhook_endpoints_disabled",
            "Webhook endpoints disabled (by hand, by a 410, or for failing too long).",
            value=queue.disabled_endpoints,
        )


router = APIRouter(tags=["System"])


@router.get(
    "/-/metrics",
    summary="Prometheus metrics",
    description="Counters and histograms in Prometheus text format (docs/operations.md); no "
    "authentication, no call data. 404 when the server runs with --no-metrics.",
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The metrics.",
        },
        404: error_doc("The server runs with --no-metrics.", NotFound.message),
    },
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    ctx = request.app.state.ctx
    if not ctx.settings.metrics:
        raise NotFound
    body = await run_in_threadpool(ctx.metrics.exposition, ctx.store, ctx.hooks)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
