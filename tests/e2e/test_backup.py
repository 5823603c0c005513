"""`ivrlog backup`: a consistent copy of a SQLite database taken while a real server
writes to it, a copy that a server opens, and the refusals."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from ivrlog.cli import app as cli
from ivrlog.core.accounts import Credentials, add_account
from ivrlog.core.ingest import ingest_calls
from ivrlog.storage import open_store
from ivrlog.storage.backup import BackupRefused, backup_sqlite
from tests.e2e.serving import serving
from tests.factories import call, entry

pytestmark = pytest.mark.e2e

EMAIL = "backup@example.com"


def seeded(db: Path, calls: int = 200) -> Credentials:
    """A SQLite database with an account and `calls` recent calls of some 2 kB each."""
    store = open_store(str(db))
    try:
        creds = add_account(store, EMAIL)
        account = store.account_by_email(EMAIL)
        assert account is not None
        now = int(time.time())
        ingest_calls(
            store,
            account.id,
            [
                call(f"seed-{n}", now - 3600 - n, detail=[entry("x" * 2000, timestamp=now - 3600)])
                for n in range(calls)
            ],
        )
    finally:
        store.close()
    return creds


def session_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {sid for (sid,) in conn.execute("SELECT session_id FROM calls")}
    finally:
        conn.close()


def other_database(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("CREATE TABLE t (x)")
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        (result,) = conn.execute("PRAGMA integrity_check").fetchone()
        return str(result)
    finally:
        conn.close()


class Writer(threading.Thread):
    """Posts one call a request to a server until stopped; remembers what was answered 200."""

    def __init__(self, base_url: str, creds: Credentials) -> None:
        super().__init__(daemon=True)
        self.base_url, self.token = base_url, creds.ingest_token
        self.acknowledged: list[str] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        now = int(time.time())
        with httpx.Client(base_url=self.base_url, timeout=30, headers=headers) as client:
            n = 0
            while not self.stop.is_set():
                session_id = f"live-{n}"
                body = [call(session_id, now - 60, detail=[entry("y" * 500, timestamp=now)])]
                response = client.post("/ingest/v1/calls", json=body)
                if response.status_code == 200:
                    self.acknowledged.append(session_id)
                else:
                    self.failures.append(f"{response.status_code} {response.text}")
                n += 1

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.acknowledged) >= count, self.failures


def test_a_backup_taken_while_a_server_writes_is_consistent_and_served(tmp_path: Path) -> None:
    source, copy = tmp_path / "live.db", tmp_path / "copy.db"
    creds = seeded(source)
    steps: list[tuple[int, int]] = []

    def slowly(done: int, total: int) -> None:
        steps.append((done, total))
        time.sleep(0.002)  # let the server commit between steps

    with serving(str(source), tmp_path / "server.log", log_level="warning") as server:
        writer = Writer(server.url, creds)
        writer.start()
        try:
            writer.wait_for(20)
            before = list(writer.acknowledged)
            report = backup_sqlite(f"sqlite:///{source}", str(copy), step_pages=4, progress=slowly)
            writer.wait_for(len(before) + 20)  # the server went on writing
        finally:
            writer.stop.set()
            writer.join(timeout=30)
    assert writer.failures == []
    # many steps, read in one snapshot: never restarted by the writes between them
    assert len(steps) > 50
    assert all(a[0] < b[0] and a[1] == b[1] for a, b in itertools.pairwise(steps))
    assert steps[-1][0] == steps[-1][1] == report.pages

    assert integrity(copy) == "ok"
    in_copy = session_ids(copy)
    assert {f"seed-{n}" for n in range(200)} <= in_copy
    assert set(before) <= in_copy
    assert in_copy < session_ids(source)  # a snapshot: the source went on without it
    assert not list(tmp_path.glob("*.partial*"))

    # a server opens the copy and serves every call it holds
    with serving(str(copy), tmp_path / "copy.log", log_level="warning") as server:
        now = int(time.time())
        response = httpx.get(
            f"{server.url}/api/calls/0/{now + 86_400}",
            params={"limit": 10_000},
            auth=(creds.email, creds.developer_key),
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_calls"] == len(in_copy)
    assert {c["session_id"] for c in body["calls"]} == in_copy


def test_backup_command_copies_and_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    source, copy = tmp_path / "ivrlog.db", tmp_path / "backup.db"
    seeded(source, calls=30)
    runner = CliRunner()

    done = runner.invoke(cli, ["backup", str(copy), "--db", str(source)])
    assert done.exit_code == 0, done.output
    assert f"to {copy}" in done.output
    assert session_ids(copy) == session_ids(source)
    assert integrity(copy) == "ok"

    copy.write_bytes(b"an older backup")
    # a wide terminal: Rich wraps the message at the terminal's width
    refused = runner.invoke(
        cli, ["backup", str(copy)], env={"IVRLOG_DATABASE": str(source), "COLUMNS": "400"}
    )
    assert refused.exit_code == 2
    assert "exists: pass --force" in refused.output
    assert copy.read_bytes() == b"an older backup"

    forced = runner.invoke(cli, ["backup", str(copy), "--force", "--db", f"sqlite:///{source}"])
    assert forced.exit_code == 0, forced.output
    assert session_ids(copy) == session_ids(source)
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


def test_backup_of_a_postgresql_database_is_refused_with_the_tool_to_use(tmp_path: Path) -> None:
    target = tmp_path / "pg.db"
    result = CliRunner().invoke(
        cli, ["backup", str(target), "--db", "postgresql://ivrlog@localhost/ivrlog"]
    )
    assert result.exit_code == 2
    assert "pg_dump" in result.output
    assert not target.exists()


@pytest.mark.parametrize(
    ("make_source", "target_name", "message"),
    [
        (None, "copy.db", "No SQLite database at"),
        (lambda p: p.write_bytes(b"not a database at all" * 100), "copy.db", "not a SQLite"),
        (lambda p: other_database(p), "copy.db", "not an ivrlog"),
        ("ivrlog", "source.db", "is the database itself"),
        ("ivrlog", "missing/copy.db", "directory does not exist"),
        ("ivrlog", ".", "is a directory"),
    ],
)
def test_backup_refusals_write_nothing(
    tmp_path: Path, make_source: object, target_name: str, message: str
) -> None:
    source = tmp_path / "source.db"
    if make_source == "ivrlog":
        seeded(source, calls=1)
    elif callable(make_source):
        make_source(source)
    before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(BackupRefused, match=message):
        backup_sqlite(str(source), str(tmp_path / target_name), force=True)

    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no source made, no copy


def test_a_failed_copy_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    source, copy = tmp_path / "source.db", tmp_path / "copy.db"
    seeded(source, calls=50)
    copy.write_bytes(b"yesterday's backup")

    def interrupted(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backup_sqlite(str(source), str(copy), force=True, step_pages=1, progress=interrupted)

    assert copy.read_bytes() == b"yesterday's backup"
    # no partial copy left (the source's own -wal and -shm may be there: SQLite's)
    assert {p.name for p in tmp_path.iterdir()} <= {
        "copy.db",
        "source.db",
        "source.db-wal",
        "source.db-shm",
    }
