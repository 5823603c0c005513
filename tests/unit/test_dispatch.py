"""core/dispatch.py's Dispatcher on an in-memory outbox (the WebhookStore's dispatcher part,
with the real stores' claim rules) and a scripted poster: every due delivery sent once, a
call's events in order, the concurrency per endpoint, calls gone, payloads that fail,
retries, stopping. A fake clock; no jitter; no network."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from ivrlog.core import dispatch
from ivrlog.core.dispatch import Dispatcher, Tally
from ivrlog.core.webhooks import (
    COMPLETED,
    ERASED,
    Claimed,
    Policy,
    Sent,
)
from tests.fake_outbox import LATENCY_S, LOG_MS, NOW, OK, Outbox, Payloads, Poster, body_of

T = TypeVar("T")


def make(
    outbox: Outbox,
    poster: Poster,
    clock: list[float],
    *,
    payload: Payloads | None = None,
    policy: Policy | None = None,
) -> Dispatcher:
    return Dispatcher(
        outbox,
        poster,
        payload or Payloads(),
        policy or Policy(),
        log_ms=LOG_MS,
        clock=lambda: clock[0],
        rand=lambda: 0.0,
    )


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=10))


def start() -> list[float]:
    return [NOW / 1000]


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """run()'s waits in milliseconds instead of a fraction of a second."""
    monkeypatch.setattr(dispatch, "FLUSH_MS", 4)
    monkeypatch.setattr(dispatch, "IDLE_SECONDS", 0.001)


# drain


def test_drain_sends_every_due_delivery_once() -> None:
    clock = start()
    outbox = Outbox()
    outbox.hook(3, enabled=False)
    due = [
        outbox.add(1, "s;a"),
        outbox.add(1, "s;b"),
        outbox.add(2, "s;c", ERASED),
        outbox.add(1, "s;d"),
        outbox.add(2, "s;e"),
    ]
    later = outbox.add(1, "s;f", next_at=NOW + 60_000)
    disabled = outbox.add(3, "s;g")
    poster = Poster(clock)
    payload = Payloads()
    dispatcher = make(outbox, poster, clock, payload=payload)

    tally = run(dispatcher.drain())

    assert tally == Tally(delivered=5)
    assert sorted(poster.sent_ids()) == [d.id for d in due]
    for claimed, body, timestamp in poster.calls:
        assert body == body_of(claimed)
        assert timestamp == NOW // 1000
        hook = outbox.hooks[claimed.endpoint_id]
        assert (claimed.url, claimed.secrets) == (hook.url, (hook.secret,))
        assert claimed.message_id == f"msg_{claimed.id}"
    assert sorted(id for id, _ in payload.calls) == [d.id for d in due]
    # the outcomes were written, every one of them
    outcomes = outbox.outcomes()
    assert sorted(o.delivery_id for o in outcomes) == [d.id for d in due]
    assert all(o.state == "delivered" and o.endpoint == "ok" and o.sent == OK for o in outcomes)
    assert all(NOW <= o.at <= NOW + 1000 for o in outcomes)
    for d in due:
        assert d.state == "delivered"
        assert d.lease_until == 0
        assert [status for _, status, _, _ in d.tried] == [200]
    assert (later.state, later.tried) == ("waiting", [])
    assert (disabled.state, disabled.tried) == ("waiting", [])
    # nothing is due any more: a second drain sends nothing
    assert run(dispatcher.drain()) == Tally(delivered=5)
    assert len(poster.calls) == 5


def test_drain_with_nothing_due_does_nothing() -> None:
    clock = start()
    outbox = Outbox()
    outbox.add(1, "s;a", next_at=NOW + 1)
    poster = Poster(clock)
    assert run(make(outbox, poster, clock).drain()) == Tally()
    assert poster.calls == []
    assert outbox.claims == []
    assert outbox.finished == []
    assert run(make(Outbox(), poster, clock).drain()) == Tally()


