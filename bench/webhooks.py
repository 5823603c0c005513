"""B10: bulk ingestion with one webhook endpoint registered (a fast local receiver),
against the same ingestion with none, in the same run (alternating rounds, the median of
each). The server runs its dispatcher in both; with the endpoint it also sends every call
to the receiver, and the run checks that each one arrived."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from tests.pg import free_port

from bench.config import BIN, OUT
from bench.ingest import _ingest_batches, _post_all
from bench.processes import running
from bench.results import record
from ivrlog.core.accounts import add_account
from ivrlog.core.webhook_endpoints import add_endpoint
from ivrlog.storage import open_store

ROUNDS = 3
DELIVERY_PATIENCE = 300.0  # seconds the deliveries may take after the ingestion


def _one_round(
    url: str, bodies: list[bytes], receiver: str | None, then: Callable[[], None]
) -> float:
    """Seconds to ingest `bodies` into a fresh database `url` (with an endpoint to
    `receiver` when given); `then` runs after the ingestion, the server still up."""
    store = open_store(url)
    store.migrate()
    account = add_account(store, "ingest@ivrlog.example", int(time.time()))
    if receiver is not None:
        stored = store.account_by_email(account.email)
        assert stored is not None
        add_endpoint(
            store,
            stored.id,
            receiver,
            ["call.completed"],
            entries=False,
            allow_private=True,
            resolve=lambda host, port: [],
            now=int(time.time() * 1000),
        )
    store.close()
    port = free_port()
    command = [str(BIN / "ivrlog"), "serve", "--db", url, "--port", str(port)]
    command += ["--purge-interval", "0", "--log-level", "warning", "--webhook-allow-private"]
    with running(command, port, "ivrlog server"):
        began = time.perf_counter()
        _post_all(port, account.ingest_token, bodies)
        took = time.perf_counter() - began
        then()
    return took


def _received(count_file: Path) -> int:
    try:
        return int(count_file.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def b10_webhooks(backend: str, new_database: Callable[[str], str]) -> None:
    """Entries a second ingested with one webhook endpoint, against none."""
    groups = _ingest_batches(int(time.time()))
    calls = sum(len(group) for group in groups)
    entries = sum(len(call["detail"]) for group in groups for call in group)
    bodies = [orjson.dumps(group) for group in groups]
    port = free_port()
    count_file = OUT / "b10-received"
    count_file.unlink(missing_ok=True)
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.receiver", str(port), str(count_file)]
    )
    without: list[float] = []
    hooked: list[float] = []
    lags: list[float] = []
    try:
        for index in range(ROUNDS):
            without.append(_one_round(new_database(f"b10-none-{index}"), bodies, None, _idle))
            expected = calls * (index + 1)
            ended = [0.0]

            def delivered(expected: int = expected, ended: list[float] = ended) -> None:
                ended[0] = time.monotonic()
                while _received(count_file) < expected:
                    if time.monotonic() - ended[0] > DELIVERY_PATIENCE:
                        raise RuntimeError(
                            f"B10: {_received(count_file)} of {expected} calls delivered"
                        )
                    time.sleep(0.05)
                lags.append(time.monotonic() - ended[0])

            url = new_database(f"b10-hook-{index}")
            hooked.append(_one_round(url, bodies, f"http://127.0.0.1:{port}/hook", delivered))
    finally:
        receiver.terminate()
        receiver.wait()
    plain, with_hook = statistics.median(without), statistics.median(hooked)
    record(
        "B10 webhooks",
        backend,
        f"{entries / with_hook:,.0f} entries/s, 1 endpoint (every call sent, the last "
        f"{max(lags):.1f} s after)",
        f"no endpoint {entries / plain:,.0f} entries/s",
        plain / with_hook,
        ">= 0.8",
    )


def _idle() -> None:
    pass
