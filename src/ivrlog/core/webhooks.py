"""Post-call webhooks: what an endpoint is, which URLs may be one, and what becomes of a
delivery after each attempt (docs/webhooks.md).

An account registers endpoints (a URL, the events it wants, whether the payload carries
the call's entries, a secret). The store writes a delivery for each of them in the very
transaction that completes or erases a call (storage/places.py: the outbox); the
dispatcher (core/dispatch.py) sends them. Everything here is pure: the decisions are
functions of the delivery, the answer and the time, so tests pin them without a network.
Times are UNIX milliseconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import random
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from ivrlog.core.errors import BadRequest, NotFound
from ivrlog.core.model import ChangeKind

COMPLETED: Final = "call.completed"
ERASED: Final = "call.erased"
EVENTS: Final = (COMPLETED, ERASED)
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (the prefix, no secret)
SECRET_BYTES: Final = 24
MAX_URL: Final = 2000
HOUR_MS: Final = 3_600_000
# the longest wait between two attempts, and the answer body an attempt reads at most
MAX_BACKOFF_MS: Final = HOUR_MS
BODY_LIMIT: Final = 4096
# how much of an error text the log keeps
ERROR_LIMIT: Final = 300

State = Literal["waiting", "delivered", "failed", "gone"]
STATES: Final = ("waiting", "delivered", "failed", "gone")


class EndpointNotFound(NotFound):
    message = "No webhook endpoint with this id."


class DeliveryNotFound(NotFound):
    message = "No webhook delivery with this id."


def event_of(kind: ChangeKind) -> str:
    """The event a place of the change sequence raises."""
    return ERASED if kind == "erased" else COMPLETED


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A registered URL. Its secret is never part of it: it is shown once, when made or
    rotated, and read only by the dispatcher (Claimed)."""

    id: int
    account_id: int
    url: str
    events: tuple[str, ...]
    entries: bool
    enabled: bool
    disabled_reason: str | None
    failing_since: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery the dispatcher holds (its lease) for one attempt, with what it needs to
    send it: the endpoint's URL and secrets (the current one, and the previous one for a
    while after a rotation), whether it wants the entries."""

    id: int
    endpoint_id: int
    account_id: int
    url: str
    secrets: tuple[str, ...] = field(repr=False)
    entries: bool
    session_id: str
    event: str
    created_at: int
    attempts: int
    retry_from: int
    failing_since: int | None
    # the lease it holds: its outcome is written only while the lease is still its own
    lease_until: int = 0

    @property
    def message_id(self) -> str:
        """The `webhook-id`: the same for every attempt of the delivery, so a receiver
        can tell a repeat from a new event."""
        return message_id(self.id)


def message_id(delivery_id: int) -> str:
    return f"msg_{delivery_id}"


@dataclass(frozen=True, slots=True)
class Sent:
    """What one attempt got: the HTTP status (None without an answer), an error text
    (None for a 2xx), the time it took."""

    status: int | None
    error: str | None
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt changes, for the store to write: the delivery's new state and next
    time, the attempt for the log (None when nothing was sent: the call is gone), and
    what becomes of the endpoint ("ok" ends its failing, "failing" starts it if needed,
    "disable" turns it off with `reason`)."""

    delivery_id: int
    endpoint_id: int
    at: int
    state: State
    next_at: int
    sent: Sent | None
    endpoint: Literal["ok", "failing", "disable", "same"]
    reason: str | None = None
    lease_until: int = 0  # the claim's lease (Claimed.lease_until)


@dataclass(frozen=True, slots=True)
class Attempt:
    at: int
    status: int | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery with its attempts, oldest first (the delivery log)."""

    id: int
    endpoint_id: int
    session_id: str
    event: str
    state: State
    created_at: int
    next_at: int | None
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The outbox now: deliveries waiting, those of them that failed at least once, and
    the age of the oldest (0 when none waits)."""

    waiting: int
    failing: int
    oldest_ms: int
    disabled_endpoints: int


@dataclass(frozen=True, slots=True)
class Policy:
    """How hard the dispatcher tries: an attempt's timeout, the wait after the first
    failure (doubled after each, at most MAX_BACKOFF_MS, with jitter), how long a delivery
    is retried and an endpoint may fail before it is disabled, attempts in flight per
    endpoint."""

    timeout_ms: int = 10_000
    backoff_ms: int = 10_000
    retry_ms: int = 24 * HOUR_MS
    concurrency: int = 4


def now_ms() -> int:
    """Webhooks' clock: the wall clock in UNIX milliseconds (the outbox dates its
    deliveries by it, the dispatcher leases and retries by it)."""
    return int(time.time() * 1000)


def iso_ms(ms: int) -> str:
    """UNIX milliseconds as ISO 8601 in UTC with milliseconds and `Z`."""
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def parse_events(events: Iterable[str]) -> tuple[str, ...]:
    """The events asked for, in EVENTS order; BadRequest names one that is not."""
    wanted = set()
    for event in events:
        for name in (part.strip() for part in event.split(",")):
            if not name:
                continue
            if name not in EVENTS:
                raise BadRequest(f"events: {name!r} is not one of {', '.join(EVENTS)}.")
            wanted.add(name)
    if not wanted:
        raise BadRequest(f"events: name at least one of {', '.join(EVENTS)}.")
    return tuple(e for e in EVENTS if e in wanted)


Resolve = Callable[[str, int], Sequence[str]]


def refused_address(address: str) -> str | None:
    """Why a webhook may not go to this IP address (private, loopback, link-local and
    every other address that is not global), or None."""
    for ip in reversed(_carried(ipaddress.ip_address(address))):  # the carried first
        if not ip.is_global or ip.is_multicast:
            kind = (
                "a loopback"
                if ip.is_loopback
                else "a link-local"
                if ip.is_link_local
                else "a private"
                if ip.is_private
                else "not a public"
            )
            return f"{address} is {kind} address"
    return None