def test_a_calls_deliveries_go_in_order() -> None:
    clock = start()
    outbox = Outbox()
    completed = outbox.add(1, "s;1", COMPLETED)
    erased = outbox.add(1, "s;1", ERASED)
    other = outbox.add(1, "s;2", COMPLETED)
    poster = Poster(clock)
    seen: dict[int, str] = {}

    async def look(claimed: Claimed) -> None:
        seen[claimed.id] = outbox.get(completed.id).state
        await asyncio.sleep(0)

    poster.pause = look
    tally = run(make(outbox, poster, clock).drain())

    assert tally == Tally(delivered=3)
    assert outbox.claims[:2] == [[completed.id, other.id], [erased.id]]
    assert poster.sent_ids()[-1] == erased.id
    assert [c.event for c, _, _ in poster.calls if c.session_id == "s;1"] == [COMPLETED, ERASED]
    # the erasure went out once the completion's outcome was written
    assert seen[erased.id] == "delivered"
    assert [o.delivery_id for o in outbox.finished[-1]] == [erased.id]


def test_a_failing_delivery_holds_back_the_later_events_of_its_call() -> None:
    clock = start()
    outbox = Outbox()
    completed = outbox.add(1, "s;1", COMPLETED)
    erased = outbox.add(1, "s;1", ERASED)
    poster = Poster(clock, {completed.id: [Sent(503, "status 503", 9)]})
    dispatcher = make(outbox, poster, clock)

    assert run(dispatcher.drain()) == Tally(retrying=1)
    assert poster.sent_ids() == [completed.id]
    assert (completed.state, erased.state, erased.tried) == ("waiting", "waiting", [])

    clock[0] = completed.next_at / 1000
    assert run(dispatcher.drain()) == Tally(delivered=2, retrying=1)
    assert poster.sent_ids() == [completed.id, completed.id, erased.id]
    assert (completed.state, erased.state) == ("delivered", "delivered")


def test_drain_keeps_each_endpoints_concurrency() -> None:
    clock = start()
    outbox = Outbox()
    for n in range(6):
        outbox.add(1, f"s;1-{n}")
        outbox.add(2, f"s;2-{n}")
    poster = Poster(clock)
    policy = Policy(concurrency=3)

    async def main() -> Tally:
        full = {1: asyncio.Event(), 2: asyncio.Event()}

        async def overlap(claimed: Claimed) -> None:
            # hold every attempt until the endpoint has as many in flight as it may
            if poster.active[claimed.endpoint_id] >= policy.concurrency:
                full[claimed.endpoint_id].set()
            await asyncio.wait_for(full[claimed.endpoint_id].wait(), timeout=5)

        poster.pause = overlap
        return await make(outbox, poster, clock, policy=policy).drain()

    assert run(main()) == Tally(delivered=12)
    assert poster.most == {1: 3, 2: 3}
    assert [len(ids) for ids in outbox.claims[:2]] == [6, 6]
    assert sorted(poster.sent_ids()) == list(range(1, 13))


def test_run_keeps_each_endpoints_concurrency_with_attempts_in_flight(quick: None) -> None:
    clock = start()
    outbox = Outbox()
    for n in range(10):
        outbox.add(1, f"s;{n}")
    outbox.add(2, "s;other")
    poster = Poster(clock)
    policy = Policy(concurrency=2)

    async def main() -> None:
        full = asyncio.Event()

        async def overlap(claimed: Claimed) -> None:
            if claimed.endpoint_id == 2:
                return
            if poster.active[1] >= policy.concurrency:
                full.set()
            await asyncio.wait_for(full.wait(), timeout=5)
            # attempts that end out of step: claims come while one is still in flight
            for _ in range(claimed.id % 3):
                await asyncio.sleep(0.001)

        poster.pause = overlap
        dispatcher = make(outbox, poster, clock, policy=policy)
        await dispatcher.run(lambda: all(d.state == "delivered" for d in outbox.rows))

    run(main())
    assert poster.most[1] == 2
    assert sorted(poster.sent_ids()) == list(range(1, 12))
    assert all(len(d.tried) == 1 for d in outbox.rows)


# calls gone, payloads that fail


