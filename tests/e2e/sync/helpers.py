"""Two real sides for `ivrlog sync`'s tests: a source (`ivrlog serve` standing in for a
Plum Fuse account) and a local database, the sync as a real process, and what each side
holds."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ivrlog.client import Client
from ivrlog.core.accounts import Credentials
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.model import CallFilter
from ivrlog.storage import open_store
from tests.e2e.serving import Serving, account, running
from tests.factories import call, entry
from tests.pg import free_port

NOW = int(time.time())
DAY = 86_400
SOURCE_EMAIL = "fuse@example.com"
LOCAL_EMAIL = "local@example.com"
KEY_ENV = "IVRLOG_TEST_SOURCE_KEY"
SOURCE_DETAIL_DAYS = 2  # the source keeps detail 2 days: older calls come without it


@dataclass
class Source:
    db: str
    creds: Credentials
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> contextlib.AbstractContextManager[Serving]:
        """The source server on its port (the same one each time: a restarted source is
        the same source to sync's checkpoint)."""
        args = ["serve", "--db", self.db, "--port", str(self.port), "--purge-interval", "0"]
        args += ["--detail-retention-days", str(SOURCE_DETAIL_DAYS)]
        return running(args, self.log, port=self.port)

    def client(self) -> Client:
        return Client(
            self.url,
            email=self.creds.email,
            key=self.creds.developer_key,
            token=self.creds.ingest_token,
        )

    def holds(self) -> dict[str, tuple[Any, ...]]:
        """Every call the source lists, as the compatible API shows it (the view sync
        has): summary, and detail or None."""
        with self.client() as client:
            listed = client.iter_all_logs(NOW - 30 * DAY, NOW + DAY, page_size=500)
            return {
                c["session_id"]: (
                    c["src"],
                    c["dest"],
                    c["type"],
                    int(c["start"]),
                    int(c["end"]),
                    c["detail"] or None,
                )
                for c in listed
            }


def make_source(directory: Path) -> Source:
    db = str(directory / "source.db")
    return Source(db, account(db, SOURCE_EMAIL), free_port(), directory / "source.log")


def make_local(directory: Path) -> str:
    db = str(directory / "local.db")
    account(db, LOCAL_EMAIL)
    return db


def local_holds(db: str) -> dict[str, tuple[Any, ...]]:
    store = open_store(db)
    try:
        found = store.account_by_email(LOCAL_EMAIL)
        assert found is not None
        query = CallFilter(found.id, 0, MAX_TIME + 1, NOW - 5 * DAY)
        rows = store.search_calls(query, None, 100_000, detail=True)
    finally:
        store.close()
    return {r[0]: (*r[1:6], orjson.loads(r[12]) if r[12] else None) for r in rows}


def local_changes(db: str) -> int:
    """The local account's last change position."""
    store = open_store(db)
    try:
        found = store.account_by_email(LOCAL_EMAIL)
        assert found is not None
        changes = store.changes(found.id, 0, 100_000, 0)
        return max((c.seq for c in changes), default=0)
    finally:
        store.close()


def checkpoint(db: str, source: Source) -> int | None:
    store = open_store(db)
    try:
        found = store.account_by_email(LOCAL_EMAIL)
        assert found is not None
        return store.sync_checkpoint(found.id, f"{source.url} {SOURCE_EMAIL}")
    finally:
        store.close()


def spread_calls(count: int, *, days: float = 4, prefix: str = "c") -> list[dict[str, Any]]:
    """`count` calls over the last `days` days: every 7th outbound, every 11th without
    entries, every 13th private; each with a few entries."""
    made = []
    step = int(days * DAY / count)
    for n in range(count):
        start = NOW - int(days * DAY) + n * step
        detail = [
            entry('Executing application "Desk" version "1"', timestamp=start),
            entry(f"Prompt {n}", "prompt", start + 2, "prompt", "welcome"),
            entry("User input: 1", "event", start + 5, "menu", "choice"),
        ]
        made.append(
            call(
                f"{prefix};{n:05d};{start}",
                start,
                type="outbound" if n % 7 == 0 else "inbound",
                detail=[] if n % 11 == 0 else detail,
                private=n % 13 == 0,
            )
        )
    return made


def sync_args(local_db: str, source: Source, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ivrlog",
        "sync",
        "--db",
        local_db,
        "--from",
        source.url,
        "--email",
        SOURCE_EMAIL,
        "--key-env",
        KEY_ENV,
        "--into",
        LOCAL_EMAIL,
        "--since",
        "-5d",
        *options,
    ]


def sync_env(source: Source) -> dict[str, str]:
    return {**os.environ, KEY_ENV: source.creds.developer_key}


def run_sync(local_db: str, source: Source, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sync_args(local_db, source, *options),
        env=sync_env(source),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def sync_process(local_db: str, source: Source, *options: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        sync_args(local_db, source, *options),
        env=sync_env(source),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)
