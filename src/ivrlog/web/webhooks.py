"""/v1/webhooks: an account's webhook endpoints, their delivery log and replay, with the
account's ingest token (the write credential; a developer key gets 403, as erasure's
does). Thin over core/webhook_endpoints.py, as `ivrlog webhooks` is (docs/webhooks.md).
A secret is in an answer twice only: when the endpoint is made and when it is rotated."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ivrlog.core import webhook_endpoints as service
from ivrlog.core.errors import BadRequest, PayloadTooLarge
from ivrlog.core.webhooks import EVENTS, now_ms
from ivrlog.core.when import ALLOWED, parse_when
from ivrlog.render import JSON
from ivrlog.render.webhooks import delivery_doc, endpoint_doc
from ivrlog.web import webhooks_doc as doc
from ivrlog.web.bodies import read_body
from ivrlog.web.context import context
from ivrlog.web.documents import parse_update
from ivrlog.web.erasure import READ_ONLY, eraser
from ivrlog.web.schemas import error_doc
from ivrlog.web.throttled import THROTTLED_DOC

router = APIRouter(tags=["Webhooks"])
MAX_BODY: Final = 8192
TOO_LARGE: Final = f"A webhooks body is at most {MAX_BODY} bytes."
_INGEST_TOKEN: Final[list[dict[str, list[str]]]] = [{"ingestToken": []}]
_ID = Annotated[int, Path(ge=1, le=2**62, description="The endpoint's id.")]


def _json(content: dict[str, Any] | list[Any], status: int = 200) -> Response:
    return Response(JSON.document(content), status_code=status, media_type=JSON.MEDIA_TYPE)


def _ok(description: str, schema: dict[str, Any], status: int = 200) -> dict[int | str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: error_doc(
        "No, wrong or non-ingest credentials, or an inactive account.",
        "Ingest token invalid or the account is inactive.",
    ),
    403: error_doc("A valid developer key: it only reads.", READ_ONLY),
    429: THROTTLED_DOC,
}
_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    400: error_doc("The id is not a whole number from 1.", "Invalid endpoint_id."),
    404: error_doc("The account has no endpoint of this id.", "No webhook endpoint with this id."),
}
_BODY_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: error_doc(
        "The body is not a JSON object of the fields documented, or a value is refused.",
        "url: must start with https:// (http:// only with the setting webhook_allow_private).",
    ),
    413: error_doc("The body is too large.", TOO_LARGE),
    415: error_doc("A Content-Type other than JSON.", "Content-Type 'text/plain' is not accepted."),
}


async def _body(request: Request, allowed: set[str], *, optional: bool = False) -> dict[str, Any]:
    """The body's JSON object of `allowed` fields; an empty body is `{}` when `optional`."""
    try:
        raw = await read_body(request, MAX_BODY)
    except PayloadTooLarge:
        raise PayloadTooLarge(TOO_LARGE) from None
    if optional and not raw.strip():
        return {}
    document = parse_update(raw, request.headers.get("content-type", ""))
    if not isinstance(document, dict):
        raise BadRequest("The body must be a JSON object.")
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise BadRequest(
            f"Unknown field {unknown[0]!r}: the body takes {', '.join(sorted(allowed))}."
        )
    return document


def _flag(document: dict[str, Any], name: str, default: bool) -> bool:
    value = document.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{name}: must be true or false.")
    return value


@router.get(
    "/v1/webhooks",
    summary="List webhook endpoints",
    description="The account's endpoints, oldest first; never their secrets.",
    responses={
        **_ok(
            "The endpoints.",
            {
                "type": "object",
                "properties": {"endpoints": {"type": "array", "items": doc.ENDPOINT_SCHEMA}},
                "required": ["endpoints"],
            },
        ),
        **_ERRORS,
    },
    openapi_extra={"security": _INGEST_TOKEN},
    response_class=Response,
)
async def list_endpoints(request: Request) -> Response:
    account = eraser(request)
    found = await run_in_threadpool(context(request).webhooks().endpoints, account.id)
    return _json({"endpoints": [endpoint_doc(e) for e in found]})


