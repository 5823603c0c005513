"""One error envelope for every error source, rendered in the format the client asked for."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from ivrlog.core.errors import (
    BadRequest,
    DatabaseError,
    IngestUnauthorized,
    IvrlogError,
    MethodNotAllowed,
    NotFound,
    RetryLater,
    Unauthorized,
)
from ivrlog.web.negotiation import renderer_for

log = logging.getLogger("ivrlog.web")


def error_response(
    request: Request, error: IvrlogError, headers: dict[str, str] | None = None
) -> Response:
    renderer = renderer_for(request.headers.get("accept"))
    headers = dict(headers or {})
    if isinstance(error, Unauthorized) and "WWW-Authenticate" not in headers:
        bearer = isinstance(error, IngestUnauthorized) or request.url.path.startswith("/ingest/")
        scheme = "Bearer" if bearer else 'Basic realm="ivrlog"'
        headers["WWW-Authenticate"] = scheme
    return Response(
        renderer.document(error.body()),
        status_code=error.status,
        media_type=renderer.MEDIA_TYPE,
        headers=headers,
    )


def raised_response(request: Request, exc: IvrlogError) -> Response:
    """The answer to an IvrlogError raised by a handler (a RetryLater's Retry-After too)."""
    if isinstance(exc, RetryLater):
        return error_response(request, exc, {"Retry-After": str(exc.retry_after)})
    return error_response(request, exc)


def unexpected_response(request: Request) -> Response:
    """The answer to an unexpected failure, logged with its traceback (call it inside
    the `except`)."""
    log.exception("unexpected failure on %s %s", request.method, request.url.path)
    return error_response(request, DatabaseError())


async def _ivrlog_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IvrlogError)
    return raised_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allow = _allowed(request, exc)
        return error_response(
            request,
            MethodNotAllowed(f"Invalid HTTP method supplied (only {allow} allowed)."),
            {"Allow": allow},
        )
    if exc.status_code == 404:
        return error_response(request, NotFound())
    error = IvrlogError(str(exc.detail))
    error.status = exc.status_code
    return error_response(request, error, dict(exc.headers or {}))


def _allowed(request: Request, exc: HTTPException) -> str:
    """The methods a 405 names: POST under /ingest/, GET under /api/; under /v1/ those of
    the route (DELETE /v1/calls/{id}, POST /v1/erasures), HEAD left implied by GET."""
    path = request.url.path
    if path.startswith("/ingest/"):
        return "POST"
    if not path.startswith("/v1/"):
        return "GET"
    # every route of the path: Starlette names only the first one's (GET and POST
    # /v1/webhooks are two routes)
    routed = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()}
    for route in _routes(request.app.router.routes):
        if route.methods:
            match, _ = route.matches({**request.scope, "method": next(iter(route.methods))})
            if match is not Match.NONE:
                routed |= route.methods
    return ", ".join(sorted(routed - {"HEAD"})) or "GET"


def _routes(routes: Iterable[Any]) -> Iterator[Route]:
    """The routes of an app, those of its included routers too."""
    for route in routes:
        if isinstance(route, Route):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's included router
            yield from _routes(route.original_router.routes)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    names = ", ".join(str(e["loc"][-1]) for e in exc.errors()) or "request"
    return error_response(request, BadRequest(f"Invalid {names}."))


async def _unexpected(request: Request, exc: Exception) -> Response:
    return unexpected_response(request)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IvrlogError, _ivrlog_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
