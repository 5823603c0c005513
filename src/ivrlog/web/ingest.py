"""ivrlog's own write API under /ingest/v1/, authenticated by a Bearer ingest token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ivrlog.core.idempotency import (
    KEY_HEADER,
    KEY_LIFETIME,
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    idempotent_request,
)
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.limits import MAX_BODY_BYTES, MAX_BODY_VALUES, MAX_CALLS, MAX_ENTRIES
from ivrlog.core.live import LiveResult, append_entries
from ivrlog.render import JSON
from ivrlog.web.bodies import TOO_LARGE, received_body
from ivrlog.web.context import context
from ivrlog.web.documents import parse_batch, parse_update
from ivrlog.web.paths import check_utf8_path
from ivrlog.web.schemas import (
    SESSION_ID_RULE,
    SESSION_ID_SCHEMA,
    Accepted,
    IngestCall,
    IngestErrors,
    LiveAccepted,
    LiveUpdate,
    error_doc,
)
from ivrlog.web.throttled import THROTTLED_DOC

router = APIRouter(tags=["Ingestion"])


def _ingest(request: Request, body: bytes, account_id: int) -> int:
    ctx = context(request)
    with ctx.bulk_turn:
        calls = parse_batch(body, request.headers.get("content-type", ""))
        accepted = ingest_calls(
            ctx.store,
            account_id,
            calls,
            ctx.redactors.for_account(account_id),
            cutoffs=(ctx.cutoff(), ctx.call_cutoff()),
        )
    ctx.metrics.ingested("bulk", sum(len(call.get("detail") or ()) for call in calls), accepted)
    return accepted


def _append(request: Request, body: bytes, account_id: int, session_id: str) -> LiveResult:
    update = parse_update(body, request.headers.get("content-type", ""))
    ctx = context(request)
    # several Idempotency-Key fields are one comma-separated value, as HTTP reads them
    keys = request.headers.getlist(KEY_HEADER)
    result = append_entries(
        ctx.store,
        account_id,
        session_id,
        update,
        now=int(ctx.clock()),
        redactor=ctx.redactors.for_account(account_id),
        idempotent=idempotent_request(", ".join(keys) if keys else None, body),
        detail_cutoff=ctx.cutoff(),
    )
    if not result.replayed:  # a retry answered from its Idempotency-Key stored nothing
        ctx.metrics.ingested("live", result.appended)
    return result


BUSY_DOC = error_doc(
    "The server holds as many ingest bodies as ingest_buffer_mib allows, and the request "
    "waited body_timeout for its turn; Retry-After says when to try again. Nothing stored.",
    "The server is reading as many ingest bodies as it may (ingest_buffer_mib); retry "
    "after 30 seconds.",
)
_CALL_SCHEMA: dict[str, Any] = {"$ref": "#/components/schemas/IngestCall"}
_SESSION_ID = Annotated[
    str,
    Path(
        description=f"The call's session id: {SESSION_ID_RULE}",
        json_schema_extra=SESSION_ID_SCHEMA,  # documented only: core/live.py checks it (422)
    ),
]
_KEY_PARAMETER: dict[str, Any] = {
    "name": KEY_HEADER,
    "in": "header",
    "required": False,
    "description": "Makes the update idempotent: a retry with the same key and body is "
    "answered as the first was and stores nothing; another body with the key is 422.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": KEY_PATTERN,
    },
}


@router.post(
    "/ingest/v1/calls",
    summary="Ingest completed calls in bulk",
    description=(
        "A JSON array of call objects, or NDJSON (`Content-Type: application/x-ndjson`, one "
        "call a line). All or nothing: if any call is invalid nothing is stored and the "
        "answer (422) names the index and path of every problem. A call whose session id the "
        "account already has is replaced, so a batch may be retried safely. Once the answer "
        "is 200 the calls are on disk. Limits: "
        f"{MAX_CALLS} calls a request, {MAX_ENTRIES} entries a call, "
        f"{MAX_BODY_BYTES // (1024 * 1024)} MiB and {MAX_BODY_VALUES:,} JSON values a body "
        "(413 beyond)."
    ),
    responses={
        200: {"model": Accepted, "description": "Every call was stored."},
        400: error_doc(
            "The body is not JSON / NDJSON, or not an array.",
            "The body is not valid JSON: unexpected character.",
        ),
        401: error_doc(
            "No, wrong or non-ingest credentials, or an inactive account.",
            "Ingest token invalid or the account is inactive.",
        ),
        413: error_doc("Over a limit.", TOO_LARGE),
        429: THROTTLED_DOC,
        503: BUSY_DOC,
        415: error_doc(
            "A Content-Type other than JSON or NDJSON.",
            "Content-Type 'text/plain' is not accepted.",
        ),
        422: {"model": IngestErrors, "description": "Some calls are invalid; nothing was stored."},
        500: error_doc("An unexpected failure; nothing was stored.", "Database error."),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": _CALL_SCHEMA, "maxItems": MAX_CALLS}
                },
                "application/x-ndjson": {"schema": _CALL_SCHEMA},
            },
        }
    },
    response_class=Response,
)
async def post_calls(request: Request) -> Response:
    account = context(request).writer(request)
    async with received_body(request) as body:
        accepted = await run_in_threadpool(_ingest, request, body, account.id)
    return Response(JSON.document({"accepted": accepted}), media_type=JSON.MEDIA_TYPE)


_UPDATE_SCHEMA: dict[str, Any] = {"$ref": "#/components/schemas/LiveUpdate"}


@router.post(
    "/ingest/v1/calls/{session_id}/entries",
    summary="Append entries to a call as it happens",
    description=(
        "Creates the call on its first update (`src`, `dest` and `type` needed then; its "
        "`start` is the earliest entry's timestamp unless given), adds `entries`, and "
        "completes the call when `end` is given. Entries are kept in timestamp order (ties in "
        "arrival order): a late one is placed by its timestamp and counted in `out_of_order`. "
        "A call in progress can be read with `GET /api/call/{session_id}` but is not listed "
        "until complete; one with no new entry for `open_call_timeout` is completed by the "
        "server with `end` = its latest entry's timestamp. Updates to one call are applied "
        "one at a time, each whole or not at all. Entries are redacted like bulk ones. 409 "
        "when the call is already complete; nothing is stored then. "
        f"With an `{KEY_HEADER}` header an update is idempotent: an update of the same "
        "call with the same key is answered as the first was (even when that one completed "
        "the call) and stores nothing; the same key with another body is refused (422). "
        f"Without the header, a retried update appends its entries again. Keys are kept "
        f"{KEY_LIFETIME // 3600} hours at least."
    ),
    responses={
        200: {"model": LiveAccepted, "description": "The update was stored."},
        400: error_doc(
            f"The body is not a JSON object, the {KEY_HEADER} is malformed, or the session "
            "id's percent-escapes are not valid UTF-8.",
            "The body is not valid JSON.",
        ),
        401: error_doc(
            "No, wrong or non-ingest credentials, or an inactive account.",
            "Ingest token invalid or the account is inactive.",
        ),
        409: error_doc(
            "The call is complete (ingested in bulk, or completed live).",
            "The call '100035;000;1575898377' is complete: no entries can be added to it.",
        ),
        413: error_doc("Over a limit.", f"An update holds at most {MAX_ENTRIES} entries."),
        429: THROTTLED_DOC,
        503: BUSY_DOC,
        415: error_doc(
            "A Content-Type other than JSON.", "Content-Type 'text/plain' is not accepted."
        ),
        422: {
            "model": IngestErrors,
            "description": f"The update is invalid, or its {KEY_HEADER} was used for another "
            "update of the call; nothing was stored.",
        },
        500: error_doc("An unexpected failure; nothing was stored.", "Database error."),
    },
    openapi_extra={
        "parameters": [_KEY_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _UPDATE_SCHEMA}},
        },
    },
    response_class=Response,
)
async def post_entries(request: Request, session_id: _SESSION_ID) -> Response:
    account = context(request).writer(request)
    check_utf8_path(request)
    async with received_body(request) as body:
        result = await run_in_threadpool(_append, request, body, account.id, session_id)
    return Response(JSON.document(result.as_dict()), media_type=JSON.MEDIA_TYPE)


# Registered so that the OpenAPI document carries the schemas the bodies refer to.
DOC_MODELS = (IngestCall, LiveUpdate)
