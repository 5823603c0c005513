"""The webhook service: what `ivrlog webhooks ...` and /v1/webhooks do, once
(docs/webhooks.md). Each function takes the store, the account and the time (UNIX
milliseconds); EndpointNotFound / DeliveryNotFound / BadRequest say what is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ivrlog.core.errors import BadRequest
from ivrlog.core.ports import WebhookStore
from ivrlog.core.webhooks import (
    COMPLETED,
    HOUR_MS,
    DeliveryNotFound,
    DeliveryRecord,
    Endpoint,
    EndpointNotFound,
    Resolve,
    check_url,
    new_secret,
    parse_events,
)

# how long the secret a rotation replaces still signs (beside the new one), by default
ROTATION_GRACE_MS = 24 * HOUR_MS
MAX_ROTATION_GRACE_HOURS = 720
# every endpoint adds to each ingest transaction's outbox statement
MAX_ENDPOINTS = 20
# calls one range replay queues at most (one write transaction)
MAX_REPLAY = 100_000
LOG_PAGE = 50
MAX_LOG_PAGE = 1000


@dataclass(frozen=True, slots=True)
class WithSecret:
    """An endpoint with its secret, shown this once."""

    endpoint: Endpoint
    secret: str


def add_endpoint(
    store: WebhookStore,
    account_id: int,
    url: str,
    events: Iterable[str],
    *,
    entries: bool,
    allow_private: bool,
    resolve: Resolve,
    now: int,
) -> WithSecret:
    wanted = parse_events(events)  # before the URL's check, which may ask the DNS
    checked = check_url(url, allow_private=allow_private, resolve=resolve)
    if len(store.endpoints(account_id)) >= MAX_ENDPOINTS:
        raise BadRequest(
            f"An account has at most {MAX_ENDPOINTS} webhook endpoints: remove one first."
        )
    secret = new_secret()
    return WithSecret(store.add_endpoint(account_id, checked, wanted, entries, secret, now), secret)


def endpoint(store: WebhookStore, account_id: int, endpoint_id: int) -> Endpoint:
    found = store.endpoint(account_id, endpoint_id)
    if found is None:
        raise EndpointNotFound
    return found


def set_enabled(store: WebhookStore, account_id: int, endpoint_id: int, enabled: bool) -> Endpoint:
    reason = None if enabled else "disabled by the account"
    changed = store.set_endpoint_enabled(account_id, endpoint_id, enabled, reason)
    if changed is None:
        raise EndpointNotFound
    return changed


def rotate(
    store: WebhookStore, account_id: int, endpoint_id: int, *, grace_ms: int, now: int
) -> WithSecret:
    """A new secret; the old one still signs, beside it, for `grace_ms` (0: not at
    all), so that receivers can move to the new one without dropping a delivery."""
    if not 0 <= grace_ms <= MAX_ROTATION_GRACE_HOURS * HOUR_MS:
        raise BadRequest(f"grace: must be from 0 to {MAX_ROTATION_GRACE_HOURS} hours.")
    secret = new_secret()
    changed = store.rotate_endpoint_secret(account_id, endpoint_id, secret, now + grace_ms)
    if changed is None:
        raise EndpointNotFound
    return WithSecret(changed, secret)


def remove(store: WebhookStore, account_id: int, endpoint_id: int) -> None:
    if not store.remove_endpoint(account_id, endpoint_id):
        raise EndpointNotFound


def delivery_log(
    store: WebhookStore,
    account_id: int,
    endpoint_id: int | None,
    *,
    failed: bool,
    before: int | None,
    limit: int = LOG_PAGE,
) -> list[DeliveryRecord]:
    if not 1 <= limit <= MAX_LOG_PAGE:
        raise BadRequest(f"limit: must be from 1 to {MAX_LOG_PAGE}.")
    if endpoint_id is not None:
        endpoint(store, account_id, endpoint_id)
    return store.deliveries(account_id, endpoint_id, failed=failed, before=before, limit=limit)


def replay_delivery(
    store: WebhookStore,
    account_id: int,
    delivery_id: int,
    now: int,
    endpoint_id: int | None = None,
) -> None:
    """Send a delivery again (same `webhook-id`), one of the endpoint's when
    `endpoint_id` is given (EndpointNotFound when the account has no such endpoint);
    refused while an attempt of it is in flight (DeliveryNotFound names both)."""
    if endpoint_id is not None:
        endpoint(store, account_id, endpoint_id)
    if not store.replay_delivery(account_id, delivery_id, now, endpoint_id):
        raise DeliveryNotFound(
            "No webhook delivery with this id, or an attempt of it is in flight now."
        )


def replay_calls(
    store: WebhookStore, account_id: int, endpoint_id: int, start: int, end: int, now: int
) -> int:
    """A new call.completed delivery to the endpoint for each stored call that started
    in [start, end) (UNIX seconds), the oldest MAX_REPLAY of them at most; how many."""
    if start >= end:
        raise BadRequest("from: must be before to.")
    if COMPLETED not in endpoint(store, account_id, endpoint_id).events:
        raise BadRequest(f"The endpoint does not take {COMPLETED} events: nothing to replay.")
    return store.replay_calls(account_id, endpoint_id, start, end, now, MAX_REPLAY)