# the local-use NAT64 prefix (RFC 8215) embeds an inside address in a way of its own
_REFUSED_V6 = (ipaddress.ip_network("64:ff9b:1::/48"),)
# prefixes whose last 32 bits are an IPv4 address: NAT64, IPv4-compatible (deprecated),
# IPv4-translated (SIIT)
_CARRYING = tuple(
    ipaddress.ip_network(prefix) for prefix in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
)


def _carried(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[Any]:
    """The address and the IPv4 addresses an IPv6 one carries (mapped, 6to4, Teredo,
    NAT64): each must be public."""
    if isinstance(ip, ipaddress.IPv4Address):
        return [ip]
    carried: list[Any] = [ip]
    if ip.ipv4_mapped is not None:
        carried.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        carried.append(ip.sixtofour)
    if ip.teredo is not None:
        carried.extend(ip.teredo)
    if any(ip in prefix for prefix in _REFUSED_V6):
        carried.append(ipaddress.IPv4Address("0.0.0.0"))
    if any(ip in prefix for prefix in _CARRYING) and int(ip) & 0xFFFFFFFF > 0xFFFF:  # not ::1
        carried.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return carried


def check_url(url: str, *, allow_private: bool, resolve: Resolve) -> str:
    """The URL, when a webhook may be sent to it: https (or http with `allow_private`),
    a host, no credentials, and every address the host resolves to public (any, with
    `allow_private`). BadRequest says what is wrong."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise BadRequest(f"url: must be an http(s) URL of at most {MAX_URL} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadRequest(f"url: {exc}.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise BadRequest(
            "url: must start with https:// (http:// only with the setting webhook_allow_private)."
        )
    if not parts.hostname:
        raise BadRequest("url: has no host.")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("url: must not carry credentials (user:password@).")
    if parts.fragment:
        raise BadRequest("url: must not have a #fragment.")
    if allow_private:
        return url
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses: Sequence[str] = [str(ipaddress.ip_address(parts.hostname))]
    except ValueError:  # a name, not an address
        addresses = []
    try:
        addresses = addresses or resolve(parts.hostname, port)
    except OSError as exc:
        raise BadRequest(f"url: {parts.hostname} does not resolve ({exc}).") from None
    for address in addresses:
        reason = refused_address(address)
        if reason is not None:
            named = (
                reason
                if address == parts.hostname.strip("[]")
                else (f"{parts.hostname} resolves to a refused address ({reason})")
            )
            raise BadRequest(f"url: {named}; set webhook_allow_private to allow it.")
    return url


def backoff_ms(attempts: int, policy: Policy, rand: Callable[[], float] = random.random) -> int:
    """The wait after the `attempts`-th failed attempt: backoff_ms doubled after each
    failure, at most MAX_BACKOFF_MS, less a random part of up to half (jitter: endpoints
    that failed together do not all come back at once)."""
    full = min(policy.backoff_ms * 2 ** min(attempts - 1, 30), MAX_BACKOFF_MS)
    return int(full * (1 - rand() / 2))


def _short(text: str) -> str:
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def decide(
    claimed: Claimed,
    sent: Sent,
    now: int,
    policy: Policy,
    rand: Callable[[], float] = random.random,
) -> Outcome:
    """What an attempt's answer makes of the delivery and its endpoint.

    - 2xx: delivered; the endpoint is not failing any more.
    - 410 Gone: the receiver wants no more; the delivery fails, the endpoint is disabled.
    - anything else (another status, a redirect, no answer): tried again after the
      backoff, until `retry_ms` after the delivery was made (or replayed), then failed;
      an endpoint failing for longer than `retry_ms` is disabled, saying since when."""
    sent = Sent(sent.status, None if sent.error is None else _short(sent.error), sent.latency_ms)
    ids = (claimed.id, claimed.endpoint_id, now)
    lease = claimed.lease_until
    if sent.ok:
        return Outcome(
            *ids, state="delivered", next_at=now, sent=sent, endpoint="ok", lease_until=lease
        )
    if sent.status == 410:
        reason = "the receiver answered 410 Gone"
        return Outcome(
            *ids,
            state="failed",
            next_at=now,
            sent=sent,
            endpoint="disable",
            reason=reason,
            lease_until=lease,
        )
    attempts = claimed.attempts + 1
    next_at = now + backoff_ms(attempts, policy, rand)
    state: State = "waiting" if next_at - claimed.retry_from <= policy.retry_ms else "failed"
    since = now if claimed.failing_since is None else claimed.failing_since
    if now - since > policy.retry_ms:
        hours = policy.retry_ms / HOUR_MS
        reason = _short(
            f"failing for more than {hours:g} h (since {iso_ms(since)}): "
            f"{sent.error or f'status {sent.status}'}"
        )
        return Outcome(
            *ids,
            state=state,
            next_at=next_at,
            sent=sent,
            endpoint="disable",
            reason=reason,
            lease_until=lease,
        )
    return Outcome(
        *ids, state=state, next_at=next_at, sent=sent, endpoint="failing", lease_until=lease
    )


def gone(claimed: Claimed, now: int) -> Outcome:
    """A call.completed delivery whose call is no longer stored (erased or past retention
    since): nothing is sent, so nothing erased ever leaves."""
    return Outcome(
        delivery_id=claimed.id,
        endpoint_id=claimed.endpoint_id,
        at=now,
        state="gone",
        next_at=now,
        sent=None,
        endpoint="same",
        lease_until=claimed.lease_until,
    )