@router.post(
    "/v1/webhooks",
    summary="Add a webhook endpoint",
    description="Registers a URL for the account's `call.completed` and/or `call.erased` "
    "events. The answer holds the endpoint's signing secret (`whsec_...`), shown this once.",
    status_code=201,
    responses={
        **_ok("The endpoint, with its secret.", doc.WITH_SECRET, 201),
        **_BODY_ERRORS,
        **_ERRORS,
    },
    openapi_extra={
        "security": _INGEST_TOKEN,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": doc.ADD_SCHEMA}},
        },
    },
    response_class=Response,
)
async def add_endpoint(request: Request) -> Response:
    account = eraser(request)
    document = await _body(request, {"url", "events", "entries"})
    url, events = document.get("url"), document.get("events", list(EVENTS))
    if not isinstance(url, str):
        raise BadRequest("url: must be a string, https://...")
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise BadRequest(f"events: must be an array of {', '.join(EVENTS)}.")
    entries = _flag(document, "entries", False)
    ctx = context(request)
    made = await run_in_threadpool(
        lambda: service.add_endpoint(
            ctx.webhooks(),
            account.id,
            url,
            events,
            entries=entries,
            allow_private=ctx.settings.webhook_allow_private,
            resolve=ctx.resolve,
            now=now_ms(),
        )
    )
    return _json({**endpoint_doc(made.endpoint), "secret": made.secret}, 201)


@router.get(
    "/v1/webhooks/{endpoint_id}",
    summary="Show a webhook endpoint",
    responses={**_ok("The endpoint.", doc.ENDPOINT_SCHEMA), **_NOT_FOUND, **_ERRORS},
    openapi_extra={"security": _INGEST_TOKEN},
    response_class=Response,
)
async def show_endpoint(request: Request, endpoint_id: _ID) -> Response:
    account = eraser(request)
    store = context(request).webhooks()
    found = await run_in_threadpool(service.endpoint, store, account.id, endpoint_id)
    return _json(endpoint_doc(found))


@router.patch(
    "/v1/webhooks/{endpoint_id}",
    summary="Enable or disable a webhook endpoint",
    description='`{"enabled": false}` stops sending (no delivery is queued for it '
    "meanwhile); `true` sends again, its waiting deliveries first.",
    responses={
        **_ok("The endpoint.", doc.ENDPOINT_SCHEMA),
        **_BODY_ERRORS,
        **_NOT_FOUND,
        **_ERRORS,
    },
    openapi_extra={
        "security": _INGEST_TOKEN,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": doc.PATCH_SCHEMA}},
        },
    },
    response_class=Response,
)
async def change_endpoint(request: Request, endpoint_id: _ID) -> Response:
    account = eraser(request)
    document = await _body(request, {"enabled"})
    if "enabled" not in document:
        raise BadRequest("enabled: must be given, true or false.")
    enabled = _flag(document, "enabled", True)
    store = context(request).webhooks()
    changed = await run_in_threadpool(service.set_enabled, store, account.id, endpoint_id, enabled)
    return _json(endpoint_doc(changed))


@router.post(
    "/v1/webhooks/{endpoint_id}/rotate",
    summary="Rotate a webhook endpoint's secret",
    description="A new secret, shown this once; the old one adds a second signature for "
    "`grace_hours` (default 24), so that receivers can move without dropping a delivery.",
    responses={
        **_ok("The endpoint, with its new secret.", doc.WITH_SECRET),
        **_BODY_ERRORS,
        **_NOT_FOUND,
        **_ERRORS,
    },
    openapi_extra={
        "security": _INGEST_TOKEN,
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": doc.ROTATE_SCHEMA}},
        },
    },
    response_class=Response,
)
async def rotate_secret(request: Request, endpoint_id: _ID) -> Response:
    account = eraser(request)
    document = await _body(request, {"grace_hours"}, optional=True)
    grace = document.get("grace_hours", 24)
    if isinstance(grace, bool) or not isinstance(grace, int):
        raise BadRequest(
            f"grace_hours: must be a whole number from 0 to {service.MAX_ROTATION_GRACE_HOURS}."
        )
    store = context(request).webhooks()
    made = await run_in_threadpool(
        lambda: service.rotate(
            store, account.id, endpoint_id, grace_ms=grace * 3_600_000, now=now_ms()
        )
    )
    return _json({**endpoint_doc(made.endpoint), "secret": made.secret})


