"""The web pages' common ground: the templates (Jinja2, server-rendered), the static
files (ivrlog's own and the pinned vendor files, never a CDN), the signed-in account of
a request, and sign-in and sign-out. The pages themselves: web/call_pages.py (/calls,
/calls/{session_id}) and web/report_pages.py (/reports). docs/web.md shows them.

Every page reads through the same core functions as the API (the account's own calls
only), and takes exactly the API's parameter names in its URL."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ivrlog.core.errors import TooManyRequests, Unauthorized
from ivrlog.core.model import Account
from ivrlog.web.context import context
from ivrlog.web.session import CSRF_FIELD, Sessions

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
# the first page after sign-in, and where a request for a page without a session goes
HOME: Final = "/calls"
PRESETS: Final = [
    ("-1h", "Last hour"),
    ("-24h", "Last 24 hours"),
    ("-7d", "Last 7 days"),
    ("-30d", "Last 30 days"),
    ("custom", "Custom"),
]


def _static_versions() -> dict[str, str]:
    """Each static file's URL with a digest of its content, so that a browser's cache
    never serves an old copy after an upgrade."""
    return {
        str(path.relative_to(STATIC)): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC.rglob("*")
        if path.is_file()
    }


_VERSIONS = _static_versions()


def static(path: str) -> str:
    return f"/static/{path}?v={_VERSIONS.get(path, '0')}"


templates.env.globals["static"] = static


def duration_text(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def sessions(request: Request) -> Sessions:
    found: Sessions = request.app.state.sessions
    return found


def signed_in(request: Request) -> Account | None:
    """The account of the request's session cookie, if it still holds."""
    claim = sessions(request).claimed(request)
    if claim is None:
        return None
    account = context(request).auth.account(str(claim["e"]))
    return account if Sessions.holds(claim, account) else None


def to_sign_in(request: Request) -> RedirectResponse:
    """Where a page without a session sends the browser: sign-in, then back here."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/sign-in?" + urlencode({"next": here}), status_code=303)


def render(
    request: Request,
    name: str,
    values: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page from its template, with a CSRF token for its forms (and the cookie it
    needs, when the browser has none yet)."""
    cookies: dict[str, str] = {}
    token = sessions(request).csrf_token(request, cookies)
    response = templates.TemplateResponse(
        request, name, {**values, "csrf_token": token}, status_code=status, headers=headers
    )
    sessions(request).set_csrf_cookie(response, cookies)
    response.headers["Cache-Control"] = "no-store"
    return response


def _next_page(raw: str | None) -> str:
    """A `next` that stays on this site (a path, never `//host` or a URL)."""
    if raw and raw.startswith("/") and not raw.startswith(("//", "/\\")):
        return raw
    return HOME


def refused_form(request: Request) -> HTMLResponse:
    return render(
        request,
        "problem.html",
        {
            "title": "Form refused",
            "message": "This form was not sent from ivrlog's own page, or it has expired "
            "(its csrf_token is missing or wrong). Reload the page and send it again.",
        },
        status=403,
    )


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    if signed_in(request) is not None:
        return RedirectResponse(_next_page(request.query_params.get("next")), status_code=303)
    values = {"next": _next_page(request.query_params.get("next")), "email": "", "error": None}
    return render(request, "sign_in.html", values)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    email, key = str(form.get("email", "")).strip(), str(form.get("key", ""))
    following = _next_page(str(form.get("next", "")))
    if not sessions(request).csrf_holds(request, str(form.get(CSRF_FIELD, ""))):
        return refused_form(request)
    ctx = context(request)
    host = request.client.host if request.client else ""
    values = {"next": following, "email": email}
    try:
        ctx.throttle.check_address(host)
        try:
            account = await run_in_threadpool(ctx.auth.signed_in, email, key)
        except Unauthorized:
            ctx.metrics.auth_failures.labels("page").inc()
            ctx.throttle.failed(host, email or None)
            error = "The email or the key is wrong, or the account is disabled."
            return render(request, "sign_in.html", {**values, "error": error}, status=401)
    except TooManyRequests as exc:
        return render(
            request,
            "sign_in.html",
            {**values, "error": exc.message},
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    response = RedirectResponse(following, status_code=303)
    sessions(request).sign_in(response, account)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    form = await request.form()
    if not sessions(request).csrf_holds(request, str(form.get(CSRF_FIELD, ""))):
        return refused_form(request)
    response = RedirectResponse("/sign-in", status_code=303)
    sessions(request).sign_out(response)
    return response


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(HOME if signed_in(request) else "/sign-in", status_code=303)
