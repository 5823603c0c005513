"""Helpers of the SPEC 4 privacy tests: sending a call in bulk or live, reading it back in
every view, a fresh service a property example, and ivrlog commands run in-process."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ivrlog.cli import app as cli
from ivrlog.core.accounts import Credentials, add_account
from ivrlog.settings import Settings
from ivrlog.storage import open_store
from ivrlog.web import create_app
from tests.factories import DAY, NOW, basic, call, entry, ingest

T0 = NOW - 600
END = T0 + 37
SRC = "caller"
DEST = "ivr-line"
PRIVATE = "[private]"
CARD = "4111111111111111"  # Luhn-valid
CARD_SPACED = "4111 1111 1111 1111"
CARD_DASHED = "4111-1111-1111-1111"
SSN = "123-45-6789"
MEMBER_PATTERN = r"MEM-\d{6}"
SESSION_IDS = itertools.count()
MODES = pytest.mark.parametrize("live", [False, True], ids=["bulk", "live"])


# ---------------------------------------------------------------- helpers


def post_live(client: TestClient, creds: Credentials, session_id: str, body: Any) -> httpx.Response:
    return client.post(
        f"/ingest/v1/calls/{quote(session_id, safe='')}/entries",
        content=orjson.dumps(body),
        headers={"Authorization": f"Bearer {creds.ingest_token}"},
    )


def send(
    client: TestClient,
    creds: Credentials,
    session_id: str,
    entries: list[dict[str, Any]],
    *,
    live: bool,
    private: bool = False,
    src: str = SRC,
) -> None:
    """One complete call, through the bulk endpoint or as a single live update."""
    extra: dict[str, Any] = {"private": True} if private else {}
    if live:
        body = {
            "src": src,
            "dest": DEST,
            "type": "inbound",
            "start": T0,
            "entries": entries,
            "end": END,
            **extra,
        }
        response = post_live(client, creds, session_id, body)
    else:
        one = call(session_id, T0, end=END, src=src, dest=DEST, detail=entries, **extra)
        response = ingest(client, creds, [one])
    assert response.status_code == 200, response.text


def call_path(session_id: str) -> str:
    return f"/api/call/{quote(session_id, safe='')}"


def stored_entries(client: TestClient, creds: Credentials, session_id: str) -> list[Any]:
    response = client.get(call_path(session_id), auth=basic(creds))
    assert response.status_code == 200, response.text
    entries: list[Any] = orjson.loads(response.content)
    return entries


def views(client: TestClient, creds: Credentials, session_id: str) -> dict[str, str]:
    """The call as every read endpoint shows it: its detail and the all_logs page, in JSON
    and in XML."""
    shown = {}
    for kind, accept in (("json", "application/json"), ("xml", "application/xml")):
        for name, path in (
            ("call", call_path(session_id)),
            ("all_logs", f"/api/all_logs/0/{NOW + DAY}"),
        ):
            response = client.get(path, auth=basic(creds), headers={"Accept": accept})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith(accept)
            shown[f"{name} {kind}"] = response.text
    return shown


def member_line(value: str, marker: str) -> dict[str, Any]:
    return entry(f"member {value} {marker}", timestamp=T0)


@dataclass
class Service:
    client: TestClient
    creds: Credentials
    db: str


@contextmanager
def service(db: str, **options: Any) -> Iterator[Service]:
    """A fresh database, account and app (so examples of a property share nothing)."""
    store = open_store(db)
    try:
        creds = add_account(store, "dev@example.com", now=NOW)
        settings = Settings(database=db, purge_interval=0, **options)
        application = create_app(settings, store=store, clock=lambda: NOW)
        with TestClient(application, raise_server_exceptions=False) as client:
            yield Service(client, creds, db)
    finally:
        store.close()


# ---------------------------------------------------------------- account patterns via the CLI


def run(*args: str) -> tuple[int, str]:
    """An ivrlog command in-process: its exit code and its output (stdout and stderr)."""
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def said(output: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(output.split())


def listed_patterns(db: str, *email: str) -> list[Any]:
    code, output = run("redaction", "list", *email, "--json", "--db", db)
    assert code == 0, output
    return [orjson.loads(line) for line in output.splitlines()]


def eventually(attempt: Callable[[int], bool], what: str) -> int:
    """Call `attempt(n)` for n = 0, 1, ... until it is true (the patterns' cache lives one
    second); the n that succeeded."""
    deadline = time.monotonic() + 15
    for n in itertools.count():
        if attempt(n):
            return n
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    raise AssertionError("unreachable")
