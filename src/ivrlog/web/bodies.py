"""Request bodies: read with a byte limit, and held in memory by a bounded number at once.

A body is parsed into Python objects several times its size (docs/api.md, limits), so
a process bounds the bytes of the bodies it holds at once, from the first byte read to
the end of the request's work: past `ingest_buffer_mib`, a request waits its turn
before reading its body (first come, first served), for `body_timeout` seconds at most
(then 503 with Retry-After: slow uploads holding the budget cannot make others wait for
ever); a single body always proceeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request
from starlette.requests import ClientDisconnect

from ivrlog.core.errors import BadRequest, PayloadTooLarge, ServerBusy
from ivrlog.core.limits import MAX_BODY_BYTES, MAX_BODY_VALUES
from ivrlog.web.context import context
from ivrlog.web.documents import TOO_MANY_VALUES, value_bound

log = logging.getLogger("ivrlog.web")

MIB = 1024 * 1024
TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES // MIB} MiB."


class BodyAborted(BadRequest):
    """The client closed the connection before its whole body arrived; no one reads the
    answer."""

    message = "The request body was not sent whole."


class BodyBudget:
    """Bytes of bodies held at once, shared by the requests of one process (one event
    loop): `hold(n, wait)` waits until n more bytes fit, in arrival order, for `wait`
    seconds at most (ServerBusy then)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def hold(self, size: int, wait: float | None = None) -> AsyncIterator[None]:
        size = min(size, self.total)  # a body larger than the budget proceeds alone
        if self._waiters or self.used + size > self.total:
            turn = asyncio.get_running_loop().create_future()
            self._waiters.append((size, turn))
            try:
                await asyncio.wait((turn,), timeout=wait)
                if not turn.done():  # its longest wait: it leaves the queue
                    self._waiters.remove((size, turn))
                    turn.cancel()
                    self._grant()
                    seconds = max(1, round(wait or 1))
                    raise ServerBusy(
                        "The server is reading as many ingest bodies as it may "
                        f"(ingest_buffer_mib); retry after {seconds} seconds.",
                        retry_after=seconds,
                    )
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release(size)  # granted, then cancelled before it resumed
                else:
                    self._waiters.remove((size, turn))
                    self._grant()
                raise
        else:
            self.used += size
        try:
            yield
        finally:
            self._release(size)

    def _release(self, size: int) -> None:
        self.used -= size
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self.used + self._waiters[0][0] <= self.total:
            size, turn = self._waiters.popleft()
            self.used += size
            turn.set_result(None)


def budget(request: Request) -> BodyBudget:
    """The process's budget (made by the first request that needs it)."""
    state = request.app.state
    found: BodyBudget | None = getattr(state, "body_budget", None)
    if found is None:
        found = BodyBudget(context(request).settings.ingest_buffer_mib * MIB)
        state.body_budget = found
    return found


def declared_length(request: Request, limit: int) -> int | None:
    """The Content-Length, refused when malformed (400) or past `limit` (413)."""
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        raise BadRequest("Content-Length must be a whole number of bytes.")
    if int(declared) > limit:
        raise PayloadTooLarge(TOO_LARGE)
    return int(declared)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes or may hold
    more than MAX_BODY_VALUES JSON values (counted once it is longer than that). A body cut
    short (the client went away, or the server timed it out) is one INFO line in the log,
    not an error."""
    declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    values: int | None = None  # counted once the body is long enough to hold too many
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(TOO_LARGE)
            chunks.append(chunk)
            if size > MAX_BODY_VALUES:
                if values is None:
                    values = sum(map(value_bound, chunks))
                else:
                    values += value_bound(chunk)
                if values > MAX_BODY_VALUES:
                    raise PayloadTooLarge(TOO_MANY_VALUES)
    except ClientDisconnect:
        log.info(
            "%s %s: the connection closed after %d bytes of the body (the client went away, "
            "or sent nothing for body_timeout); nothing was stored.",
            request.method,
            request.url.path,
            size,
        )
        raise BodyAborted() from None
    return b"".join(chunks)


@asynccontextmanager
async def received_body(request: Request, limit: int = MAX_BODY_BYTES) -> AsyncIterator[bytes]:
    """The request body (read_body), counted in the process's budget until the block
    ends: the block is where it is parsed and used. A body of unknown length (chunked)
    counts as `limit` bytes."""
    size = declared_length(request, limit)
    wait = context(request).settings.body_timeout
    async with budget(request).hold(limit if size is None else size, wait):
        yield await read_body(request, limit)
