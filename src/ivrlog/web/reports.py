"""GET /v1/reports/volume, /v1/reports/durations, /v1/reports/funnel: the reports of
core/report_requests.py as JSON, with the credentials, throttling, error envelope and
request log of /v1/calls (web/calls.py). docs/api.md documents them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ivrlog.core.ports import Store
from ivrlog.core.report_requests import (
    Report,
    ReportRequest,
    durations_report,
    funnel_report,
    parse_report,
    volume_report,
)
from ivrlog.web.calls_doc import SECURITY
from ivrlog.web.context import context
from ivrlog.web.reports_doc import (
    DURATIONS_PARAMETERS,
    FUNNEL_PARAMETERS,
    VOLUME_PARAMETERS,
    Durations,
    Funnel,
    Volume,
    responses,
)

router = APIRouter(tags=["Reports (ivrlog's own API)"])
JSON = "application/json"
REPORTS: dict[Report, Callable[[Store, ReportRequest], dict[str, Any]]] = {
    "volume": volume_report,
    "durations": durations_report,
    "funnel": funnel_report,
}


def checked_report(request: Request, report: Report) -> ReportRequest:
    """Checked credentials, then checked parameters."""
    ctx = context(request)
    account = ctx.reader(request)
    return parse_report(
        report,
        request.query_params.multi_items(),
        account_id=account.id,
        now=int(ctx.clock()),
        call_cutoff=ctx.call_cutoff(),
    )


def _answer(request: Request, report: Report) -> Response:
    asked = checked_report(request, report)
    body = orjson.dumps(REPORTS[report](context(request).store, asked))
    return Response(body, media_type=JSON)


async def _report(request: Request, report: Report) -> Response:
    if context(request).store.inline_reads:
        return _answer(request, report)  # a few hundred rows of a local file
    return await run_in_threadpool(_answer, request, report)


@router.get(
    "/v1/reports/volume",
    summary="Call volume by hour or day",
    description="The account's calls (of one application, or all) by hour or UTC day and "
    "by type, every bucket of the window listed.",
    responses=responses(Volume, "Invalid by 'week': must be hour or day."),
    response_class=Response,
    openapi_extra={"parameters": VOLUME_PARAMETERS, "security": SECURITY},
)
async def report_volume(request: Request) -> Response:
    return await _report(request, "volume")


@router.get(
    "/v1/reports/durations",
    summary="The distribution of call durations",
    description="How many calls lasted how long, on a scale exact to the second up to "
    "10 s and coarser beyond, with the median.",
    responses=responses(Durations, "Invalid from 'soon': must be UNIX seconds, ..."),
    response_class=Response,
    openapi_extra={"parameters": DURATIONS_PARAMETERS, "security": SECURITY},
)
async def report_durations(request: Request) -> Response:
    return await _report(request, "durations")


@router.get(
    "/v1/reports/funnel",
    summary="Where callers drop off: an application's funnel",
    description="The application's modules in flow order (by where calls first reach "
    "them), each with how many calls reached it, ended in it, had an `error` entry in it, "
    "and the median seconds spent in it. The calls behind a figure are those of "
    "/v1/calls with the same window and `app`, and `reached` or `ended_in` set to the "
    "module (and `has_error=true` for errors, of calls with an error anywhere).",
    responses=responses(Funnel, "Missing app: the funnel is of one application (app=NAME)."),
    response_class=Response,
    openapi_extra={"parameters": FUNNEL_PARAMETERS, "security": SECURITY},
)
async def report_funnel(request: Request) -> Response:
    return await _report(request, "funnel")
