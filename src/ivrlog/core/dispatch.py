"""The webhook dispatcher: takes due deliveries out of the outbox and sends them
(docs/webhooks.md).

One loop claims due deliveries (a lease each, so that no other dispatcher on the database
sends them meanwhile), runs their attempts as tasks, at most `Policy.concurrency` per
endpoint and MAX_IN_FLIGHT in all, and writes the outcomes of finished attempts in one
transaction every FLUSH_MS. A delivery's lease outlasts its attempt and the flush after
it; if the process dies first, the lease runs out and the delivery is sent again, with
the same `webhook-id`: at least once. The database work is done in worker threads, so
sending goes on while a transaction waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

from ivrlog.core.ports import WebhookStore
from ivrlog.core.webhooks import Claimed, Outcome, Policy, Sent, decide, gone

log = logging.getLogger("ivrlog.webhooks")
T = TypeVar("T")

MAX_IN_FLIGHT: Final = 64
FLUSH_MS: Final = 200
MAX_FAILED_FLUSHES: Final = 3
DB_THREADS: Final = 4
FLUSH_BATCH: Final = 100  # outcomes that are written at once without waiting FLUSH_MS
BATCH_PAUSE: Final = 0.01
# a lease outlasts the attempt's timeout by this much: the payload's read and the
# outcome's flush fit well inside it
LEASE_MARGIN_MS: Final = 10_000
IDLE_SECONDS: Final = 0.5
LOG_PURGE_MS: Final = 3_600_000
LOG_PURGE_BATCH: Final = 1000


class Poster(Protocol):
    """Sends one attempt (the adapter signs it, guards the address, bounds the answer)."""

    async def post(self, claimed: Claimed, body: bytes, timestamp: int) -> Sent: ...


# the body of a delivery at `now` (ms), or None when its call is no longer stored
Payload = Callable[[Claimed, int], bytes | None]


@dataclass(slots=True)
class Tally:
    """What a dispatcher did: attempts by outcome."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    gone: int = 0
    disabled: list[int] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        if outcome.state == "delivered":
            self.delivered += 1
        elif outcome.state == "waiting":
            self.retrying += 1
        elif outcome.state == "failed":
            self.failed += 1
        else:
            self.gone += 1
        if outcome.endpoint == "disable":
            self.disabled.append(outcome.endpoint_id)


