"""B3's ingestion cut into its phases, timed in one process: microseconds an entry for
parsing, validation, redaction, each fragment, the summary, the report steps, and the
SQLite store's write (docs/performance.md, B3). Run: python -m bench.ingest_phases"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

from bench.ingest import _ingest_batches
from ivrlog.core.accounts import add_account
from ivrlog.core.ingest import normalize_entry, prepare_call, render_detail
from ivrlog.core.redact import BUILTIN_RULES
from ivrlog.core.reports import call_steps
from ivrlog.core.summary import summarize
from ivrlog.core.validation import validate_batch
from ivrlog.storage import open_store
from ivrlog.web.documents import parse_batch

T = TypeVar("T")


def _timed(label: str, entries: int, work: Callable[[], T]) -> T:
    """Run `work` three times; print the best time an entry; return the last result."""
    best = float("inf")
    result: T
    for _ in range(3):
        began = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - began)
    print(f"{label:<40} {best / entries * 1e6:6.2f} µs an entry")
    return result


def _validated(group: list[Any]) -> bool:
    validate_batch(group)  # raises on a refusal
    return True


def main() -> None:
    groups = _ingest_batches(int(time.time()))
    bodies = [orjson.dumps(group) for group in groups]
    n = sum(len(call["detail"]) for group in groups for call in group)
    print(f"{len(groups)} batches, {n:,} entries")
    parsed = _timed("parse", n, lambda: [parse_batch(b, "application/json") for b in bodies])
    _timed("validate", n, lambda: [_validated(group) for group in parsed])
    calls = [call for group in parsed for call in group]
    normal = _timed(
        "normalize and redact",
        n,
        lambda: [[normalize_entry(e, BUILTIN_RULES) for e in call["detail"]] for call in calls],
    )
    _timed("JSON fragment", n, lambda: [orjson.dumps(entries).decode() for entries in normal])
    _timed("JSON and XML fragments", n, lambda: [render_detail(entries) for entries in normal])
    _timed("summary", n, lambda: [summarize(entries) for entries in normal])
    _timed(
        "report steps",
        n,
        lambda: [call_steps(e, c["end"]) for e, c in zip(normal, calls, strict=True)],
    )
    prepared = _timed(
        "prepare_call (all the above but parsing)",
        n,
        lambda: [[prepare_call(call) for call in group] for group in parsed],
    )
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(str(Path(folder) / "phases.db"))
        try:
            store.migrate()
            add_account(store, "phases@ivrlog.example", 0)
            account = store.account_by_email("phases@ivrlog.example")
            assert account is not None
            began = time.perf_counter()
            for group in prepared:
                store.put_calls(account.id, group)
            seconds = time.perf_counter() - began
        finally:
            store.close()
    print(f"{'put_calls (SQLite, a transaction a batch)':<40} {seconds / n * 1e6:6.2f} µs an entry")


if __name__ == "__main__":
    main()
