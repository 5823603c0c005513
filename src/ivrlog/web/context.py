"""What every request handler needs, built once by create_app."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from ivrlog.core.accounts import Authenticator
from ivrlog.core.errors import DatabaseError, Unauthorized
from ivrlog.core.model import Account
from ivrlog.core.patterns import Redactors
from ivrlog.core.ports import Store, WebhookStore
from ivrlog.core.query import call_cutoff, detail_cutoff
from ivrlog.core.retention import BATCH_SECONDS, PurgeReport, purge_expired
from ivrlog.core.throttle import Throttle, claimed_email
from ivrlog.core.webhooks import Resolve
from ivrlog.settings import Settings
from ivrlog.web.metrics import Metrics


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    store: Store
    auth: Authenticator
    redactors: Redactors
    clock: Callable[[], float]
    throttle: Throttle
    metrics: Metrics
    # a host's addresses, for the webhook URLs' check (core/webhooks.check_url)
    resolve: Resolve
    # the store's webhook half (None for a store that keeps none: the tests' in-memory one)
    hooks: WebhookStore | None = None
    # set when the server shuts down: background work stops between transactions
    stopping: threading.Event = field(default_factory=threading.Event)
    # held while background work uses the store, so that shutdown can wait for it
    busy: threading.Lock = field(default_factory=threading.Lock)
    # held by a bulk ingest request from parsing to commit: one at a time a process. Its
    # parsing, checks and write all need the interpreter, so that a second request in the
    # process would only slow the first down, its write most (which, on SQLite, every
    # other process waits for); more processes (--workers) use more cores
    # (docs/performance.md, B3)
    bulk_turn: threading.Lock = field(default_factory=threading.Lock)

    def webhooks(self) -> WebhookStore:
        """The store's webhooks; DatabaseError when it keeps none."""
        if self.hooks is None:
            raise DatabaseError("This store keeps no webhooks.")
        return self.hooks

    def cutoff(self) -> int:
        """The oldest call start whose detail is readable now."""
        return detail_cutoff(self.clock(), self.settings.detail_retention_days)

    def call_cutoff(self) -> int:
        """The oldest call start still readable at all (older calls read as unknown)."""
        return call_cutoff(self.clock(), self.settings.call_retention_days)

    def reader(self, request: Request) -> Account:
        """The account of the request's HTTP Basic credentials, or Unauthorized; failures
        are counted and throttled (TooManyRequests) per address and account."""
        return self.basic_reader(request.headers.get("authorization"), _host(request))

    def basic_reader(self, header: str | None, host: str) -> Account:
        """`reader` for an Authorization header and a client address (the hot path's,
        web/hot.py, which makes no Request)."""
        return self._authenticated(header, host, self.auth.reader, "basic")

    def cached_reader(self, header: str | None, host: str) -> Account | None:
        """The account of a Basic header accepted within the credential cache's ttl
        (the address's throttle checked first), or None: a miss or a refusal, which
        `basic_reader` then decides and counts."""
        self.throttle.check_address(host)
        return self.auth.cached_reader(header)

    def writer(self, request: Request) -> Account:
        """The account of the request's Bearer ingest token, or IngestUnauthorized; failures
        are throttled per address only (a token names no account)."""
        header = request.headers.get("authorization")
        return self._authenticated(header, _host(request), self.auth.writer, "bearer")

    def _authenticated(
        self, header: str | None, host: str, check: Callable[[str | None], Account], scheme: str
    ) -> Account:
        self.throttle.check_address(host)
        try:
            return check(header)
        except Unauthorized:
            self.metrics.auth_failures.labels(scheme).inc()
            if header:  # a request without credentials (before a 401's challenge) guesses nothing
                # an ingest token names no account: only its address is counted
                email = claimed_email(header) if scheme == "basic" else None
                self.throttle.failed(host, email)
            raise

    def purge(self, pause: float = 0.01) -> PurgeReport:
        """One run of the retention purge at the app's clock."""
        return purge_expired(
            self.store,
            self.settings.retention,
            now=self.clock(),
            pause=pause,
            target=BATCH_SECONDS,
            stop=self.stopping,
        )


def _host(request: Request) -> str:
    return request.client.host if request.client else ""


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