@router.delete(
    "/v1/webhooks/{endpoint_id}",
    summary="Remove a webhook endpoint",
    description="Deletes the endpoint with its waiting deliveries and its log.",
    responses={
        **_ok(
            "The endpoint is gone.",
            {
                "type": "object",
                "properties": {"removed": {"type": "integer"}},
                "required": ["removed"],
            },
        ),
        **_NOT_FOUND,
        **_ERRORS,
    },
    openapi_extra={"security": _INGEST_TOKEN},
    response_class=Response,
)
async def remove_endpoint(request: Request, endpoint_id: _ID) -> Response:
    account = eraser(request)
    store = context(request).webhooks()
    await run_in_threadpool(service.remove, store, account.id, endpoint_id)
    return _json({"removed": endpoint_id})


@router.get(
    "/v1/webhooks/{endpoint_id}/deliveries",
    summary="An endpoint's delivery log",
    description="Its deliveries, newest first, each with every attempt (time, status, "
    "latency, error); `next` is the next page's URL, or null.",
    responses={
        **_ok(
            "A page of deliveries.",
            {
                "type": "object",
                "properties": {
                    "deliveries": {"type": "array", "items": doc.DELIVERY_SCHEMA},
                    "next": {"type": ["string", "null"]},
                },
                "required": ["deliveries", "next"],
            },
        ),
        **_NOT_FOUND,
        400: error_doc("A parameter is refused.", "limit: must be from 1 to 1000."),
        **_ERRORS,
    },
    openapi_extra={"security": _INGEST_TOKEN},
    response_class=Response,
)
async def deliveries(
    request: Request,
    endpoint_id: _ID,
    failed: Annotated[
        bool, Query(description="Only deliveries with a failed attempt, or that gave up.")
    ] = False,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="Only deliveries with a smaller id.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=service.MAX_LOG_PAGE, description="Deliveries in a page.")
    ] = service.LOG_PAGE,
) -> Response:
    account = eraser(request)
    store = context(request).webhooks()
    records = await run_in_threadpool(
        lambda: service.delivery_log(
            store, account.id, endpoint_id, failed=failed, before=before, limit=limit
        )
    )
    next_url = None
    if len(records) == limit:
        query = f"limit={limit}&before={records[-1].id}" + ("&failed=true" if failed else "")
        next_url = f"{request.url.path}?{query}"
    return _json({"deliveries": [delivery_doc(r) for r in records], "next": next_url})


@router.post(
    "/v1/webhooks/{endpoint_id}/replay",
    summary="Replay webhook deliveries",
    description='`{"delivery": id}` sends that delivery again, with its webhook-id; '
    '`{"from": ..., "to": ...}` queues a new `call.completed` delivery to the endpoint '
    "of every stored call that started in the range. `queued` says how many.",
    responses={
        **_ok(
            "Queued.",
            {
                "type": "object",
                "properties": {"queued": {"type": "integer", "minimum": 0}},
                "required": ["queued"],
            },
        ),
        **_BODY_ERRORS,
        404: error_doc(
            "No such endpoint, or no such delivery of it (or an attempt of it is in flight).",
            "No webhook endpoint with this id.",
        ),
        **_ERRORS,
    },
    openapi_extra={
        "security": _INGEST_TOKEN,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": doc.REPLAY_SCHEMA}},
        },
    },
    response_class=Response,
)
async def replay(request: Request, endpoint_id: _ID) -> Response:
    account = eraser(request)
    document = await _body(request, {"delivery", "from", "to"})
    store = context(request).webhooks()
    now = now_ms()
    delivery = document.get("delivery")
    if delivery is not None:
        if "from" in document or "to" in document:
            raise BadRequest("Give either delivery, or from (and to).")
        if (
            isinstance(delivery, bool)
            or not isinstance(delivery, int)
            or not 1 <= delivery <= 2**62
        ):
            raise BadRequest("delivery: must be a delivery's id.")
        await run_in_threadpool(
            service.replay_delivery, store, account.id, delivery, now, endpoint_id
        )
        return _json({"queued": 1})
    if "from" not in document:
        raise BadRequest("Give either delivery, or from (and to).")
    start = _moment("from", document["from"], now)
    end = _moment("to", document["to"], now) if "to" in document else now // 1000 + 1
    count = await run_in_threadpool(
        service.replay_calls, store, account.id, endpoint_id, start, end, now
    )
    return _json({"queued": count})


def _moment(name: str, value: Any, now: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"Invalid {name}: must be {ALLOWED}.")
    return parse_when(name, str(value), now // 1000)
