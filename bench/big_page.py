"""B2: a 10,000-call /api/all_logs page, its time to the last byte against nginx serving
the same bytes from a file, and the server's memory growth meanwhile."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from pathlib import Path

import orjson
from tests.pg import free_port

from bench.client import time_to_last_byte
from bench.config import OUT, console
from bench.databases import Dataset
from bench.dataset import DAY
from bench.processes import ivrlog_server, memory_kb, peak_sampler, running
from bench.results import record


def downloads(data: Dataset, path: str, out: Path, runs: int) -> tuple[list[float], list[int]]:
    """GET `path` `runs` times from a fresh server into `out`: each time to the last byte
    (curl), and each growth of the server's anonymous memory (KiB) at its peak."""
    port = free_port()
    times, growth = [], []
    with ivrlog_server(data.database, port) as server:
        for _ in range(runs):
            before = memory_kb(server.pid, "RssAnon")
            with peak_sampler(server.pid, "RssAnon") as peak:
                times.append(time_to_last_byte(port, path, data.authorization, out))
            growth.append(peak[0] - before)
    return times, growth


def b2_big_page(backend: str, data: Dataset) -> None:
    """/api/all_logs at limit=10000: time to last byte and memory, against nginx. Every
    download of a fresh server counts, its first included: the ratio is the slowest's.

    The machine's page cache is warmed first by one download from another server (the
    page's rows read once from disk), as nginx's file is in memory: what a fresh server's
    first request pays is its own, not the disk's (docs/performance.md, B2)."""
    start = data.now - data.shape.detail_days * DAY
    path = f"/api/all_logs/{start}/{data.now + 1}?limit=10000"
    page = OUT / "page.json"
    downloads(data, path, page, 1)  # the page cache, not measured
    times, growth = downloads(data, path, page, 5)
    calls = len(orjson.loads(page.read_bytes())["calls"])
    if calls < 10000:
        console.log(f"[yellow]B2: the page holds {calls} calls, not 10000[/]")
    slowest = max(times)
    nginx = nginx_time(page, "application/json")
    size_mb = page.stat().st_size / 1e6
    each = ", ".join(f"{t * 1000:.0f}" for t in times)
    record(
        "B2 big page",
        backend,
        f"slowest {slowest * 1000:.0f} ms for {size_mb:.0f} MB ({calls} calls; "
        f"first to fifth {each} ms)",
        f"nginx {nginx * 1000:.0f} ms",
        slowest / nginx,
        "<= 3",
    )
    peak_mb = max(growth) / 1024
    record("B2 memory", backend, f"+{peak_mb:.1f} MB at peak", "64 MB", peak_mb / 64, "<= 1")


def nginx_time(page: Path, media_type: str) -> float:
    """nginx's median time to send `page` (as `media_type`) to curl, five times."""
    port = free_port()
    with tempfile.TemporaryDirectory(dir=OUT) as root:
        os.chmod(root, 0o755)  # noqa: S103 - nginx's worker reads it as another user
        shutil.copy(page, Path(root) / page.name)
        os.chmod(Path(root) / page.name, 0o644)
        user = "user root;" if os.geteuid() == 0 else ""
        (Path(root) / "nginx.conf").write_text(
            f"{user} worker_processes 1; daemon off; pid {root}/nginx.pid;"
            f" error_log {root}/error.log; events {{}}"
            f" http {{ access_log off; sendfile on; default_type {media_type};"
            f" client_body_temp_path {root}; proxy_temp_path {root}; fastcgi_temp_path {root};"
            f" uwsgi_temp_path {root}; scgi_temp_path {root};"
            f" server {{ listen 127.0.0.1:{port}; root {root}; }} }}"
        )
        command = ["nginx", "-p", root, "-c", f"{root}/nginx.conf"]
        with running(command, port, "nginx"):
            out = Path(root) / f"fetched-{page.name}"
            times = [time_to_last_byte(port, f"/{page.name}", None, out) for _ in range(5)]
            if out.read_bytes() != page.read_bytes():
                raise RuntimeError("nginx served other bytes")
    return statistics.median(times)
