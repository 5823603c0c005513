"""The three reports as /v1/reports/* and the reports page ask for them: their parameters
checked (a 400 naming the parameter, as /v1/calls does), the aggregates read through the
Store port, the figures as plain data ready to render.

docs/api.md (reports) documents the parameters and the answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from ivrlog.core.errors import BadRequest
from ivrlog.core.model import CALL_TYPES
from ivrlog.core.ports import Store
from ivrlog.core.reports import (
    DAY,
    HOUR,
    SCALE,
    Piece,
    durations,
    funnel,
    pieces,
    report_window,
    volume,
)
from ivrlog.core.search import MAX_NAME, given_once
from ivrlog.core.when import parse_when

Report = Literal["volume", "durations", "funnel"]
PARAMETERS: Final[dict[str, tuple[str, ...]]] = {
    "volume": ("app", "from", "to", "by"),
    "durations": ("app", "from", "to"),
    "funnel": ("app", "from", "to"),
}
DEFAULT_WINDOW: Final = 7 * DAY  # seconds before now that `from` defaults to
HOURLY_BELOW: Final = 3 * DAY  # volume is by hour for a shorter window by default, else by day
BY: Final = {"hour": HOUR, "day": DAY}


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """A checked report request: the account, the application (None: every one, which
    the funnel does not allow), the window as reported (whole hours, report_window), and
    volume's buckets."""

    account_id: int
    app: str | None
    start: int
    end: int
    by: int
    whole_from: int  # the call cutoff: a day from then on was never purged in part


def parse_report(
    report: Report,
    params: Sequence[tuple[str, str]],
    *,
    account_id: int,
    now: int,
    call_cutoff: int,
) -> ReportRequest:
    """The request's parameters (in the order given) checked: `from` defaults to 7 days
    before now and `to` to the second after now, as times of /v1/calls; `app` is needed by
    the funnel; volume's `by` is hour or day (by default hour for a window shorter than 3
    days, else day)."""
    given = given_once(params, PARAMETERS[report])
    end = parse_when("to", given["to"], now) if "to" in given else now + 1
    start = parse_when("from", given["from"], now) if "from" in given else now - DEFAULT_WINDOW
    if start >= end:
        raise BadRequest(f"Invalid from {given.get('from', str(start))!r}: must be before to.")
    app = given.get("app")
    if app is not None and not 1 <= len(app) <= MAX_NAME:
        raise BadRequest(f"Invalid app: must be 1 to {MAX_NAME} characters.")
    if report == "funnel" and app is None:
        raise BadRequest("Missing app: the funnel is of one application (app=NAME).")
    first, last = report_window(start, end, call_cutoff)
    by_name = given.get("by")
    if by_name is not None and by_name not in BY:
        raise BadRequest(f"Invalid by {by_name!r}: must be hour or day.")
    by = BY[by_name] if by_name is not None else HOUR if end - start < HOURLY_BELOW else DAY
    return ReportRequest(account_id, app, first, last, by, call_cutoff)


def _head(request: ReportRequest) -> dict[str, Any]:
    return {"app": request.app, "from": request.start, "to": request.end}


def volume_report(store: Store, request: ReportRequest) -> dict[str, Any]:
    """Calls by hour or day (UTC) and type: every bucket of the window, 0 when none."""
    wanted = pieces(request.start, request.end, request.whole_from)
    if request.by == HOUR:
        wanted = [Piece(HOUR, request.start, request.end)] if request.start < request.end else []
    rows = store.report_rows(request.account_id, "volume", request.app, wanted, by=request.by)
    buckets = [
        {"at": b.at, "calls": b.calls, **dict(zip(CALL_TYPES, b.by_type, strict=True))}
        for b in volume(rows, request.start, request.end, request.by)
    ]
    by = "hour" if request.by == HOUR else "day"
    return {**_head(request), "by": by, "buckets": buckets}


def durations_report(store: Store, request: ReportRequest) -> dict[str, Any]:
    """The calls' durations on the scale of core/reports.SCALE: a bucket each, with
    `max_seconds` the last second it holds (None for the last)."""
    wanted = pieces(request.start, request.end, request.whole_from)
    rows = store.report_rows(request.account_id, "durations", request.app, wanted, by=None)
    found = durations(rows)
    buckets = [
        {
            "min_seconds": low,
            "max_seconds": SCALE[i + 1] - 1 if i + 1 < len(SCALE) else None,
            "calls": found.bins[i],
        }
        for i, low in enumerate(SCALE)
    ]
    return {
        **_head(request),
        "calls": found.calls,
        "median_seconds": found.median_seconds,
        "buckets": buckets,
    }


def funnel_report(store: Store, request: ReportRequest) -> dict[str, Any]:
    """The application's modules in flow order, each with the calls that reached it,
    ended there, had an error there, and the median seconds spent in it."""
    wanted = pieces(request.start, request.end, request.whole_from)
    rows = store.report_rows(request.account_id, "modules", request.app, wanted, by=None)
    modules = [m._asdict() for m in funnel(rows)]
    return {**_head(request), "modules": modules}
