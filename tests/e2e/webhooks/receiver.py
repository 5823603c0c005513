"""A real webhook receiver for the tests: an HTTP server on a thread, on a port of its
own that it keeps when stopped and started again (a receiver that is down for a while).
Every request is verified with the `standardwebhooks` library, as a receiver would, and
kept with its headers, its parsed body and whether it verified."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import (
    EmptyWebhookSecretError,
    Webhook,
    WebhookVerificationError,
)

from tests.pg import free_port

GIVE_UP = 60.0


@dataclass(frozen=True)
class Delivery:
    at: float
    headers: dict[str, str]
    body: bytes
    document: Any  # the verified payload, or None when it did not verify
    status: int  # what the receiver answered


# the status to answer a request with, given how many came before it
Behaviour = Callable[[int], int]


def always(status: int) -> Behaviour:
    return lambda _: status


NO_CONTENT = always(204)


@dataclass
class Receiver:
    secret: str = ""
    behaviour: Behaviour = NO_CONTENT
    port: int = field(default_factory=free_port)
    location: str = ""  # a Location header to answer with (a redirect)
    got: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    document = Webhook(receiver.secret).verify(body, headers)
                except (WebhookVerificationError, EmptyWebhookSecretError):
                    document = None
                with receiver._lock:
                    status = receiver.behaviour(len(receiver.got))
                    receiver.got.append(Delivery(time.time(), headers, body, document, status))
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self.got)

    def wait_for(self, done: Callable[[list[Delivery]], bool], what: str) -> list[Delivery]:
        """The deliveries once `done(deliveries)`; fails after GIVE_UP seconds."""
        deadline = time.monotonic() + GIVE_UP
        while time.monotonic() < deadline:
            got = self.deliveries()
            if done(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; got {len(self.deliveries())}")


@contextmanager
def receiving(behaviour: Behaviour | None = None, location: str = "") -> Iterator[Receiver]:
    receiver = Receiver(behaviour=behaviour or NO_CONTENT, location=location)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
