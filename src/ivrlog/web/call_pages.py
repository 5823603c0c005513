"""The calls pages: /calls (the filters of /v1/calls as a form, the URL holding them, a
page of calls by cursor, its count, exports of exactly the filter) and
/calls/{session_id} (a call's header and timeline, updated while the call is in
progress). The same core functions as /v1/calls read them (core/search.py)."""

from __future__ import annotations

import re
import time
from html import escape
from typing import Any, Final
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from ivrlog.core.errors import BadRequest
from ivrlog.core.model import CALL_TYPES, Account, SummaryRow
from ivrlog.core.search import SearchRequest, one_call, parse_search, search_page
from ivrlog.core.timeline import missing_note, timeline
from ivrlog.core.when import iso_utc, utc_text
from ivrlog.web.calls import MEDIA_TYPES, export_chunks
from ivrlog.web.context import context
from ivrlog.web.pages import PRESETS, duration_text, render, signed_in, to_sign_in

router = APIRouter(include_in_schema=False)
COUNT_UP_TO: Final = 10_000  # a count past this says "more than"
POLL_SECONDS: Final = 2  # a call in progress is read again this often
FORM_FIELDS: Final = (
    *("from", "to", "number", "src", "type", "min_duration", "max_duration"),
    *("app", "reached", "ended_in", "has_error", "q"),
)
PAGE_ONLY: Final = ("format", "include")  # /v1/calls parameters a page does not take


def given_params(request: Request) -> list[tuple[str, str]]:
    """The query's parameters, in order, but those left empty (a form's blank fields):
    a blank field filters nothing."""
    return [(k, v) for k, v in request.query_params.multi_items() if v != ""]


def _search(request: Request, account: Account, params: list[tuple[str, str]]) -> SearchRequest:
    ctx = context(request)
    for name, _ in params:
        if name in PAGE_ONLY:
            raise BadRequest(f"Parameter {name!r} is for the API: use the export links here.")
    search = parse_search(
        params,
        account_id=account.id,
        now=int(ctx.clock()),
        detail_cutoff=ctx.cutoff(),
        call_cutoff=ctx.call_cutoff(),
    )
    if search.limit is None:
        raise BadRequest("limit=all is for exports: use the export links here.")
    return search


ERROR_MARK: Final = '<span class="mark-error" title="The call has an error entry">error</span>'


_PLAIN = re.compile(r"[A-Za-z0-9_.~;:@+=,-]*")  # what a link and HTML take as it is


def _html(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else escape(text)


def table_rows(rows: list[SummaryRow]) -> Markup:
    """The calls table's rows as ready HTML, every value escaped: the page's hot part,
    written here rather than by the template (a hundred rows of lookups in Jinja cost
    several times the read; docs/performance.md, B9)."""
    out = []
    for session_id, src, dest, call_type, start, end, _, app, _, _, ended_in, error, _ in rows:
        t = time.gmtime(start)
        iso = f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}Z"
        link = session_id if _PLAIN.fullmatch(session_id) else escape(quote(session_id, safe=""))
        out.append(
            f'<tr><td><a href="/calls/{link}"><time datetime="{iso}">{iso[:10]} {iso[11:19]}'
            f" UTC</time></a></td><td>{_html(src)}</td><td>{_html(dest)}</td>"
            f"<td>{call_type}</td><td>{duration_text(end - start)}</td>"
            f"<td>{_html(app or '')}</td><td>{_html(ended_in or '')}</td>"
            f"<td>{ERROR_MARK if error else ''}</td></tr>"
        )
    return Markup("\n".join(out))  # noqa: S704  (every value escaped above)


def _shown(row: SummaryRow) -> dict[str, Any]:
    session_id, src, dest, call_type, start, end, _, app, _, _, ended_in, error, _ = row
    return {
        "url": "/calls/" + quote(session_id, safe=""),
        "iso": iso_utc(start),
        "utc": utc_text(start),
        "src": src,
        "dest": dest,
        "type": call_type,
        "duration": duration_text(end - start),
        "app": app,
        "ended_in": ended_in,
        "has_error": bool(error),
    }


def _form(params: list[tuple[str, str]]) -> dict[str, str]:
    given = dict(params)
    form = {name: given.get(name, "") for name in FORM_FIELDS}
    if "dest" in given and not form["number"]:
        form["number"] = given["dest"]
    preset = form["from"] or "-24h"
    form["preset"] = preset if preset in dict(PRESETS) else "custom"
    form["from"] = form["from"] or "-24h"
    return form


def _window_params(search: SearchRequest, *, drop: tuple[str, ...]) -> list[tuple[str, str]]:
    """The filter's parameters with its window resolved to UNIX seconds (a link made
    now lists what this page lists, later too), without `drop`."""
    kept = [(k, v) for k, v in search.params if k not in ("from", "to", *drop)]
    return [("from", str(search.filter.start)), ("to", str(search.filter.end)), *kept]


