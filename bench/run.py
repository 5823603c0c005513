"""`make bench`: every scenario of docs/performance.md, on SQLite and PostgreSQL, printed as
one table of ratios against a floor or a peer measured in the same run.

Environment:
  BENCH_SIZES        calls in the datasets, smallest to largest (default 10000,100000,1000000)
  BENCH_SECONDS      seconds of load a wrk measurement (default 5)
  BENCH_BACKENDS     sqlite,postgresql (default both)
  BENCH_SCENARIOS    which scenarios to run (default all: B1,B2,B3,B4,B5,B11)
  BENCH_SOAK_SECONDS seconds of B11's mixed load (default 600)
  BENCH_PEER         the Datasette executable (default .venv-peer/bin/datasette)
Datasets are kept in bench/out/ for a day (their detail must stay within retention);
everything else is made and removed by the run.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from tests.pg import PostgresServer, free_port

from bench import soak
from bench.dataset import DAY, Shape, batches
from ivrlog.core.accounts import add_account
from ivrlog.core.ingest import prepare_call
from ivrlog.storage import open_store

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
LUA = ROOT / "bench" / "paths.lua"
CONNECTIONS = 16
console = Console(stderr=True)


def _env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


SIZES = [int(size) for size in _env_list("BENCH_SIZES", "10000,100000,1000000")]
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
BACKENDS = _env_list("BENCH_BACKENDS", "sqlite,postgresql")
PEER = Path(os.environ.get("BENCH_PEER", ROOT / ".venv-peer" / "bin" / "datasette"))
ALL_SCENARIOS = ("B1", "B2", "B3", "B4", "B5", "B11")
SCENARIOS = {name.upper() for name in _env_list("BENCH_SCENARIOS", ",".join(ALL_SCENARIOS))}
SOAK_SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "600"))
SOAK_CALLS = 20_000  # calls in B11's database before the load starts


# ---------------------------------------------------------------- results


@dataclass
class Row:
    scenario: str
    backend: str
    measured: str
    reference: str
    ratio: float
    target: str
    met: bool


ROWS: list[Row] = []


def record(
    scenario: str, backend: str, measured: str, reference: str, ratio: float, target: str
) -> None:
    op, bound = target.split(" ", 1)
    met = ratio >= float(bound) if op == ">=" else ratio <= float(bound)
    row = Row(scenario, backend, measured, reference, ratio, target, met)
    ROWS.append(row)
    console.log(f"{scenario} {backend}: {measured} / {reference} = {ratio:.2f} ({target})")


def print_table() -> None:
    table = Table(title=f"ivrlog benchmarks ({os.cpu_count()} cores, {SECONDS} s a load run)")
    for column in ("Scenario", "Backend", "ivrlog", "Floor or peer", "Ratio", "Target", "Met"):
        table.add_column(column, justify="right" if column == "Ratio" else "left")
    for row in ROWS:
        met = "[green]yes[/]" if row.met else "[red]no[/]"
        table.add_row(
            row.scenario,
            row.backend,
            row.measured,
            row.reference,
            f"{row.ratio:.2f}",
            row.target,
            met,
        )
    Console(width=200).print(table)
    (OUT / "results.json").write_text(json.dumps([asdict(row) for row in ROWS], indent=1))


# ---------------------------------------------------------------- processes


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


@contextlib.contextmanager
def running(command: Sequence[str], port: int, what: str) -> Iterator[subprocess.Popen[bytes]]:
    log = (OUT / f"{what.replace(' ', '-')}.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, what)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ivrlog_server(database: str, port: int) -> contextlib.AbstractContextManager[Any]:
    command = [str(BIN / "ivrlog"), "serve", "--db", database, "--port", str(port)]
    command += ["--purge-interval", "0", "--log-level", "warning"]
    return running(command, port, "ivrlog server")


@contextlib.contextmanager
def _peak_sampler(pid: int, field: str) -> Iterator[list[int]]:
    """The highest value of a /proc/PID/status field while the block runs, read every
    2 ms (the kernel keeps a peak only for the whole resident set, file pages included)."""
    peak = [memory_kb(pid, field)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], memory_kb(pid, field))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()
        peak[0] = max(peak[0], memory_kb(pid, field))


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


# ---------------------------------------------------------------- load


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float

    def __str__(self) -> str:
        return f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"


def wrk(port: int, paths: Sequence[str], authorization: str | None = None) -> Load:
    """GET random paths of `paths` for SECONDS with CONNECTIONS connections (1 s warm-up)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=OUT, delete=False) as listing:
        listing.write("\n".join(paths) + "\n")
    try:
        result: dict[str, int] = {}
        for seconds in (1, SECONDS):
            command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "30s"]
            command += ["-s", str(LUA)]
            command += [f"http://127.0.0.1:{port}", "--", listing.name]
            command += [authorization] if authorization else []
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
        if result["errors"] or result["non_2xx"]:
            raise RuntimeError(f"wrk saw failures: {result}")
        return Load(
            rps=result["requests"] / (result["duration_us"] / 1e6),
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
        )
    finally:
        os.unlink(listing.name)


