"""The one middleware: a request id for each request, and its metrics.

A pure ASGI middleware (no Starlette Request object, no extra task): it reads the
`X-Request-ID` header (kept when well-formed, else a new random id), echoes it in the
response, sets the logging context (web/jsonlog.py), and once the response is sent
counts it by route template (never the raw path) and status, with its duration. It costs
a few microseconds a request (docs/operations.md).
"""

from __future__ import annotations

import os
import random
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ivrlog.web.jsonlog import CURRENT
from ivrlog.web.metrics import METHODS, UNMATCHED, Metrics

REQUEST_ID_HEADER = b"x-request-id"
# the ids' own generator, seeded from the system's randomness (and again in a forked
# child): the process-wide `random` is the application's, and Hypothesis's in the tests
_IDS = random.Random()
os.register_at_fork(after_in_child=_IDS.seed)
_WELL_FORMED = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's `X-Request-ID` when it is 1 to 128 letters, digits, `.`, `_`, `:` or
    `-` (starting with a letter or digit), else 16 new random hex digits."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER and _WELL_FORMED.fullmatch(value):
            return value.decode()
    # not a secret, only unique: no system call for it (os.urandom is one a request)
    return f"{_IDS.getrandbits(64):016x}"


def route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else UNMATCHED


class Observe:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = request_id(scope["headers"])
        # a request is a task of its own: the variable is not reset, so that records of an
        # error answered outside this middleware (a 500) still carry the id
        CURRENT.set((rid, start))
        echoed = (REQUEST_ID_HEADER, rid.encode())
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"]
            self.metrics.observe(
                route_of(scope),
                method if method in METHODS else "other",
                status,
                time.perf_counter() - start,
            )
