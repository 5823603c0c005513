"""An in-memory outbox (the WebhookStore, with the real stores' claim rules: due time,
leases, shares per endpoint counted from the leases, a call's earliest delivery first,
outcomes only under their lease), a scripted poster and payloads, for
tests/unit/test_dispatch.py."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivrlog.core.webhooks import (
    COMPLETED,
    Claimed,
    DeliveryRecord,
    Endpoint,
    Outcome,
    QueueStats,
    Sent,
)

NOW = 1_795_000_000_000  # ms
LOG_MS = 30 * 86_400_000
OK = Sent(200, None, 5)
LATENCY_S = 0.005  # what each post adds to the fake clock


# the outbox


@dataclass
class Hook:
    id: int
    url: str
    secret: str = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
    entries: bool = False
    enabled: bool = True
    disabled_reason: str | None = None
    failing_since: int | None = None
    account_id: int = 1


@dataclass
class Delivery:
    id: int
    endpoint_id: int
    session_id: str
    event: str
    created_at: int
    next_at: int
    retry_from: int
    state: str = "waiting"
    lease_until: int = 0
    # its attempts: (at, status, latency_ms, error)
    tried: list[tuple[int, int | None, int, str | None]] = field(default_factory=list)


class Outbox:
    """The WebhookStore's dispatcher part in memory, with the SQL stores' rules: a delivery
    is due when waiting, past its next_at and its lease, its endpoint enabled, and the
    earliest waiting delivery of its call to its endpoint; candidates oldest first (next_at,
    then id); an outcome clears the lease. Every claim, outcome and purge is recorded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hooks: dict[int, Hook] = {}
        self.rows: list[Delivery] = []
        self.claims: list[list[int]] = []  # the ids each claim leased
        self.finished: list[list[Outcome]] = []  # each finish_deliveries call
        self.purges: list[tuple[int, int]] = []
        self.fail_finish = 0  # finish_deliveries calls to fail, as a database gone away

    def hook(self, endpoint_id: int, **changes: Any) -> Hook:
        made = Hook(endpoint_id, f"https://hooks{endpoint_id}.example.com/ivr", **changes)
        self.hooks[endpoint_id] = made
        return made

    def add(
        self,
        endpoint_id: int,
        session_id: str,
        event: str = COMPLETED,
        *,
        next_at: int = NOW,
    ) -> Delivery:
        if endpoint_id not in self.hooks:
            self.hook(endpoint_id)
        made = Delivery(
            id=len(self.rows) + 1,
            endpoint_id=endpoint_id,
            session_id=session_id,
            event=event,
            created_at=NOW,
            next_at=next_at,
            retry_from=NOW,
        )
        self.rows.append(made)
        return made

    def get(self, delivery_id: int) -> Delivery:
        (found,) = (d for d in self.rows if d.id == delivery_id)
        return found

    def outcomes(self) -> list[Outcome]:
        return [o for batch in self.finished for o in batch]

    def _claimed(self, d: Delivery) -> Claimed:
        hook = self.hooks[d.endpoint_id]
        return Claimed(
            id=d.id,
            endpoint_id=d.endpoint_id,
            account_id=hook.account_id,
            url=hook.url,
            secrets=(hook.secret,),
            entries=hook.entries,
            session_id=d.session_id,
            event=d.event,
            created_at=d.created_at,
            attempts=len(d.tried),
            retry_from=d.retry_from,
            failing_since=hook.failing_since,
            lease_until=d.lease_until,
        )

    # the dispatcher's part

    def next_delivery_at(self) -> int | None:
        with self.lock:
            due = [
                max(d.next_at, d.lease_until)
                for d in self.rows
                if d.state == "waiting" and self.hooks[d.endpoint_id].enabled
            ]
        return min(due, default=None)

    def claim_deliveries(
        self, now: int, lease_until: int, limit: int, per_endpoint: int
    ) -> list[Claimed]:
        with self.lock:
            first: dict[tuple[int, str], Delivery] = {}
            for d in sorted(self.rows, key=lambda d: d.id):
                if d.state == "waiting":
                    first.setdefault((d.endpoint_id, d.session_id), d)
            due = sorted(
                (
                    d
                    for d in first.values()
                    if d.next_at <= now
                    and d.lease_until <= now
                    and self.hooks[d.endpoint_id].enabled
                ),
                key=lambda d: (d.next_at, d.id),
            )
            busy = Counter(
                d.endpoint_id for d in self.rows if d.state == "waiting" and d.lease_until > now
            )
            taken: list[Delivery] = []
            for d in due:
                if len(taken) < limit and busy[d.endpoint_id] < per_endpoint:
                    busy[d.endpoint_id] += 1
                    taken.append(d)
            for d in taken:
                d.lease_until = lease_until
            self.claims.append([d.id for d in taken])
            return [self._claimed(d) for d in taken]

    def finish_deliveries(self, outcomes: Sequence[Outcome]) -> None:
        with self.lock:
            if self.fail_finish:
                self.fail_finish -= 1
                raise ConnectionError("the database went away")
            for o in outcomes:
                d = self.get(o.delivery_id)
                assert d.state == "waiting"
                assert d.lease_until > 0, "an outcome for a delivery nobody leased"
                assert d.lease_until == o.lease_until, "an outcome of a lease run out"
                d.state = o.state
                d.next_at = o.next_at if o.state == "waiting" else o.at
                d.lease_until = 0
                if o.sent is not None:
                    d.tried.append((o.at, o.sent.status, o.sent.latency_ms, o.sent.error))
                hook = self.hooks[o.endpoint_id]
                if o.endpoint == "ok":
                    hook.failing_since = None
                elif o.endpoint in ("failing", "disable") and hook.failing_since is None:
                    hook.failing_since = o.at
                if o.endpoint == "disable":
                    hook.enabled = False
                    hook.disabled_reason = o.reason
            self.finished.append(list(outcomes))

    def delete_webhook_log_before(self, cutoff: int, limit: int) -> int:
        self.purges.append((cutoff, limit))
        return 0

    # the rest of WebhookStore, which the dispatcher never calls

    def add_endpoint(
        self,
        account_id: int,
        url: str,
        events: Sequence[str],
        entries: bool,
        secret: str,
        now: int,
    ) -> Endpoint:
        raise NotImplementedError

    def endpoints(self, account_id: int) -> list[Endpoint]:
        raise NotImplementedError

    def endpoint(self, account_id: int, endpoint_id: int) -> Endpoint | None:
        raise NotImplementedError

    def set_endpoint_enabled(
        self, account_id: int, endpoint_id: int, enabled: bool, reason: str | None
    ) -> Endpoint | None:
        raise NotImplementedError

    def rotate_endpoint_secret(
        self, account_id: int, endpoint_id: int, secret: str, previous_until: int
    ) -> Endpoint | None:
        raise NotImplementedError

    def remove_endpoint(self, account_id: int, endpoint_id: int) -> bool:
        raise NotImplementedError

    def deliveries(
        self,
        account_id: int,
        endpoint_id: int | None,
        *,
        failed: bool,
        before: int | None,
        limit: int,
    ) -> list[DeliveryRecord]:
        raise NotImplementedError

    def replay_delivery(
        self, account_id: int, delivery_id: int, now: int, endpoint_id: int | None = None
    ) -> bool:
        raise NotImplementedError

    def replay_calls(
        self, account_id: int, endpoint_id: int, start: int, end: int, now: int, limit: int
    ) -> int:
        raise NotImplementedError

    def webhook_queue(self, now: int) -> QueueStats:
        raise NotImplementedError