def basic(email: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode()


def get(port: int, path: str, authorization: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Authorization": authorization})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return body
    finally:
        conn.close()


# ---------------------------------------------------------------- datasets


@dataclass
class Dataset:
    shape: Shape
    now: int
    database: str
    authorization: str  # account 0's reader credentials
    detailed_ids: list[str]  # account 0's calls that carry detail

    @property
    def window(self) -> tuple[int, int]:
        return self.now - self.shape.span_days * DAY, self.now + 1


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def load(shape: Shape, now: int, database: str, what: str) -> tuple[str, list[str]]:
    """Write the dataset with ivrlog's own write path; account 0's authorization and up
    to 5,000 of its calls with detail, spread over the whole set."""
    detailed: list[str] = []
    store = open_store(database)
    try:
        store.migrate()
        keys = [add_account(store, shape.account_email(i), now) for i in range(shape.accounts)]
        ids = {i: store.account_by_email(shape.account_email(i)) for i in range(shape.accounts)}
        with _progress() as progress:
            task = progress.add_task(f"{what}: {shape.calls:,} calls", total=shape.calls)
            for account, batch in batches(shape, now):
                account_row = ids[account]
                assert account_row is not None
                store.put_calls(account_row.id, [prepare_call(call) for call in batch])
                progress.advance(task, len(batch))
                if account == 0:
                    detailed += (call["session_id"] for call in batch if call["detail"])
        step = max(1, len(detailed) // 5000)
        return basic(keys[0].email, keys[0].developer_key), detailed[::step][:5000]
    finally:
        store.close()


def sqlite_dataset(size: int) -> Dataset:
    shape = Shape(size)
    path = OUT / f"sqlite-{size}.db"
    meta = OUT / f"sqlite-{size}.json"
    if path.exists() and meta.exists():
        kept = json.loads(meta.read_text())
        if kept["shape"] == asdict(shape) and time.time() - kept["now"] < DAY:
            return Dataset(shape, kept["now"], str(path), kept["authorization"], kept["ids"])
    for stale in OUT.glob(f"sqlite-{size}.db*"):
        stale.unlink()
    now = int(time.time())
    authorization, ids = load(shape, now, str(path), "SQLite")
    kept = {"shape": asdict(shape), "now": now, "authorization": authorization, "ids": ids}
    meta.write_text(json.dumps(kept))
    return Dataset(shape, now, str(path), authorization, ids)


def postgres_dataset(server: PostgresServer, size: int) -> Dataset:
    shape = Shape(size)
    now = int(time.time())
    url = server.url(server.create_database())
    authorization, ids = load(shape, now, url, "PostgreSQL")
    # as the server's purge schedule would have by now: the hourly counts' rows of changes
    # folded into one an hour (nothing is old enough to delete)
    subprocess.run([str(BIN / "ivrlog"), "purge", "--db", url], capture_output=True, check=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return Dataset(shape, now, url, authorization, ids)


# ---------------------------------------------------------------- scenarios


def _lookup_paths(data: Dataset) -> list[str]:
    return [f"/api/call/{session_id}" for session_id in data.detailed_ids]


def lookups(data: Dataset) -> Load:
    """Random /api/call/{id} under load."""
    port = free_port()
    with ivrlog_server(data.database, port):
        return wrk(port, _lookup_paths(data), data.authorization)


def b1_lookup(backend: str, data: Dataset) -> Load:
    """Random /api/call/{id} under load, against the same bytes served from memory by the
    same app. Both servers run at once and take turns under load, three rounds each."""
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
        command = [str(BIN / "python"), "-m", "bench.floor", data.database, str(floor_port)]
        with running([*command, str(bodies)], floor_port, "floor server"):
            rounds = [
                (wrk(port, paths, data.authorization), wrk(floor_port, floor_paths))
                for _ in range(3)
            ]
    ours = _median_load([mine for mine, _ in rounds])
    floor = _median_load([theirs for _, theirs in rounds])
    record("B1 lookup", backend, str(ours), str(floor), ours.rps / floor.rps, ">= 0.7")
    return ours


def _median_load(loads: list[Load]) -> Load:
    return sorted(loads, key=lambda load: load.rps)[len(loads) // 2]


def _time_to_last_byte(port: int, path: str, authorization: str | None, out: Path) -> float:
    command = [
        "curl",
        "-sS",
        "-o",
        str(out),
        "-w",
        "%{time_total}",
        f"http://127.0.0.1:{port}{path}",
    ]
    if authorization:
        command[1:1] = ["-H", f"Authorization: {authorization}"]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def b2_big_page(backend: str, data: Dataset) -> None:
    """/api/all_logs at limit=10000: time to last byte and memory, against nginx."""
    start = data.now - data.shape.detail_days * DAY
    path = f"/api/all_logs/{start}/{data.now + 1}?limit=10000"
    page = OUT / "page.json"
    port = free_port()
    times, growth = [], []
    with ivrlog_server(data.database, port) as server:
        for _ in range(5):
            before = memory_kb(server.pid, "RssAnon")
            with _peak_sampler(server.pid, "RssAnon") as peak:
                times.append(_time_to_last_byte(port, path, data.authorization, page))
            growth.append(peak[0] - before)
    calls = len(orjson.loads(page.read_bytes())["calls"])
    if calls < 10000:
        console.log(f"[yellow]B2: the page holds {calls} calls, not 10000[/]")
    ours = statistics.median(times)
    nginx = _nginx_time(page)
    size_mb = page.stat().st_size / 1e6
    record(
        "B2 big page",
        backend,
        f"{ours * 1000:.0f} ms for {size_mb:.0f} MB ({calls} calls)",
        f"nginx {nginx * 1000:.0f} ms",
        ours / nginx,
        "<= 3",
    )
    peak = max(growth) / 1024
    record("B2 memory", backend, f"+{peak:.1f} MB at peak", "64 MB", peak / 64, "<= 1")


def _nginx_time(page: Path) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory(dir=OUT) as root:
        os.chmod(root, 0o755)  # noqa: S103 - nginx's worker reads it as another user
        shutil.copy(page, Path(root) / "page.json")
        os.chmod(Path(root) / "page.json", 0o644)
        user = "user root;" if os.geteuid() == 0 else ""
        (Path(root) / "nginx.conf").write_text(
            f"{user} worker_processes 1; daemon off; pid {root}/nginx.pid;"
            f" error_log {root}/error.log; events {{}}"
            f" http {{ access_log off; sendfile on; default_type application/json;"
            f" client_body_temp_path {root}; proxy_temp_path {root}; fastcgi_temp_path {root};"
            f" uwsgi_temp_path {root}; scgi_temp_path {root};"
            f" server {{ listen 127.0.0.1:{port}; root {root}; }} }}"
        )
        command = ["nginx", "-p", root, "-c", f"{root}/nginx.conf"]
        with running(command, port, "nginx"):
            out = Path(root) / "fetched.json"
            times = [_time_to_last_byte(port, "/page.json", None, out) for _ in range(5)]
            if out.read_bytes() != page.read_bytes():
                raise RuntimeError("nginx served other bytes")
    return statistics.median(times)


def _ingest_batches(now: int, calls: int = 5000, size: int = 100) -> list[list[dict[str, Any]]]:
    shape = Shape(calls, accounts=1, span_days=2, detail_days=2, seed=7)
    return [batch for _, batch in batches(shape, now, size)]


def _post_all(port: int, token: str, bodies: list[bytes], clients: int = 2) -> None:
    """POST every body, from `clients` connections at once; the first refusal is raised."""

    def post(part: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            for body in part:
                conn.request("POST", "/ingest/v1/calls", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise RuntimeError(f"ingest: {response.status} {answer[:300]!r}")
        finally:
            conn.close()

    with ThreadPoolExecutor(clients) as pool:
        for done in [pool.submit(post, bodies[i::clients]) for i in range(clients)]:
            done.result()


def b3_ingest(backend: str, url: str) -> None:
    """Entries a second through POST /ingest/v1/calls, against raw writes of the same rows."""
    now = int(time.time())
    groups = _ingest_batches(now)
    entries = sum(len(call["detail"]) for group in groups for call in group)
    bodies = [orjson.dumps(group) for group in groups]
    store = open_store(url)
    store.migrate()
    token = add_account(store, "ingest@ivrlog.example", now).ingest_token
    store.close()
    port = free_port()
    with ivrlog_server(url, port):
        began = time.perf_counter()
        _post_all(port, token, bodies)
        ours = entries / (time.perf_counter() - began)
    rows = [[prepare_call(call) for call in group] for group in groups]
    floor = entries / (_sqlite_floor(rows) if backend == "sqlite" else _copy_floor(url, rows))
    record(
        "B3 ingest",
        backend,
        f"{ours:,.0f} entries/s",
        f"{'executemany' if backend == 'sqlite' else 'COPY'} {floor:,.0f} entries/s",
        ours / floor,
        ">= 0.5",
    )


def _sqlite_floor(groups: list[list[Any]]) -> float:
    """Seconds to write the rows with executemany, a transaction a batch, in a fresh
    database of ivrlog's schema with the store's durability settings."""
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        path = str(Path(folder) / "floor.db")
        store = open_store(path)
        store.migrate()
        store.close()
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("INSERT INTO accounts VALUES (1, 'a@b.example', 1, 'x', 'y', 0)")
        next_id = 1
        began = time.perf_counter()
        for group in groups:
            ids = range(next_id, next_id + len(group))
            next_id += len(group)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                'INSERT INTO calls (id, account_id, session_id, src, dest, type, start, "end",'
                " private, entry_count) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (i, c.session_id, c.src, c.dest, c.type, c.start, c.end, 0, c.entry_count)
                    for i, c in zip(ids, group, strict=True)
                ],
            )
            conn.executemany(
                "INSERT INTO call_details (call_id, json, xml) VALUES (?, ?, ?)",
                [(i, c.detail_json, c.detail_xml) for i, c in zip(ids, group, strict=True)],
            )
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - began
        conn.close()
        return elapsed


def _copy_floor(url: str, groups: list[list[Any]]) -> float:
    """Seconds to COPY the rows, a transaction a batch, into the tables ivrlog just wrote
    (emptied first: the partitions stay)."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE calls, call_details")
        account = conn.execute("SELECT id FROM accounts").fetchone()
        assert account is not None
        conn.commit()
        next_id = 10_000_000
        began = time.perf_counter()
        for group in groups:
            ids = range(next_id, next_id + len(group))
            next_id += len(group)
            with conn.cursor() as cur:
                with cur.copy(
                    'COPY calls (id, account_id, session_id, src, dest, type, start, "end",'
                    " private, entry_count) FROM STDIN"
                ) as copy:
                    for i, c in zip(ids, group, strict=True):
                        copy.write_row(
                            (
                                i,
                                account[0],
                                c.session_id,
                                c.src,
                                c.dest,
                                c.type,
                                c.start,
                                c.end,
                                False,
                                c.entry_count,
                            )
                        )
                with cur.copy("COPY call_details (call_id, start, json, xml) FROM STDIN") as copy:
                    for i, c in zip(ids, group, strict=True):
                        copy.write_row((i, c.start, c.detail_json, c.detail_xml))
            conn.commit()
        return time.perf_counter() - began


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


def b11_soak(backend: str, database: str) -> None:
    """SOAK_SECONDS of mixed reads, bulk and live ingestion and purges against one server
    (bench/soak.py): errors, and memory at the end against after the warm-up."""
    now = int(time.time())
    creds = soak.prepare(database, now, SOAK_CALLS)
    pace = soak.Pace()
    port = free_port()
    what = "ivrlog soak server"
    command = soak.server_command(BIN / "ivrlog", database, port, pace)
    with running(command, port, what) as server:
        result = soak.soak(
            port,
            server.pid,
            creds,
            soak.purge_command(BIN / "ivrlog", database),
            SOAK_SECONDS,
            pace,
        )
    result.server_log_errors = soak.server_log_errors(OUT / f"{what.replace(' ', '-')}.log")
    # the server's memory second by second, to tell a plateau from a leak
    (OUT / f"soak-memory-{backend}.json").write_text(json.dumps(result.rss_kb))
    for sample in result.samples:
        console.log(f"[red]B11 error[/] {sample}")
    requests = sum(result.requests.values())
    record(
        "B11 soak, errors",
        backend,
        f"{result.total_errors} errors ({result.server_log_errors} in the server log) in "
        f"{requests:,} requests over {result.seconds:.0f} s ({result.describe_requests()}); "
        f"{result.purges} purges deleted the detail of {result.details_purged:,} calls "
        f"and {result.calls_purged:,} calls",
        "0 errors",
        float(result.total_errors),
        "<= 0",
    )
    record(
        "B11 soak, memory",
        backend,
        f"VmRSS {result.rss_warm_mb:.1f} MB after a {result.warm_up:.0f} s warm-up, "
        f"{result.rss_end_mb:.1f} MB at the end",
        "VmRSS after the warm-up",
        result.rss_end_mb / result.rss_warm_mb,
        "<= 1.1",
    )


# ---------------------------------------------------------------- main

DATASET_SCENARIOS = {"B1", "B2", "B4", "B5"}  # those that read the prepared datasets


def check_scenarios() -> None:
    unknown = SCENARIOS - set(ALL_SCENARIOS)
    if unknown or not SCENARIOS:
        sys.exit(
            f"bench: BENCH_SCENARIOS {os.environ.get('BENCH_SCENARIOS')!r}: "
            f"give a comma-separated list of {', '.join(ALL_SCENARIOS)}"
        )


def check_soak() -> None:
    if "B11" in SCENARIOS and SOAK_SECONDS < soak.MIN_SECONDS:
        sys.exit(f"bench: BENCH_SOAK_SECONDS {SOAK_SECONDS}: give {soak.MIN_SECONDS} or more")


def check_tools() -> None:
    needed = {"wrk": {"B1", "B4", "B5"}, "nginx": {"B2"}, "curl": {"B2"}}
    missing = [
        tool for tool, users in needed.items() if users & SCENARIOS and shutil.which(tool) is None
    ]
    if "B5" in SCENARIOS and "sqlite" in BACKENDS and not PEER.exists():
        missing.append(str(PEER))
    if missing:
        sys.exit(f"bench: missing {', '.join(missing)} (make bench installs them)")


def measure(backend: str, datasets: list[Dataset], new_database: Callable[[str], str]) -> None:
    """The chosen scenarios of one backend; B1, B2 and B5 on the largest dataset."""
    loads: list[Load] = []
    if datasets:
        largest = datasets[-1]
        if "B4" in SCENARIOS:
            loads = [lookups(data) for data in datasets[:-1]]
        if "B1" in SCENARIOS:
            loads.append(b1_lookup(backend, largest))
        elif "B4" in SCENARIOS:
            loads.append(lookups(largest))
        if "B2" in SCENARIOS:
            b2_big_page(backend, largest)
    if "B3" in SCENARIOS:
        b3_ingest(backend, new_database("ingest"))
    if "B4" in SCENARIOS:
        b4_growth(backend, datasets, loads)
    if "B5" in SCENARIOS and backend == "sqlite":  # Datasette reads SQLite files only
        b5_peer(datasets[-1])
    if "B11" in SCENARIOS:
        b11_soak(backend, new_database("soak"))


def fresh_sqlite(name: str) -> str:
    for stale in OUT.glob(f"{name}.db*"):
        stale.unlink()
    return str(OUT / f"{name}.db")


def fresh_postgres(server: PostgresServer, _name: str) -> str:
    return server.url(server.create_database())


def main() -> None:
    check_scenarios()
    check_soak()
    check_tools()
    OUT.mkdir(exist_ok=True)
    with_datasets = bool(DATASET_SCENARIOS & SCENARIOS)
    for backend in BACKENDS:
        if backend == "sqlite":
            datasets = [sqlite_dataset(size) for size in SIZES] if with_datasets else []
            measure(backend, datasets, fresh_sqlite)
            continue
        server = PostgresServer(durable=True)
        try:
            datasets = [postgres_dataset(server, size) for size in SIZES] if with_datasets else []
            measure(backend, datasets, functools.partial(fresh_postgres, server))
        finally:
            server.stop()
    print_table()


if __name__ == "__main__":
    main()
