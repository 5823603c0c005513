"""ivrlog's own read API: GET /v1/calls (find calls: a page by cursor, or with
`limit=all` every match streamed) and GET /v1/changes (an account's change sequence).

The same HTTP Basic credentials, failed-attempt throttling, error envelope, request log
and metrics as the compatible API (web/compat.py); credentials are checked before
parameters, parameters (core/search.py) before the format. docs/api.md documents both.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ivrlog.core.errors import NotAcceptable
from ivrlog.core.model import CallKey
from ivrlog.core.ports import Store
from ivrlog.core.search import (
    Format,
    SearchRequest,
    export_batches,
    export_records,
    parse_changes,
    parse_search,
    search_page,
    window_only,
)
from ivrlog.render import calls as rendered
from ivrlog.web.calls_doc import (
    CALLS_PARAMETERS,
    CALLS_RESPONSES,
    CHANGES_PARAMETERS,
    CHANGES_RESPONSES,
    SECURITY,
)
from ivrlog.web.compress import gzip_chunks, wants_gzip
from ivrlog.web.context import context
from ivrlog.web.negotiation import LISTED_FORMATS, listed_format

router = APIRouter(tags=["Calls (ivrlog's own API)"])

# rows an answer may hold and still be read on the event loop of a store that reads
# inline (SQLite: a hop to a worker thread costs more than a small read, as in
# web/compat.py); larger answers, and pages with detail, are read in a worker thread
INLINE_ROWS = 2_000
MEDIA_TYPES = {"json": rendered.JSON, "ndjson": rendered.NDJSON, "csv": rendered.CSV}
NOT_ACCEPTABLE = (
    "Not acceptable: /v1/calls answers "
    + ", ".join(media for _, media in LISTED_FORMATS[:-1])
    + f" or {LISTED_FORMATS[-1][1]} (or choose with format=json|ndjson|csv)."
)
# every answer depends on both (a cache must not hand a CSV or gzip'd one to another)
VARY = "Accept, Accept-Encoding"


def _checked(request: Request) -> tuple[SearchRequest, Format]:
    """Checked credentials, then checked parameters, then the format."""
    ctx = context(request)
    account = ctx.reader(request)
    search = parse_search(
        request.query_params.multi_items(),
        account_id=account.id,
        now=int(ctx.clock()),
        detail_cutoff=ctx.cutoff(),
        call_cutoff=ctx.call_cutoff(),
    )
    if search.format is not None:
        return search, search.format
    accept = request.headers.get("accept")
    chosen = "json" if accept is None else listed_format(accept)
    if chosen is None:
        raise NotAcceptable(NOT_ACCEPTABLE)
    return search, chosen  # type: ignore[return-value]


def _gzipped(request: Request, body: bytes, headers: dict[str, str]) -> bytes:
    """The body gzip'd (and the header saying so) when the client accepts gzip."""
    if not wants_gzip(request.headers.get("accept-encoding")):
        return body
    headers["Content-Encoding"] = "gzip"
    return b"".join(gzip_chunks([body]))


def _next_url(request: Request, search: SearchRequest, last: CallKey) -> str:
    """The next page's absolute URL: the request's own scheme, host and path, every
    parameter as given but the window (resolved to UNIX seconds) and the cursor."""
    return str(request.url.replace(query=urlencode(search.next_params(last))))


