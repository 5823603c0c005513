"""How the benchmarks ask: wrk's load over a list of paths, one GET, curl's time to the
last byte."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.config import CONNECTIONS, LUA, OUT, SECONDS


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float

    def __str__(self) -> str:
        return f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"


def wrk(
    port: int, paths: Sequence[str], authorization: str | None = None, cookie: str | None = None
) -> Load:
    """GET random paths of `paths` for SECONDS with CONNECTIONS connections (1 s warm-up),
    with an Authorization header, or a Cookie header (a page's session)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=OUT, delete=False) as listing:
        listing.write("\n".join(paths) + "\n")
    try:
        result: dict[str, int] = {}
        for seconds in (1, SECONDS):
            command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "30s"]
            command += ["-s", str(LUA)]
            command += [f"http://127.0.0.1:{port}", "--", listing.name]
            command += [authorization or ""] if authorization or cookie else []
            command += [cookie] if cookie else []
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
        if result["errors"] or result["non_2xx"]:
            raise RuntimeError(f"wrk saw failures: {result}")
        return Load(
            rps=result["requests"] / (result["duration_us"] / 1e6),
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
        )
    finally:
        os.unlink(listing.name)


def basic(email: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode()


def get(port: int, path: str, authorization: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Authorization": authorization})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return body
    finally:
        conn.close()


def median_load(loads: list[Load]) -> Load:
    return sorted(loads, key=lambda load: load.rps)[len(loads) // 2]


def time_to_last_byte(port: int, path: str, authorization: str | None, out: Path) -> float:
    command = [
        "curl",
        "-sS",
        "-o",
        str(out),
        "-w",
        "%{time_total}",
        f"http://127.0.0.1:{port}{path}",
    ]
    if authorization:
        command[1:1] = ["-H", f"Authorization: {authorization}"]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
