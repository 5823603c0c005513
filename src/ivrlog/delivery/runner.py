"""The dispatcher built from the settings, and run: once (`ivrlog webhooks deliver`), or
for good in a process of its own beside `ivrlog serve`.

Its own process, so that sending never takes the server's CPU or its event loop: the
server's only part in a delivery is the outbox row its write transaction adds (docs/
webhooks.md, B10). The process runs at a lower priority than the server, ends when its
server asks (SIGTERM) or dies (its parent changes), and lets its attempts in flight end
before it goes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from ivrlog.core.dispatch import Dispatcher, Tally
from ivrlog.core.ports import Database
from ivrlog.core.query import call_cutoff, detail_cutoff
from ivrlog.delivery.payloads import payloads
from ivrlog.delivery.poster import HttpPoster
from ivrlog.settings import SETTINGS_ENV, Settings

log = logging.getLogger("ivrlog.webhooks")
PARENT_ENV = "IVRLOG__DISPATCHER_PARENT"
NICENESS = 5
STOP_GRACE = 15.0  # seconds a stopping dispatcher gets beyond its attempts' timeout


def dispatcher(settings: Settings, store: Database) -> tuple[Dispatcher, HttpPoster]:
    poster = HttpPoster(
        timeout=settings.webhook_timeout, allow_private=settings.webhook_allow_private
    )

    def cutoffs(now_ms: int) -> tuple[int, int]:
        now = now_ms / 1000
        return (
            call_cutoff(now, settings.call_retention_days),
            detail_cutoff(now, settings.detail_retention_days),
        )

    return (
        Dispatcher(
            store,
            poster,
            payloads(store, cutoffs),
            settings.webhook_policy,
            log_ms=settings.webhook_log_days * 86_400_000,
        ),
        poster,
    )


def deliver_once(settings: Settings, store: Database) -> Tally:
    """Send every delivery due now (`ivrlog webhooks deliver`)."""

    async def run() -> Tally:
        the_dispatcher, poster = dispatcher(settings, store)
        try:
            return await the_dispatcher.drain()
        finally:
            the_dispatcher.close()
            await poster.aclose()

    return asyncio.run(run())


def run_forever(settings: Settings, store: Database, stopping: Callable[[], bool]) -> None:
    async def run() -> None:
        the_dispatcher, poster = dispatcher(settings, store)
        try:
            await the_dispatcher.run(stopping)
        finally:
            the_dispatcher.close()
            await poster.aclose()

    asyncio.run(run())


def start(settings: Settings) -> subprocess.Popen[bytes]:
    """The dispatcher process of a server: `python -m ivrlog.delivery`, handed the
    settings (as the workers are) and this process's id."""
    env = {**os.environ, SETTINGS_ENV: settings.to_json(), PARENT_ENV: str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "ivrlog.delivery"], env=env)


def stop(process: subprocess.Popen[bytes], settings: Settings) -> None:
    """Ask the dispatcher to stop and wait for it (killed if it outstays its grace)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(settings.webhook_timeout + STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    """The dispatcher process (started by `start`)."""
    from ivrlog.storage import open_store
    from ivrlog.web.logs import log_config

    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    parent = int(os.environ.get(PARENT_ENV, "0"))
    logging.config.dictConfig(log_config(settings.log_level, settings.log_format))
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    asked = False

    def ask(*_: object) -> None:
        nonlocal asked
        asked = True

    signal.signal(signal.SIGTERM, ask)
    signal.signal(signal.SIGINT, ask)
    store = open_store(settings.database)
    log.info("webhook dispatcher started (pid %d)", os.getpid())
    try:
        run_forever(settings, store, lambda: asked or (parent > 0 and os.getppid() != parent))
    finally:
        store.close()
    log.info("webhook dispatcher stopped")
