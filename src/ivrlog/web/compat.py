"""The Plum Fuse-compatible read API: three GET endpoints, JSON or XML, HTTP Basic."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ivrlog.core.limits import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_TIME
from ivrlog.core.model import CallQuery
from ivrlog.core.query import build_query, call_detail
from ivrlog.web.context import context
from ivrlog.web.negotiation import renderer_for
from ivrlog.web.paths import check_utf8_path
from ivrlog.web.schemas import (
    SESSION_ID_RULE,
    SESSION_ID_SCHEMA,
    AllLogsPage,
    CallsPage,
    LogEntry,
    error_doc,
)
from ivrlog.web.spool import spooled_response
from ivrlog.web.throttled import THROTTLED_DOC

router = APIRouter(tags=["Logs (Plum Fuse compatible)"])


def _shown_as(kind: str, **bounds: int) -> Any:
    """Show a parameter that the handler parses itself with its real type and bounds."""

    def shape(schema: dict[str, Any]) -> None:
        schema.pop("anyOf", None)
        schema.update(type=kind, **bounds)

    return shape


StartPath = Annotated[
    str,
    Path(
        description="Window start, UNIX seconds (inclusive).",
        json_schema_extra=_shown_as("integer", minimum=0, maximum=MAX_TIME),
    ),
]
EndPath = Annotated[
    str,
    Path(
        description="Window end, UNIX seconds (exclusive); greater than start.",
        json_schema_extra=_shown_as("integer", minimum=0, maximum=MAX_TIME),
    ),
]
NumberQuery = Annotated[
    str | None,
    Query(
        description="Only calls whose `dest` is this number (the deployment's number).",
        json_schema_extra=_shown_as("string"),
    ),
]
OffsetQuery = Annotated[
    str | None,
    Query(
        description="Calls to skip (default 0).",
        json_schema_extra=_shown_as("integer", minimum=0, maximum=MAX_OFFSET),
    ),
]
LimitQuery = Annotated[
    str | None,
    Query(
        description=f"Calls on the page (default {DEFAULT_LIMIT}).",
        json_schema_extra=_shown_as("integer", minimum=1, maximum=MAX_LIMIT),
    ),
]

# query parameters whose empty value (`offset=`) means their default
EMPTY_IS_DEFAULT = ("offset", "limit")

_COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: error_doc(
        "No, malformed or wrong credentials, or an inactive account.",
        "Authentication headers invalid or the account is inactive.",
    ),
    405: error_doc("Any method but GET.", "Invalid HTTP method supplied (only GET allowed)."),
    429: THROTTLED_DOC,
    500: error_doc("An unexpected failure; details go to the server log.", "Database error."),
}
_LIST_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_doc(
        "A malformed or out-of-range start, end, offset or limit.",
        "Invalid limit '0': must be a whole number from 1 to 10000.",
    ),
    **_COMMON_ERRORS,
}
_XML_NOTE = (
    ' JSON by default; XML (`<?xml version="1.0"?>` and a root `<result>`) when '
    "`Accept: application/xml` or `text/xml` is preferred."
)


def _ok(model: type, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "model": model,
            "description": description,
            "content": {"application/xml": {"schema": {"type": "string"}}},
        }
    }


# rows a summary page may walk (offset and limit) and still be read on the event loop
INLINE_ROWS = 2_000


def _page_query(
    request: Request,
    start: str,
    end: str,
    number: str | None,
    offset: str | None,
    limit: str | None,
) -> CallQuery:
    """Checked credentials, then checked parameters."""
    ctx = context(request)
    account = ctx.reader(request)
    return build_query(
        account.id,
        start,
        end,
        number=number,
        raw_offset=offset,
        raw_limit=limit,
        cutoff=ctx.cutoff(),
        call_cutoff=ctx.call_cutoff(),
    )


def _page_response(request: Request, query: CallQuery, *, detail: bool) -> Response:
    """A page of stored fragments, read by one worker thread at the database's pace and
    sent at the client's (web/spool.py); on SQLite, summaries (at most 10,000, some
    1.5 MB) are read whole on the spot: a hop to a worker thread would cost more than the
    read (docs/performance.md, B4 and B5)."""
    ctx = context(request)
    renderer = renderer_for(request.headers.get("accept"))
    page = ctx.store.open_page(query, renderer.FORMAT if detail else None)
    body = renderer.all_logs_page(page) if detail else renderer.calls_page(page)
    if not detail and ctx.store.inline_reads:
        try:
            return Response(b"".join(body), media_type=renderer.MEDIA_TYPE)
        finally:
            page.close()
    # read whole at the database's pace, sent at the client's (web/spool.py)
    return spooled_response(body, page.close, renderer.MEDIA_TYPE)


def _checked_page(
    request: Request,
    start: str,
    end: str,
    number: str | None,
    offset: str | None,
    limit: str | None,
    *,
    detail: bool,
) -> Response:
    query = _page_query(request, start, end, number, offset, limit)
    return _page_response(request, query, detail=detail)


@router.get(
    "/api/calls/{start}/{end}",
    summary="Get call logs",
    description="The calls of a window, newest first, without their detail: "
    "`start <= call.start < end`." + _XML_NOTE,
    responses={**_ok(CallsPage, "One page of calls."), **_LIST_ERRORS},
    response_class=Response,
)
async def get_calls(
    request: Request,
    start: StartPath,
    end: EndPath,
    number: NumberQuery = None,
    offset: OffsetQuery = None,
    limit: LimitQuery = None,
) -> Response:
    if not context(request).store.inline_reads:
        return await run_in_threadpool(
            _checked_page, request, start, end, number, offset, limit, detail=False
        )
    # on SQLite a small page is read on the event loop; one that walks many rows (a large
    # offset) is read in a worker thread, so as not to hold other requests up
    query = _page_query(request, start, end, number, offset, limit)
    if query.offset + query.limit <= INLINE_ROWS:
        return _page_response(request, query, detail=False)
    return await run_in_threadpool(_page_response, request, query, detail=False)


@router.get(
    "/api/all_logs/{start}/{end}",
    summary="Get call logs with details",
    description="As /api/calls, with each call's detail; `start` and `end` are strings of "
    'digits here, as on Plum Fuse. A call whose `log` is false has `"detail": []`.' + _XML_NOTE,
    responses={**_ok(AllLogsPage, "One page of calls with their detail."), **_LIST_ERRORS},
    response_class=Response,
)
def get_all_logs(
    request: Request,
    start: StartPath,
    end: EndPath,
    number: NumberQuery = None,
    offset: OffsetQuery = None,
    limit: LimitQuery = None,
) -> Response:
    return _checked_page(request, start, end, number, offset, limit, detail=True)


@router.get(
    "/api/call/{session_id:path}",
    summary="Get a detailed call log",
    description="A call's entries as a bare array, in the order they happened. The session "
    "id may be sent with raw `;` or percent-encoded (`%3B`)." + _XML_NOTE,
    responses={
        **_ok(list[LogEntry], "The call's log entries."),
        400: error_doc(
            "The session id's percent-escapes are not valid UTF-8.",
            "Invalid session_id: its percent-escapes are not valid UTF-8; send the session id "
            "as UTF-8, each byte that is not a safe ASCII character percent-encoded.",
        ),
        404: error_doc(
            "`No call log was found.` when the account has no such call; `There are no call "
            "log details available for this call.` when its detail is expired, private or empty.",
            "No call log was found.",
        ),
        **_COMMON_ERRORS,
    },
    response_class=Response,
)
async def get_call(
    request: Request,
    session_id: Annotated[
        str,
        Path(
            description="The call's session id, e.g. `100035;000;1575898377`: " + SESSION_ID_RULE,
            json_schema_extra=SESSION_ID_SCHEMA,  # documented only: another id is not found
        ),
    ],
) -> Response:
    # the hot endpoint: on SQLite its two indexed reads run on the event loop, since a
    # hop to a worker thread costs more than they do (docs/performance.md, B1)
    if context(request).store.inline_reads:
        return _call_response(request, session_id)
    return await run_in_threadpool(_call_response, request, session_id)


def _call_response(request: Request, session_id: str) -> Response:
    ctx = context(request)
    account = ctx.reader(request)
    check_utf8_path(request)
    renderer = renderer_for(request.headers.get("accept"))
    fragment = call_detail(
        ctx.store, account.id, session_id, renderer.FORMAT, ctx.cutoff(), ctx.call_cutoff()
    )
    return Response(renderer.detail(fragment), media_type=renderer.MEDIA_TYPE)
