"""PostgreSQL's hot read on the event loop (core/ports.AsyncLookups; docs/performance.md,
B1): a call's detail through psycopg's async pool, awaited where the server would have
handed the lookup to a worker thread and back.

An async pool belongs to the event loop it was opened on. The server's lifespan opens it
on the serving loop (`open`) and closes it as the server stops (`close`); a lookup on any
other loop (a test client without the app's lifespan) takes the synchronous store in a
worker thread instead, as before.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, Final

import psycopg
from anyio import to_thread
from psycopg_pool import AsyncConnectionPool

from ivrlog.core.model import CallDetail, DetailFormat
from ivrlog.storage.postgres_page import has_nul
from ivrlog.storage.sql import POSTGRES

POOL_SIZE: Final = 10  # connections of a server process's async pool, besides the other's
OPEN_TIMEOUT: Final = 10.0  # seconds for its first connection as the server starts
AsyncPool = AsyncConnectionPool[psycopg.AsyncConnection[Any]]


def positional(query: str, names: tuple[str, ...]) -> str:
    """`query` with its `%(name)s` parameters written `$1`, `$2`... in the order of
    `names` (a raw cursor's form: psycopg passes it to PostgreSQL as it is)."""
    for number, name in enumerate(names, start=1):
        query = query.replace(f"%({name})s", f"${number}")
    if "%(" in query:
        raise ValueError(f"a parameter of {query!r} is not in {names}")
    return query


# the lookup of a completed call's detail (storage/sql.py), with its parameters in order
STATEMENTS: Final = {
    fmt: positional(POSTGRES.completed_detail[fmt], ("cutoff", "account", "session", "call_cutoff"))
    for fmt in ("json", "xml")
}


class Lookups:
    """The async pools of one store: one per event loop that opened them (a server has
    one loop; apps of a test may share a store over several), each closed by as many
    `close` as it had `open` on its loop."""

    def __init__(self, url: str, session: str, sync_detail: Callable[..., CallDetail]) -> None:
        self._url = url
        self._session = session  # each connection's settings, as the synchronous pool's
        self._sync_detail = sync_detail  # the store's call_detail, for the rare cases
        self._pools: dict[asyncio.AbstractEventLoop, tuple[AsyncPool, int]] = {}

    async def open(self) -> None:
        """Open the running loop's pool, its first connection made."""
        loop = asyncio.get_running_loop()
        if loop in self._pools:
            pool, opened = self._pools[loop]
            self._pools[loop] = (pool, opened + 1)
            return
        pool = AsyncConnectionPool(
            self._url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True, "client_encoding": "UTF8"},
            configure=self._configure,
            open=False,
            name="ivrlog-lookups",
            timeout=30.0,
        )
        # its first connection made before the server serves (as the synchronous pool's):
        # not in the background while requests run, whose tests would see the pool's use
        # of the process-wide `random` (its jitter) as theirs
        try:
            await pool.open(wait=True, timeout=OPEN_TIMEOUT)
        except BaseException:
            await pool.close()
            raise
        self._pools[loop] = (pool, 1)

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(self._session)

    async def close(self) -> None:
        """Close the running loop's pool once every `open` on it is matched."""
        loop = asyncio.get_running_loop()
        if loop not in self._pools:
            return
        pool, opened = self._pools[loop]
        if opened > 1:
            self._pools[loop] = (pool, opened - 1)
            return
        del self._pools[loop]
        await pool.close()

    def _pool(self) -> AsyncPool | None:
        try:
            entry = self._pools.get(asyncio.get_running_loop())
        except RuntimeError:
            return None
        return None if entry is None else entry[0]

    def on_this_loop(self) -> bool:
        """Whether a pool is open on the running loop."""
        return self._pool() is not None

    async def call_detail(
        self,
        account_id: int,
        session_id: str,
        fmt: DetailFormat,
        detail_cutoff: int,
        *,
        call_cutoff: int = 0,
    ) -> CallDetail:
        """Store.call_detail: a completed call's in one statement on the async pool; a
        call in progress (its entries read in one snapshot) or a lookup off the pool's
        loop through the synchronous store, in a worker thread (anyio's, whose limit
        the server's other worker-thread work shares)."""
        sync = functools.partial(
            self._sync_detail, account_id, session_id, fmt, detail_cutoff, call_cutoff=call_cutoff
        )
        pool = self._pool()
        if pool is None:
            return await to_thread.run_sync(sync)
        if has_nul(session_id):
            return CallDetail(False, None)
        # a raw cursor's $n parameters and a plain check-out: 12 % more lookups a second
        # than the pool's context manager and named parameters (docs/performance.md, B1)
        conn = await pool.getconn()
        try:
            cursor = psycopg.AsyncRawCursor(conn)
            await cursor.execute(
                STATEMENTS[fmt], (detail_cutoff, account_id, session_id, call_cutoff), prepare=True
            )
            row = await cursor.fetchone()
        finally:
            await pool.putconn(conn)
        if row is not None:
            return CallDetail(True, row[0])
        return await to_thread.run_sync(sync)
