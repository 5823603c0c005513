"""Background work inside the server, in a worker thread so that requests go on meanwhile:
the retention purge as the server starts and then every `purge_interval` seconds, and in
between, every few seconds, a retry of a scrub the store still owes (deleted content a
busy reader kept in the journal); and every `fold_interval` seconds the fold of the reports'
rows written since the last one (PostgreSQL appends them: storage/report_sql.py)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Final

from starlette.concurrency import run_in_threadpool

from ivrlog.web.context import AppContext

log = logging.getLogger("ivrlog.purge")

SCRUB_RETRY: Final = 5.0  # seconds between two retries of an owed scrub


def purge_once(ctx: AppContext) -> None:
    """One purge; a failure is logged, never raised (the next run tries again)."""
    with ctx.busy:
        if ctx.stopping.is_set():
            return
        try:
            report = ctx.purge()
        except Exception:
            log.exception("retention purge failed")
            ctx.metrics.purge_done(None)
            return
    ctx.metrics.purge_done(report)
    if ctx.stopping.is_set():
        return
    removed = report.open_calls_completed + report.details_deleted + report.calls_deleted
    if removed:
        log.info(
            "retention purge: %d open calls completed, detail of %d calls deleted "
            "(started before %d), %d calls deleted (started before %d)",
            report.open_calls_completed,
            report.details_deleted,
            report.detail_cutoff,
            report.calls_deleted,
            report.call_cutoff,
        )
    if not report.scrubbed:
        log.warning("retention purge: the journal could not be cleared yet (readers busy)")


def scrub_owed(ctx: AppContext) -> None:
    """Finish a scrub the store owes, if it owes one; failures are logged."""
    with ctx.busy:
        if ctx.stopping.is_set():
            return
        try:
            ctx.store.scrub(only_if_owed=True)
        except Exception:
            log.exception("clearing deleted content from the journal failed")


def fold_reports(ctx: AppContext) -> None:
    """Fold the reports' rows written since the last fold; failures are logged (the rows
    wait for the next fold, and reads sum them meanwhile)."""
    with ctx.busy:
        if ctx.stopping.is_set():
            return
        try:
            ctx.store.fold_reports()
        except Exception:
            log.exception("folding the reports' rows failed")


async def maintain(ctx: AppContext, purge_interval: float, fold_interval: float) -> None:
    """Purge now and every `purge_interval` seconds (never when 0), retry owed scrubs in
    between, fold the reports' rows every `fold_interval` seconds (never when 0); until
    cancelled."""
    next_purge = time.monotonic() if purge_interval else math.inf
    next_fold = time.monotonic() + fold_interval if fold_interval else math.inf
    while True:
        if time.monotonic() >= next_purge:
            await run_in_threadpool(purge_once, ctx)
            next_purge = time.monotonic() + purge_interval
        else:
            await run_in_threadpool(scrub_owed, ctx)
        if time.monotonic() >= next_fold:
            await run_in_threadpool(fold_reports, ctx)
            next_fold = time.monotonic() + fold_interval
        soonest = min(next_purge, next_fold) - time.monotonic()
        await asyncio.sleep(max(0.0, min(SCRUB_RETRY, soonest)))
