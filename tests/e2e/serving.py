"""A real `ivrlog serve` process for the tests of behaviour that lives in the server
socket (limits, timeouts, connections): its log in a file, its memory in /proc."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
def serving(db: str, log_path: Path, *options: str) -> Iterator[Serving]:
    """`ivrlog serve` on `db` with `options`, at log level info, until the block ends."""
    port = free_port()
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "ivrlog", "serve", "--db", db, "--port", str(port)),
                *("--log-level", "info", "--purge-interval", "0", *options),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Serving(process, port, log_path)
    try:
        deadline = time.monotonic() + GIVE_UP
        with httpx.Client(base_url=server.url, timeout=5) as client:
            while process.poll() is None:
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/-/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{server.log()}")
                time.sleep(0.05)
            else:
                pytest.fail(f"the server stopped:\n{server.log()}")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (b"" if it resets it)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received
