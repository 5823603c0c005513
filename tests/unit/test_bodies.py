"""The bounds on request bodies: JSON values counted before parsing, and the bytes of
bodies a process holds at once."""

from __future__ import annotations

import asyncio

import pytest

from ivrlog.core.errors import PayloadTooLarge, ServerBusy
from ivrlog.core.limits import MAX_BODY_VALUES
from ivrlog.web.bodies import BodyBudget
from ivrlog.web.documents import check_value_count, parse_batch, parse_update


def test_a_body_no_longer_than_the_value_limit_is_not_counted() -> None:
    check_value_count(b"[" + b"{}," * (MAX_BODY_VALUES // 3) + b"{}]")


def test_a_body_of_too_many_values_is_refused_before_parsing() -> None:
    body = b"[" + b",".join([b"{}"] * (MAX_BODY_VALUES // 2 + 1)) + b"]"
    with pytest.raises(PayloadTooLarge, match=f"more than {MAX_BODY_VALUES} JSON values"):
        parse_batch(body, "application/json")
    with pytest.raises(PayloadTooLarge):
        parse_batch(body, "application/x-ndjson")  # counted before any line is read
    with pytest.raises(PayloadTooLarge):
        parse_update(b'{"entries": ' + body + b"}", "application/json")


def test_a_long_body_of_few_values_is_parsed() -> None:
    text = "x" * (MAX_BODY_VALUES + 10)
    assert parse_batch(b'["' + text.encode() + b'"]', "") == [text]


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


def test_bodies_past_the_budget_wait_their_turn_in_order() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100)
        order: list[str] = []
        release = asyncio.Event()

        async def request(name: str, size: int) -> None:
            async with budget.hold(size):
                order.append(name)
                await release.wait()

        first = asyncio.create_task(request("a", 60))
        await asyncio.sleep(0)
        waiting = [
            asyncio.create_task(request("b", 60)),
            asyncio.create_task(request("c", 10)),  # fits, but comes after b
        ]
        await asyncio.sleep(0.01)
        assert order == ["a"]
        assert budget.used == 60
        release.set()
        await asyncio.gather(first, *waiting)
        assert order == ["a", "b", "c"]
        assert budget.used == 0

    run(scenario())


def test_a_body_larger_than_the_budget_proceeds_alone() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100)
        async with budget.hold(1000):
            assert budget.used == 100
        assert budget.used == 0

    run(scenario())


def test_a_request_cancelled_while_waiting_gives_its_turn_away() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100)
        async with budget.hold(80):
            waiting = asyncio.create_task(_hold(budget, 50))
            behind = asyncio.create_task(_hold(budget, 10))
            await asyncio.sleep(0.01)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await behind  # no longer behind anyone: 80 + 10 fit
        assert budget.used == 0

    run(scenario())


def test_a_request_cancelled_once_granted_gives_its_bytes_back() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100)
        holder = asyncio.create_task(_hold(budget, 100, pause=0.01))
        await asyncio.sleep(0)
        granted = asyncio.create_task(_hold(budget, 100))
        await asyncio.sleep(0)
        await holder  # grants the waiter its turn...
        granted.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await granted
        assert budget.used == 0

    run(scenario())


def test_a_request_that_waited_its_longest_is_refused_and_leaves_the_queue() -> None:
    """Slow uploads holding the budget make others wait body_timeout at most: then 503."""

    async def scenario() -> None:
        budget = BodyBudget(100)
        async with budget.hold(80):
            with pytest.raises(ServerBusy) as refused:
                async with budget.hold(50, wait=0.05):
                    raise AssertionError("granted past the budget")  # pragma: no cover
            assert (refused.value.status, refused.value.retry_after) == (503, 1)
            assert "retry after 1 seconds" in str(refused.value)
            await _hold(budget, 20)  # the queue is empty again: 80 + 20 fit at once
            assert budget.used == 80
        assert budget.used == 0

    run(scenario())


async def _hold(budget: BodyBudget, size: int, pause: float = 0) -> None:
    async with budget.hold(size):
        await asyncio.sleep(pause)