class Dispatcher:
    def __init__(
        self,
        store: WebhookStore,
        poster: Poster,
        payload: Payload,
        policy: Policy,
        *,
        log_ms: int,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._poster = poster
        self._payload = payload
        self._policy = policy
        self._log_ms = log_ms
        self._clock = clock
        self._rand = rand
        self._failed_flushes = 0
        # the database's own threads: a slow address lookup (the default pool's) never
        # holds up a claim or a flush
        self._executor = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="ivrlog-webhooks")
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: list[Outcome] = []
        self._next_purge = 0
        self._freed = False  # an attempt ended since the last claim
        self._flushed = time.monotonic()
        self.tally = Tally()

    async def _db(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(function, *args)
        )

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Deliver until `stopping()` is true; then let the attempts in flight end (their
        timeout at most) and write their outcomes."""
        last_claim = -math.inf
        while not stopping():
            try:
                await self._purge_log()
                # outcomes first: until they are written, their deliveries' leases count
                # against their endpoints' shares
                if self._done and (
                    self._freed
                    or len(self._done) >= FLUSH_BATCH
                    or time.monotonic() - self._flushed >= FLUSH_MS / 1000
                ):
                    await self._flush()
                # a claim is a write transaction: taken when an attempt has ended (room
                # for another) or every IDLE_SECONDS, not at every turn of the loop
                if self._freed or time.monotonic() - last_claim >= IDLE_SECONDS:
                    self._freed = False
                    last_claim = time.monotonic()
                    await self._claim()
            except Exception:
                log.exception("webhook dispatcher: the database failed; trying again")
                await asyncio.sleep(IDLE_SECONDS)
                continue
            await self._wait()
        await self._settle()

    def close(self) -> None:
        """Let the dispatcher's database threads go (after run or the last drain)."""
        self._executor.shutdown(wait=False)

    async def drain(self) -> Tally:
        """Send every delivery due now (and the retries that fall due meanwhile, until
        none is due), then return what happened."""
        await self._purge_log()
        while True:
            await self._claim()
            if not self._tasks:
                break
            await self._settle()
        await self._flush()
        return self.tally

    async def _claim(self) -> None:
        room = MAX_IN_FLIGHT - len(self._tasks)
        if room <= 0:
            return
        now = self._now()
        due = await self._db(self._store.next_delivery_at)
        if due is None or due > now:
            return
        policy = self._policy
        claimed = await self._db(
            self._store.claim_deliveries,
            now,
            now + policy.timeout_ms + LEASE_MARGIN_MS,
            room,
            policy.concurrency,
        )
        for delivery in claimed:
            task = asyncio.create_task(self._attempt(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _attempt(self, delivery: Claimed) -> None:
        try:
            body = await self._db(self._payload, delivery, self._now())
            now = self._now()
            if now + self._policy.timeout_ms > delivery.lease_until - LEASE_MARGIN_MS // 2:
                # the lease is nearly spent (a slow read): sending now could outlast it
                # and meet another dispatcher's attempt; the lease runs out, and the
                # delivery is claimed again
                log.warning("webhook delivery %d: lease nearly spent, not sent", delivery.id)
                return
            if body is None:
                outcome = gone(delivery, now)
            else:
                sent = await self._poster.post(delivery, body, now // 1000)
                outcome = decide(delivery, sent, self._now(), self._policy, self._rand)
        except Exception as exc:  # the payload's read failed: try again later
            log.exception("webhook delivery %d: could not be prepared", delivery.id)
            sent = Sent(None, f"ivrlog could not prepare it: {type(exc).__name__}", 0)
            outcome = decide(delivery, sent, self._now(), self._policy, self._rand)
            # ivrlog's failure, not the receiver's: the endpoint is not failing for it
            outcome = dataclasses.replace(outcome, endpoint="same", reason=None)
        finally:
            self._freed = True
        self._done.append(outcome)
        self.tally.add(outcome)
        if outcome.endpoint == "disable":
            log.warning("webhook endpoint %d disabled: %s", delivery.endpoint_id, outcome.reason)

    async def _flush(self) -> None:
        if not self._done:
            return
        done, self._done = self._done, []
        self._flushed = time.monotonic()
        try:
            await self._db(self._store.finish_deliveries, done)
        except BaseException:
            self._failed_flushes += 1
            if self._failed_flushes < MAX_FAILED_FLUSHES:
                self._done = done + self._done  # written by the next flush
            else:  # given up: their leases run out, and they are sent again
                log.error("webhook dispatcher: %d outcomes could not be written", len(done))
                self._failed_flushes = 0
            raise
        self._failed_flushes = 0

    async def _wait(self) -> None:
        if self._tasks:
            done, _ = await asyncio.wait(
                self._tasks, timeout=FLUSH_MS / 1000, return_when=asyncio.FIRST_COMPLETED
            )
            if done:  # let attempts ending together be claimed for and written together
                await asyncio.sleep(BATCH_PAUSE)
        else:
            await asyncio.sleep(IDLE_SECONDS)

    async def _settle(self) -> None:
        """Wait for the attempts in flight and write their outcomes."""
        if self._tasks:
            await asyncio.wait(self._tasks)
        await self._flush()

    async def _purge_log(self) -> None:
        now = self._now()
        if now < self._next_purge:
            return
        self._next_purge = now + LOG_PURGE_MS
        cutoff = now - self._log_ms
        while (
            await self._db(self._store.delete_webhook_log_before, cutoff, LOG_PURGE_BATCH)
            >= LOG_PURGE_BATCH
        ):
            pass
