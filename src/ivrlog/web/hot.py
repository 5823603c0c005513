"""The hot read path: `GET /api/call/{session_id}` answered in front of FastAPI's request
machinery (docs/performance.md, B1).

A lookup's own work (the cached credentials, one indexed read, the bytes) takes some
15 µs; FastAPI's middleware stack, routing, parameter handling and Request object took
about 90 µs more a request. `IvrlogApp` hands that one route to `HotReads` before
FastAPI sees the request, and `HotReads` answers it as plain ASGI: the same checks in the same order
(credentials and their throttle, the path's UTF-8, the Accept header), the same bytes
and headers, the same error envelopes (web/errors.py, on a Request made only for an
error), the same request id, logging context and metrics as web/middleware.py. One
difference, on purpose: an unexpected failure's 500 carries the request id too (the
route's comes from Starlette's outermost middleware, outside the one that echoes it). Every
other request, HEAD of the route included, goes on to the app untouched. The route
stays declared in web/compat.py, for OpenAPI and for the app without this path.

On SQLite the read runs on the event loop (a local file, microseconds); on a store with
async lookups (PostgreSQL: psycopg's async pool, opened by the app's lifespan) it is
awaited on the loop; otherwise it goes to a worker thread, as the route did. Where the
store waits on a network, credentials not in the cache are checked in a worker thread
too: the loop never waits on the database.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ivrlog.core.errors import IvrlogError
from ivrlog.core.ports import AsyncLookups
from ivrlog.core.query import call_detail, call_detail_async
from ivrlog.web.errors import raised_response, unexpected_response
from ivrlog.web.jsonlog import CURRENT
from ivrlog.web.middleware import REQUEST_ID_HEADER, request_id
from ivrlog.web.negotiation import renderer_for
from ivrlog.web.paths import check_utf8_raw_path

if TYPE_CHECKING:
    from ivrlog.web.context import AppContext

PREFIX: Final = "/api/call/"
ROUTE: Final = "/api/call/{session_id}"  # the metrics' label, as the route's template
_AUTHORIZATION: Final = b"authorization"
_ACCEPT: Final = b"accept"


def is_hot(scope: Scope) -> bool:
    """Whether `HotReads` answers this request."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    return get_route_path(scope).startswith(PREFIX)


class HotReads:
    """The answer to `GET /api/call/...` (`is_hot`), as plain ASGI."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        store = ctx.store
        self._async = store if isinstance(store, AsyncLookups) else None
        self._inline = store.inline_reads

    async def __call__(self, scope: Scope, send: Send) -> None:
        start = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        rid = request_id(headers)
        CURRENT.set((rid, start))  # as the middleware: the log records carry the id
        echoed = (REQUEST_ID_HEADER, rid.encode())
        status = 500  # until an answer starts (a cancelled request counts as 500)
        try:
            media_type, body = await self._lookup(scope, headers)
            status = 200
        except IvrlogError as exc:
            status = await _send_error(send, raised_response(Request(scope), exc), echoed)
        except Exception:
            # as Starlette's outermost middleware: the envelope, then the exception goes on
            # to the server (which logs it) or the test client
            status = await _send_error(send, unexpected_response(Request(scope)), echoed)
            raise
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", str(len(body)).encode()),
                        (b"content-type", media_type),
                        echoed,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            self.ctx.metrics.observe(ROUTE, "GET", status, time.perf_counter() - start)

    async def _lookup(
        self, scope: Scope, headers: list[tuple[bytes, bytes]]
    ) -> tuple[bytes, bytes]:
        """(content type, body) of the call's detail; IvrlogError as the route raises."""
        authorization = accept = None
        for name, value in headers:
            if name == _AUTHORIZATION:
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == _ACCEPT and accept is None:
                accept = value.decode("latin-1")
        ctx = self.ctx
        client = scope.get("client")
        host = client[0] if client else ""
        if self._inline:
            account = ctx.basic_reader(authorization, host)
        else:
            # a store that waits on a network is never read on the loop: only accepted
            # credentials still in the cache are taken here
            cached = ctx.cached_reader(authorization, host)
            if cached is None:
                cached = await run_in_threadpool(ctx.basic_reader, authorization, host)
            account = cached
        check_utf8_raw_path(scope.get("raw_path"))
        renderer = renderer_for(accept)
        session_id = get_route_path(scope)[len(PREFIX) :]
        args = (account.id, session_id, renderer.FORMAT, ctx.cutoff(), ctx.call_cutoff())
        if self._async is not None and self._async.lookups_open():
            fragment = await call_detail_async(self._async, *args)
        elif self._inline:
            fragment = call_detail(ctx.store, *args)
        else:
            fragment = await run_in_threadpool(call_detail, ctx.store, *args)
        return renderer.MEDIA_TYPE.encode(), renderer.detail(fragment)


async def _send_error(send: Send, response: Response, echoed: tuple[bytes, bytes]) -> int:
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": [*response.raw_headers, echoed],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
    return response.status_code


class IvrlogApp(FastAPI):
    """FastAPI with the hot read path in front (`HotReads`, made from `state.ctx` at the
    first request); every other request goes through FastAPI as usual."""

    _hot: HotReads | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_hot(scope):
            if self._hot is None:
                self._hot = HotReads(self.state.ctx)
            await self._hot(scope, send)
            return
        await super().__call__(scope, receive, send)
