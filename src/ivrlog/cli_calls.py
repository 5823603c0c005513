"""`ivrlog calls list|show`: an account's calls found and read on the database, with the
filters, checks and formats of GET /v1/calls (core/search.py, render/calls.py)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import orjson
import typer
from rich.table import Table
from rich.text import Text

from ivrlog.cli_base import JsonFlag, err, fail, opened_store, out, with_settings
from ivrlog.core.accounts import account_named
from ivrlog.core.errors import BadRequest
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.model import SummaryRow
from ivrlog.core.search import (
    SearchRequest,
    encode_cursor,
    export_batches,
    one_call,
    parse_search,
    search_page,
)
from ivrlog.core.when import iso_utc
from ivrlog.render.calls import (
    call_json,
    csv_header,
    csv_rows,
    json_export,
    json_page,
    ndjson_lines,
)
from ivrlog.settings import Settings

calls_app = typer.Typer(
    help="Find an account's calls and read them, as GET /v1/calls does (docs/api.md).",
    no_args_is_help=True,
)

RETENTION: Final = ("database", "detail_retention_days", "call_retention_days")
BAD_FLAG = 2  # exit code of a bad flag value (as a usage error)

EmailArg = Annotated[str, typer.Argument(help="The account's email address.")]
NowOpt = Annotated[
    int | None,
    typer.Option(min=0, max=MAX_TIME, help="Pretend it is this UNIX time (default: now)."),
]


def _option(help_text: str, *names: str) -> Any:
    return typer.Option(*names, help=help_text, show_default=False)


def _write(chunks: Iterable[bytes]) -> None:
    """Bytes to standard output as they come (an export is never held whole). When the
    reader goes away (`| head`), stop quietly with exit code 1, as a pipe's writer does."""
    sys.stdout.flush()
    stream = sys.stdout.buffer
    try:
        for chunk in chunks:
            stream.write(chunk)
        stream.flush()
    except BrokenPipeError:
        # what Python would still flush at exit goes nowhere instead of failing again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None


def _format(as_json: bool, as_ndjson: bool, as_csv: bool) -> str | None:
    chosen = [
        name for name, on in (("json", as_json), ("ndjson", as_ndjson), ("csv", as_csv)) if on
    ]
    if len(chosen) > 1:
        raise fail("Give at most one of --json, --ndjson and --csv.", BAD_FLAG)
    return chosen[0] if chosen else None


def _duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _app(name: str | None, version: str | None) -> str:
    if name is None:
        return ""
    return name if version is None else f"{name} {version}"


def _table(rows: list[SummaryRow], title: str) -> Table:
    table = Table(
        "start (UTC)", "session id", "src", "dest", "type", "duration", "app", "ended in", "error",
        title=Text(title),
    )  # fmt: skip
    for row in rows:
        session_id, src, dest, kind, start, end, _, app, version, _, ended_in, error, _ = row
        table.add_row(
            _utc(start),
            Text(session_id),
            Text(src),
            Text(dest),
            kind,
            _duration(end - start),
            Text(_app(app, version)),
            Text(ended_in or ""),
            Text("error", style="bold red") if error else "",
        )
    return table


def _export(
    request: SearchRequest, fmt: str, batches: Iterable[list[SummaryRow]]
) -> Iterator[bytes]:
    query = request.filter
    if fmt == "json":
        yield from json_export(query.start, query.end, batches)
    elif fmt == "ndjson":
        yield from (ndjson_lines(batch) for batch in batches)
    else:
        yield csv_header(request.detail)
        yield from (csv_rows(batch, request.detail) for batch in batches)