def test_a_call_no_longer_stored_is_gone_and_nothing_is_sent() -> None:
    clock = start()
    outbox = Outbox()
    lost = outbox.add(1, "s;lost")
    kept = outbox.add(1, "s;kept")
    poster = Poster(clock)
    payload = Payloads(gone={"s;lost"})

    tally = run(make(outbox, poster, clock, payload=payload).drain())

    assert tally == Tally(delivered=1, gone=1)
    assert poster.sent_ids() == [kept.id]
    assert lost.id in [id for id, _ in payload.calls]
    (outcome,) = (o for o in outbox.outcomes() if o.delivery_id == lost.id)
    assert (outcome.state, outcome.sent, outcome.endpoint) == ("gone", None, "same")
    assert (lost.state, lost.tried) == ("gone", [])
    assert outbox.hooks[1].failing_since is None


def test_a_payload_that_fails_is_tried_again_later(caplog: pytest.LogCaptureFixture) -> None:
    clock = start()
    outbox = Outbox()
    broken = outbox.add(1, "s;broken")
    fine = [outbox.add(1, "s;fine"), outbox.add(2, "s;other")]
    poster = Poster(clock)
    payload = Payloads(broken={broken.id})
    dispatcher = make(outbox, poster, clock, payload=payload)

    with caplog.at_level(logging.ERROR, logger="ivrlog.webhooks"):
        tally = run(dispatcher.drain())

    # the dispatcher went on with the others
    assert tally == Tally(delivered=2, retrying=1)
    assert sorted(poster.sent_ids()) == [d.id for d in fine]
    assert all(d.state == "delivered" for d in fine)
    # the broken one waits, its attempt logged
    assert broken.state == "waiting"
    assert broken.lease_until == 0
    ((at, status, latency, error),) = broken.tried
    assert (status, latency, error) == (None, 0, "ivrlog could not prepare it: RuntimeError")
    assert broken.next_at == at + Policy().backoff_ms
    assert f"webhook delivery {broken.id}: could not be prepared" in caplog.text
    # ivrlog's own failure: the endpoint is not failing for it (nor disabled, later)
    assert outbox.hooks[1].failing_since is None

    # once its call can be read again, it goes at its next time, as a second attempt
    payload.broken.clear()
    clock[0] = broken.next_at / 1000
    assert run(dispatcher.drain()) == Tally(delivered=3, retrying=1)
    assert poster.calls[-1][0].id == broken.id
    assert poster.calls[-1][0].attempts == 1
    assert broken.state == "delivered"


def test_a_failure_then_a_success_after_the_backoff() -> None:
    clock = start()
    outbox = Outbox()
    delivery = outbox.add(1, "s;1")
    poster = Poster(clock, {delivery.id: [Sent(500, "status 500", 7)]})
    dispatcher = make(outbox, poster, clock)

    assert run(dispatcher.drain()) == Tally(retrying=1)
    ((at, status, latency, error),) = delivery.tried
    assert (status, latency, error) == (500, 7, "status 500")
    assert at == NOW + int(LATENCY_S * 1000)
    assert delivery.state == "waiting"
    assert delivery.next_at == at + Policy().backoff_ms  # rand 0: the full backoff
    assert outbox.hooks[1].failing_since == at

    # not due yet: nothing is sent
    clock[0] = (delivery.next_at - 1) / 1000
    assert run(dispatcher.drain()) == Tally(retrying=1)
    assert len(poster.calls) == 1

    clock[0] = delivery.next_at / 1000
    assert run(dispatcher.drain()) == Tally(delivered=1, retrying=1)
    first, second = (c for c, _, _ in poster.calls)
    assert (first.attempts, second.attempts) == (0, 1)
    assert first.message_id == second.message_id == f"msg_{delivery.id}"
    assert second.failing_since == at
    assert delivery.state == "delivered"
    assert [s for _, s, _, _ in delivery.tried] == [500, 200]
    assert outbox.hooks[1].failing_since is None


