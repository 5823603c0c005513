"""The webhook poster (delivery/poster.py) against real local servers, TLS included (a
throwaway authority, trustme): the address it connects to is the one it checked, with
the host's name kept for Host, SNI and the certificate; a name that resolves inside is
refused before any connection (DNS rebinding); http is refused without the setting; the
next address is tried when one does not connect; the answer is read to 4 KiB, within
the timeout; proxies from the environment are ignored; every secret signs."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme
from standardwebhooks.webhooks import Webhook

from ivrlog.core.webhooks import BODY_LIMIT, Claimed, new_secret
from ivrlog.delivery.poster import HttpPoster

NAME = "hooks.test"


@dataclass
class Local:
    port: int
    got: list[dict[str, str]] = field(default_factory=list)
    names: list[str | None] = field(default_factory=list)  # the SNI of each handshake


@contextmanager
def local_server(
    *, status: int = 204, body: bytes = b"", delay: float = 0.0, tls: ssl.SSLContext | None = None
) -> Iterator[Local]:
    local = Local(0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            local.got.append({k.lower(): v for k, v in self.headers.items()})
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        tls.sni_callback = lambda sock, name, context: local.names.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    local.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield local
    finally:
        server.shutdown()
        server.server_close()


def claimed(url: str, *secrets: str) -> Claimed:
    return Claimed(
        id=7,
        endpoint_id=1,
        account_id=1,
        url=url,
        secrets=secrets or (new_secret(),),
        entries=False,
        session_id="s",
        event="call.completed",
        created_at=0,
        attempts=0,
        retry_from=0,
        failing_since=None,
    )


def post(poster: HttpPoster, url: str, *secrets: str) -> Any:
    async def run() -> Any:
        try:
            body = b'{"type":"call.completed"}'
            return await poster.post(claimed(url, *secrets), body, int(time.time()))
        finally:
            await poster.aclose()

    return asyncio.run(run())


def resolving(*addresses: str) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        assert host == NAME
        return list(addresses)

    return resolve


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def server_tls(authority: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)
    return context


def client_tls(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


def test_the_checked_address_is_called_with_the_hosts_name(authority: trustme.CA) -> None:
    with local_server(tls=server_tls(authority, NAME)) as local:
        poster = HttpPoster(
            timeout=5,
            allow_private=False,
            resolver=resolving("127.0.0.1"),
            refuse=lambda address: None,  # 127.0.0.1 stands for a public address here
            verify=client_tls(authority),
        )
        sent = post(poster, f"https://{NAME}:{local.port}/in")
    assert (sent.status, sent.error) == (204, None)
    assert local.got[0]["host"] == f"{NAME}:{local.port}"
    assert local.names == [NAME]  # SNI


def test_a_certificate_for_another_name_fails(authority: trustme.CA) -> None:
    with local_server(tls=server_tls(authority, "other.test")) as local:
        poster = HttpPoster(
            timeout=5,
            allow_private=False,
            resolver=resolving("127.0.0.1"),
            refuse=lambda address: None,
            verify=client_tls(authority),
        )
        sent = post(poster, f"https://{NAME}:{local.port}/in")
    assert sent.status is None
    assert "certificate" in sent.error.lower()
    assert local.got == []


def test_a_name_resolving_inside_is_refused_before_connecting() -> None:
    with local_server() as local:
        poster = HttpPoster(timeout=5, allow_private=False, resolver=resolving("127.0.0.1"))
        sent = post(poster, f"https://{NAME}:{local.port}/in")
        http = post(HttpPoster(timeout=5, allow_private=False), f"http://{NAME}/in")
    assert sent.error == (
        f"{NAME} resolves to a refused address (127.0.0.1 is a loopback address); not sent"
    )
    assert http.error == "http:// is not allowed (the setting webhook_allow_private is off)"
    assert local.got == []


def test_the_next_address_is_tried_when_one_does_not_connect(authority: trustme.CA) -> None:
    with local_server(tls=server_tls(authority, NAME)) as local:
        poster = HttpPoster(
            timeout=5,
            allow_private=False,
            resolver=resolving("127.0.0.2", "127.0.0.1"),  # nothing listens on the first
            refuse=lambda address: None,
            verify=client_tls(authority),
        )
        sent = post(poster, f"https://{NAME}:{local.port}/in")
    assert sent.status == 204
    assert len(local.got) == 1


def test_the_answer_is_read_to_its_limit_and_within_the_timeout() -> None:
    with local_server(status=500, body=b"x" * 100_000) as local:
        sent = post(HttpPoster(timeout=5, allow_private=True), f"http://127.0.0.1:{local.port}/")
    assert sent.status == 500
    assert sent.error == "status 500: " + "x" * BODY_LIMIT
    with local_server(delay=3) as slow:
        began = time.monotonic()
        late = post(HttpPoster(timeout=0.5, allow_private=True), f"http://127.0.0.1:{slow.port}/")
    assert late.error == "no answer within 0.5 s"
    assert time.monotonic() - began < 2.5


def test_proxies_from_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    with local_server() as local:
        sent = post(HttpPoster(timeout=5, allow_private=True), f"http://127.0.0.1:{local.port}/")
    assert sent.status == 204
    assert len(local.got) == 1


def test_every_secret_signs() -> None:
    old, new = new_secret(), new_secret()
    with local_server() as local:
        post(HttpPoster(timeout=5, allow_private=True), f"http://127.0.0.1:{local.port}/", new, old)
    headers = local.got[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(b'{"type":"call.completed"}', headers)
    assert headers["webhook-id"] == "msg_7"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
