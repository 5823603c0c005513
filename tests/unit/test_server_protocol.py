"""LimitedHttpProtocol in a uvicorn server of this process, in front of a tiny ASGI app
(the real server process is driven in tests/e2e/test_limits.py)."""

from __future__ import annotations

import asyncio
import functools
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from ivrlog.settings import Settings
from ivrlog.web.server import (
    FD_RESERVE,
    MIN_CONNECTIONS,
    LimitedHttpProtocol,
    LimitError,
    Limits,
    RateLimitedLog,
    connection_limit,
    server_options,
)

GIVE_UP = 30.0  # a safety net against a hang, never an assertion
LIMITS = Limits(
    max_header_size=2048, header_timeout=0.5, body_timeout=0.5, send_timeout=0.5, max_connections=3
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body; answers its size, or 8 MB for /big."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/late":  # busy for twice body_timeout before reading the body
        await asyncio.sleep(2 * LIMITS.body_timeout)
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"x" * (8 << 20) if scope["path"] == "/big" else str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        http=functools.partial(LimitedHttpProtocol, limits=LIMITS),  # type: ignore[arg-type]
        log_config=None,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + GIVE_UP
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield int(sock.getsockname()[1])
    server.should_exit = True
    thread.join(GIVE_UP)
    sock.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP)


def answer(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def status(received: bytes) -> int:
    return int(received.split(b" ", 2)[1])


def test_a_head_past_the_limit_is_431(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4000)
        received = answer(sock)
    assert status(received) == 431
    assert received.endswith(
        b'{"error":"The request line and headers are larger than 2048 bytes."}'
    )


def test_a_request_line_past_the_limit_is_414(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET /" + b"a" * 3000)
        assert status(answer(sock)) == 414


def test_a_head_sent_with_its_body_and_the_next_request_in_one_write(port: int) -> None:
    body = b"b" * 3000
    first = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n" + body
    second = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with connect(port) as sock:
        sock.sendall(first + second)
        received = answer(sock)
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert b"\r\n\r\n3000HTTP/1.1 200" in received


def test_requests_in_one_write_each_get_the_whole_limit(port: int) -> None:
    one = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 1500 + b"\r\n\r\n"
    last = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with connect(port) as sock:
        sock.sendall(one * 3 + last)  # 4.6 kB at once, no head over 2048 bytes
        received = answer(sock)
    assert received.count(b"HTTP/1.1 200 OK") == 4


def test_a_trickling_head_gets_408(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        deadline = time.monotonic() + GIVE_UP
        while not select.select([sock], [], [], 0.1)[0]:
            assert time.monotonic() < deadline
            sock.sendall(b"X: 1\r\n")
        received = answer(sock)
    assert status(received) == 408


def test_an_idle_connection_is_closed_after_its_last_answer(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = answer(sock)  # answered, then closed when no next head comes
    assert status(received) == 200
    assert received.endswith(b"\r\n\r\n0")


def test_a_stalled_body_gets_408(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        received = answer(sock)
    assert status(received) == 408
    assert received.endswith(b'{"error":"The request body stopped arriving."}')


def test_a_client_waiting_for_100_continue_is_not_timed_out(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(
            b"POST /late HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: 5\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"12345")
        received = answer(sock)
    assert status(received) == 200
    assert received.endswith(b"\r\n\r\n5")


def test_a_client_that_reads_nothing_is_dropped(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ivrlog.web")
    with connect(port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.monotonic() + GIVE_UP
        while "read nothing of its answer" not in caplog.text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        received = answer(sock)
    assert len(received) < 8 << 20


def test_past_the_connection_limit_503_and_one_log_line(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ivrlog.web")
    held = [connect(port) for _ in range(LIMITS.max_connections)]
    try:
        time.sleep(0.1)  # accepted by the server
        refused = []
        for _ in range(5):
            with connect(port) as sock:
                refused.append(answer(sock))
        assert any(refused)
        assert all(status(r) == 503 for r in refused if r)
        assert b"retry-after: 1" in next(r for r in refused if r)
        assert caplog.text.count("Connection limit reached (3 open connections)") == 1
    finally:
        for sock in held:
            sock.close()


def test_the_connection_limit_comes_from_the_open_file_limit() -> None:
    assert connection_limit(0, open_files=1024) == 1024 - FD_RESERVE
    assert connection_limit(100, open_files=1024) == 100
    assert connection_limit(0) >= MIN_CONNECTIONS  # this process's own limit
    with pytest.raises(LimitError, match="max_connections: 900 is more than"):
        connection_limit(900, open_files=1024)
    with pytest.raises(LimitError, match=r"open-file limit \(200\) leaves no room"):
        connection_limit(0, open_files=200)


def test_server_options_carry_the_settings_limits() -> None:
    options = server_options(Settings(max_header_size=4096, send_timeout=7, max_connections=50))
    protocol = options["http"]
    assert protocol.func is LimitedHttpProtocol
    assert protocol.keywords["limits"] == Limits(4096, 10, 30, 7, 50)


def test_a_rate_limited_line_counts_what_it_left_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "ivrlog.web")
    events = RateLimitedLog(interval=3600)
    for _ in range(3):
        events.note("kind", logging.WARNING, "it happened")
    events.note("other", logging.INFO, "something else")
    assert [r.getMessage() for r in caplog.records] == ["it happened", "something else"]
    events.interval = 0
    events.note("kind", logging.WARNING, "it happened")
    assert caplog.records[-1].getMessage() == "it happened (2 more since the last such line)"
