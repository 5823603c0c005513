"""The server's limits against clients that send too much or too slowly, driven over raw
sockets against a real server process (docs/operations.md, limits)."""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.limits import MAX_BODY_BYTES, MAX_BODY_VALUES
from ivrlog.web.documents import TOO_MANY_VALUES
from tests.conftest import fresh_database, sqlite_only
from tests.e2e.serving import GIVE_UP, Serving, account, read_answer, serving
from tests.factories import call

pytestmark = pytest.mark.e2e

HEAD_LIMIT = 4096


@pytest.fixture(scope="module")
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Credentials]]:
    with fresh_database(request, "sqlite", tmp_path_factory.mktemp("limits")) as db:
        yield db, account(db)


@pytest.fixture(scope="module")
def server(
    database: tuple[str, Credentials], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Serving]:
    """One server with short timeouts and a small head limit for the tests that do not
    look at its log."""
    log = tmp_path_factory.mktemp("log") / "server.log"
    with serving(
        database[0],
        log,
        *("--max-header-size", str(HEAD_LIMIT), "--header-timeout", "1", "--body-timeout", "1"),
    ) as running:
        yield running


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def json_body(answer: bytes) -> object:
    return orjson.loads(answer.split(b"\r\n\r\n", 1)[1])


def bearer(creds: Credentials) -> bytes:
    return f"Authorization: Bearer {creds.ingest_token}\r\n".encode()


def test_an_oversized_head_is_refused_with_431_before_it_ends(server: Serving) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /-/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * HEAD_LIMIT))
        # the head never ends: the answer comes anyway, and the connection closes
        answer = read_answer(sock)
    assert status_of(answer) == 431
    assert json_body(answer) == {
        "error": f"The request line and headers are larger than {HEAD_LIMIT} bytes."
    }


def test_an_oversized_request_line_is_refused_with_414(server: Serving) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /" + b"a" * (2 * HEAD_LIMIT))
        answer = read_answer(sock)
    assert status_of(answer) == 414
    assert b"request line is longer than 4096 bytes" in answer


def test_a_head_within_the_limit_is_served_though_its_body_passes_it(
    server: Serving, database: tuple[str, Credentials]
) -> None:
    padding = b"X-Pad: " + b"p" * (HEAD_LIMIT - 300) + b"\r\n"
    body = orjson.dumps([call(session_id=f"head-ok-{i}") for i in range(40)])
    assert len(body) > HEAD_LIMIT
    head = (
        b"POST /ingest/v1/calls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + bearer(database[1])
        + padding
        + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    assert len(head) < HEAD_LIMIT
    with server.connect() as sock:
        sock.sendall(head + body)  # one write: the head and the body arrive together
        answer = read_answer(sock)
    assert status_of(answer) == 200
    assert json_body(answer) == {"accepted": 40}


def test_a_trickling_head_is_answered_408_and_closed(server: Serving) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /-/health HTTP/1.1\r\n")
        started = time.monotonic()
        while time.monotonic() - started < GIVE_UP:
            # a header line every 0.2 s: never idle, never done
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                break
            sock.sendall(b"X-Slow: 1\r\n")
        answer = read_answer(sock)
    assert status_of(answer) == 408


def test_an_idle_connection_is_closed(server: Serving) -> None:
    with server.connect() as sock:
        assert read_answer(sock) == b""  # closed without a word, before the safety net


def test_a_stalled_body_is_answered_408_and_closed(
    server: Serving, database: tuple[str, Credentials]
) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /ingest/v1/calls HTTP/1.1\r\nHost: x\r\n"
            + bearer(database[1])
            + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"
        )
        answer = read_answer(sock)  # nothing more is sent
    assert status_of(answer) == 408
    assert json_body(answer) == {"error": "The request body stopped arriving."}


def test_a_keep_alive_connection_serves_requests_within_the_timeout(server: Serving) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(3):
            assert client.get("/-/health").status_code == 200
            time.sleep(0.5)  # each head is due within header_timeout of the last answer


