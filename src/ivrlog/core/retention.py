"""The retention purge (SPEC 5): what the server runs every `purge_interval` and
`ivrlog purge` runs on demand.

It completes calls left open past `open_call_timeout` (or started before the detail window,
whose entries would be expired already), deletes the stored detail of calls
older than `detail_retention_days` (the API already refuses to show it), deletes calls
older than `call_retention_days`, and deletes the idempotency keys of live updates kept
past their lifetime (core/idempotency.py). Every step works in bounded batches on indexed
columns, each batch its own short transaction, so ingestion and reads go on between batches.
Last, the store scrubs its files so that deleted content does not stay readable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from ivrlog.core.idempotency import KEY_LIFETIME
from ivrlog.core.live import complete_stale
from ivrlog.core.ports import Store
from ivrlog.core.query import call_cutoff, detail_cutoff

PURGE_BATCH: Final = 1000
BATCH_SECONDS: Final = 0.05  # what the server and `ivrlog purge` aim a transaction at

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
            call_cutoff(now, self.call_retention_days),
        )

    def purge_cutoffs(self, store: Store, now: float) -> tuple[int, int]:
        """The cutoffs the purge deletes before on this store: on PostgreSQL, the start
        of the partitions holding the retention cutoffs (it drops whole partitions)."""
        details, calls = self.cutoffs(now)
        return store.retention_floor(details, "call_details"), store.retention_floor(calls, "calls")


@dataclass(frozen=True, slots=True)
class _Batching:
    """How one purge step sizes its transactions.

    With `target` set, the size adapts: a batch that took longer than `target` seconds
    halves the next one, a quick one doubles it (up to `size`), so a transaction stays
    short even when each row holds megabytes of detail."""

    size: int
    pause: float
    target: float | None
    clock: Callable[[], float]
    progress: Progress | None
    stop: threading.Event | None

    def run(self, delete: Callable[[int, int], int], cutoff: int, step: str) -> int:
        total, size = 0, self.size
        while self.stop is None or not self.stop.is_set():
            began = self.clock()
            deleted = delete(cutoff, size)
            took = self.clock() - began
            total += deleted
            if self.progress is not None and deleted:
                self.progress(step, deleted)
            if deleted < size:
                return total
            if self.target is not None:
                if took > self.target:
                    size = max(1, size // 2)
                elif took < self.target / 4:
                    size = min(self.size, size * 2)
            if self.pause:
                time.sleep(self.pause)  # let waiting writers and readers in between batches
        return total


def purge_expired(
    store: Store,
    retention: Retention,
    *,
    now: float,
    batch: int = PURGE_BATCH,
    pause: float = 0.0,
    target: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> PurgeReport:
    """Apply the retention rules once; what was removed.

    Deletions go `batch` calls a transaction (fewer when `target` seconds is set and a
    batch takes longer), with `pause` seconds between transactions. When `stop` is set
    (the server is shutting down), it ends after the transaction under way, without the
    scrub (the store still owes it, and the next run does it)."""
    completed = complete_stale(
        store,
        now=int(now),
        timeout=retention.open_call_timeout,
        started_before=retention.cutoffs(now)[0],
        stop=stop,
    )
    details_before, calls_before = retention.purge_cutoffs(store, now)
    batching = _Batching(batch, pause, target, clock, progress, stop)
    details = batching.run(store.delete_details_before, details_before, "details")
    calls = batching.run(store.delete_calls_before, calls_before, "calls")
    # idempotency keys past their lifetime (they hold no call content: not reported)
    replace(batching, progress=None).run(store.delete_keys_before, int(now) - KEY_LIFETIME, "keys")
    return PurgeReport(
        open_calls_completed=completed,
        details_deleted=details,
        calls_deleted=calls,
        detail_cutoff=details_before,
        call_cutoff=calls_before,
        scrubbed=False if stop is not None and stop.is_set() else store.scrub(),
    )
