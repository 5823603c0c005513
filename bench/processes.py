"""The processes a benchmark measures or compares against (ivrlog's server, the floor
server, nginx, Datasette): started, waited for, stopped; and their memory."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.config import BIN, OUT


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


def ivrlog_server(
    database: str, port: int, workers: int = 1
) -> contextlib.AbstractContextManager[Any]:
    command = [str(BIN / "ivrlog"), "serve", "--db", database, "--port", str(port)]
    command += ["--purge-interval", "0", "--log-level", "warning", "--workers", str(workers)]
    return running(command, port, "ivrlog server")


@contextlib.contextmanager
def peak_sampler(pid: int, field: str) -> Iterator[list[int]]:
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
