"""Clients that read a large page slowly, or not at all, hold no database connection:
a normal request is served meanwhile, on both backends (web/spool.py)."""

from __future__ import annotations

import base64
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx2 as httpx
import orjson
import pytest

from ivrlog.core.accounts import Credentials
from tests.conftest import BACKENDS, fresh_database
from tests.e2e.serving import GIVE_UP, Serving, account, read_answer, serving
from tests.factories import call, entry

pytestmark = pytest.mark.e2e

# more slow readers than a PostgreSQL server process has pooled connections (20)
SLOW_READERS = 25
CALLS = 800  # of about 10 kB each: an 8 MB page, more than the sockets' buffers hold


@contextlib.contextmanager
def loaded_server(db: str, log: Path, *options: str) -> Iterator[tuple[Serving, Credentials, int]]:
    """A server on `db` holding CALLS calls of about 10 kB each."""
    creds = account(db)
    with serving(db, log, *options) as server:
        now = int(time.time())
        calls = [
            call(
                session_id=f"slow;{i:04}",
                start=now - 3600 - i,
                detail=[
                    entry(f"prompt {j}: " + "x" * 900, timestamp=now - 3600) for j in range(10)
                ],
            )
            for i in range(CALLS)
        ]
        with httpx.Client(base_url=server.url, timeout=GIVE_UP) as client:
            answer = client.post(
                "/ingest/v1/calls",
                content=orjson.dumps(calls),
                headers={"Authorization": f"Bearer {creds.ingest_token}"},
            )
            assert answer.status_code == 200, answer.text
        yield server, creds, now


@pytest.fixture(params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Serving, Credentials, int]]:
    with (
        fresh_database(request, str(request.param), tmp_path) as db,
        loaded_server(db, tmp_path / "server.log") as running,
    ):
        yield running


def slow_reader(server: Serving, creds: Credentials, now: int) -> socket.socket:
    """A client that asks for the whole page with its detail, reads the status line, and
    then nothing more."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(GIVE_UP)
    sock.connect(("127.0.0.1", server.port))
    auth = "Basic " + base64.b64encode(f"{creds.email}:{creds.developer_key}".encode()).decode()
    sock.sendall(
        f"GET /api/all_logs/{now - 86_400}/{now}?limit=10000 HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: {auth}\r\n\r\n".encode()
    )
    assert sock.recv(15) == b"HTTP/1.1 200 OK"
    return sock


def test_slow_readers_do_not_keep_others_from_the_database(
    loaded: tuple[Serving, Credentials, int],
) -> None:
    server, creds, now = loaded
    readers = [slow_reader(server, creds, now) for _ in range(SLOW_READERS)]
    try:
        with httpx.Client(
            base_url=server.url, timeout=GIVE_UP, auth=(creds.email, creds.developer_key)
        ) as client:
            answer = client.get(f"/api/call/{quote('slow;0007', safe='')}")
            assert answer.status_code == 200
            assert len(answer.json()) == 10
            calls = client.get(f"/api/calls/{now - 86_400}/{now}?limit=5")
            assert calls.status_code == 200
            assert calls.json()["total_calls"] == CALLS
        # a slow reader still gets its whole page, intact, when it reads at last
        sock = readers.pop()
        sock.settimeout(GIVE_UP)
        received = b""
        while not received.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(1 << 20)
            assert chunk, "the server closed the page early"
            received += chunk
        sock.close()
    finally:
        for sock in readers:
            sock.close()
    _, _, chunked = received.partition(b"\r\n\r\n")
    body = b""
    while True:
        size_line, _, rest = chunked.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, chunked = body + rest[:size], rest[size + 2 :]
    page = orjson.loads(body)
    assert page["total_calls"] == CALLS
    assert [c["session_id"] for c in page["calls"]] == [f"slow;{i:04}" for i in range(CALLS)]
    assert all(len(c["detail"]) == 10 for c in page["calls"])
    assert "Traceback" not in server.log()


def test_a_client_that_reads_nothing_is_dropped_after_send_timeout(tmp_path: Path) -> None:
    with loaded_server(
        str(tmp_path / "ivrlog.db"), tmp_path / "server.log", "--send-timeout", "1"
    ) as (
        server,
        creds,
        now,
    ):
        sock = slow_reader(server, creds, now)
        deadline = time.monotonic() + GIVE_UP
        while "read nothing of its answer" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        received = read_answer(sock)  # what the buffers held, then the end
        sock.close()
        assert not received.endswith(b"0\r\n\r\n")  # the page was cut short
        with httpx.Client(base_url=server.url, timeout=GIVE_UP) as client:
            assert client.get("/-/health").status_code == 200
