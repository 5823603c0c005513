"""The JSON renderer. Pages are streamed in batches; stored detail is embedded as is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import orjson

from ivrlog.core.model import CallPage, CallRow
from ivrlog.render.listing import shown_src

MEDIA_TYPE = "application/json"
FORMAT: Final = "json"
_Fragment = orjson.Fragment


def _summary(row: CallRow) -> dict[str, Any]:
    return {
        "dest": row[0],
        "src": shown_src(row),
        "start": row[2],
        "end": row[3],
        "session_id": row[4],
        "type": row[5],
        "log": bool(row[6]),
    }


def _with_detail(row: CallRow) -> dict[str, Any]:
    return {
        "dest": row[0],
        "src": shown_src(row),
        "start": str(row[2]),
        "end": str(row[3]),
        "session_id": row[4],
        "detail": _Fragment(row[7]) if row[7] is not None else [],
        "type": row[5],
        "log": bool(row[6]),
    }


def _page(page: CallPage, shape: Any) -> Iterator[bytes]:
    yield b'{"calls":['
    separator = b""
    for batch in page.batches():
        # one chunk a batch (each chunk is a hop to a worker thread), with the batch's
        # array copied once, without its brackets: a 10,000-call page with its detail is
        # tens of megabytes (B2)
        yield b"".join((separator, memoryview(orjson.dumps([shape(row) for row in batch]))[1:-1]))
        separator = b","
    yield b'],"total_calls":%d}' % page.total


def calls_page(page: CallPage) -> Iterator[bytes]:
    """`/api/calls`: summaries with integer times."""
    return _page(page, _summary)


def all_logs_page(page: CallPage) -> Iterator[bytes]:
    """`/api/all_logs`: string times and each call's detail."""
    return _page(page, _with_detail)


def detail(fragment: str) -> bytes:
    """`/api/call/{id}`: the stored array itself."""
    return fragment.encode()


def document(value: Any) -> bytes:
    return orjson.dumps(value)