def _page(request: Request, search: SearchRequest, fmt: Format) -> Response:
    ctx = context(request)
    rows, last = search_page(ctx.store, search)
    headers = {"Vary": VARY}
    link = None if last is None else _next_url(request, search, last)
    if link is not None:
        headers["Link"] = f'<{link}>; rel="next"'
    if fmt == "json":
        body = rendered.json_page(search.filter.start, search.filter.end, rows, link)
    elif fmt == "ndjson":
        body = rendered.ndjson_lines(rows)
    else:
        body = rendered.csv_header(search.detail) + rendered.csv_rows(rows, search.detail)
    body = _gzipped(request, body, headers)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def export_chunks(store: Store, search: SearchRequest, fmt: Format) -> Iterator[bytes]:
    """Every call the filter matches, a store read and a chunk a batch: the response
    pulls the next batch as the client takes the last, so memory holds one batch."""
    batches = export_batches(store, search)
    if fmt == "json":
        yield from rendered.json_export(search.filter.start, search.filter.end, batches)
        return
    if fmt == "csv":
        yield rendered.csv_header(search.detail)
        if not search.detail and window_only(search.filter):
            yield from export_records(store, search)  # kept ready by the store
            return
    for batch in batches:
        yield (
            rendered.ndjson_lines(batch)
            if fmt == "ndjson"
            else rendered.csv_rows(batch, search.detail)
        )


def _export(request: Request, search: SearchRequest, fmt: Format) -> Response:
    chunks = export_chunks(context(request).store, search, fmt)
    headers = {"Vary": VARY}
    if wants_gzip(request.headers.get("accept-encoding")):
        chunks = gzip_chunks(chunks)
        headers["Content-Encoding"] = "gzip"
    # a sync iterator: each batch is read and rendered in a worker thread
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get(
    "/v1/calls",
    summary="Find calls",
    description="The account's completed calls that match every filter given (AND), "
    "newest first: a page of `limit` calls (`next` and a `Link` header lead to the "
    "next), or with `limit=all` every match, streamed. JSON by default; NDJSON or CSV "
    "by `format` or `Accept`. An unknown parameter, one given twice or a bad value is a "
    "400 naming it.",
    responses=CALLS_RESPONSES,
    response_class=Response,
    openapi_extra={"parameters": CALLS_PARAMETERS, "security": SECURITY},
)
async def find_calls(request: Request) -> Response:
    if not context(request).store.inline_reads:
        # every read, credentials included, in a worker thread (as web/compat.py does)
        return await run_in_threadpool(_found, request)
    search, fmt = _checked(request)
    if search.limit is None:
        return _export(request, search, fmt)
    if not search.detail and search.limit <= INLINE_ROWS:
        return _page(request, search, fmt)
    return await run_in_threadpool(_page, request, search, fmt)


def _found(request: Request) -> Response:
    search, fmt = _checked(request)
    return _export(request, search, fmt) if search.limit is None else _page(request, search, fmt)


def _changes(request: Request, account_id: int, after: int, limit: int) -> Response:
    ctx = context(request)
    rows = ctx.store.changes(account_id, after, limit, ctx.cutoff())
    headers = {"Vary": VARY}
    body = _gzipped(request, rendered.changes_json(rows, after), headers)
    return Response(body, media_type=rendered.JSON, headers=headers)


@router.get(
    "/v1/changes",
    summary="Mirror an account: its change sequence",
    description="Every completion, replacement and erasure of a call takes the next "
    "position of the account's change sequence (a call appears once, at its latest "
    "change). Ask with the last answer's `after` to get what changed since; positions "
    "are handed out in commit order, so nothing is missed. JSON; gzip'd when "
    "`Accept-Encoding` allows it.",
    responses=CHANGES_RESPONSES,
    response_class=Response,
    openapi_extra={"parameters": CHANGES_PARAMETERS, "security": SECURITY},
)
async def get_changes(request: Request) -> Response:
    if not context(request).store.inline_reads:
        return await run_in_threadpool(_checked_changes, request)
    account, after, limit = _changes_request(request)
    if limit <= INLINE_ROWS:
        return _changes(request, account, after, limit)
    return await run_in_threadpool(_changes, request, account, after, limit)


def _changes_request(request: Request) -> tuple[int, int, int]:
    """Checked credentials (the account's id), then checked parameters."""
    account = context(request).reader(request)
    after, limit = parse_changes(request.query_params.multi_items())
    return account.id, after, limit


def _checked_changes(request: Request) -> Response:
    return _changes(request, *_changes_request(request))