def test_past_the_connection_limit_new_connections_get_503_and_one_log_line(
    database: tuple[str, Credentials], tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with serving(database[0], log, "--max-connections", "5", "--header-timeout", "2") as server:
        slow = [server.connect() for _ in range(5)]
        for sock in slow:  # each sends part of a head, and no more
            sock.sendall(b"GET /-/health HTTP/1.1\r\n")
        time.sleep(0.3)  # the server has accepted them
        refused = []
        for _ in range(20):
            with server.connect() as sock:
                refused.append(read_answer(sock))
        assert all(a == b"" or status_of(a) == 503 for a in refused)
        assert any(refused), "no refused connection saw its 503"
        assert server.log().count("Connection limit reached (5 open connections)") == 1
        for sock in slow:  # dropped by header_timeout
            assert status_of(read_answer(sock)) == 408
            sock.close()
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/-/health").status_code == 200


def test_a_batch_of_too_many_values_is_refused_before_it_is_parsed(
    database: tuple[str, Credentials], tmp_path: Path
) -> None:
    """`[{},{},...]` of 64 MiB, eight at once: a parse would take the server past 2 GB;
    each is refused with 413 as it arrives, and the server's peak memory stays under twice
    the byte limit."""
    count = (MAX_BODY_BYTES - 2) // 3
    body = b"[" + b",".join([b"{}"] * count) + b"]"
    assert len(body) <= MAX_BODY_BYTES
    with serving(database[0], tmp_path / "server.log") as server:
        before = server.memory_kb("VmRSS")
        answers: list[httpx.Response] = []

        def post() -> None:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                answers.append(
                    client.post(
                        "/ingest/v1/calls",
                        content=body,
                        headers={
                            "Authorization": f"Bearer {database[1].ingest_token}",
                            "Content-Type": "application/json",
                        },
                    )
                )

        threads = [threading.Thread(target=post) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = server.memory_kb("VmHWM")
    assert [a.status_code for a in answers] == [413] * 8
    assert "8000000 JSON values" in answers[0].json()["error"]
    # each refused once its first 8 MB have too many values (two at most held at once)
    assert peak - before < 2 * MAX_BODY_BYTES // 1024, (before, peak)


def test_an_aborted_upload_is_one_info_line(
    database: tuple[str, Credentials], tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with serving(database[0], log) as server:
        with server.connect() as sock:
            sock.sendall(
                b"POST /ingest/v1/calls HTTP/1.1\r\nHost: x\r\n"
                + bearer(database[1])
                + b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                + b" " * 50_000
            )
            time.sleep(0.3)
        deadline = time.monotonic() + 30
        while "nothing was stored" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/-/health").status_code == 200
        text = server.log()
    lines = [line for line in text.splitlines() if "nothing was stored" in line]
    assert len(lines) == 1, text
    assert lines[0].startswith("INFO:")
    assert "POST /ingest/v1/calls: the connection closed after 50000 bytes of the body" in lines[0]
    assert "Traceback" not in text
    assert "ERROR" not in text


def test_every_worker_process_has_the_limits(
    database: tuple[str, Credentials], tmp_path: Path
) -> None:
    options = ("--workers", "2", "--max-header-size", str(HEAD_LIMIT))
    with serving(database[0], tmp_path / "server.log", *options) as server:
        for _ in range(6):  # whichever worker process accepts it
            with server.connect() as sock:
                sock.sendall(b"GET /-/health HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 2 * HEAD_LIMIT)
                assert status_of(read_answer(sock)) == 431
        log = server.log()
    assert "Started parent process" in log  # uvicorn's supervisor of worker processes
    assert 1 <= log.count("Refused a request head over 4096 bytes.") <= 2


def test_a_header_limit_under_1024_is_refused() -> None:
    from typer.testing import CliRunner

    from ivrlog.cli import app

    result = CliRunner().invoke(app, ["serve", "--max-header-size", "100"])
    assert result.exit_code == 2
    assert "max_header_size: 100 is not from 1024 to 1048576." in result.output


@sqlite_only
def test_a_body_is_refused_as_soon_as_it_may_hold_too_many_values(
    client: TestClient, account: Credentials
) -> None:
    body = b"[" + b"{}," * (MAX_BODY_VALUES // 2) + b"{}]"  # 12 MB, 8 million and 2 values
    answer = client.post(
        "/ingest/v1/calls",
        content=body,
        headers={"Authorization": f"Bearer {account.ingest_token}"},
    )
    assert answer.status_code == 413
    assert answer.json() == {"error": TOO_MANY_VALUES}


def test_a_request_that_waits_past_body_timeout_for_the_body_budget_gets_503(
    database: tuple[str, Credentials], tmp_path: Path
) -> None:
    """An upload that trickles (a byte well within body_timeout) holds the whole
    ingest_buffer_mib; another ingest request waits body_timeout for its turn, then is
    answered 503 with Retry-After instead of waiting for ever."""
    options = ("--ingest-buffer-mib", "1", "--body-timeout", "2")
    with serving(database[0], tmp_path / "server.log", *options) as running:
        stop = threading.Event()
        with running.connect() as holder:
            holder.sendall(
                b"POST /ingest/v1/calls HTTP/1.1\r\nHost: x\r\n"
                + bearer(database[1])
                + b"Content-Type: application/json\r\n"
                + f"Content-Length: {1024 * 1024}\r\n\r\n[".encode()
            )

            def trickle() -> None:
                while not stop.wait(0.4):
                    holder.sendall(b" ")

            thread = threading.Thread(target=trickle)
            thread.start()
            try:
                time.sleep(0.5)  # let the holder take the budget first
                body = orjson.dumps([call()])
                with running.connect() as sock:
                    sock.sendall(
                        b"POST /ingest/v1/calls HTTP/1.1\r\nHost: x\r\n"
                        + bearer(database[1])
                        + b"Content-Type: application/json\r\n"
                        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                        + body
                    )
                    answer = read_answer(sock)
            finally:
                stop.set()
                thread.join()
        assert status_of(answer) == 503
        assert b"\r\nretry-after: 2\r\n" in answer.lower()
        assert "ingest_buffer_mib" in str(json_body(answer))
        # the holder gone, the budget is free again
        response = httpx.post(
            f"http://127.0.0.1:{running.port}/ingest/v1/calls",
            content=body,
            headers={
                "Authorization": f"Bearer {database[1].ingest_token}",
                "Content-Type": "application/json",
            },
            timeout=GIVE_UP,
        )
        assert response.status_code == 200, response.text