@calls_app.command("list")
@with_settings(*RETENTION)
def calls_list(
    email: EmailArg,
    from_: Annotated[
        str | None,
        _option(
            "Calls started at or after this time: UNIX seconds, ISO 8601 with an offset or "
            "relative to now (-15m, -4h, -7d). Default: 24 hours ago.",
            "--from",
        ),
    ] = None,
    to: Annotated[
        str | None, _option("Calls started before this time (same forms). Default: now.", "--to")
    ] = None,
    number: Annotated[
        str | None, _option("Calls to this number (dest, exact).", "--number")
    ] = None,
    src: Annotated[
        str | None,
        _option("Calls from this number, exact or a prefix ending in * (617*).", "--src"),
    ] = None,
    dest: Annotated[
        str | None,
        _option("Calls to this number, exact or a prefix ending in * (617*).", "--dest"),
    ] = None,
    call_type: Annotated[str | None, _option("inbound, outbound or transfer.", "--type")] = None,
    min_duration: Annotated[
        str | None, _option("Calls that lasted at least this many seconds.", "--min-duration")
    ] = None,
    max_duration: Annotated[
        str | None, _option("Calls that lasted at most this many seconds.", "--max-duration")
    ] = None,
    app: Annotated[str | None, _option("Calls of this application (its name).", "--app")] = None,
    reached: Annotated[
        str | None,
        _option(
            "Calls that visited this module: a result_variable or module_type:result_variable.",
            "--reached",
        ),
    ] = None,
    ended_in: Annotated[
        str | None,
        _option("Calls whose last module was this one (same forms as --reached).", "--ended-in"),
    ] = None,
    has_error: Annotated[
        bool | None,
        _option(
            "Only calls with an error entry (--has-error) or without one (--no-error).",
            "--has-error/--no-error",
        ),
    ] = None,
    text: Annotated[
        str | None,
        _option(
            "Calls whose entry lines hold every one of these words (calls whose detail is "
            "still stored).",
            "--text",
            "--q",
        ),
    ] = None,
    limit: Annotated[
        str | None,
        _option(
            "Calls a page, 1 to 10000 (default 100), or all (every call the filters match, "
            "streamed; needs --json, --ndjson or --csv).",
            "--limit",
        ),
    ] = None,
    cursor: Annotated[
        str | None, _option("Start after the previous page (the cursor it printed).", "--cursor")
    ] = None,
    detail: Annotated[
        bool,
        typer.Option(
            "--detail", help="Add each call's entries (JSON, NDJSON; CSV: one row an entry)."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON document GET /v1/calls answers.")
    ] = False,
    as_ndjson: Annotated[
        bool, typer.Option("--ndjson", help="Print one JSON call object a line.")
    ] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print CSV (RFC 4180) with a header row.")
    ] = False,
    now: NowOpt = None,
    *,
    settings: Settings,
) -> None:
    """List an account's completed calls, newest first, with the filters of GET /v1/calls (every one optional, all combined).

    The values are checked as the API checks them: a bad one is refused (exit code 2) with the API's message. A table by default; --json, --ndjson or --csv print what the API answers in that format (the JSON's "next" is the next page's /v1/calls URL). When there are more calls, standard error says how to get the next page: the same command with the window as resolved (--from, --to in UNIX seconds) and a --cursor.
    """  # noqa: E501
    fmt = _format(as_json, as_ndjson, as_csv)
    given = {
        "from": from_,
        "to": to,
        "number": number,
        "src": src,
        "dest": dest,
        "type": call_type,
        "min_duration": min_duration,
        "max_duration": max_duration,
        "app": app,
        "reached": reached,
        "ended_in": ended_in,
        "has_error": None if has_error is None else str(has_error).lower(),
        "q": text,
        "limit": limit,
        "cursor": cursor,
        "include": "detail" if detail else None,
    }
    params = [(name, value) for name, value in given.items() if value is not None]
    moment = int(time.time()) if now is None else now
    detail_cutoff, call_cutoff = settings.retention.cutoffs(moment)
    with opened_store(settings) as store:
        account = account_named(store, email)
        try:
            request = parse_search(
                params,
                account_id=account.id,
                now=moment,
                detail_cutoff=detail_cutoff,
                call_cutoff=call_cutoff,
            )
        except BadRequest as exc:
            raise fail(exc.message, BAD_FLAG) from None
        if request.limit is None:
            if fmt is None:
                raise fail("--limit all needs --json, --ndjson or --csv.", BAD_FLAG)
            _write(_export(request, fmt, export_batches(store, request)))
            return
        rows, last = search_page(store, request)
    query = request.filter
    following = None if last is None else request.next_params(last)
    if fmt == "json":
        url = None if following is None else "/v1/calls?" + urlencode(following)
        _write([json_page(query.start, query.end, rows, url)])
    elif fmt is not None:
        _write(_export(request, fmt, [rows]))
    elif rows:
        title = (
            f"{len(rows)} calls of {account.email}, {iso_utc(query.start)} to {iso_utc(query.end)}"
        )
        out.print(_table(rows, title))
    else:
        out.print(
            f"No calls of {account.email} match, {iso_utc(query.start)} to {iso_utc(query.end)}.",
            markup=False,
        )
    if last is not None:
        flags = f"--from {query.start} --to {query.end} --cursor {encode_cursor(last)}"
        err.print(f"More calls: for the next page, run it again with {flags}", markup=False)


