"""B11 soak: a real `ivrlog serve` under a mixed load for a long while (ten minutes by
default): reads of the three compatible endpoints, bulk ingestion, live calls that grow
entry by entry and are completed, and retention purges, all at once.

It counts errors (a transport failure, or any answer but 200: nothing this load sends
has another expected answer) and the server's resident memory (VmRSS) once warmed up
against at the end. `bench/run.py` starts the server (`server_command`) on a database
`prepare` filled, calls `soak`, and records the result as the table's B11 rows.

Every call the load reads exists and is within retention for the whole run: the reads
go to calls with detail from the last days (the dataset's, and those this load ingests
with a recent start), so each must answer 200. The bulk writer also ingests calls with
starts spread over the last 40 days, and a share of them placed to cross a retention
cutoff while the run lasts (ingestion stores nothing already past one), so that the
purges (the server's own, every `purge_interval`, and `ivrlog purge` from a thread)
keep finding detail past `detail_retention_days` and calls past `call_retention_days` to
delete.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import random
import re
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from bench.dataset import DAY, Shape, batches
from ivrlog.core.accounts import add_account
from ivrlog.core.ingest import prepare_call
from ivrlog.storage import open_store

DETAIL_DAYS = 5  # the server's detail_retention_days
CALL_DAYS = 30  # the server's call_retention_days
SPAN_DAYS = 40  # bulk calls start up to this long ago: past both retentions
RECENT_DAYS = 2  # calls read by id start within this: readable all along
BULK_CALLS = 50  # calls a bulk request
MIN_SECONDS = 30  # room for a warm-up and two windows of memory samples
SAMPLE_ERRORS = 5  # errors kept word for word for the report
_SERVER_ERROR = re.compile(
    r'^(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|"level": ?"(error|critical)"',
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Pace:
    """How hard each part of the load pushes; readers are not paced (each waits for its
    answer and asks again)."""

    readers: int = 2
    bulk_calls_per_second: float = 100.0
    live_updates_per_second: float = 20.0
    live_in_flight: int = 20
    purge_every: float = 30.0  # seconds between two `ivrlog purge` runs
    server_purge_interval: int = 20


@dataclass
class Credentials:
    authorization: str  # HTTP Basic of the reading account
    token: str  # its ingest token
    readable: list[str]  # session ids of calls with detail within retention


@dataclass
class SoakResult:
    seconds: float
    requests: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    purges: int = 0
    details_purged: int = 0
    calls_purged: int = 0
    rss_kb: list[tuple[float, int]] = field(default_factory=list)  # (seconds in, VmRSS)
    warm_up: float = 0.0
    server_log_errors: int = 0

    @property
    def total_errors(self) -> int:
        return self.errors + self.server_log_errors

    def _rss(self, since: float, until: float) -> float:
        window = [kb for t, kb in self.rss_kb if since <= t < until]
        if not window:
            raise RuntimeError(f"no memory sample between {since:.0f} s and {until:.0f} s")
        return statistics.median(window) / 1024

    @property
    def rss_warm_mb(self) -> float:
        """The median VmRSS of the 5 s after the warm-up."""
        return self._rss(self.warm_up, self.warm_up + 5)

    @property
    def rss_end_mb(self) -> float:
        """The median VmRSS of the last 5 s."""
        return self._rss(self.seconds - 5, self.seconds + 1)

    def describe_requests(self) -> str:
        return ", ".join(f"{kind} {count:,}" for kind, count in sorted(self.requests.items()))


def server_command(ivrlog: Path, database: str, port: int, pace: Pace) -> list[str]:
    return [
        *(str(ivrlog), "serve", "--db", database, "--port", str(port)),
        *("--purge-interval", str(pace.server_purge_interval), "--log-level", "warning"),
        *("--detail-retention-days", str(DETAIL_DAYS), "--call-retention-days", str(CALL_DAYS)),
    ]


def prepare(database: str, now: int, calls: int) -> Credentials:
    """A database of `calls` calls over 40 days (the recent ones with detail), through
    ivrlog's own store; the first account's credentials and its readable calls."""
    shape = Shape(calls, span_days=SPAN_DAYS, detail_days=RECENT_DAYS, seed=11)
    store = open_store(database)
    try:
        keys = [add_account(store, shape.account_email(i), now) for i in range(shape.accounts)]
        ids = [store.account_by_email(key.email) for key in keys]
        readable: list[str] = []
        for account, batch in batches(shape, now):
            row = ids[account]
            assert row is not None
            store.put_calls(row.id, [prepare_call(call) for call in batch])
            if account == 0:
                readable += (c["session_id"] for c in batch if c["detail"])
    finally:
        store.close()
    basic = base64.b64encode(f"{keys[0].email}:{keys[0].developer_key}".encode()).decode()
    return Credentials(f"Basic {basic}", keys[0].ingest_token, readable)


def expiring(call: dict[str, Any], rng: random.Random, seconds: int) -> None:
    """Move one call in five to start within the run's length after a retention cutoff
    (a tenth after the detail one, a tenth after the call one), its entries with it: the
    purges of the run then see its detail, or the call, pass the cutoff."""
    roll = rng.random()
    if roll >= 0.2:
        return
    days = DETAIL_DAYS if roll < 0.1 else CALL_DAYS
    start = int(time.time()) - days * DAY + rng.randint(60, seconds + 60)
    shift = start - call["start"]
    call["start"] += shift
    call["end"] += shift
    for entry in call["detail"]:
        entry["timestamp"] += shift


class _Client:
    """One keep-alive connection; a failed request closes it and the next reconnects."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except BaseException:
            self.conn.close()
            self.conn = None
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class _Soak:
    def __init__(
        self,
        port: int,
        pid: int,
        creds: Credentials,
        purge: Callable[[], dict[str, Any]],
        seconds: float,
        pace: Pace,
    ) -> None:
        self.port, self.pid, self.creds, self.purge, self.pace = port, pid, creds, purge, pace
        # the warm-up spans a tenth of the run and three of the server's purges (the
        # server's heap and its readers' page caches fill within the first purges)
        warm_up = min(max(seconds / 10, 3.0 * pace.server_purge_interval), seconds - 15)
        self.result = SoakResult(seconds=seconds, warm_up=warm_up)
        self.readable = list(creds.readable)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.began = time.monotonic()
        self.seconds = seconds

    # bookkeeping

    def count(self, kind: str, status: int | None, body: bytes | str = b"") -> None:
        """One request of `kind` that answered `status` (None: no answer)."""
        with self.lock:
            self.result.requests[kind] += 1
        if status != 200:
            text = body if isinstance(body, str) else body[:200].decode(errors="replace")
            self.fail(kind, f"{status} {text}")

    def fail(self, kind: str, what: str) -> None:
        with self.lock:
            self.result.errors += 1
            if len(self.result.samples) < SAMPLE_ERRORS:
                self.result.samples.append(f"{kind}: {what}")

    def call(
        self,
        client: _Client,
        kind: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None = None,
    ) -> bytes | None:
        """One request, counted; its body when it answered 200."""
        try:
            status, answer = client.request(method, path, headers, body)
        except (OSError, http.client.HTTPException) as exc:
            self.count(kind, None, repr(exc))
            return None
        self.count(kind, status, answer)
        return answer if status == 200 else None

    def paced(self, per_second: float, step: Callable[[], None]) -> None:
        """Run `step` about `per_second` times a second until the soak ends."""
        interval, due = 1.0 / per_second, time.monotonic()
        while not self.stop.is_set():
            step()
            due += interval
            self.stop.wait(max(0.0, due - time.monotonic()))

    # the load

    def reader(self, seed: int) -> None:
        rng, client = random.Random(seed), _Client(self.port)
        headers = {"Authorization": self.creds.authorization}
        now = int(time.time())
        try:
            while not self.stop.is_set():
                roll = rng.random()
                if roll < 0.5:
                    with self.lock:
                        session_id = rng.choice(self.readable)
                    self.call(client, "read call", "GET", f"/api/call/{quote(session_id)}", headers)
                    continue
                endpoint, limit = (
                    ("calls", rng.choice((100, 500, 1000)))
                    if roll < 0.75
                    else ("all_logs", rng.choice((10, 50, 200)))
                )
                days = rng.choice((1, RECENT_DAYS) if endpoint == "all_logs" else (1, 7, 30))
                path = f"/api/{endpoint}/{now - days * DAY}/{int(time.time()) + 60}?limit={limit}"
                if rng.random() < 0.3:
                    path += f"&number={Shape(0).hot_number}"
                body = self.call(client, f"read {endpoint}", "GET", path, headers)
                if body is not None:
                    page = orjson.loads(body)
                    if page["total_calls"] < len(page["calls"]):
                        self.fail(f"read {endpoint}", f"total_calls below the calls listed: {path}")
        finally:
            client.close()

    def bulk_writer(self) -> None:
        client, rng = _Client(self.port), random.Random(3)
        headers = {"Authorization": f"Bearer {self.creds.token}"}
        headers["Content-Type"] = "application/json"
        # enough calls for the whole run (the generator draws its random choices up front)
        calls = int(self.pace.bulk_calls_per_second * (self.seconds + 60)) + BULK_CALLS
        shape = Shape(calls, accounts=1, span_days=SPAN_DAYS, detail_days=SPAN_DAYS, seed=5)
        generated = batches(shape, int(time.time()), BULK_CALLS)
        sent: list[bytes] = []

        def step() -> None:
            if sent and rng.random() < 0.1:  # a retried batch: it replaces its calls
                body = rng.choice(sent)
            else:
                _, batch = next(generated)
                for call in batch:
                    call["session_id"] = "bulk-" + call["session_id"]
                    expiring(call, rng, int(self.seconds))
                body = orjson.dumps(batch)
                sent.append(body)
                del sent[:-100]
                recent = int(time.time()) - RECENT_DAYS * DAY
                fresh = [c["session_id"] for c in batch if c["start"] >= recent and c["detail"]]
                if self.call(client, "bulk", "POST", "/ingest/v1/calls", headers, body):
                    with self.lock:
                        self.readable += fresh
                return
            self.call(client, "bulk", "POST", "/ingest/v1/calls", headers, body)

        try:
            self.paced(self.pace.bulk_calls_per_second / BULK_CALLS, step)
        finally:
            client.close()

    def live_writer(self) -> None:
        client, rng = _Client(self.port), random.Random(4)
        headers = {"Authorization": f"Bearer {self.creds.token}"}
        headers["Content-Type"] = "application/json"
        numbers = itertools.count()
        open_calls: dict[str, list[int]] = {}  # session id: [entries so far, entries in all]

        def entry(n: int) -> dict[str, Any]:
            data = {"module_type": "dtmf_input", "result_variable": f"step{n}"}
            line = f"User input: {rng.randint(0, 9)} (dtmf)"
            return {"event": {"line": line, "data": data}, "class": "event", "timestamp": now()}

        def now() -> int:
            return int(time.time())

        def step() -> None:
            while len(open_calls) < self.pace.live_in_flight:
                open_calls[f"live-{next(numbers)};000;{now()}"] = [0, rng.randint(5, 30)]
            session_id = rng.choice(list(open_calls))
            done, total = open_calls[session_id]
            adding = min(rng.randint(1, 3), total - done)
            update: dict[str, Any] = {"entries": [entry(done + i) for i in range(adding)]}
            if done == 0:
                update |= {"src": "6175550100", "dest": "8000000000", "type": "inbound"}
            if done + adding >= total:
                update["end"] = now()
            path = f"/ingest/v1/calls/{quote(session_id, safe='')}/entries"
            if self.call(client, "live", "POST", path, headers, orjson.dumps(update)) is None:
                open_calls.pop(session_id)  # counted as an error; not tried again
                return
            if done == 0:
                with self.lock:
                    self.readable.append(session_id)
            if "end" in update:
                open_calls.pop(session_id)
            else:
                open_calls[session_id][0] = done + adding

        try:
            self.paced(self.pace.live_updates_per_second, step)
        finally:
            client.close()

    def purger(self) -> None:
        # a short soak still sees a few purges
        while not self.stop.wait(min(self.pace.purge_every, self.seconds / 4)):
            try:
                report = self.purge()
            except Exception as exc:  # any failure is an error of the soak
                self.count("purge", None, repr(exc))
                continue
            self.count("purge", 200)
            with self.lock:
                self.result.purges += 1
                self.result.details_purged += report["details_deleted"]
                self.result.calls_purged += report["calls_deleted"]

    def sampler(self) -> None:
        while not self.stop.wait(1.0):
            rss = vm_rss_kb(self.pid)
            with self.lock:
                self.result.rss_kb.append((time.monotonic() - self.began, rss))

    def guarded(self, work: Callable[..., None]) -> Callable[..., None]:
        """`work`, with a failure of its own counted as an error (its part of the load
        stops, which the request counts show) instead of lost on stderr."""

        def run(*args: Any) -> None:
            try:
                work(*args)
            except Exception as exc:  # any failure of the load is an error of the soak
                self.fail(work.__name__, f"stopped: {exc!r}")

        return run

    def run(self) -> SoakResult:
        reader = self.guarded(self.reader)
        threads = [threading.Thread(target=reader, args=(n,)) for n in range(self.pace.readers)]
        others = (self.bulk_writer, self.live_writer, self.purger, self.sampler)
        threads += [threading.Thread(target=self.guarded(work)) for work in others]
        for thread in threads:
            thread.start()
        try:
            self.stop.wait(self.seconds)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join()
        return self.result


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def purge_command(ivrlog: Path, database: str) -> Callable[[], dict[str, Any]]:
    """`ivrlog purge --json` on the database with the server's retention: its report; it
    raises when the command failed (exit code 3, the journal left for later, is not a
    failure)."""

    def purge() -> dict[str, Any]:
        command = [str(ivrlog), "purge", "--db", database, "--json"]
        command += ["--detail-retention-days", str(DETAIL_DAYS)]
        command += ["--call-retention-days", str(CALL_DAYS)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode not in (0, 3):
            raise RuntimeError(f"ivrlog purge: exit code {done.returncode}: {done.stderr[-300:]}")
        report: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
        return report

    return purge


def soak(
    port: int,
    pid: int,
    creds: Credentials,
    purge: Callable[[], dict[str, Any]],
    seconds: float,
    pace: Pace | None = None,
) -> SoakResult:
    """Run the load against the server at `port` (process `pid`) for `seconds` (at least
    MIN_SECONDS)."""
    if seconds < MIN_SECONDS:
        raise ValueError(f"a soak lasts {MIN_SECONDS} s or more, not {seconds}")
    return _Soak(port, pid, creds, purge, seconds, pace or Pace()).run()


def server_log_errors(log: Path) -> int:
    """Lines of the server's log at ERROR or CRITICAL, and tracebacks."""
    return len(_SERVER_ERROR.findall(log.read_text(errors="replace"))) if log.exists() else 0
