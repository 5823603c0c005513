"""Live ingestion: a call's entries appended as the call happens, then completed.

A call in progress lives apart from completed calls: its entries are kept one by one as
ready fragments, so an append costs the same at the first entry and the thousandth.
Completing it (an `end`, or `open_call_timeout` without a new entry) joins those
fragments into the stored detail of a completed call, in one transaction.

A call's entries are kept in the order they happened: by timestamp, and in arrival order
for equal timestamps. An entry older than one already stored (a retry, or two senders
racing) is placed by its timestamp, and the answer counts it in `out_of_order`.

Every update runs in one write transaction of the store, which serialises them: two
concurrent posts for one call are applied one after the other, and neither loses an
entry. An update is all or nothing.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any, Final

import orjson

from ivrlog.core.errors import (
    BadRequest,
    CallComplete,
    FieldError,
    PayloadTooLarge,
    ValidationFailed,
)
from ivrlog.core.idempotency import IdempotentRequest, KeyReused
from ivrlog.core.ingest import normalize_entry, past_detail_retention, render_entries
from ivrlog.core.limits import MAX_ENTRIES
from ivrlog.core.model import NO_SUMMARY, EntryFragments, Fragments, OpenCall, StoredCall
from ivrlog.core.ports import LiveTransaction, Store
from ivrlog.core.redact import BUILTIN_RULES, Redactor
from ivrlog.core.reports import call_steps
from ivrlog.core.summary import summarize
from ivrlog.core.validation import (
    Problems,
    check_entry,
    check_session_id,
    check_summary,
    check_time,
    check_unknown,
)

UPDATE_FIELDS: Final = ("src", "dest", "type", "start", "private", "entries", "end")
_SUMMARY: Final = ("src", "dest", "type")
STALE_BATCH: Final = 500  # open calls looked at by one transaction of complete_stale
STALE_ENTRIES: Final = 10_000  # entries it moves at most (unless one call holds more)


@dataclass(frozen=True, slots=True)
class LiveResult:
    session_id: str
    appended: int
    out_of_order: int
    entries: int
    complete: bool
    # the answer kept for an Idempotency-Key, given again: nothing was stored this time
    replayed: bool = dataclasses.field(default=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The answer's body (without `replayed`, which is not part of it)."""
        return {
            "session_id": self.session_id,
            "appended": self.appended,
            "out_of_order": self.out_of_order,
            "entries": self.entries,
            "complete": self.complete,
        }


def validate_update(session_id: str, update: Any) -> None:
    """Raise ValidationFailed naming every problem of an update body (index is always 0)."""
    if not isinstance(update, dict):
        raise BadRequest("The body must be a JSON object with entries (and end to complete).")
    problems = Problems()
    check_session_id(session_id, 0, problems)
    check_unknown(update, UPDATE_FIELDS, 0, "", problems)
    check_summary(update, 0, problems, required=False)
    if "start" in update:  # a number when given (end may be null: not complete yet)
        check_time(update["start"], 0, "start", problems)
    if update.get("end") is not None:
        check_time(update["end"], 0, "end", problems)
    if not isinstance(update.get("private", False), bool):
        problems.add(0, "private", "must be true or false")
    entries = update.get("entries", [])
    if not isinstance(entries, list):
        problems.add(0, "entries", "must be an array of log entries")
        entries = []
    if len(entries) > MAX_ENTRIES:
        raise PayloadTooLarge(f"An update holds at most {MAX_ENTRIES} entries.")
    for position, entry in enumerate(entries):
        check_entry(entry, 0, f"entries[{position}]", problems)
    problems.raise_any()


def _stored(call: OpenCall, fragments: list[Fragments], end: int) -> StoredCall:
    has_detail = not call.private and bool(fragments)
    entries = [orjson.loads(j) for j, _ in fragments] if has_detail else []
    return StoredCall(
        session_id=call.session_id,
        src=call.src,
        dest=call.dest,
        type=call.type,
        start=call.start,
        end=end,
        private=call.private,
        entry_count=0 if call.private else len(fragments),
        detail_json="[" + ",".join(j for j, _ in fragments) + "]" if has_detail else None,
        detail_xml="".join(x for _, x in fragments) if has_detail else None,
        summary=summarize(entries) if has_detail else NO_SUMMARY,
        steps=call_steps(entries, end),
    )


def _new_call(session_id: str, update: dict[str, Any]) -> OpenCall:
    missing = [
        FieldError(0, field, "is needed when the call is new")
        for field in _SUMMARY
        if field not in update
    ]
    entries = update.get("entries") or []
    start: int | None = update.get("start")
    if start is None and entries:
        start = min(entry["timestamp"] for entry in entries)  # the first to happen
    if start is None:
        missing.append(FieldError(0, "start", "is needed when the call is new and has no entries"))
    if missing or start is None:
        raise ValidationFailed(missing)
    return OpenCall(
        id=0,
        session_id=session_id,
        src=update["src"],
        dest=update["dest"],
        type=update["type"],
        start=start,
        start_given=update.get("start") is not None,
        private=False,
        entry_count=0,
        last_timestamp=None,
    )