def _entries_table(fragment: str) -> Table:
    table = Table("#", "time (UTC)", "class", "module", "line", "data")
    for index, entry in enumerate(orjson.loads(fragment)):
        event = entry["event"]
        data = event["data"]
        others = {k: v for k, v in data.items() if k not in ("module_type", "result_variable")}
        table.add_row(
            str(index),
            _utc(entry["timestamp"]),
            entry["class"],
            Text(f"{data['module_type']}:{data['result_variable']}"),
            Text(event["line"]),
            Text(orjson.dumps(others).decode() if others else ""),
        )
    return table


def _show_call(row: SummaryRow, fragment: str | None) -> None:
    session_id, src, dest, kind, start, end, log, app, version, path, ended_in, error, _ = row
    fields = [
        ("type", kind),
        ("src", src),
        ("dest", dest),
        ("start", f"{_utc(start)} UTC ({start})"),
        ("end", f"{_utc(end)} UTC ({end})"),
        ("duration", f"{_duration(end - start)} ({end - start} s)"),
        ("app", _app(app, version) or "-"),
        ("path", " > ".join(orjson.loads(path)) or "-"),
        ("ended in", ended_in or "-"),
        ("error", "yes" if error else "no"),
        ("log", "readable" if log else "not readable (private, expired or none)"),
    ]
    out.print(f"Call {session_id}", markup=False, style="bold")
    for name, value in fields:
        out.print(f"  {name:<9} {value}", markup=False)
    if fragment is not None:
        out.print(_entries_table(fragment))


@calls_app.command("show")
@with_settings(*RETENTION)
def calls_show(
    email: EmailArg,
    session_id: Annotated[str, typer.Argument(help="The call's session id.")],
    as_json: JsonFlag = False,
    now: NowOpt = None,
    *,
    settings: Settings,
) -> None:
    """Show one completed call: its summary (as GET /v1/calls lists it) and its entries (as GET /api/call gives them).

    --json prints the call object of GET /v1/calls?include=detail, with "detail" the entries, [] when they cannot be read (private, expired or none). An unknown session id, or a call still in progress, is an error (exit code 1).
    """  # noqa: E501
    moment = int(time.time()) if now is None else now
    detail_cutoff, call_cutoff = settings.retention.cutoffs(moment)
    with opened_store(settings) as store:
        account = account_named(store, email)
        query = one_call(
            account.id, session_id, call_cutoff=call_cutoff, detail_cutoff=detail_cutoff
        )
        rows = store.search_calls(query, None, 1)
        found, fragment = store.call_detail(
            account.id, session_id, "json", detail_cutoff, call_cutoff=call_cutoff
        )
    if not rows:
        if found:
            raise fail(
                f"The call {session_id!r} of {account.email} is still in progress: it is "
                "shown once it completes (GET /api/call gives its entries so far)."
            )
        raise fail(f"No call {session_id!r} for {account.email}.")
    row = rows[0]
    if as_json:
        _write([call_json((*row[:12], fragment or "[]")), b"\n"])
    else:
        _show_call(row, fragment)
