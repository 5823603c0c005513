"""A real `ivrlog serve` (or `ivrlog demo`) process for the tests of behaviour that lives
in the server process or its socket (limits, timeouts, connections, workers, logs, kills):
started, waited for until `/-/health` answers, stopped; its log in a file, its memory in
/proc. Every end-to-end test that needs a real server starts it here."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from ivrlog.core.accounts import Credentials, add_account
from ivrlog.storage import open_store
from tests.pg import free_port

GIVE_UP = 60.0  # seconds: a safety net against a hang, never an assertion


@dataclass
class Serving:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def memory_kb(self, field: str = "VmHWM") -> int:
        """A line of the process's /proc status (VmHWM: its peak resident memory)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=GIVE_UP)


def account(db: str, email: str = "ops@example.com") -> Credentials:
    store = open_store(db)
    try:
        return add_account(store, email)
    finally:
        store.close()


@contextlib.contextmanager
def running(
    args: Sequence[str], log_path: Path, *, port: int, env: Mapping[str, str] | None = None
) -> Iterator[Serving]:
    """`python -m ivrlog ARGS` (a command that ends up serving on `port`), its output
    appended to `log_path`, once it answers `/-/health`; stopped when the block ends (a
    process the block killed itself is only reaped). `env` is added to this process's
    environment."""
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ivrlog", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            # unbuffered: what the process printed is in the log as soon as it is healthy
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    server = Serving(process, port, log_path)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        stop(process)


def wait_until_healthy(server: Serving) -> None:
    """Return once `server` answers `/-/health` with 200; fail the test with its log if it
    stops first or takes longer than GIVE_UP."""
    deadline = time.monotonic() + GIVE_UP
    with httpx.Client(base_url=server.url, timeout=5) as client:
        while server.process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if client.get("/-/health").status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{server.log()}")
            time.sleep(0.05)
    pytest.fail(f"the server stopped:\n{server.log()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process` if it still runs (kill it if that takes long), and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait(timeout=30)


def serving(
    db: str,
    log_path: Path,
    *options: str,
    log_level: str = "info",
    env: Mapping[str, str] | None = None,
) -> contextlib.AbstractContextManager[Serving]:
    """`ivrlog serve` on `db` with `options` (the in-server purge off), until the block
    ends."""
    port = free_port()
    args = ["serve", "--db", db, "--port", str(port), "--log-level", log_level]
    return running([*args, "--purge-interval", "0", *options], log_path, port=port, env=env)


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (b"" if it resets it)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received