def _apply(
    tx: LiveTransaction,
    account_id: int,
    session_id: str,
    update: dict[str, Any],
    now: int,
    fragments: list[Fragments],
    detail_cutoff: int = 0,
) -> LiveResult:
    call = tx.open_call(account_id, session_id)
    if call is None:
        if tx.is_completed(account_id, session_id):
            raise CallComplete(session_id)
        call = _new_call(session_id, update)
    else:
        changes: dict[str, Any] = {key: update[key] for key in _SUMMARY if key in update}
        if update.get("start") is not None:
            changes.update(start=update["start"], start_given=True)
        call = dataclasses.replace(call, **changes)
    entries: list[dict[str, Any]] = update.get("entries") or []
    if entries and not call.start_given:  # the start follows the earliest entry
        call = dataclasses.replace(
            call, start=min(call.start, *(entry["timestamp"] for entry in entries))
        )
    latest = call.last_timestamp
    out_of_order = 0
    for entry in entries:
        if latest is not None and entry["timestamp"] < latest:
            out_of_order += 1
        latest = entry["timestamp"] if latest is None else max(latest, entry["timestamp"])
    if call.entry_count + len(entries) > MAX_ENTRIES:
        raise PayloadTooLarge(
            f"The call would hold {call.entry_count + len(entries)} entries; at most {MAX_ENTRIES}."
        )
    end = update.get("end")
    if end is not None and end < call.start:
        raise ValidationFailed([FieldError(0, "end", f"must not be before start ({call.start})")])
    private = call.private or bool(update.get("private", False))
    if private and not call.private and call.id:
        tx.drop_entries(call.id)
    first_seq = 0 if private else call.entry_count
    call = dataclasses.replace(
        call,
        private=private,
        entry_count=0 if private else call.entry_count + len(entries),
        last_timestamp=latest,
    )
    # the open-call timeout counts from the last entry, so only entries touch the call
    call = tx.save_open(account_id, call, now if entries or not call.id else None)
    if fragments and not private:
        timestamps = [entry["timestamp"] for entry in entries]
        tx.add_entries(
            call.id,
            first_seq,
            [EntryFragments(t, j, x) for t, (j, x) in zip(timestamps, fragments, strict=True)],
        )
    if end is not None:
        stored = past_detail_retention(_stored(call, tx.entries(call.id), end), detail_cutoff)
        tx.finish(account_id, call.id, stored)
    appended = 0 if private else len(entries)
    return LiveResult(
        session_id, appended, 0 if private else out_of_order, call.entry_count, end is not None
    )


def _apply_once(
    tx: LiveTransaction,
    account_id: int,
    session_id: str,
    update: dict[str, Any],
    now: int,
    fragments: list[Fragments],
    request: IdempotentRequest,
    detail_cutoff: int = 0,
) -> LiveResult:
    """_apply, unless the key names an update already applied: its answer then. The key
    is looked up and kept in the update's transaction, under the call's lock, so two
    identical requests racing apply once and both get the first answer."""
    kept = tx.kept_answer(account_id, session_id, request.key)
    if kept is not None:
        body_sha256, answer = kept
        if body_sha256 != request.body_sha256:
            raise KeyReused(request.key)
        return LiveResult(**orjson.loads(answer), replayed=True)
    result = _apply(tx, account_id, session_id, update, now, fragments, detail_cutoff)
    tx.keep_answer(
        account_id,
        session_id,
        request.key,
        request.body_sha256,
        orjson.dumps(result.as_dict()).decode(),
        now,
    )
    return result


def append_entries(
    store: Store,
    account_id: int,
    session_id: str,
    update: Any,
    *,
    now: int,
    redactor: Redactor | None = None,
    idempotent: IdempotentRequest | None = None,
    detail_cutoff: int = 0,
) -> LiveResult:
    """Apply one live update to a call: create it, append entries, complete it. With
    `idempotent`, an update already applied with that key is answered as it was then,
    and changes nothing (core/idempotency.py).

    Raises ValidationFailed (422), CallComplete (409) or PayloadTooLarge (413); nothing
    is stored then. A call completed with a start before `detail_cutoff` is stored
    without its detail (it could never be read: ingest_calls does the same).
    """
    validate_update(session_id, update)
    rules = BUILTIN_RULES if redactor is None else redactor
    # redacted and rendered before the transaction, so the writer is held only to store
    fragments = render_entries([normalize_entry(e, rules) for e in update.get("entries") or []])
    if idempotent is not None:
        request = idempotent
        return store.run_live(
            lambda tx: _apply_once(
                tx, account_id, session_id, update, now, fragments, request, detail_cutoff
            ),
        )
    return store.run_live(
        lambda tx: _apply(tx, account_id, session_id, update, now, fragments, detail_cutoff)
    )


def complete_stale(
    store: Store,
    *,
    now: int,
    timeout: int,
    started_before: int = 0,
    batch: int = STALE_BATCH,
    entries_per_transaction: int = STALE_ENTRIES,
    stop: threading.Event | None = None,
) -> int:
    """Complete every call without a new entry for `timeout` seconds, or started before
    `started_before` (its detail would be expired already), with `end` = its latest entry's
    timestamp (its start when it has none); how many were completed.

    A transaction completes calls until they hold `entries_per_transaction` entries (at
    least one call), so the writer is never held long, however big the calls. When `stop`
    is set, it returns after the transaction under way."""

    def sweep(tx: LiveTransaction) -> tuple[bool, int]:
        """(whether stale calls were found, how many were completed)."""
        stale = tx.stale(now - timeout, started_before, batch)
        moved = done = 0
        for account_id, call in stale:
            if moved and moved + call.entry_count > entries_per_transaction:
                break
            end = max(call.start, call.last_timestamp or call.start)
            stored = _stored(call, tx.entries(call.id), end)
            tx.finish(account_id, call.id, past_detail_retention(stored, started_before))
            moved += call.entry_count
            done += 1
        return bool(stale), done

    completed = 0
    while stop is None or not stop.is_set():
        found, done = store.run_live(sweep)
        completed += done
        if not found:
            return completed
    return completed
