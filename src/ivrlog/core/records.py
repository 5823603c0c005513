"""A call's CSV record (RFC 4180), written by one writer: render/calls.py writes
/v1/calls' CSV with it, and the stores keep each call's record ready, its *stem*, for the
export of a time window (docs/architecture.md, the export's records).

A stem is the record without its last field, `log`, and without its line end: it ends
with the comma before `log`. `log` changes when the call's detail expires, so the store
appends `true` or `false` and CRLF as it reads; everything else in the record is fixed
when the call is written (a replacement writes a new stem). The stems already stored
follow CALL_COLUMNS and call_fields as they are: a change to either needs a migration
that writes every stem again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Final

from ivrlog.core.model import SummaryRow

_BOOL: Final = ("false", "true")  # CSV's booleans, by the row's 0 or 1
CALL_COLUMNS: Final = (
    "session_id",
    "src",
    "dest",
    "type",
    "start",
    "end",
    "duration",
    "app",
    "app_version",
    "ended_in",
    "has_error",
    "path",
    "log",
)
LINE_END: Final = "\r\n"


def csv_text(records: Iterable[Sequence[object]]) -> str:
    """The records as CSV text. RFC 4180: CRLF after each record, a field quoted when it
    holds a comma, a quote, CR or LF (quotes doubled); None is written as an empty field."""
    text = io.StringIO()
    csv.writer(text, lineterminator=LINE_END).writerows(records)
    return text.getvalue()


def call_fields(row: SummaryRow) -> tuple[object, ...]:
    """A listed call's fields, in the order of CALL_COLUMNS."""
    session_id, src, dest, call_type, start, end, log, app, version, path, ended_in, error, _ = row
    return (
        session_id,
        src,
        dest,
        call_type,
        start,
        end,
        end - start,
        app,
        version,
        ended_in,
        _BOOL[error],
        path,
        _BOOL[log],
    )


def record_stem(row: SummaryRow) -> str:
    """The call's record up to the comma before `log` (the row's own `log` is not read)."""
    # an empty last field writes nothing after its comma, and every other field is as
    # the whole record writes it
    return csv_text([(*call_fields(row)[:-1], "")])[: -len(LINE_END)]
