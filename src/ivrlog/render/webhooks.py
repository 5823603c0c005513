"""Webhook endpoints and deliveries as documents: /v1/webhooks and
`ivrlog webhooks ... --json` (docs/webhooks.md). Times are ISO 8601 in UTC with
milliseconds; a secret is never part of one (it is added, once, by `add` and `rotate`)."""

from __future__ import annotations

from typing import Any

from ivrlog.core.webhooks import DeliveryRecord, Endpoint, iso_ms, message_id


def _iso(ms: int | None) -> str | None:
    return None if ms is None else iso_ms(ms)


def endpoint_doc(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "entries": endpoint.entries,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": _iso(endpoint.failing_since),
        "created_at": iso_ms(endpoint.created_at),
    }


def delivery_doc(delivery: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook_id": message_id(delivery.id),
        "endpoint_id": delivery.endpoint_id,
        "session_id": delivery.session_id,
        "event": delivery.event,
        "state": delivery.state,
        "created_at": iso_ms(delivery.created_at),
        "next_attempt_at": _iso(delivery.next_at),
        "attempts": [
            {
                "at": iso_ms(a.at),
                "status": a.status,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in delivery.attempts
        ],
    }
