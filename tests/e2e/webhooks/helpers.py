"""What the webhook end-to-end tests share: options of a server that may post to this
machine, an endpoint added with the real CLI, calls ingested over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx2 as httpx
import orjson

from ivrlog.core.accounts import Credentials
from tests.e2e.serving import Serving
from tests.factories import entry

# a fast dispatcher: 1 s first backoff, 2 s per attempt (a lease of 12 s)
FAST = ("--webhook-allow-private", "--webhook-backoff", "1", "--webhook-timeout", "2")


def add_endpoint(db: str, email: str, url: str, *options: str) -> dict[str, Any]:
    """`ivrlog webhooks add EMAIL URL --json` on `db`: {"id", "url", "secret"}."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ivrlog",
            "webhooks",
            "add",
            email,
            url,
            "--json",
            "--db",
            db,
            "--webhook-allow-private",
            *options,
        ],
        capture_output=True,
        check=True,
    )
    document: dict[str, Any] = orjson.loads(done.stdout)
    return document


def recent_call(session_id: str, ago: int = 600) -> dict[str, Any]:
    """A completed call that started `ago` seconds before the wall clock (the server's)."""
    start = int(time.time()) - ago
    return {
        "session_id": session_id,
        "src": "6177123000",
        "dest": "6177123001",
        "type": "inbound",
        "start": start,
        "end": start + 30,
        "detail": [entry(timestamp=start), entry(timestamp=start + 5)],
    }


def ingest(server: Serving, creds: Credentials, calls: list[dict[str, Any]]) -> None:
    answer = httpx.post(
        f"{server.url}/ingest/v1/calls",
        content=orjson.dumps(calls),
        headers={
            "Authorization": f"Bearer {creds.ingest_token}",
            "Content-Type": "application/json",
        },
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


def listed(server: Serving, creds: Credentials, detail: bool = False) -> dict[str, Any]:
    """Each call as /v1/calls shows it, by session id."""
    answer = httpx.get(
        f"{server.url}/v1/calls",
        params={"from": "0", "limit": "1000", **({"include": "detail"} if detail else {})},
        auth=(creds.email, creds.developer_key),
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return {c["session_id"]: c for c in answer.json()["calls"]}
