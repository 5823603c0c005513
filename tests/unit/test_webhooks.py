"""core/webhooks.py, the pure part of webhooks: secrets, events, which URLs and addresses
may receive a delivery, the backoff, what an attempt's answer makes of a delivery and its
endpoint, which due deliveries the dispatcher takes."""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import pytest
import standardwebhooks

from ivrlog.core.errors import BadRequest
from ivrlog.core.webhooks import (
    COMPLETED,
    ERASED,
    ERROR_LIMIT,
    EVENTS,
    HOUR_MS,
    MAX_BACKOFF_MS,
    SECRET_BYTES,
    SECRET_PREFIX,
    Claimed,
    Outcome,
    Policy,
    Sent,
    backoff_ms,
    decide,
    event_of,
    gone,
    iso_ms,
    new_secret,
    parse_events,
)

NOW = 1_795_000_000_000  # ms
POLICY = Policy()
ZERO = 0.0
ALMOST_ONE = math.nextafter(1.0, 0.0)  # the largest value random.random() can return


def no_jitter() -> float:
    return ZERO


def most_jitter() -> float:
    return ALMOST_ONE


def claimed(**changes: Any) -> Claimed:
    fields: dict[str, Any] = {
        "id": 7,
        "endpoint_id": 3,
        "account_id": 1,
        "url": "https://hooks.example.com/ivr",
        "secrets": ("whsec_c2VjcmV0",),
        "entries": False,
        "session_id": "s;0001",
        "event": COMPLETED,
        "created_at": NOW,
        "attempts": 0,
        "retry_from": NOW,
        "failing_since": None,
    }
    return Claimed(**{**fields, **changes})


# secrets


def test_a_new_secret_is_a_standard_webhooks_secret() -> None:
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :], validate=True)
    assert len(key) == SECRET_BYTES == 24
    assert new_secret() != secret


def test_a_new_secret_signs_and_verifies_with_the_standard_library() -> None:
    secret = new_secret()
    hook = standardwebhooks.Webhook(secret)
    body = '{"type":"call.completed"}'
    moment = dt.datetime.now(dt.UTC)
    signature = hook.sign("msg_1", moment, body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }
    assert standardwebhooks.Webhook(secret).verify(body, headers) == {"type": "call.completed"}
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(body, headers)


# events


def test_events_come_back_in_the_order_of_events() -> None:
    assert parse_events([ERASED, COMPLETED]) == EVENTS == (COMPLETED, ERASED)
    assert parse_events([ERASED]) == (ERASED,)
    assert parse_events([COMPLETED]) == (COMPLETED,)


def test_events_may_be_comma_separated_and_repeated() -> None:
    assert parse_events(["call.erased,call.completed"]) == (COMPLETED, ERASED)
    assert parse_events([" call.erased , call.erased", "call.erased"]) == (ERASED,)
    assert parse_events(iter(["call.completed", "call.completed,call.completed"])) == (COMPLETED,)


def test_an_unknown_event_is_named() -> None:
    with pytest.raises(BadRequest, match=r"'call\.started' is not one of") as caught:
        parse_events(["call.completed,call.started"])
    assert caught.value.status == 400
    assert "call.completed, call.erased" in caught.value.message


@pytest.mark.parametrize("events", [[], ()])
def test_no_event_is_refused(events: Sequence[str]) -> None:
    with pytest.raises(BadRequest, match=r"name at least one of call\.completed, call\.erased"):
        parse_events(events)


# backoff


def test_the_backoff_doubles_up_to_the_cap() -> None:
    waits = [backoff_ms(n, POLICY, no_jitter) for n in range(1, 12)]
    assert waits == [min(POLICY.backoff_ms * 2 ** (n - 1), MAX_BACKOFF_MS) for n in range(1, 12)]
    assert waits[:3] == [10_000, 20_000, 40_000]
    assert waits[-1] == MAX_BACKOFF_MS == HOUR_MS
    quick = Policy(backoff_ms=1000)
    assert [backoff_ms(n, quick, no_jitter) for n in (1, 2, 5)] == [1000, 2000, 16_000]


def test_the_jitter_takes_off_at_most_half() -> None:
    for n in range(1, 12):
        full = min(POLICY.backoff_ms * 2 ** (n - 1), MAX_BACKOFF_MS)
        assert full // 2 <= backoff_ms(n, POLICY, most_jitter) <= full // 2 + 1
        assert backoff_ms(n, POLICY, lambda: 0.5) == full * 3 // 4


def test_the_backoff_is_never_negative_and_never_overflows() -> None:
    for n in (0, 1, 2, 31, 32, 100, 10**6, 10**18):
        for rand in (no_jitter, most_jitter):
            wait = backoff_ms(n, POLICY, rand)
            assert isinstance(wait, int)
            assert 0 <= wait <= MAX_BACKOFF_MS
    assert backoff_ms(10**18, POLICY, no_jitter) == MAX_BACKOFF_MS
    assert backoff_ms(10**18, Policy(backoff_ms=10 * HOUR_MS), no_jitter) == MAX_BACKOFF_MS


# what an attempt's answer makes of a delivery


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_delivers(status: int) -> None:
    sent = Sent(status, None, 12)
    outcome = decide(claimed(attempts=3, failing_since=NOW - 5000), sent, NOW, POLICY, no_jitter)
    assert outcome == Outcome(
        delivery_id=7,
        endpoint_id=3,
        at=NOW,
        state="delivered",
        next_at=NOW,
        sent=sent,
        endpoint="ok",
        reason=None,
    )


def test_410_fails_the_delivery_and_disables_the_endpoint() -> None:
    outcome = decide(claimed(), Sent(410, "Gone", 8), NOW, POLICY, no_jitter)
    assert outcome.state == "failed"
    assert outcome.next_at == NOW
    assert outcome.endpoint == "disable"
    assert outcome.reason == "the receiver answered 410 Gone"
    assert outcome.sent == Sent(410, "Gone", 8)


