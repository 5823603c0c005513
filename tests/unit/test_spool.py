"""PageSpool: a page read whole at the writer's pace, in memory up to a bound and in a
temporary file past it, read back in order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from starlette.concurrency import run_in_threadpool

from ivrlog.web.spool import READ_SIZE, MemoryBudget, PageSpool, spooled_response


def chunks(count: int, size: int) -> list[bytes]:
    return [bytes([65 + i % 26]) * size for i in range(count)]


async def read_all(spool: PageSpool, pause_after: int | None = None) -> bytes:
    received = b""
    async for chunk in spool.chunks():
        assert len(chunk) <= max(READ_SIZE, 1000)
        received += chunk
        if pause_after is not None and len(received) >= pause_after:
            await asyncio.sleep(0.05)  # a slow client, once
            pause_after = None
    return received


def test_a_page_larger_than_memory_goes_through_a_file_in_order() -> None:
    page = chunks(300, 1000)
    closed = threading.Event()

    async def scenario() -> PageSpool:
        shared = MemoryBudget(1 << 20)
        spool = PageSpool(memory=10_000, shared=shared)
        # the writer runs to the end before the reader starts: a client that waits
        await run_in_threadpool(spool.fill, iter(page), closed.set)
        assert closed.is_set()  # the page was closed before a byte was sent
        assert await read_all(spool) == b"".join(page)
        assert shared.used == 0
        return spool

    spool = asyncio.run(scenario())
    assert spool.spilled_bytes == 300_000 - 10_000


def test_a_reader_that_keeps_up_never_touches_the_file() -> None:
    page = chunks(50, 1000)

    async def scenario() -> PageSpool:
        spool = PageSpool(memory=10_000)
        gate = threading.Semaphore(0)

        def paced() -> Iterator[bytes]:
            for chunk in page:
                gate.acquire()
                yield chunk

        writer = asyncio.ensure_future(run_in_threadpool(spool.fill, paced(), lambda: None))
        received = b""
        for _ in page:
            gate.release()
            chunk = None
            while not chunk:
                chunk = spool._take()
                if chunk is None:
                    await asyncio.sleep(0.001)
            received += chunk
        gate.release()
        await writer
        received += await read_all(spool)
        assert received == b"".join(page)
        return spool

    assert asyncio.run(scenario()).spilled_bytes == 0


def test_a_large_chunk_goes_out_in_pieces() -> None:
    async def scenario() -> list[int]:
        spool = PageSpool(memory=4 * READ_SIZE)
        spool.fill(iter([b"a" * (2 * READ_SIZE + 5)]), lambda: None)
        return [len(c) async for c in spool.chunks()]

    assert asyncio.run(scenario()) == [READ_SIZE, READ_SIZE, 5]


def test_the_shared_budget_sends_chunks_to_the_file() -> None:
    async def scenario() -> int:
        shared = MemoryBudget(2500)
        spool = PageSpool(memory=1 << 20, shared=shared)
        spool.fill(iter(chunks(5, 1000)), lambda: None)
        assert shared.used == 2000
        assert await read_all(spool) == b"".join(chunks(5, 1000))
        assert shared.used == 0
        return spool.spilled_bytes

    assert asyncio.run(scenario()) == 3000


def test_after_catching_up_the_reader_is_served_from_memory_again() -> None:
    async def scenario() -> int:
        spool = PageSpool(memory=2000)
        spool._put(b"a" * 1500)
        spool._put(b"b" * 1500)  # to the file
        assert spool._take() == b"a" * 1500
        assert spool._take() == b"b" * 1500
        spool._put(b"c" * 1000)  # caught up: memory again
        spool.fill(iter([]), lambda: None)
        assert await read_all(spool) == b"c" * 1000
        return spool.spilled_bytes

    assert asyncio.run(scenario()) == 1500


def test_an_error_while_reading_the_page_reaches_the_reader() -> None:
    closed = threading.Event()

    def failing() -> Iterator[bytes]:
        yield b"start"
        raise RuntimeError("the database went away")

    received: list[bytes] = []

    async def scenario() -> None:
        spool = PageSpool()
        spool.fill(failing(), closed.set)
        async for chunk in spool.chunks():
            received.append(chunk)

    with pytest.raises(RuntimeError, match="went away"):
        asyncio.run(scenario())
    assert received == [b"start"]
    assert closed.is_set()


def test_a_reader_that_stops_early_stops_the_writer() -> None:
    closed = threading.Event()
    written: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            written.append(1)
            yield b"x" * 1000

    async def scenario() -> None:
        spool = PageSpool(memory=5000)
        writer = asyncio.ensure_future(run_in_threadpool(spool.fill, endless(), closed.set))
        reader = spool.chunks()
        assert await reader.__anext__()
        await reader.aclose()  # type: ignore[attr-defined]  # an async generator's
        await writer

    asyncio.run(scenario())
    assert closed.is_set()


def test_a_response_that_never_starts_still_closes_the_page() -> None:
    closed = threading.Event()
    response = spooled_response(iter([b"never"]), closed.set, "application/json")
    assert response.background is not None
    asyncio.run(response.background())
    assert closed.is_set()