@router.get("/calls")
async def calls_page(request: Request) -> Response:
    account = signed_in(request)
    if account is None:
        return to_sign_in(request)
    params = given_params(request)
    values: dict[str, Any] = {
        "account": account,
        "page": "calls",
        "presets": PRESETS,
        "call_types": CALL_TYPES,
        "form": _form(params),
        "hidden": [(k, v) for k, v in params if k in ("limit", "dest")],
        "apps": [],
        "error": None,
    }
    try:
        search = _search(request, account, params)
    except BadRequest as exc:
        return render(request, "calls.html", {**values, "error": exc.message}, status=400)
    store = context(request).store
    if store.inline_reads:
        rows, last = search_page(store, search)
    else:
        rows, last = await run_in_threadpool(search_page, store, search)
    exported = urlencode(_window_params(search, drop=("cursor", "limit")))
    values.update(
        rows=table_rows(rows),
        shown=len(rows),
        next_url=None if last is None else "/calls?" + urlencode(search.next_params(last)),
        first_page=search.after is None,
        first_url="/calls?" + urlencode(_window_params(search, drop=("cursor",))),
        export_csv="/calls.csv?" + exported,
        export_ndjson="/calls.ndjson?" + exported,
        count_url="/calls.count?" + exported,
    )
    return render(request, "calls.html", values)


def _count(request: Request, search: SearchRequest) -> str:
    rows = context(request).store.search_calls(search.filter, None, COUNT_UP_TO + 1)
    if len(rows) > COUNT_UP_TO:
        return f"More than {COUNT_UP_TO:,} calls match."
    return f"{len(rows):,} call{'s' if len(rows) != 1 else ''} match."


@router.get("/calls.count")
async def calls_count(request: Request) -> Response:
    """The count of a filter's calls, as a fragment the calls page loads after itself."""
    account = signed_in(request)
    if account is None:
        return HTMLResponse("", status_code=401)
    try:
        search = _search(request, account, given_params(request))
    except BadRequest as exc:
        return HTMLResponse(exc.message, status_code=400)
    return HTMLResponse(await run_in_threadpool(_count, request, search))


async def _export(request: Request, fmt: str) -> Response:
    account = signed_in(request)
    if account is None:
        return to_sign_in(request)
    params = [(k, v) for k, v in given_params(request) if k not in ("limit", "cursor")]
    try:
        search = _search(request, account, params)
    except BadRequest as exc:
        return HTMLResponse(exc.message, status_code=400)
    search = SearchRequest(search.filter, None, None, fmt, False, search.params)  # type: ignore[arg-type]
    chunks = export_chunks(context(request).store, search, fmt)  # type: ignore[arg-type]
    disposition = f'attachment; filename="calls.{fmt}"'
    return StreamingResponse(
        chunks, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": disposition}
    )


@router.get("/calls.csv")
async def calls_csv(request: Request) -> Response:
    """Every call of the calls page's filter as CSV: the records /v1/calls gives."""
    return await _export(request, "csv")


@router.get("/calls.ndjson")
async def calls_ndjson(request: Request) -> Response:
    return await _export(request, "ndjson")


def _call(request: Request, account: Account, session_id: str) -> dict[str, Any] | None:
    """What the call page shows of a call: its header and timeline; None when the
    account has no such call."""
    ctx = context(request)
    cutoff, call_cutoff = ctx.cutoff(), ctx.call_cutoff()
    found = one_call(account.id, session_id, call_cutoff=call_cutoff, detail_cutoff=cutoff)
    rows = ctx.store.search_calls(found, None, 1)
    detail = ctx.store.call_detail(account.id, session_id, "json", cutoff, call_cutoff=call_cutoff)
    if not rows and not detail.found:
        return None
    entries = orjson.loads(detail.fragment) if detail.fragment else []
    header = None
    note = None
    if rows:
        row = rows[0]
        header = {
            **_shown(row),
            "end_iso": iso_utc(row[5]),
            "end_utc": utc_text(row[5]),
        }
        if not row[6]:  # no readable detail
            expired = row[4] + ctx.settings.detail_retention_days * 86_400
            note = missing_note(expired if row[4] < cutoff else None)
    else:
        live = ctx.store.call_in_progress(account.id, session_id)
        if live is not None:
            header = {
                "iso": iso_utc(live.start),
                "utc": utc_text(live.start),
                "end_iso": None,
                "src": live.src,
                "dest": live.dest,
                "type": live.type,
                "duration": "in progress",
                "app": None,
                "ended_in": None,
            }
    shown = timeline(entries, in_progress=not rows, note=note)
    return {"call": header, "timeline": shown}


@router.get("/calls/{session_id}")
async def call_page(request: Request, session_id: str) -> Response:
    account = signed_in(request)
    if account is None:
        return to_sign_in(request)
    found = await run_in_threadpool(_call, request, account, session_id)
    if found is None:
        return render(
            request,
            "problem.html",
            {
                "account": account,
                "title": "No such call",
                "message": "No call of this "
                "account has this session id (or it is past call retention).",
            },
            status=404,
        )
    base = str(request.base_url).rstrip("/")
    curl = f'curl -u "{account.email}:$IVRLOG_KEY" "{base}/api/call/{quote(session_id, safe="")}"'
    values = {
        "account": account,
        "page": "calls",
        "session_id": session_id,
        "curl": curl,
        "timeline_url": f"/calls/{quote(session_id, safe='')}/timeline",
        "poll_seconds": POLL_SECONDS,
        **found,
    }
    return render(request, "call.html", values)


@router.get("/calls/{session_id}/timeline")
async def call_timeline(request: Request, session_id: str) -> Response:
    """The timeline alone: what the call page of a call in progress reads again."""
    account = signed_in(request)
    if account is None:
        return HTMLResponse("", status_code=401)
    found = await run_in_threadpool(_call, request, account, session_id)
    if found is None:
        return HTMLResponse("", status_code=404)
    values = {
        "account": account,
        "timeline_url": f"/calls/{quote(session_id, safe='')}/timeline",
        "poll_seconds": POLL_SECONDS,
        **found,
    }
    return render(request, "_timeline.html", values)
