"""The HTTP server's own limits, which no client can get past: a bounded request head
(431, or 414 while still in the request line), a deadline for the whole head, a body
that must keep moving, an answer that must be read, and a bounded number of open
connections (503 past it).

uvicorn's httptools protocol reads a head of any size for as long as the client takes
and accepts every connection; `LimitedHttpProtocol` adds the limits around it, and
`server_options` hands it to uvicorn (in every worker process too: the options travel
with uvicorn's configuration). docs/operations.md describes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import resource
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, Final

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ivrlog.settings import Settings

log = logging.getLogger("ivrlog.web")

# file descriptors kept for everything but client connections: the listening socket,
# database files and connections (SQLite opens a reader per worker thread, PostgreSQL two
# pools), log files, temporary files of spooled pages
FD_RESERVE: Final = 256
MIN_CONNECTIONS: Final = 16
LOG_INTERVAL: Final = 60.0  # seconds between two log lines about the same kind of refusal


class LimitError(ValueError):
    """A limit cannot be honoured in this process; the message says why."""


def connection_limit(wanted: int, open_files: int | None = None) -> int:
    """The connection limit of a process: `wanted`, or (0) the open-file limit less
    FD_RESERVE. A limit the open-file limit cannot hold is refused: past it, accepting a
    connection fails and every client's requests with it."""
    if open_files is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        open_files = soft if soft != resource.RLIM_INFINITY else 1 << 20
    room = open_files - FD_RESERVE
    if room < MIN_CONNECTIONS:
        raise LimitError(
            f"The open-file limit ({open_files}) leaves no room for {MIN_CONNECTIONS} "
            f"connections besides the {FD_RESERVE} files the server keeps: raise it "
            "(ulimit -n)."
        )
    if wanted == 0:
        return room
    if wanted > room:
        raise LimitError(
            f"max_connections: {wanted} is more than the open-file limit ({open_files}) "
            f"allows with the {FD_RESERVE} files the server keeps ({room}): raise the limit "
            "(ulimit -n) or lower max_connections."
        )
    return wanted


@dataclass(frozen=True, slots=True)
class Limits:
    max_header_size: int
    header_timeout: float
    body_timeout: float
    send_timeout: float
    max_connections: int


class RateLimitedLog:
    """One log line per kind of event and LOG_INTERVAL, with how many happened since the
    last line: a flood of refused connections must not become a flood of log lines."""

    def __init__(self, interval: float = LOG_INTERVAL) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def note(self, kind: str, level: int, message: str) -> None:
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
            return
        self._last[kind] = now
        unlogged = self._unlogged.pop(kind, 0)
        if unlogged:
            message += f" ({unlogged} more since the last such line)"
        log.log(level, "%s", message)


# one per process: the protocol objects are per connection
EVENTS = RateLimitedLog()


def _error_response(status: bytes, message: str, *extra: bytes) -> bytes:
    body = orjson.dumps({"error": message})
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\n",
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            *extra,
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of `Limits`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: Limits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._refused = False
        self._reading_head = True  # between two requests, or inside a request's head
        self._head_bytes = 0
        self._line_ended = False  # the request line of the head being read has ended
        self._heads = 0  # request heads read whole on this connection
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None

    # connections
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            self.transport = transport
            EVENTS.note(
                "connections",
                logging.WARNING,
                f"Connection limit reached ({self.limits.max_connections} open connections):"
                " new connections are answered 503 until some close (max_connections).",
            )
            transport.write(
                _error_response(
                    b"503 Service Unavailable",
                    "The server has too many open connections; try again shortly.",
                    b"retry-after: 1\r\n",
                )
            )
            transport.close()
            return
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._refused:
            return
        super().connection_lost(exc)

    # the request head
    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._reading_head:
            super().data_received(data)
            return
        room = self.limits.max_header_size - self._head_bytes
        head = data if len(data) <= room else data[:room]
        self._head_bytes += len(head)
        if not self._line_ended and b"\n" in head:
            self._line_ended = True
        heads = self._heads
        super().data_received(head)
        if head is data or self.transport.is_closing():
            return
        if self._heads == heads:  # the allowed part did not end the head
            self._refuse_head()
            return
        self.data_received(data[room:])  # a body, or the next request's head

    def _refuse_head(self) -> None:
        limit = self.limits.max_header_size
        if self._line_ended:
            status = b"431 Request Header Fields Too Large"
            message = f"The request line and headers are larger than {limit} bytes."
        else:
            status = b"414 URI Too Long"
            message = f"The request line is longer than {limit} bytes."
        EVENTS.note("head", logging.INFO, f"Refused a request head over {limit} bytes.")
        self._close_with(status, message)

    def _close_with(self, status: bytes, message: str) -> None:
        self._cancel_timers()
        if self.cycle is not None and not self.cycle.response_complete:
            # the application's own answer, if it comes, must not follow this one
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(_error_response(status, message))
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._heads += 1
        self._cancel_head_timer()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.more_body:
            self._arm_body_timer()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm_body_timer()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_body_timer()
        self._reading_head = True
        self._head_bytes = 0
        self._line_ended = False

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # the next request's head is due within header_timeout of this response's end
        if not self.transport.is_closing() and self._reading_head and not self.pipeline:
            self._arm_head_timer()

    # timers
    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._reading_head:
            return
        EVENTS.note(
            "head-timeout",
            logging.INFO,
            "Closed a connection that did not send a whole request head within "
            f"{self.limits.header_timeout:g} s (header_timeout).",
        )
        if self._head_bytes:
            self._close_with(b"408 Request Timeout", "The request head took too long to arrive.")
        else:  # an idle connection: nothing to answer
            self.transport.close()

    def _arm_body_timer(self) -> None:
        self._cancel_body_timer()
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused or (
            self.cycle is not None and self.cycle.waiting_for_100_continue
        ):
            # the server stopped reading, or has not asked for the body yet (a client that
            # sent `Expect: 100-continue` waits for it): not the client's delay
            self._arm_body_timer()
            return
        EVENTS.note(
            "body-timeout",
            logging.INFO,
            "Closed a connection whose request body made no progress for "
            f"{self.limits.body_timeout:g} s (body_timeout).",
        )
        if self.cycle is not None and not self.cycle.response_started:
            self._close_with(b"408 Request Timeout", "The request body stopped arriving.")
        else:
            self.transport.close()

    # the answer: a client that reads none of it for send_timeout is dropped
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_timeout, self._send_timed_out)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_send_timer()

    def _cancel_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_timed_out(self) -> None:
        self._send_timer = None
        EVENTS.note(
            "send-timeout",
            logging.INFO,
            "Dropped a connection whose client read nothing of its answer for "
            f"{self.limits.send_timeout:g} s (send_timeout).",
        )
        # a reset, not a close: the kernel would go on sending what it holds, at the
        # client's pace
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
        self._cancel_send_timer()


def limits(settings: Settings) -> Limits:
    return Limits(
        max_header_size=settings.max_header_size,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        send_timeout=settings.send_timeout,
        max_connections=connection_limit(settings.max_connections),
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run's options for the limits of `settings`; raises LimitError when the
    process cannot honour them."""
    # a partial of a module-level class: uvicorn pickles it for its worker processes
    return {"http": functools.partial(LimitedHttpProtocol, limits=limits(settings))}
