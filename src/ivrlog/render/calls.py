"""ivrlog's own list of calls (/v1/calls, /v1/changes, `ivrlog calls`) as bytes: JSON,
NDJSON and CSV (docs/api.md, formats and export).

Every renderer reads core.model.SummaryRow tuples, unpacked whole (no object per row: an
export renders millions of them); a row's `path` and `detail` are stored JSON array
texts, spliced into the answer as they are, never parsed again (CSV's entry rows
excepted, which must split a call's entries).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import orjson

from ivrlog.core.model import ChangeRow, SummaryRow
from ivrlog.core.records import CALL_COLUMNS, call_fields, csv_text
from ivrlog.core.when import iso_utc

JSON: Final = "application/json"
NDJSON: Final = "application/x-ndjson"
CSV: Final = "text/csv; charset=utf-8; header=present"

_Fragment = orjson.Fragment
ENTRY_COLUMNS: Final = (
    "entry",
    "timestamp",
    "class",
    "module_type",
    "result_variable",
    "line",
    "data",
)
_NO_ENTRY: Final = ("",) * len(ENTRY_COLUMNS)


def _call(row: SummaryRow) -> dict[str, Any]:
    """A call as /v1/calls shows it (keys in this order; `detail` only when the row
    carries it)."""
    (
        session_id,
        src,
        dest,
        call_type,
        start,
        end,
        log,
        app,
        version,
        path,
        ended_in,
        error,
        detail,
    ) = row
    shown: dict[str, Any] = {
        "session_id": session_id,
        "src": src,
        "dest": dest,
        "type": call_type,
        "start": start,
        "end": end,
        "duration": end - start,
        "app": app,
        "app_version": version,
        "ended_in": ended_in,
        "has_error": bool(error),
        "path": _Fragment(path),
        "log": bool(log),
    }
    if detail is not None:
        shown["detail"] = _Fragment(detail)
    return shown


def call_json(row: SummaryRow) -> bytes:
    """One call object."""
    return orjson.dumps(_call(row))


def _calls(rows: Iterable[SummaryRow]) -> bytes:
    """The call objects of `rows`, comma-separated, without the array's brackets."""
    return orjson.dumps([_call(row) for row in rows])[1:-1]


def json_page(start: int, end: int, rows: Sequence[SummaryRow], next_url: str | None) -> bytes:
    """A page: `{"from", "to", "calls", "next"}`, the window in UTC ISO 8601."""
    return b"".join(
        (
            b'{"from":"%s","to":"%s","calls":[' % (iso_utc(start).encode(), iso_utc(end).encode()),
            _calls(rows),
            b'],"next":',
            orjson.dumps(next_url),
            b"}",
        )
    )


def json_export(start: int, end: int, batches: Iterable[Sequence[SummaryRow]]) -> Iterator[bytes]:
    """The page document of every call of `batches` (`next` null), one chunk a batch:
    the chunks joined are one JSON document, and memory holds one batch at a time."""
    yield b'{"from":"%s","to":"%s","calls":[' % (iso_utc(start).encode(), iso_utc(end).encode())
    separator = b""
    for batch in batches:
        if batch:
            yield separator + _calls(batch)
            separator = b","
    yield b'],"next":null}'


def ndjson_lines(rows: Iterable[SummaryRow]) -> bytes:
    """One call object a line, each line ended by `\\n`."""
    newline = orjson.OPT_APPEND_NEWLINE
    return b"".join([orjson.dumps(_call(row), option=newline) for row in rows])


def csv_header(detail: bool) -> bytes:
    """The header row: the call's columns, then with `detail` the entry's."""
    return _csv([CALL_COLUMNS + ENTRY_COLUMNS if detail else CALL_COLUMNS])


def _csv(records: Iterable[Sequence[object]]) -> bytes:
    return csv_text(records).encode()


def _entry_records(row: SummaryRow) -> Iterator[tuple[object, ...]]:
    call = call_fields(row)
    entries = orjson.loads(row[12]) if row[12] is not None else []
    if not entries:
        yield call + _NO_ENTRY
        return
    for index, entry in enumerate(entries):
        event = entry["event"]
        data = event["data"]
        yield (
            *call,
            index,
            entry["timestamp"],
            entry["class"],
            data["module_type"],
            data["result_variable"],
            event["line"],
            orjson.dumps(data).decode(),
        )


def csv_rows(rows: Iterable[SummaryRow], detail: bool) -> bytes:
    """The records of `rows` (no header): one a call, or with `detail` one an entry of
    the call (the call's columns repeated), a single one with empty entry columns for a
    call without readable entries."""
    if not detail:
        return _csv([call_fields(row) for row in rows])
    return _csv([record for row in rows for record in _entry_records(row)])


def changes_json(rows: Sequence[ChangeRow], after: int) -> bytes:
    """A /v1/changes answer: `{"changes": [...], "after": SEQ}`, each change `seq`,
    `change`, `session_id` and (except for an erasure, or a call since deleted) `call`.
    `after` is the request's; the answer's is the last change's place (to resume
    from), or the request's when there is none."""
    changes: list[dict[str, Any]] = []
    for seq, change, session_id, call in rows:
        shown: dict[str, Any] = {"seq": seq, "change": change, "session_id": session_id}
        if call is not None:
            shown["call"] = _call(call)
        changes.append(shown)
    return orjson.dumps({"changes": changes, "after": rows[-1].seq if rows else after})
