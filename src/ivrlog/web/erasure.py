"""Erasure over HTTP: `DELETE /v1/calls/{session_id}` and `POST /v1/erasures`, with the
account's ingest token (the write credential). A developer key only reads: a request
carrying a valid one is refused with 403, any other credential with 401. Both answer
`{"erased": count}` (core/erasure.py does the work).

The number to erase travels in the POST body, which no log prints; no error message
quotes it either.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ivrlog.core.erasure import NUMBER_RULE, erase_call, erase_number, parse_erasure
from ivrlog.core.errors import IngestUnauthorized, IvrlogError, PayloadTooLarge, Unauthorized
from ivrlog.core.limits import MAX_ERASURE_BODY_BYTES, MAX_NUMBER, MAX_TIME
from ivrlog.core.model import Account
from ivrlog.core.when import ALLOWED
from ivrlog.render import JSON
from ivrlog.web.bodies import read_body
from ivrlog.web.context import context
from ivrlog.web.documents import parse_update
from ivrlog.web.paths import check_utf8_path
from ivrlog.web.schemas import NO_NUL, SESSION_ID_RULE, SESSION_ID_SCHEMA, error_doc
from ivrlog.web.throttled import THROTTLED_DOC

router = APIRouter(tags=["Erasure"])
PATHS: Final = ("/v1/calls/{session_id}", "/v1/erasures")

READ_ONLY: Final = (
    "A developer key only reads: erasure needs the account's ingest token (Authorization: Bearer)."
)
TOO_LARGE: Final = f"An erasure body is at most {MAX_ERASURE_BODY_BYTES} bytes."


class ReadOnlyCredential(IvrlogError):
    """Valid read credentials where erasure needs the write credential."""

    status = 403
    message = READ_ONLY


def eraser(request: Request) -> Account:
    """The account of the request's ingest token (as ingestion takes it: same 401, same
    throttling of failures); ReadOnlyCredential (403) for a valid developer key, and
    IngestUnauthorized (401) for wrong Basic credentials (counted as failures too)."""
    ctx = context(request)
    scheme = (request.headers.get("authorization") or "").partition(" ")[0]
    if scheme.lower() == "basic":
        try:
            ctx.reader(request)
        except Unauthorized:
            raise IngestUnauthorized() from None
        raise ReadOnlyCredential()
    return ctx.writer(request)


def _erased(count: int) -> Response:
    return Response(JSON.document({"erased": count}), media_type=JSON.MEDIA_TYPE)


_ERASED_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "erased": {
            "type": "integer",
            "minimum": 0,
            "description": "Calls erased, completed and in progress.",
        }
    },
    "required": ["erased"],
    "additionalProperties": False,
}
_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: error_doc(
        "No, wrong or non-ingest credentials, or an inactive account.",
        "Ingest token invalid or the account is inactive.",
    ),
    403: error_doc("A valid developer key: it only reads.", READ_ONLY),
    429: THROTTLED_DOC,
    500: error_doc("An unexpected failure; nothing was erased.", "Database error."),
}
_INGEST_TOKEN: Final[list[dict[str, list[str]]]] = [{"ingestToken": []}]


def _ok(description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {"application/json": {"schema": _ERASED_SCHEMA, "example": {"erased": 1}}},
        }
    }


_SESSION_ID = Annotated[
    str,
    Path(
        description="The call's session id, raw `;` or percent-encoded (`%3B`): " + SESSION_ID_RULE,
        json_schema_extra=SESSION_ID_SCHEMA,  # documented only: another id is not found
    ),
]


@router.delete(
    "/v1/calls/{session_id}",
    summary="Erase a call",
    description=(
        "Deletes the call of this session id, completed or in progress, with its detail "
        "and search words, for good; it leaves an `erased` change in `/v1/changes` and an "
        "audit row (when, how many, a keyed hash of the session id). Needs the account's "
        "ingest token: a developer key only reads (403)."
    ),
    responses={
        **_ok(
            "The call was erased (`erased` is 1, or 2 when the session id was both a "
            "completed call and a call in progress)."
        ),
        400: error_doc(
            "The session id's percent-escapes are not valid UTF-8.",
            "Invalid session_id: its percent-escapes are not valid UTF-8; send the session id "
            "as UTF-8, each byte that is not a safe ASCII character percent-encoded.",
        ),
        404: error_doc(
            "The account has no call, and no call in progress, of this session id.",
            "No call or call in progress with that session id.",
        ),
        **_ERRORS,
    },
    openapi_extra={"security": _INGEST_TOKEN},
    response_class=Response,
)
async def delete_call(request: Request, session_id: _SESSION_ID) -> Response:
    account = eraser(request)
    check_utf8_path(request)
    ctx = context(request)
    now = int(ctx.clock())
    return _erased(await run_in_threadpool(erase_call, ctx.store, account.id, session_id, now))


_ERASURE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "number": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NUMBER,
            "pattern": NO_NUL,
            "description": "Every call whose src or dest is exactly this number.",
        },
        "before": {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_TIME},
                {"type": "string", "minLength": 1},
                {"type": "null"},
            ],
            "description": f"Only calls that started before this time: {ALLOWED}. "
            "Absent or null: every call of the number.",
        },
    },
    "required": ["number"],
    "additionalProperties": False,
}


def _erase_number(request: Request, body: bytes, account_id: int) -> int:
    ctx = context(request)
    now = int(ctx.clock())
    erasure = parse_erasure(parse_update(body, request.headers.get("content-type", "")), now)
    return erase_number(ctx.store, account_id, str(erasure.number), erasure.before, now)


@router.post(
    "/v1/erasures",
    summary="Erase every call of a number",
    description=(
        "Deletes every call of the account to or from `number` (its src or dest, exactly), "
        "completed or in progress, that started before `before` when given, with its "
        "detail and search words, for good; each leaves an `erased` change in "
        "`/v1/changes`, and the erasure an audit row (when, how many, a keyed hash of the "
        "selector, never the number). `erased` may be 0. Needs the account's ingest "
        f"token: a developer key only reads (403). A body holds at most "
        f"{MAX_ERASURE_BODY_BYTES} bytes."
    ),
    responses={
        **_ok("The calls were erased (0 when none matched)."),
        400: error_doc(
            "The body is not a JSON object of `number` and `before`, or a value is bad.",
            f"Invalid number: must be {NUMBER_RULE} (the src or dest to erase).",
        ),
        413: error_doc("The body is too large.", TOO_LARGE),
        415: error_doc(
            "A Content-Type other than JSON.", "Content-Type 'text/plain' is not accepted."
        ),
        **_ERRORS,
    },
    openapi_extra={
        "security": _INGEST_TOKEN,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ERASURE_SCHEMA}},
        },
    },
    response_class=Response,
)
async def post_erasure(request: Request) -> Response:
    account = eraser(request)
    try:
        body = await read_body(request, MAX_ERASURE_BODY_BYTES)
    except PayloadTooLarge:
        raise PayloadTooLarge(TOO_LARGE) from None
    return _erased(await run_in_threadpool(_erase_number, request, body, account.id))
