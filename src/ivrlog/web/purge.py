"""The retention purge inside the server: as it starts, then every `purge_interval`
seconds, in a worker thread so that requests go on meanwhile."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from ivrlog.web.context import AppContext

log = logging.getLogger("ivrlog.purge")


def purge_once(ctx: AppContext) -> None:
    """One purge; a failure is logged, never raised (the next run tries again)."""
    try:
        report = ctx.purge()
    except Exception:
        log.exception("retention purge failed")
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


async def purge_forever(ctx: AppContext, interval: float) -> None:
    """Purge now, then every `interval` seconds, until cancelled."""
    while True:
        await run_in_threadpool(purge_once, ctx)
        await asyncio.sleep(interval)
