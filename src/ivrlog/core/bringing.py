"""Calls brought from elsewhere (`ivrlog sync`, `ivrlog import`) into a local account,
through the same ingestion as POST /ingest/v1/calls: the same validation, redaction,
retention and replacement by session id.

Ingestion refuses a whole batch for one bad call; a call brought from elsewhere is
checked alone first, so that one the local rules refuse is skipped, with the reason, and
the others are stored."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from ivrlog.core.errors import PayloadTooLarge, ValidationFailed
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.ports import Store
from ivrlog.core.redact import Redactor
from ivrlog.core.validation import validate_batch

BATCH_CALLS: Final = 500  # calls a write transaction at most
BATCH_ENTRIES: Final = 100_000  # and entries


@dataclass(frozen=True)
class Skipped:
    """A call (or a record of one) that was not stored: where it was (a session id, or a
    file and line) and why."""

    where: str
    reason: str


@dataclass(frozen=True)
class Target:
    """The local account calls are brought into, and its ingestion's rules: its redactor,
    and the retention cutoffs (detail, call) at the moment of bringing."""

    store: Store
    account_id: int
    redactor: Redactor
    detail_cutoff: int
    call_cutoff: int

    def refusal(self, call: dict[str, Any]) -> str | None:
        """Why ingestion would refuse `call` (every problem, by field), or None."""
        try:
            validate_batch([call])
        except ValidationFailed as exc:
            return "; ".join(f"{e.path or 'call'}: {e.message}" for e in exc.errors)
        except PayloadTooLarge as exc:
            return exc.message
        return None

    def write(
        self, calls: Sequence[dict[str, Any]], done: Callable[[int], None] = lambda n: None
    ) -> int:
        """Store checked calls, a transaction each BATCH_CALLS calls (or BATCH_ENTRIES
        entries), telling `done` how many each wrote; how many were written (calls past
        retention are counted, not stored)."""
        written = 0
        batch: list[dict[str, Any]] = []
        entries = 0
        for call in calls:
            size = len(call.get("detail") or ())
            if batch and (len(batch) == BATCH_CALLS or entries + size > BATCH_ENTRIES):
                written += self._ingest(batch)
                done(len(batch))
                batch, entries = [], 0
            batch.append(call)
            entries += size
        if batch:
            written += self._ingest(batch)
            done(len(batch))
        return written

    def _ingest(self, batch: list[dict[str, Any]]) -> int:
        cutoffs = (self.detail_cutoff, self.call_cutoff)
        return ingest_calls(self.store, self.account_id, batch, self.redactor, cutoffs=cutoffs)


class ImportFailed(Exception):
    """Input an importer cannot read: `message` names the file and the line (or the place
    in a JSON document) and what is wrong. Nothing is imported."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def iso_moment(value: object) -> float | None:
    """An ISO 8601 time with a zone (`2024-03-12T14:05:31.482Z`) as UNIX seconds; None
    when `value` is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if moment.tzinfo is None else moment.timestamp()


def iso_seconds(value: object) -> int | None:
    """iso_moment as whole seconds (fractions dropped)."""
    moment = iso_moment(value)
    return None if moment is None else math.floor(moment)


def parsed_json(where: str, data: bytes) -> Any:
    """`data` parsed as one JSON document, or ImportFailed naming `where` and the line."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ImportFailed(f"{where}, line {exc.lineno}: not JSON ({exc.msg}).") from None
