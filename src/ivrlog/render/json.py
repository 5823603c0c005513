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
    dest, src, start, end, session_id, call_type, log, _ = row
    return {
        "dest": dest,
        "src": shown_src(src, call_type),
        "start": start,
        "end": end,
        "session_id": session_id,
        "type": call_type,
        "log": bool(log),
    }


def _with_detail(row: CallRow) -> dict[str, Any]:
    dest, src, start, end, session_id, call_type, log, fragment = row
    return {
        "dest": dest,
        "src": shown_src(src, call_type),
        "start": str(start),
        "end": str(end),
        "session_id": session_id,
        "detail": _Fragment(fragment) if fragment is not None else [],
        "type": call_type,
        "log": bool(log),
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