def test_410_disables_the_endpoint_and_its_other_deliveries_stay() -> None:
    clock = start()
    outbox = Outbox()
    first = outbox.add(1, "s;1")
    second = outbox.add(1, "s;2")
    elsewhere = outbox.add(2, "s;3")
    poster = Poster(clock, {first.id: [Sent(410, "status 410", 4)]})
    dispatcher = make(outbox, poster, clock, policy=Policy(concurrency=1))

    tally = run(dispatcher.drain())

    assert tally == Tally(delivered=1, failed=1, disabled=[1])
    assert sorted(poster.sent_ids()) == [first.id, elsewhere.id]
    assert first.state == "failed"
    assert (second.state, second.tried) == ("waiting", [])
    hook = outbox.hooks[1]
    assert (hook.enabled, hook.disabled_reason) == (False, "the receiver answered 410 Gone")
    assert outbox.next_delivery_at() is None


# run


def test_run_stops_and_writes_the_outcomes_of_attempts_in_flight(quick: None) -> None:
    clock = start()
    outbox = Outbox()
    held = outbox.add(1, "s;1")
    later = outbox.add(2, "s;2", next_at=NOW + 60_000)
    poster = Poster(clock)
    checks: list[bool] = []

    async def main() -> Dispatcher:
        release = asyncio.Event()

        async def hold(claimed: Claimed) -> None:
            await release.wait()

        def stopping() -> bool:
            # stop once the attempt is in flight; it ends only after that
            stop = bool(poster.calls)
            if stop:
                assert poster.active[1] == 1
                assert outbox.outcomes() == []
                release.set()
            checks.append(stop)
            return stop

        poster.pause = hold
        dispatcher = make(outbox, poster, clock)
        await dispatcher.run(stopping)
        return dispatcher

    dispatcher = run(main())

    assert checks[-1] is True
    assert checks.count(True) == 1  # it stopped at once
    assert dispatcher.tally == Tally(delivered=1)
    assert held.state == "delivered"
    assert [o.delivery_id for o in outbox.outcomes()] == [held.id]
    assert (later.state, later.tried) == ("waiting", [])
    assert poster.sent_ids() == [held.id]
    # the log's purge ran once, at the start
    assert outbox.purges == [(NOW - LOG_MS, dispatch.LOG_PURGE_BATCH)]


def test_run_writes_the_outcomes_again_after_the_database_failed(
    quick: None, caplog: pytest.LogCaptureFixture
) -> None:
    clock = start()
    outbox = Outbox()
    delivery = outbox.add(1, "s;1")
    outbox.fail_finish = 1
    poster = Poster(clock)

    with caplog.at_level(logging.ERROR, logger="ivrlog.webhooks"):
        run(make(outbox, poster, clock).run(lambda: delivery.state != "waiting"))

    assert delivery.state == "delivered"
    assert poster.sent_ids() == [delivery.id]  # sent once: its lease held meanwhile
    assert [o.delivery_id for o in outbox.outcomes()] == [delivery.id]
    assert "the database failed" in caplog.text


def test_run_does_nothing_when_told_to_stop_at_once() -> None:
    clock = start()
    outbox = Outbox()
    outbox.add(1, "s;1")
    poster = Poster(clock)
    run(make(outbox, poster, clock).run(lambda: True))
    assert poster.calls == []
    assert outbox.claims == []
    assert outbox.finished == []


def test_an_attempt_that_could_outlast_its_lease_is_not_started() -> None:
    clock = start()
    outbox = Outbox()
    slow = outbox.add(1, "s;slow")
    poster = Poster(clock)

    class SlowRead(Payloads):
        def __call__(self, claimed: Claimed, now: int) -> bytes | None:
            clock[0] += 8  # a read that took 8 s of the lease's 10 s margin
            return super().__call__(claimed, now)

    dispatcher = make(outbox, poster, clock, payload=SlowRead())
    assert run(dispatcher.drain()) == Tally()
    assert poster.calls == []  # not sent: another dispatcher may hold it by then
    assert slow.state == "waiting"
    assert slow.tried == []
    assert slow.lease_until > 0  # left to run out, then claimed again
