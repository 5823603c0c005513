"""create_app(settings): the one place that builds the web object graph."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ivrlog import __version__
from ivrlog.core.accounts import Authenticator
from ivrlog.core.patterns import Redactors
from ivrlog.core.ports import AsyncLookups, Store, WebhookStore
from ivrlog.core.throttle import Throttle, parse_rate
from ivrlog.core.webhooks import Resolve
from ivrlog.delivery.poster import resolve as resolve_host
from ivrlog.settings import SETTINGS_ENV, Settings
from ivrlog.storage import open_store
from ivrlog.web import (
    call_pages,
    calls,
    compat,
    erasure,
    ingest,
    metrics,
    pages,
    report_pages,
    reports,
    system,
    webhooks,
)
from ivrlog.web.context import AppContext
from ivrlog.web.errors import install_error_handlers
from ivrlog.web.hot import IvrlogApp
from ivrlog.web.logs import redacted_logs
from ivrlog.web.middleware import Observe
from ivrlog.web.purge import maintain
from ivrlog.web.session import Sessions, derived_secret

DESCRIPTION = """\
Call logs of IVR applications. The `/api/` endpoints are a drop-in replacement for the
Plum Fuse Logs API (HTTP Basic: account email and developer key); `/ingest/v1/` takes
calls in (Bearer ingest token). Every error body is `{"error": "<message>"}`, or
`<result><error>...</error></result>` in XML.
"""


def worker_app() -> FastAPI:
    """The app of one process of `ivrlog serve --workers N` (uvicorn calls this in each
    worker; the settings come from the serving command through the environment)."""
    app = create_app(Settings.from_json(os.environ[SETTINGS_ENV]))
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Keep a server's start-up objects (modules, routes, models) out of the garbage
    collector's scans for good: its full collections, which a request that parses
    thousands of entries sets off, walked them all (docs/performance.md, B3). Only for a
    serving process: an app made in a test is collected as usual."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
    cache_clock: Callable[[], float] = time.monotonic,
    resolve: Resolve = resolve_host,
) -> FastAPI:
    """The ASGI application. Opens (and migrates) the store unless one is given. `clock`
    gives the time calls are read at (UNIX seconds); `cache_clock` (monotonic) ages the
    cached accounts and redaction rules; `resolve` gives a host's addresses (the check of
    a webhook URL).

    While it runs, the server's log is redacted, and the retention purge runs in the
    background as it starts and then every `purge_interval` seconds (unless that is 0).
    Shutting down stops background work after its transaction, before the store closes.
    """
    owned = store is None
    the_store = open_store(settings.database) if store is None else store
    redactors = Redactors(the_store, builtin=settings.redaction, clock=cache_clock)
    counted = metrics.Metrics()
    throttle = Throttle(
        parse_rate("auth_failures_per_address", settings.auth_failures_per_address),
        parse_rate("auth_failures_per_account", settings.auth_failures_per_account),
        on_throttle=lambda budget: counted.throttled.labels(budget).inc(),
    )
    auth = Authenticator(the_store, clock=cache_clock)
    hooks = the_store if isinstance(the_store, WebhookStore) else None
    ctx = AppContext(settings, the_store, auth, redactors, clock, throttle, counted, resolve, hooks)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with redacted_logs(redactors.for_log):
            lookups = the_store if isinstance(the_store, AsyncLookups) else None
            if lookups is not None:  # the hot read awaited on this loop (web/hot.py)
                await lookups.open_lookups()
            background = asyncio.create_task(
                maintain(ctx, settings.purge_interval, settings.fold_interval)
            )
            try:
                yield
            finally:
                ctx.stopping.set()
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
                # a purge under way in a worker thread ends after its transaction
                await run_in_threadpool(ctx.busy.acquire)
                ctx.busy.release()
                if lookups is not None:
                    await lookups.close_lookups()
                if owned:
                    the_store.close()

    app = IvrlogApp(
        title="ivrlog",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        redirect_slashes=False,
        # ivrlog has its own metrics and request ids; FastAPI's OpenTelemetry bridge
        # looked up the providers (and the environment) on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    app.state.sessions = Sessions(
        _session_secret(settings, the_store), settings.session_hours, settings.secure_cookies, clock
    )
    install_error_handlers(app)
    app.include_router(compat.router)
    app.include_router(calls.router)
    app.include_router(reports.router)
    app.include_router(ingest.router)
    app.include_router(erasure.router)
    app.include_router(webhooks.router)
    app.include_router(system.router)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    app.include_router(call_pages.router)
    app.include_router(report_pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    app.add_middleware(Observe, metrics=counted)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _session_secret(settings: Settings, store: Store | None) -> bytes:
    """The key of the pages' cookies: the setting, or one derived from the database's
    own random key (every server on one database signs alike). An app made for its
    OpenAPI document alone (no store) gets a random one."""
    if settings.session_secret:
        return settings.session_secret.encode()
    if store is None:
        return secrets.token_bytes(32)
    return derived_secret(store.audit_key())


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in ingest.DOC_MODELS:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        document["components"]["securitySchemes"] = {
            "developerKey": {
                "type": "http",
                "scheme": "basic",
                "description": "Email and developer key.",
            },
            "ingestToken": {"type": "http", "scheme": "bearer", "description": "An ingest token."},
        }
        for path, operations in document["paths"].items():
            scheme = "ingestToken" if path.startswith("/ingest/") else "developerKey"
            for operation in operations.values():
                if path.startswith(("/api/", "/ingest/")):
                    # an operation may name its own (erasure: the ingest token)
                    operation.setdefault("security", [{scheme: []}])
                if path.startswith("/api/") or path in erasure.PATHS:
                    # the handlers check their parameters: a bad one is 400, never 422
                    operation["responses"].pop("422", None)
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "query" and parameter["name"] in compat.EMPTY_IS_DEFAULT:
                        parameter["allowEmptyValue"] = True
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = document
    return app.openapi_schema
