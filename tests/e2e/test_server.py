"""A real server process (uvicorn) started by `ivrlog demo`, driven with the real curl."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tests.conftest import BACKENDS, fresh_database
from tests.e2e.serving import running
from tests.pg import free_port

pytestmark = pytest.mark.e2e

CURL = shutil.which("curl")


@dataclass
class Server:
    port: int
    output: list[str]
    process: subprocess.Popen[bytes]

    @property
    def curl_lines(self) -> list[str]:
        return [line for line in self.output if line.startswith("curl ")]

    @property
    def key(self) -> str:
        return next(line.split()[-1] for line in self.output if "developer key" in line)


def curl(*args: str) -> tuple[int, bytes]:
    assert CURL, "curl is needed for the end-to-end tests (.ci/run installs it)"
    done = subprocess.run(
        [CURL, "-sS", "-w", "\n%{http_code}", *args], capture_output=True, timeout=30, check=True
    )
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


@contextmanager
def demo_server(db: str, log_path: Path, *options: str) -> Iterator[Server]:
    """`ivrlog demo` on `db` (400 calls of seed 1), serving until the block ends; what it
    printed before serving is the server's `output`."""
    port = free_port()
    args = ["demo", "--seed", "1", "--calls", "400", "--port", str(port), "--db", db]
    with running(
        [*args, "--log-level", "warning", *options], log_path, port=port, env={"COLUMNS": "200"}
    ) as serving:
        printed = serving.log().splitlines()
        output = printed[: next(i for i, line in enumerate(printed) if "API reference" in line) + 1]
        yield Server(port, output, serving.process)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("server")
    with (
        fresh_database(request, str(request.param), directory) as db,
        demo_server(db, directory / "server.log") as demo,
    ):
        yield demo


def test_demo_prints_credentials_and_five_curl_lines(server: Server) -> None:
    assert server.key.startswith("ivk_")
    assert len(server.curl_lines) == 5


def test_every_printed_curl_line_works(server: Server) -> None:
    calls_line, all_logs_line, call_line, xml_line, own_line = server.curl_lines
    status, body = curl(*shlex.split(calls_line)[1:])
    assert status == 200
    page = orjson.loads(body)
    assert list(page) == ["calls", "total_calls"]
    assert len(page["calls"]) == 5
    assert page["total_calls"] > 5
    assert list(page["calls"][0]) == ["dest", "src", "start", "end", "session_id", "type", "log"]

    status, body = curl(*shlex.split(all_logs_line)[1:])
    assert status == 200
    page = orjson.loads(body)
    assert 1 <= len(page["calls"]) <= 2
    assert isinstance(page["calls"][0]["start"], str)
    assert page["calls"][0]["detail"]

    status, body = curl(*shlex.split(call_line)[1:])
    assert status == 200
    entries = orjson.loads(body)
    assert entries[0]["event"]["line"].startswith("Executing application")

    status, body = curl(*shlex.split(xml_line)[1:])
    assert status == 200
    root = ET.fromstring(body)
    assert root.tag == "result"
    assert len(root.findall("item")) == len(entries)

    status, body = curl(*shlex.split(own_line)[1:])
    assert status == 200
    page = orjson.loads(body)
    assert list(page) == ["from", "to", "calls", "next"]
    assert len(page["calls"]) <= 5
    assert all(call["ended_in"].endswith(":card_number") for call in page["calls"])


def test_raw_semicolons_reach_the_call(server: Server) -> None:
    url = shlex.split(server.curl_lines[2])[-1]
    raw = url.replace("%3B", ";")
    assert ";" in raw
    status, body = curl("-u", f"demo@ivrlog.example:{server.key}", raw)
    assert status == 200
    assert orjson.loads(body)[0]["class"] == "info"


def test_health_and_docs_without_auth(server: Server) -> None:
    base = f"http://127.0.0.1:{server.port}"
    assert curl(f"{base}/-/health") == (200, b'{"status":"ok"}')
    status, body = curl(f"{base}/docs")
    assert status == 200
    assert b"swagger" in body.lower()
    status, body = curl(f"{base}/openapi.json")
    assert status == 200
    assert "/api/call/{session_id}" in orjson.loads(body)["paths"]


def test_wrong_password_is_401_over_the_wire(server: Server) -> None:
    status, body = curl(
        "-u", "demo@ivrlog.example:wrong", f"http://127.0.0.1:{server.port}/api/calls/0/10"
    )
    assert status == 401
    assert orjson.loads(body) == {
        "error": "Authentication headers invalid or the account is inactive."
    }


def test_serve_reads_settings_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "IVRLOG_DATABASE": str(tmp_path / "env.db"),
        "IVRLOG_PORT": str(port),
        "IVRLOG_LOG_LEVEL": "warning",
    }
    with running(["serve"], tmp_path / "server.log", port=port, env=env) as server:
        assert curl(f"{server.url}/-/health")[0] == 200
        assert (tmp_path / "env.db").exists()
