"""System endpoints under /-/, answered without authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ivrlog.core.errors import IvrlogError
from ivrlog.render import JSON
from ivrlog.web.context import context
from ivrlog.web.schemas import error_doc

router = APIRouter(tags=["System"])


class DatabaseUnavailable(IvrlogError):
    status = 503
    message = "The database does not answer."


@router.get(
    "/-/health",
    summary="Health check",
    description='200 `{"status": "ok"}` when the database answers; no authentication.',
    responses={
        200: {
            "description": "The database answers.",
            "content": {"application/json": {"example": {"status": "ok"}}},
        },
        503: error_doc("The database does not answer.", DatabaseUnavailable.message),
    },
    response_class=Response,
)
def health(request: Request) -> Response:
    try:
        context(request).store.ping()
    except Exception as exc:
        raise DatabaseUnavailable from exc
    return Response(JSON.document({"status": "ok"}), media_type=JSON.MEDIA_TYPE)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/docs")
