"""B6 (a 100-call /v1/calls page under each filter, against the unfiltered page; the 50th
page by cursor against the first) and B7 (a `limit=all` CSV export of 100,000 calls, its
time to the last byte against nginx serving the same bytes, and the server's memory
growth meanwhile)."""

from __future__ import annotations

import statistics
import urllib.parse

import orjson
from tests.pg import free_port

from bench.big_page import downloads, nginx_time
from bench.client import get, wrk
from bench.config import OUT, console
from bench.databases import Dataset
from bench.dataset import DAY
from bench.processes import ivrlog_server
from bench.results import record

PAGE = 100
DEEP_PAGE = 50
EXPORT_CALLS = 100_000


def search_filters(data: Dataset) -> dict[str, dict[str, str]]:
    """Each filter alone, and three combined with `q`, as values the dataset holds."""
    return {
        "number": {"number": data.shape.hot_number},
        "src prefix": {"src": "617*"},
        "type": {"type": "outbound"},
        "duration": {"min_duration": "120"},
        "app": {"app": "Harbor Bank Card Services"},
        "reached": {"reached": "birth_date"},
        "ended_in": {"ended_in": "exit:hangup"},
        "has_error": {"has_error": "true"},
        "q": {"q": "balance"},
        "three with q": {
            "app": "Acme Wireless Billing",
            "reached": "account_number",
            "q": "payment",
        },
    }


def _path(window: tuple[int, int], limit: int | str, **params: str) -> str:
    query = {"from": str(window[0]), "to": str(window[1]), **params, "limit": str(limit)}
    return "/v1/calls?" + urllib.parse.urlencode(query)


def b6_search(backend: str, data: Dataset) -> None:
    """A 100-call page of the last 7 days under each filter against the unfiltered page;
    the 50th page (walked to by cursor) against the first."""
    window = (data.now - 7 * DAY, data.now + 1)
    port = free_port()
    with ivrlog_server(data.database, port):
        plain = wrk(port, [_path(window, PAGE)], data.authorization)
        for name, params in search_filters(data).items():
            path = _path(window, PAGE, **params)
            found = len(orjson.loads(get(port, path, data.authorization))["calls"])
            if found < PAGE:
                console.log(f"[yellow]B6 {name}: the page holds {found} calls, not {PAGE}[/]")
            load = wrk(port, [path], data.authorization)
            record(
                f"B6 search, {name}",
                backend,
                str(load),
                f"unfiltered {plain.rps:,.0f} req/s",
                load.rps / plain.rps,
                ">= 0.5",
            )
        deep = _path(window, PAGE)
        for _ in range(DEEP_PAGE - 1):
            following = orjson.loads(get(port, deep, data.authorization))["next"]
            if following is None:
                raise RuntimeError(f"B6: fewer than {DEEP_PAGE} pages in the window")
            parts = urllib.parse.urlsplit(following)
            deep = f"{parts.path}?{parts.query}"
        first = wrk(port, [_path(window, PAGE)], data.authorization)
        late = wrk(port, [deep], data.authorization)
    record(
        f"B6 page {DEEP_PAGE} vs 1", backend, str(late), str(first), first.rps / late.rps, "<= 1.2"
    )


def b7_export(backend: str, data: Dataset) -> None:
    """`limit=all` CSV of the newest 100,000 calls of account 0: time to last byte and
    memory growth, against nginx sending the same file."""
    days = EXPORT_CALLS / (data.shape.calls * data.shape.hot_share / data.shape.span_days)
    window = (int(data.now - days * DAY), data.now + 1)
    path = _path(window, "all", format="csv")
    export = OUT / "export.csv"
    times, growth = downloads(data, path, export, 3)
    rows = export.read_bytes().count(b"\r\n") - 1
    ours = statistics.median(times)
    nginx = nginx_time(export, "text/csv")
    size_mb = export.stat().st_size / 1e6
    record(
        "B7 export",
        backend,
        # (the first download writes PostgreSQL's blocks of the hours: record_blocks.py)
        f"{ours * 1000:.0f} ms for {size_mb:.0f} MB ({rows:,} calls;"
        f" first {times[0] * 1000:.0f} ms)",
        f"nginx {nginx * 1000:.0f} ms",
        nginx / ours,
        ">= 0.3",
    )
    peak_mb = max(growth) / 1024
    record("B7 memory", backend, f"+{peak_mb:.1f} MB at peak", "64 MB", peak_mb / 64, "<= 1")
