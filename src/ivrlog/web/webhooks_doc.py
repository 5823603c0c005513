"""The OpenAPI shapes of /v1/webhooks (web/webhooks.py): its bodies and answers."""

from __future__ import annotations

from typing import Any, Final

from ivrlog.core import webhook_endpoints as service
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.webhooks import EVENTS, MAX_URL
from ivrlog.core.when import ALLOWED

TIME: Final[dict[str, Any]] = {"type": "string", "format": "date-time"}
ENDPOINT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
        "entries": {"type": "boolean"},
        "enabled": {"type": "boolean"},
        "disabled_reason": {"type": ["string", "null"]},
        "failing_since": {"anyOf": [TIME, {"type": "null"}]},
        "created_at": TIME,
    },
    "required": [
        "id",
        "url",
        "events",
        "entries",
        "enabled",
        "disabled_reason",
        "failing_since",
        "created_at",
    ],
}
WITH_SECRET: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        **ENDPOINT_SCHEMA["properties"],
        "secret": {
            "type": "string",
            "pattern": "^whsec_",
            "description": "The signing secret, shown this once.",
        },
    },
    "required": [*ENDPOINT_SCHEMA["required"], "secret"],
}
DELIVERY_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "webhook_id": {"type": "string"},
        "endpoint_id": {"type": "integer"},
        "session_id": {"type": "string"},
        "event": {"type": "string", "enum": list(EVENTS)},
        "state": {"type": "string", "enum": ["waiting", "delivered", "failed", "gone"]},
        "created_at": TIME,
        "next_attempt_at": {"anyOf": [TIME, {"type": "null"}]},
        "attempts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": TIME,
                    "status": {"type": ["integer", "null"]},
                    "latency_ms": {"type": "integer"},
                    "error": {"type": ["string", "null"]},
                },
                "required": ["at", "status", "latency_ms", "error"],
            },
        },
    },
    "required": [
        "id",
        "webhook_id",
        "endpoint_id",
        "session_id",
        "event",
        "state",
        "created_at",
        "next_attempt_at",
        "attempts",
    ],
}
ADD_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "url": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_URL,
            "description": "https://...; http:// and private addresses only with the setting "
            "webhook_allow_private.",
        },
        "events": {
            "type": "array",
            "items": {"type": "string", "enum": list(EVENTS)},
            "minItems": 1,
            "description": "Default: both.",
        },
        "entries": {
            "type": "boolean",
            "description": "Put the call's redacted entries in call.completed payloads "
            "(default false).",
        },
    },
    "required": ["url"],
    "additionalProperties": False,
}
PATCH_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"enabled": {"type": "boolean"}},
    "required": ["enabled"],
    "additionalProperties": False,
}
ROTATE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "grace_hours": {
            "type": "integer",
            "minimum": 0,
            "maximum": service.MAX_ROTATION_GRACE_HOURS,
            "description": "Hours the old secret still signs beside the new one (default 24).",
        }
    },
    "additionalProperties": False,
}
REPLAY_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "delivery": {
            "type": "integer",
            "minimum": 1,
            "maximum": 2**62,
            "description": "Send this delivery of the endpoint again (same webhook-id).",
        },
        "from": {
            "anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_TIME}, {"type": "string"}],
            "description": f"Queue every stored call that started from this time: {ALLOWED}.",
        },
        "to": {
            "anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_TIME}, {"type": "string"}],
            "description": "... and before this time (default: now).",
        },
    },
    "additionalProperties": False,
}