# the poster and the payload


class Poster:
    """Answers from a script (answers by delivery id, then 200), records every call and
    the most attempts in flight at once per endpoint, moves the clock by LATENCY_S."""

    def __init__(self, clock: list[float], script: dict[int, list[Sent]] | None = None) -> None:
        self.clock = clock
        self.script = script or {}
        self.calls: list[tuple[Claimed, bytes, int]] = []
        self.active: Counter[int] = Counter()
        self.most: Counter[int] = Counter()
        self.pause: Callable[[Claimed], Awaitable[None]] | None = None

    async def post(self, claimed: Claimed, body: bytes, timestamp: int) -> Sent:
        self.calls.append((claimed, body, timestamp))
        endpoint = claimed.endpoint_id
        self.active[endpoint] += 1
        self.most[endpoint] = max(self.most[endpoint], self.active[endpoint])
        try:
            await (self.pause(claimed) if self.pause is not None else asyncio.sleep(0))
        finally:
            self.active[endpoint] -= 1
        self.clock[0] += LATENCY_S
        answers = self.script.get(claimed.id)
        return answers.pop(0) if answers else OK

    def sent_ids(self) -> list[int]:
        return [c.id for c, _, _ in self.calls]


class Payloads:
    """The body of a delivery, None for the calls in `gone`; raises for the ids in
    `broken`. Every call recorded."""

    def __init__(self, gone: set[str] | None = None, broken: set[int] | None = None) -> None:
        self.gone = gone or set()
        self.broken = broken or set()
        self.calls: list[tuple[int, int]] = []

    def __call__(self, claimed: Claimed, now: int) -> bytes | None:
        self.calls.append((claimed.id, now))
        if claimed.id in self.broken:
            raise RuntimeError("the call could not be read")
        if claimed.session_id in self.gone:
            return None
        return body_of(claimed)


def body_of(claimed: Claimed) -> bytes:
    return f'{{"type":"{claimed.event}","session_id":"{claimed.session_id}"}}'.encode()
