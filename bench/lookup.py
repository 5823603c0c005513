"""B1 (a lookup under load against the framework floor, bench/floor.py's bare Starlette
app) and B4 (lookups and a page at each dataset size, largest against smallest)."""

from __future__ import annotations

import orjson
from tests.pg import free_port

from bench.client import Load, get, median_load, wrk
from bench.config import BIN, OUT
from bench.databases import Dataset
from bench.processes import ivrlog_server, running
from bench.results import record


def _lookup_paths(data: Dataset) -> list[str]:
    return [f"/api/call/{session_id}" for session_id in data.detailed_ids]


def lookups(data: Dataset) -> Load:
    """Random /api/call/{id} under load."""
    port = free_port()
    with ivrlog_server(data.database, port):
        return wrk(port, _lookup_paths(data), data.authorization)


def b1_lookup(backend: str, data: Dataset) -> Load:
    """Random /api/call/{id} under load, against the same bytes served from memory by a
    bare Starlette app on the same uvicorn (bench/floor.py). Both servers run at once and
    take turns under load, three rounds each."""
    port, floor_port = free_port(), free_port()
    paths = _lookup_paths(data)
    floor_paths = [path.replace("/api/", "/floor/", 1) for path in paths]
    bodies = OUT / "floor-bodies.json"
    with ivrlog_server(data.database, port):
        answers = {
            session_id: get(port, path, data.authorization).decode()
            for session_id, path in zip(data.detailed_ids, paths, strict=True)
        }
        bodies.write_bytes(orjson.dumps(answers))
        command = [str(BIN / "python"), "-m", "bench.floor", str(floor_port)]
        with running([*command, str(bodies)], floor_port, "floor server"):
            rounds = [
                (wrk(port, paths, data.authorization), wrk(floor_port, floor_paths))
                for _ in range(3)
            ]
    ours = median_load([mine for mine, _ in rounds])
    floor = median_load([theirs for _, theirs in rounds])
    target = ">= 0.7" if backend == "sqlite" else ">= 0.5"  # a round trip on PostgreSQL
    record("B1 lookup", backend, str(ours), str(floor), ours.rps / floor.rps, target)
    return ours


def b4_growth(backend: str, datasets: list[Dataset], lookups_: list[Load]) -> None:
    """B1 and a 1,000-call /api/calls page at each size; largest against smallest."""
    pages = []
    for data in datasets:
        start, end = data.window
        port = free_port()
        with ivrlog_server(data.database, port):
            pages.append(wrk(port, [f"/api/calls/{start}/{end}?limit=1000"], data.authorization))
    small, large = datasets[0].shape.calls, datasets[-1].shape.calls
    for name, loads in (("B4 growth, lookup", lookups_), ("B4 growth, page", pages)):
        sizes = ", ".join(
            f"{d.shape.calls:,}: {load.rps:,.0f}/s" for d, load in zip(datasets, loads, strict=True)
        )
        record(
            name,
            backend,
            sizes,
            f"{large:,} vs {small:,} calls",
            loads[0].rps / loads[-1].rps,
            "<= 1.3",
        )