def test_a_500_waits_for_the_backoff_and_marks_the_endpoint_failing() -> None:
    sent = Sent(500, "status 500", 30)
    first = decide(claimed(attempts=0), sent, NOW, POLICY, no_jitter)
    assert (first.state, first.next_at, first.endpoint, first.reason) == (
        "waiting",
        NOW + POLICY.backoff_ms,
        "failing",
        None,
    )
    assert first.sent == sent
    third = decide(claimed(attempts=2), sent, NOW, POLICY, no_jitter)
    assert third.next_at == NOW + backoff_ms(3, POLICY, no_jitter) == NOW + 40_000
    jittered = decide(claimed(attempts=2), sent, NOW, POLICY, most_jitter)
    assert jittered.next_at == NOW + backoff_ms(3, POLICY, most_jitter) == NOW + 20_000


@pytest.mark.parametrize("status", [None, 301, 302, 304, 307, 400, 404, 429, 503])
def test_anything_else_than_2xx_or_410_is_a_failure(status: int | None) -> None:
    outcome = decide(claimed(), Sent(status, "no", 5), NOW, POLICY, no_jitter)
    assert outcome.state == "waiting"
    assert outcome.endpoint == "failing"
    assert outcome.next_at == NOW + POLICY.backoff_ms


def test_a_failure_past_the_retry_period_fails_the_delivery() -> None:
    sent = Sent(503, "status 503", 5)
    # the next attempt would fall just inside the period: one more try
    edge = NOW + POLICY.backoff_ms - POLICY.retry_ms
    inside = decide(claimed(retry_from=edge), sent, NOW, POLICY, no_jitter)
    assert inside.state == "waiting"
    # one millisecond later it would not: failed
    outside = decide(claimed(retry_from=edge - 1), sent, NOW, POLICY, no_jitter)
    assert outside.state == "failed"
    assert outside.endpoint == "failing"
    assert outside.sent == sent
    old = decide(claimed(retry_from=NOW - 2 * POLICY.retry_ms), sent, NOW, POLICY, no_jitter)
    assert old.state == "failed"


def test_an_endpoint_failing_for_longer_than_the_retry_period_is_disabled() -> None:
    since = NOW - POLICY.retry_ms - 1
    sent = Sent(None, "connection refused", 3)
    outcome = decide(claimed(failing_since=since), sent, NOW, POLICY, no_jitter)
    assert outcome.endpoint == "disable"
    assert outcome.state == "waiting"  # the delivery itself is young
    assert outcome.reason is not None
    assert outcome.reason.startswith("failing for more than 24 h")
    assert f"since {iso_ms(since)}" in outcome.reason
    assert outcome.reason.endswith("connection refused")
    by_status = decide(claimed(failing_since=since), Sent(502, None, 3), NOW, POLICY, no_jitter)
    assert by_status.reason is not None
    assert by_status.reason.endswith("status 502")
    # failing for exactly the period is not yet too long
    edge = decide(claimed(failing_since=NOW - POLICY.retry_ms), sent, NOW, POLICY, no_jitter)
    assert (edge.endpoint, edge.reason) == ("failing", None)
    short = Policy(retry_ms=HOUR_MS // 2)
    half = decide(claimed(failing_since=NOW - HOUR_MS), sent, NOW, short, no_jitter)
    assert half.reason is not None
    assert half.reason.startswith("failing for more than 0.5 h")


def test_a_long_error_is_shortened() -> None:
    long = "x" * 5000
    outcome = decide(claimed(), Sent(None, long, 3), NOW, POLICY, no_jitter)
    assert outcome.sent is not None
    assert outcome.sent.error is not None
    assert len(outcome.sent.error) == ERROR_LIMIT
    assert outcome.sent.error == "x" * (ERROR_LIMIT - 1) + "…"
    exact = "y" * ERROR_LIMIT
    kept = decide(claimed(), Sent(None, exact, 3), NOW, POLICY, no_jitter)
    assert kept.sent is not None
    assert kept.sent.error == exact
    since = NOW - POLICY.retry_ms - 1
    disabled = decide(claimed(failing_since=since), Sent(None, long, 3), NOW, POLICY, no_jitter)
    assert disabled.reason is not None
    assert len(disabled.reason) == ERROR_LIMIT
    assert disabled.reason.endswith("…")


def test_a_gone_call_sends_nothing() -> None:
    outcome = gone(claimed(attempts=2, failing_since=NOW - 1), NOW + 5)
    assert outcome == Outcome(
        delivery_id=7,
        endpoint_id=3,
        at=NOW + 5,
        state="gone",
        next_at=NOW + 5,
        sent=None,
        endpoint="same",
        reason=None,
    )


def test_sent_ok_and_message_id() -> None:
    assert [Sent(s, None, 0).ok for s in (199, 200, 299, 300, None)] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert claimed(id=42).message_id == "msg_42"


# which due deliveries the dispatcher takes


def test_iso_ms() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert iso_ms(1_700_000_000_005) == "2023-11-14T22:13:20.005Z"
    assert iso_ms(1_700_000_000_999) == "2023-11-14T22:13:20.999Z"
    assert iso_ms(1_700_000_001_000) == "2023-11-14T22:13:21.000Z"


def test_event_of() -> None:
    assert event_of("completed") == COMPLETED == "call.completed"
    assert event_of("replaced") == COMPLETED
    assert event_of("erased") == ERASED == "call.erased"


def test_an_empty_event_between_commas_is_skipped() -> None:
    assert parse_events(["call.completed,", " ,call.erased"]) == EVENTS
