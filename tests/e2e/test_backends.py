"""Both backends behind real servers: the same requests give the same bytes, and
`ivrlog serve --workers N` shares one database between processes."""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from ivrlog.core.accounts import Credentials, add_account
from ivrlog.storage import open_store
from tests.conftest import fresh_database
from tests.e2e.serving import serving
from tests.e2e.test_server import Server, curl, demo_server
from tests.factories import call, entry

pytestmark = pytest.mark.e2e

NOW = int(time.time())  # the demo data of both servers is made around the same moment


@pytest.fixture(scope="module")
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    """The same demo data (seed 1, the same `now`) behind a SQLite and a PostgreSQL server."""
    directory = tmp_path_factory.mktemp("agree")
    with (
        fresh_database(request, "sqlite", directory) as sqlite_db,
        fresh_database(request, "postgresql", directory) as postgres_db,
        demo_server(sqlite_db, directory / "sqlite.log", "--now", str(NOW)) as on_sqlite,
        demo_server(postgres_db, directory / "postgres.log", "--now", str(NOW)) as on_postgres,
    ):
        yield {"sqlite": on_sqlite, "postgresql": on_postgres}


def requests_for(server: Server) -> list[list[str]]:
    """curl arguments: the demo's printed lines, then more pages, filters, formats and
    errors, all relative to this server's port and credentials."""
    # the compatible API's lines (the last one, /v1/calls, has a window relative to the
    # clock and links naming the server's port: test_own_list_agrees compares it)
    printed = [shlex.split(line)[1:] for line in server.curl_lines if "/api/" in line]
    auth = ["-u", f"demo@ivrlog.example:{server.key}"]
    base = f"http://127.0.0.1:{server.port}"
    call_url = printed[2][-1]
    number = printed[1][-1].split("number=")[1].split("&")[0]
    xml = ["-H", "Accept: application/xml"]
    week = f"{NOW - 8 * 86_400}/{NOW + 3600}"
    more = [
        [*auth, f"{base}/api/calls/{week}"],
        [*auth, f"{base}/api/calls/{week}?limit=7&offset=13"],
        [*auth, f"{base}/api/calls/{week}?number={number}"],
        [*auth, *xml, f"{base}/api/calls/{week}?limit=50"],
        [*auth, f"{base}/api/all_logs/{week}?limit=40"],
        [*auth, *xml, f"{base}/api/all_logs/{week}?limit=40&offset=3"],
        [*auth, f"{base}/api/all_logs/{week}?number={number}"],
        [*auth, *xml, call_url],
        [*auth, f"{base}/api/call/no-such-call"],
        [*auth, f"{base}/api/calls/10/5"],
        [*auth, f"{base}/api/calls/0/10?limit=0"],
        ["-u", "demo@ivrlog.example:wrong", f"{base}/api/calls/{week}"],
    ]
    return [*printed, *more]


def test_the_same_curl_lines_give_byte_identical_answers_on_both_backends(
    servers: dict[str, Server],
) -> None:
    on_sqlite = requests_for(servers["sqlite"])
    on_postgres = requests_for(servers["postgresql"])
    assert len(on_sqlite) == len(on_postgres) == 16
    for sqlite_args, postgres_args in zip(on_sqlite, on_postgres, strict=True):
        # back to back, so that both read with the same detail cutoff (the clock's second)
        sqlite_answer = curl(*sqlite_args)
        postgres_answer = curl(*postgres_args)
        assert sqlite_answer == postgres_answer, sqlite_args[-1]
    # the pages hold real data, not two empty answers
    status, body = curl(*on_sqlite[4])
    assert status == 200
    assert orjson.loads(body)["total_calls"] > 300


# ivrlog serve --workers N


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (read from /proc)."""
    found = []
    for entry_dir in Path("/proc").iterdir():
        if not entry_dir.name.isdigit():
            continue
        try:
            stat = (entry_dir / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces: the fields after its closing bracket are fixed
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry_dir.name))
    return found


def test_serve_with_workers_shares_one_database_between_processes(
    db_url: str, tmp_path: Path
) -> None:
    store = open_store(db_url)
    try:
        creds: Credentials = add_account(store, "workers@example.com")
    finally:
        store.close()
    bearer = {"Authorization": f"Bearer {creds.ingest_token}"}
    now = int(time.time())
    failures: list[str] = []

    def bulk(writer: int) -> None:
        with httpx.Client(timeout=30) as client:
            for batch in range(8):
                calls = [
                    call(f"bulk-{writer}-{batch}-{n}", now - 600 - n, dest=f"61770{writer}")
                    for n in range(10)
                ]
                answer = client.post(f"{base}/ingest/v1/calls", json=calls, headers=bearer)
                if answer.status_code != 200:
                    failures.append(answer.text)

    def live(writer: int) -> None:
        with httpx.Client(timeout=30) as client:
            for n in range(10):
                update = {
                    "src": "1",
                    "dest": "2",
                    "type": "inbound",
                    "entries": [entry(f"w{writer}-{n}", timestamp=now - 300 + n)],
                }
                answer = client.post(
                    f"{base}/ingest/v1/calls/shared-live/entries", json=update, headers=bearer
                )
                if answer.status_code != 200:
                    failures.append(answer.text)

    log = tmp_path / "server.log"
    with serving(db_url, log, "--workers", "2", log_level="warning") as server:
        base = server.url
        assert len(children(server.process.pid)) >= 2  # the supervisor and its two workers
        threads = [threading.Thread(target=bulk, args=(w,)) for w in range(4)]
        threads += [threading.Thread(target=live, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        auth = (creds.email, creds.developer_key)
        listing = httpx.get(f"{base}/api/calls/0/{now + 60}?limit=1000", auth=auth).json()
        assert listing["total_calls"] == 4 * 8 * 10
        assert len({c["session_id"] for c in listing["calls"]}) == 320
        shared = httpx.get(f"{base}/api/call/shared-live", auth=auth)
        assert shared.status_code == 200
        lines = [e["event"]["line"] for e in shared.json()]
        # every append of every writer, through either worker, in timestamp order
        assert sorted(lines) == sorted(f"w{w}-{n}" for w in range(4) for n in range(10))
        timestamps = [e["timestamp"] for e in shared.json()]
        assert timestamps == sorted(timestamps)


def test_own_list_agrees_on_both_backends(servers: dict[str, Server]) -> None:
    """The demo's /v1/calls line lists the same calls on both backends."""
    listed = []
    for server in servers.values():
        args = shlex.split(server.curl_lines[-1])[1:]
        assert "/v1/calls?" in args[-1]
        from_seconds = str(NOW - 5 * 86_400)
        url = args[-1].replace("from=-5d", f"from={from_seconds}&to={NOW + 3600}")
        status, body = curl(*args[:-1], url)
        assert status == 200
        listed.append(orjson.loads(body)["calls"])
    assert listed[0] == listed[1]
    assert listed[0], "the demo (seed 1) has calls that hung up in the card-number step"
    assert all(call["ended_in"].endswith(":card_number") for call in listed[0])
