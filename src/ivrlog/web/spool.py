"""A streamed page that lets go of the database at the database's pace, not the client's.

A page read from a cursor holds a database connection (and, on SQLite, a read snapshot
that keeps the journal from being cleared) until its last row is read. Streamed straight
to a client that reads slowly, or not at all, it would hold them for as long as the
client likes, and a few such clients would take every pooled connection.

So one worker thread reads the whole page into a spool and closes it, while the response
sends from the spool as fast as the client takes it: chunks wait in memory up to
PAGE_MEMORY bytes; past that (a client slower than the database) they go to a temporary
file, read back in order. A client that keeps up never touches the disk; memory stays
bounded whatever the page's size (docs/operations.md, slow clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Final

from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

PAGE_MEMORY: Final = 4 * 1024 * 1024  # bytes of a page waiting in memory for its client
PAGES_MEMORY: Final = 32 * 1024 * 1024  # the same, for every page of the process at once
READ_SIZE: Final = 256 * 1024  # bytes handed to the connection at a time


class MemoryBudget:
    """Bytes of spooled pages held in memory by a process, across its threads."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.total:
                return False
            self.used += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self.used -= size


MEMORY = MemoryBudget(PAGES_MEMORY)


class PageSpool:
    """Chunks written by one thread, read in the same order by one asyncio task."""

    def __init__(self, memory: int = PAGE_MEMORY, shared: MemoryBudget = MEMORY) -> None:
        self.memory = memory
        self._shared = shared
        self._lock = threading.Lock()
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of the first chunk already taken
        self._held = 0  # bytes in _chunks not yet taken
        self._file: IO[bytes] | None = None
        self._spilled = False  # chunks go to the file until the reader catches up
        self._written = self._read = 0  # positions in the file
        self._done = False
        self._abandoned = False
        self._error: BaseException | None = None
        self._ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.spilled_bytes = 0  # what went through the file (for tests and the curious)

    # the writer (a worker thread)
    def fill(self, chunks: Iterator[bytes], close: Callable[[], None]) -> None:
        """Write every chunk, then close the page; an error is kept for the reader."""
        try:
            for chunk in chunks:
                if self._abandoned:
                    break
                self._put(chunk)
        except BaseException as exc:  # the reader raises it: the response is cut short
            self._error = exc
        finally:
            try:
                close()
            finally:
                self._done = True
                self._wake()

    def _put(self, chunk: bytes) -> None:
        with self._lock:
            if self._abandoned:
                return
            if self._spilled and self._read == self._written:  # the reader caught up
                self._spilled = False
                self._read = self._written = 0
            if (
                not self._spilled
                and self._held + len(chunk) <= self.memory
                and self._shared.take(len(chunk))
            ):
                self._chunks.append(chunk)
                self._held += len(chunk)
            else:
                if self._file is None:
                    self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the reader
                self._spilled = True
                self._file.seek(self._written)
                self._file.write(chunk)
                self._written += len(chunk)
                self.spilled_bytes += len(chunk)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop has no reader left to wake
            self._loop.call_soon_threadsafe(self._ready.set)

    # the reader (the response, on the event loop)
    def _take(self) -> bytes | None:
        """The next chunk; b"" at the end; None when the writer is behind."""
        with self._lock:
            if self._chunks:
                first = self._chunks[0]
                if self._offset == 0 and len(first) <= READ_SIZE:
                    chunk = self._chunks.popleft()
                else:  # a large chunk goes in pieces: the connection buffers one at a time
                    chunk = first[self._offset : self._offset + READ_SIZE]
                    self._offset += len(chunk)
                    if self._offset == len(first):
                        self._chunks.popleft()
                        self._offset = 0
                self._held -= len(chunk)
                self._shared.give_back(len(chunk))
                return chunk
            if self._read < self._written:
                assert self._file is not None
                self._file.seek(self._read)
                chunk = self._file.read(min(READ_SIZE, self._written - self._read))
                self._read += len(chunk)
                return chunk
            if self._done:
                return b""
            self._ready.clear()
            return None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                chunk = self._take()
                if chunk is None:
                    await self._ready.wait()
                elif chunk:
                    yield chunk
                else:
                    break
            if self._error is not None:
                raise self._error
        finally:
            with self._lock:
                self._abandoned = True
                if self._file is not None:
                    self._file.close()
                    self._file = None
                    self._written = self._read = 0
                self._spilled = False
                self._chunks.clear()
                self._shared.give_back(self._held)
                self._held = self._offset = 0


_writers: set[asyncio.Future[None]] = set()  # running writers, kept from the collector


def spooled_response(
    chunks: Iterator[bytes], close: Callable[[], None], media_type: str
) -> StreamingResponse:
    """A response streaming `chunks`, which a worker thread reads whole into a spool and
    then calls `close`; `close` is called even when the response never starts."""
    started = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal started
        started = True
        spool = PageSpool()
        writer = asyncio.ensure_future(run_in_threadpool(spool.fill, chunks, close))
        _writers.add(writer)
        writer.add_done_callback(_writers.discard)
        async for chunk in spool.chunks():
            yield chunk

    def close_unread() -> None:
        if not started:
            close()

    return StreamingResponse(body(), media_type=media_type, background=BackgroundTask(close_unread))
