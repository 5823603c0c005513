"""The in-memory store's reads (tests/fake_store.py): a page and a call's detail for the
compatible API; the search of completed calls, the change sequence and erasure for
ivrlog's own; all on the store's dict tables."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from ivrlog.core.model import (
    CallDetail,
    CallFilter,
    CallKey,
    CallQuery,
    CallRow,
    ChangeKind,
    ChangeRow,
    DetailFormat,
    Erasure,
    OpenCall,
    RecordChunk,
    StoredCall,
    SummaryRow,
)
from ivrlog.core.records import call_fields, csv_text
from ivrlog.core.reports import (
    ModuleKey,
    Piece,
    ReportRow,
    VolumeKey,
    call_facts,
    deltas,
)
from tests.search_model import matches, summary_row

if TYPE_CHECKING:
    from tests.fake_store import _Entry, _Tables

# rows in a batch of a page, as the SQLite store has them (a page's rows come in batches)
DETAIL_BATCH_ROWS = 200
SUMMARY_BATCH_ROWS = 1000


def record_change(
    t: _Tables, account_id: int, session_id: str, kind: ChangeKind, start: int
) -> None:
    """Give a call the account's next place in the change sequence (its last one only)."""
    seq = t.change_seq.get(account_id, 0) + 1
    t.change_seq[account_id] = seq
    t.changes[(account_id, session_id)] = (seq, kind, start)


def completed(t: _Tables, account_id: int, call: StoredCall) -> None:
    """Record the completion (or replacement) of `call`, before it is stored."""
    kind: ChangeKind = "replaced" if (account_id, call.session_id) in t.calls else "completed"
    record_change(t, account_id, call.session_id, kind, call.start)


def _fragment(call: StoredCall, fmt: DetailFormat) -> str | None:
    return call.detail_json if fmt == "json" else call.detail_xml


def _joined(entries: Sequence[_Entry], fmt: DetailFormat) -> str | None:
    """A call in progress's detail: its entries by timestamp, then arrival (None if none)."""
    if not entries:
        return None
    ordered = sorted(entries, key=lambda e: (e.timestamp, e.seq))
    if fmt == "json":
        return "[" + ",".join(e.json for e in ordered) + "]"
    return "".join(e.xml for e in ordered)


class _Page:
    """A page read at once from one committed state: a snapshot by construction."""

    def __init__(self, rows: list[CallRow], total: int, batch_rows: int) -> None:
        self.total = total
        self._rows = rows
        self._batch_rows = batch_rows

    def batches(self) -> Iterator[Sequence[CallRow]]:
        for at in range(0, len(self._rows), self._batch_rows):
            yield self._rows[at : at + self._batch_rows]

    def close(self) -> None:
        self._rows = []


class _Tabled(Protocol):
    def _read(self) -> _Tables: ...

    def _writing(self) -> contextlib.AbstractContextManager[_Tables]: ...


