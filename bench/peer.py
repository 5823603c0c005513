"""B5: /api/calls against Datasette, a peer, running the same query on the same SQLite
file."""

from __future__ import annotations

from pathlib import Path

import orjson
from tests.pg import free_port

from bench.client import get, wrk
from bench.config import PEER, console
from bench.databases import Dataset
from bench.dataset import DAY
from bench.processes import ivrlog_server, running
from bench.results import record


def b5_peer(data: Dataset) -> None:
    """Datasette on the same SQLite file with the same query, against /api/calls."""
    start = data.now - 7 * DAY
    number = data.shape.hot_number
    port = free_port()
    with ivrlog_server(data.database, port):
        path = f"/api/calls/{start}/{data.now + 1}?number={number}&limit=1000"
        rows = len(orjson.loads(get(port, path, data.authorization))["calls"])
        ours = wrk(port, [path], data.authorization)
    peer_port = free_port()
    peer_path = (
        f"/{Path(data.database).stem}/calls.json?_shape=objects&_size=1000"
        f"&account_id=1&dest={number}&start__gte={start}&start__lt={data.now + 1}"
        "&_sort_desc=start&_nosuggest=1"  # as ivrlog: the rows and their count, no facets
    )
    command = [str(PEER), "serve", data.database, "--port", str(peer_port)]
    command += ["--setting", "max_returned_rows", "1000", "--setting", "sql_time_limit_ms", "10000"]
    with running(command, peer_port, "datasette"):
        peer_rows = len(orjson.loads(get(peer_port, peer_path, ""))["rows"])
        peer = wrk(peer_port, [peer_path])
    if rows != peer_rows:
        raise RuntimeError(f"B5: ivrlog gave {rows} rows, Datasette {peer_rows}")
    if rows < 1000:
        console.log(f"[yellow]B5: the page holds {rows} calls, not 1000[/]")
    record(
        "B5 peer",
        "sqlite",
        f"{ours.rps:,.0f} req/s (p50 {ours.p50_ms:.1f} ms)",
        f"Datasette {peer.rps:,.0f} req/s (p50 {peer.p50_ms:.1f} ms)",
        ours.rps / peer.rps,
        ">= 3",
    )
