"""/reports: an application's funnel, call volume and durations over a window, each as a
chart (drawn by the browser from the table beside it) and an accessible table of its
numbers; each funnel figure links to the calls page listing the calls it counts. The
figures are those of /v1/reports/* (core/report_requests.py), for the same parameters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ivrlog.core.errors import BadRequest
from ivrlog.core.model import Account
from ivrlog.core.report_requests import (
    ReportRequest,
    durations_report,
    funnel_report,
    parse_report,
    volume_report,
)
from ivrlog.core.reports import pieces
from ivrlog.core.when import iso_utc, utc_text
from ivrlog.web.call_pages import given_params
from ivrlog.web.context import context
from ivrlog.web.pages import PRESETS, render, signed_in, to_sign_in

router = APIRouter(include_in_schema=False)
DEFAULT_FROM = "-7d"


def _calls_url(request: ReportRequest, **filters: str) -> str:
    window = {"from": str(request.start), "to": str(request.end), "app": request.app or ""}
    return "/calls?" + urlencode({**window, **filters})


def _figures(request: Request, account: Account, params: list[tuple[str, str]]) -> dict[str, Any]:
    ctx = context(request)
    now, call_cutoff = int(ctx.clock()), ctx.call_cutoff()
    # the window first, for the applications that have calls in it
    window = parse_report(
        "durations",
        [(k, v) for k, v in params if k in ("from", "to")],
        account_id=account.id,
        now=now,
        call_cutoff=call_cutoff,
    )
    apps = ctx.store.report_apps(account.id, pieces(window.start, window.end))
    given = dict(params)
    app = given.get("app") or (apps[0] if apps else None)
    if app is not None and app not in apps:
        apps = sorted([*apps, app])
    figures: dict[str, Any] = {"apps": apps, "app": app}
    if app is None:
        return figures
    asked = [(k, v) for k, v in params if k != "app"] + [("app", app)]
    without_by = [(k, v) for k, v in asked if k != "by"]
    funnel = parse_report(
        "funnel", without_by, account_id=account.id, now=now, call_cutoff=call_cutoff
    )
    by_volume = parse_report(
        "volume", asked, account_id=account.id, now=now, call_cutoff=call_cutoff
    )
    figures["window"] = {
        "from_iso": iso_utc(funnel.start),
        "from_utc": utc_text(funnel.start),
        "to_iso": iso_utc(funnel.end),
        "to_utc": utc_text(funnel.end),
    }
    modules = funnel_report(ctx.store, funnel)["modules"]
    figures["funnel"] = [
        {
            **m,
            "reached_url": _calls_url(funnel, reached=m["module"]),
            "ended_url": _calls_url(funnel, ended_in=m["module"]),
            "errors_url": _calls_url(funnel, reached=m["module"], has_error="true"),
        }
        for m in modules
    ]
    volume = volume_report(ctx.store, by_volume)
    daily = volume["by"] == "day"
    for bucket in volume["buckets"]:
        bucket["iso"] = iso_utc(bucket["at"])
        text = utc_text(bucket["at"])
        bucket["label"] = text[:10] if daily else text[:-7]
    figures["volume"] = volume
    durations = durations_report(ctx.store, funnel)
    for bucket in durations["buckets"]:
        low, high = bucket["min_seconds"], bucket["max_seconds"]
        bucket["label"] = (
            f"{low}+" if high is None else str(low) if low == high else f"{low} to {high}"
        )
    figures["durations"] = durations
    return figures


@router.get("/reports")
async def reports_page(request: Request) -> Response:
    account = signed_in(request)
    if account is None:
        return to_sign_in(request)
    params = given_params(request)
    given = dict(params)
    preset = given.get("from", DEFAULT_FROM)
    form = {
        "app": given.get("app", ""),
        "from": preset,
        "to": given.get("to", ""),
        "preset": preset if preset in dict(PRESETS) else "custom",
    }
    if "from" not in given:
        params = [("from", DEFAULT_FROM), *params]
    values: dict[str, Any] = {
        "account": account,
        "page": "reports",
        "presets": PRESETS,
        "form": form,
        "apps": [],
        "error": None,
    }
    try:
        figures = await run_in_threadpool(_figures, request, account, params)
    except BadRequest as exc:
        return render(request, "reports.html", {**values, "error": exc.message}, status=400)
    form["app"] = figures.pop("app") or ""
    return render(request, "reports.html", {**values, **figures})
