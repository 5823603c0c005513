"""The retention purge (SPEC 5): what the server runs every `purge_interval` and
`ivrlog purge` runs on demand.

It completes calls left open past `open_call_timeout` (or started before the detail window,
whose entries would be expired already), deletes the stored detail of calls
older than `detail_retention_days` (the API already refuses to show it) and deletes calls
older than `call_retention_days`. Every step works in bounded batches on indexed columns,
each batch its own short transaction, so ingestion and reads go on between batches.
Last, the store scrubs its files so that deleted content does not stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

from ivrlog.core.live import complete_stale
from ivrlog.core.query import SECONDS_PER_DAY, detail_cutoff
from ivrlog.storage.base import Store

PURGE_BATCH: Final = 1000

# Called after each batch with the step ("details" or "calls") and how many it removed.
Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one purge did. `detail_cutoff` and `call_cutoff` are the UNIX times before
    which detail and calls were removed; `scrubbed` is False when the database's journal
    could not be cleared yet (readers were busy): the next purge tries again."""

    open_calls_completed: int
    details_deleted: int
    calls_deleted: int
    detail_cutoff: int
    call_cutoff: int
    scrubbed: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Retention:
    detail_retention_days: int
    call_retention_days: int
    open_call_timeout: int

    def cutoffs(self, now: float) -> tuple[int, int]:
        """(detail cutoff, call cutoff) at `now`."""
        return (
            detail_cutoff(now, self.detail_retention_days),
            int(now) - self.call_retention_days * SECONDS_PER_DAY,
        )


def _in_batches(
    delete: Callable[[int, int], int],
    cutoff: int,
    batch: int,
    pause: float,
    step: str,
    progress: Progress | None,
) -> int:
    total = 0
    while True:
        deleted = delete(cutoff, batch)
        total += deleted
        if progress is not None and deleted:
            progress(step, deleted)
        if deleted < batch:
            return total
        if pause:
            time.sleep(pause)  # let waiting writers and readers in between batches


def purge_expired(
    store: Store,
    retention: Retention,
    *,
    now: float,
    batch: int = PURGE_BATCH,
    pause: float = 0.0,
    progress: Progress | None = None,
) -> PurgeReport:
    """Apply the retention rules once; what was removed."""
    details_before, calls_before = retention.cutoffs(now)
    completed = complete_stale(
        store, now=int(now), timeout=retention.open_call_timeout, started_before=details_before
    )
    details = _in_batches(
        store.delete_details_before, details_before, batch, pause, "details", progress
    )
    calls = _in_batches(store.delete_calls_before, calls_before, batch, pause, "calls", progress)
    return PurgeReport(
        open_calls_completed=completed,
        details_deleted=details,
        calls_deleted=calls,
        detail_cutoff=details_before,
        call_cutoff=calls_before,
        scrubbed=store.scrub(),
    )
