"""What every request handler needs, built once by create_app."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from ivrlog.core.accounts import Authenticator
from ivrlog.core.patterns import Redactors
from ivrlog.core.query import call_cutoff, detail_cutoff
from ivrlog.core.retention import BATCH_SECONDS, PurgeReport, purge_expired
from ivrlog.settings import Settings
from ivrlog.storage.base import Store


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    store: Store
    auth: Authenticator
    redactors: Redactors
    clock: Callable[[], float]
    # set when the server shuts down: background work stops between transactions
    stopping: threading.Event = field(default_factory=threading.Event)
    # held while background work uses the store, so that shutdown can wait for it
    busy: threading.Lock = field(default_factory=threading.Lock)

    def cutoff(self) -> int:
        """The oldest call start whose detail is readable now."""
        return detail_cutoff(self.clock(), self.settings.detail_retention_days)

    def call_cutoff(self) -> int:
        """The oldest call start still readable at all (older calls read as unknown)."""
        return call_cutoff(self.clock(), self.settings.call_retention_days)

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


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