class Reads:
    """MemoryStore's reads (a page, a call's detail, the search, the change sequence),
    erase and audit_key."""

    def open_page(self: _Tabled, query: CallQuery, detail: DetailFormat | None) -> _Page:
        in_window = sorted(
            (
                c
                for (account_id, _), c in self._read().calls.items()
                if account_id == query.account_id
                and query.start <= c.start < query.end
                and (query.number is None or c.dest == query.number)
            ),
            key=lambda c: (c.start, c.session_id),
            reverse=True,
        )
        rows: list[CallRow] = []
        for c in in_window[query.offset : query.offset + query.limit]:
            readable = c.start >= query.detail_cutoff
            fragment = _fragment(c, detail) if detail is not None and readable else None
            log = int(c.entry_count > 0 and readable)
            rows.append((c.dest, c.src, c.start, c.end, c.session_id, c.type, log, fragment))
        return _Page(rows, len(in_window), DETAIL_BATCH_ROWS if detail else SUMMARY_BATCH_ROWS)

    def call_detail(
        self: _Tabled,
        account_id: int,
        session_id: str,
        fmt: DetailFormat,
        detail_cutoff: int,
        *,
        call_cutoff: int = 0,
    ) -> CallDetail:
        t = self._read()
        done = t.calls.get((account_id, session_id))
        if done is not None and done.start >= call_cutoff:
            return CallDetail(True, _fragment(done, fmt) if done.start >= detail_cutoff else None)
        live = t.open_calls.get((account_id, session_id))
        if done is not None or live is None or live.call.start < call_cutoff:
            return CallDetail(False, None)
        if live.call.private or live.call.start < detail_cutoff:
            return CallDetail(True, None)
        return CallDetail(True, _joined(t.open_entries.get(live.call.id, ()), fmt))

    def search_calls(
        self: _Tabled, query: CallFilter, after: CallKey | None, limit: int, *, detail: bool = False
    ) -> list[SummaryRow]:
        found = sorted(
            (
                c
                for (account_id, _), c in self._read().calls.items()
                if account_id == query.account_id
                and matches(query, c)
                and (after is None or (c.start, c.session_id) < after)
            ),
            key=lambda c: (c.start, c.session_id),
            reverse=True,
        )
        return [summary_row(c, query.detail_cutoff, detail) for c in found[:limit]]

    def window_records(
        self: _Tabled,
        account_id: int,
        start: int,
        end: int,
        detail_cutoff: int,
        after: CallKey | None,
        limit: int,
    ) -> RecordChunk:
        window = CallFilter(account_id, start, end, detail_cutoff)
        rows = Reads.search_calls(self, window, after, limit)
        records = b"".join(csv_text([call_fields(row)]).encode() for row in rows)
        return RecordChunk(records, len(rows), CallKey(rows[-1][4], rows[-1][0]) if rows else None)

    def changes(
        self: _Tabled, account_id: int, after: int, limit: int, detail_cutoff: int
    ) -> list[ChangeRow]:
        t = self._read()
        places = sorted(
            (seq, kind, session_id)
            for (owner, session_id), (seq, kind, _) in t.changes.items()
            if owner == account_id and seq > after
        )[:limit]
        rows = []
        for seq, kind, session_id in places:
            call = t.calls.get((account_id, session_id))
            row = None if call is None else summary_row(call, detail_cutoff, False)
            rows.append(ChangeRow(seq, kind, session_id, row))
        return rows

    def erase(
        self: _Tabled, account_id: int, erasure: Erasure, selector_hash: str, now: int
    ) -> int:
        def chosen(session_id: str, src: str, dest: str, start: int) -> bool:
            if erasure.session_id is not None:
                return session_id == erasure.session_id
            return erasure.number in (src, dest) and (
                erasure.before is None or start < erasure.before
            )

        with self._writing() as t:
            calls = [
                (key, c)
                for key, c in t.calls.items()
                if key[0] == account_id and chosen(c.session_id, c.src, c.dest, c.start)
            ]
            live = [
                (key, o)
                for key, o in t.open_calls.items()
                if key[0] == account_id
                and chosen(o.call.session_id, o.call.src, o.call.dest, o.call.start)
            ]
            for key, c in calls:
                del t.calls[key]
                record_change(t, account_id, c.session_id, "erased", c.start)
            for key, o in live:
                del t.open_calls[key]
                t.open_entries.pop(o.call.id, None)
            erased = {c.session_id for _, c in calls} | {o.call.session_id for _, o in live}
            for kept in [k for k in t.keys if k[0] == account_id and k[1] in erased]:
                del t.keys[kept]  # an update's answer names its call
            count = len(calls) + len(live)
            if count:
                t.erasures.append((account_id, now, count, selector_hash))
        return count

    def audit_key(self: _Tabled) -> bytes:
        with self._writing() as t:
            if not t.audit_key:
                t.audit_key = secrets.token_bytes(32)
            return t.audit_key

    def report_rows(
        self: _Tabled,
        account_id: int,
        table: Literal["volume", "durations", "modules"],
        app: str | None,
        wanted: Sequence[Piece],
        *,
        by: int | None,
    ) -> list[ReportRow]:
        # the aggregates of the calls stored now, summed as the SQL stores sum their rows
        t = self._read()
        mine = [call_facts(c) for (a, _), c in t.calls.items() if a == account_id]
        changes = deltas(account_id, [], mine)
        rows: Sequence[tuple[VolumeKey | ModuleKey, list[int]]] = (
            changes.sorted_modules() if table == "modules" else changes.sorted_volume()
        )
        sums: dict[tuple[int, str], list[int]] = {}
        for key, counts in rows:
            if app is not None and key.app != app:
                continue
            signs = [p.sign for p in wanted if p.span == key.span and p.first <= key.at < p.end]
            if not signs:
                continue
            name = key.type if isinstance(key, VolumeKey) else key.module
            at = 0 if by is None else key.at - key.at % by
            total = sums.setdefault((at, name), [0] * len(counts))
            for i, value in enumerate(counts):
                total[i] += value * sum(signs)
        wide = 1 if table == "volume" else None  # volume: the calls alone
        return [ReportRow(at, name, tuple(c[:wide])) for (at, name), c in sorted(sums.items())]

    def call_in_progress(self: _Tabled, account_id: int, session_id: str) -> OpenCall | None:
        found = self._read().open_calls.get((account_id, session_id))
        return None if found is None else found.call

    def report_apps(self: _Tabled, account_id: int, wanted: Sequence[Piece]) -> list[str]:
        t = self._read()
        return sorted(
            {
                c.summary.app
                for (a, _), c in t.calls.items()
                if a == account_id
                and c.summary.app
                and any(
                    p.first <= c.start - c.start % p.span < p.end and c.start >= 0 for p in wanted
                )
            }
        )
