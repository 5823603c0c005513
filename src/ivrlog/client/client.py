"""Client: the HTTP API of ivrlog, and of any Fuse-compatible server, from Python.

One httpx client (a connection pool) per Client; every request goes through `_send`,
which retries as ivrlog.client.retry says and turns a failure into one exception of
ivrlog.client.errors. Answers are parsed once with orjson into the typed dictionaries of
ivrlog.client.types."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final, cast
from urllib.parse import quote, urlsplit, urlunsplit

import httpx2 as httpx
import orjson

from ivrlog.client.errors import Rejected, UnexpectedAnswer
from ivrlog.client.retry import Retry
from ivrlog.client.sender import Sender, json_of
from ivrlog.client.types import (
    Call,
    CallPage,
    Change,
    ChangePage,
    Entry,
    FuseCall,
    FuseLoggedCall,
    Listing,
    LiveAnswer,
)

When = int | str | datetime
BATCH_BYTES: Final = 16 * 1024 * 1024  # an ingest body at most this (the server takes 64 MiB)
DEFAULT_RETRY: Final = Retry()


def _when(value: When) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(
                "A datetime needs a time zone (a naive one means another moment on every server)."
            )
        return value.isoformat()
    return str(value)


def _path_id(session_id: str) -> str:
    return quote(session_id, safe="")


class Client:
    """A connection to one server.

    `base_url` is the server's root (`https://ivrlog.example.com`, or
    `https://fuse.plumvoice.com` for Plum Fuse itself). Reads authenticate with HTTP
    Basic (`email`, `key`: a developer key); ingestion and erasure with the account's
    ingest `token`. `timeout` bounds each attempt (connecting, and each wait for data);
    `retry` is the retry policy. `transport` replaces httpx's (tests, proxies).

    Use it as a context manager, or call close(), to release its connections.
    """

    def __init__(
        self,
        base_url: str,
        *,
        email: str | None = None,
        key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        retry: Retry = DEFAULT_RETRY,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._sender = Sender(
            base_url,
            email=email,
            key=key,
            token=token,
            timeout=timeout,
            retry=retry,
            transport=transport,
        )
        self.base_url = self._sender.base_url

    def close(self) -> None:
        self._sender.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # the compatible API (Plum Fuse)
    def calls(
        self, start: int, end: int, *, offset: int = 0, limit: int = 1000, number: str | None = None
    ) -> Listing[FuseCall]:
        """GET /api/calls/{start}/{end}: one page of the window's calls, newest first."""
        return self._listing("calls", start, end, offset, limit, number)

    def all_logs(
        self, start: int, end: int, *, offset: int = 0, limit: int = 1000, number: str | None = None
    ) -> Listing[FuseLoggedCall]:
        """GET /api/all_logs/{start}/{end}: one page of the window's calls with their
        detail (`start`/`end` as strings, as Plum Fuse gives them)."""
        return self._listing("all_logs", start, end, offset, limit, number)

    def iter_calls(
        self, start: int, end: int, *, number: str | None = None, page_size: int = 1000
    ) -> Iterator[FuseCall]:
        """Every call of the window, paging by offset. Offsets move when calls arrive in
        the window meanwhile (a call may then be listed twice, or skipped): page a window
        that is over, or use iter_search, whose cursor does not move."""
        return self._pages("calls", start, end, number, page_size)

    def iter_all_logs(
        self, start: int, end: int, *, number: str | None = None, page_size: int = 100
    ) -> Iterator[FuseLoggedCall]:
        """Every call of the window with its detail, paging by offset (as iter_calls)."""
        return self._pages("all_logs", start, end, number, page_size)

    def call(self, session_id: str) -> list[Entry]:
        """GET /api/call/{session_id}: the call's entries in the order they happened.
        NotFound when the account has no such call or its detail is unavailable (its
        `message` says which)."""
        answer = json_of(self._sender.send("GET", f"/api/call/{_path_id(session_id)}", "basic"))
        if not isinstance(answer, list):
            raise UnexpectedAnswer("GET /api/call/...: the answer is not a JSON array.")
        return cast(list[Entry], answer)

    # ivrlog's own read API
    def search(
        self,
        *,
        from_: When | None = None,
        to: When | None = None,
        limit: int = 100,
        cursor: str | None = None,
        include_detail: bool = False,
        **filters: str | int | bool | None,
    ) -> CallPage:
        """GET /v1/calls: one page of the calls matching every filter given.

        `from_` and `to` are UNIX seconds, ISO 8601 with an offset, a time before now
        (`-7d`) or an aware datetime. `filters` are the endpoint's other parameters by
        name: number, src, dest, type, min_duration, max_duration, app, reached,
        ended_in, has_error (a bool), q. None leaves one out."""
        params = self._search_params(from_, to, limit, cursor, include_detail, filters)
        return self._call_page(
            json_of(self._sender.send("GET", "/v1/calls", "basic", params=params))
        )

    def iter_search(
        self,
        *,
        from_: When | None = None,
        to: When | None = None,
        page_size: int = 1000,
        include_detail: bool = False,
        **filters: str | int | bool | None,
    ) -> Iterator[Call]:
        """Every call matching the filters, page after page (following each page's
        `next`): each call of the window is given once, even while calls arrive."""
        params = self._search_params(from_, to, page_size, None, include_detail, filters)
        page = self._call_page(
            json_of(self._sender.send("GET", "/v1/calls", "basic", params=params))
        )
        while True:
            yield from page.calls
            if page.next is None:
                return
            page = self._call_page(
                json_of(self._sender.send("GET", self._same_origin(page.next), "basic"))
            )

    def changes(self, after: int = 0, limit: int = 1000) -> ChangePage:
        """GET /v1/changes: up to `limit` changes of the account after position `after`."""
        params = [("after", str(after)), ("limit", str(limit))]
        answer = json_of(self._sender.send("GET", "/v1/changes", "basic", params=params))
        if not (
            isinstance(answer, dict)
            and isinstance(answer.get("changes"), list)
            and isinstance(answer.get("after"), int)
        ):
            raise UnexpectedAnswer("GET /v1/changes: the answer is not {changes, after}.")
        return ChangePage(cast(list[Change], answer["changes"]), answer["after"])

    def iter_changes(self, after: int = 0, limit: int = 1000) -> Iterator[Change]:
        """Every change after `after` until there is none left (each change's `seq` is
        where to resume next time)."""
        while True:
            page = self.changes(after, limit)
            if not page.changes:
                return
            yield from page.changes
            after = page.after

    # ingestion and erasure (the ingest token)
    def ingest(self, calls: Iterable[Mapping[str, Any]], *, batch_size: int = 1000) -> int:
        """POST /ingest/v1/calls in batches of at most `batch_size` calls (and 16 MiB):
        the number of calls accepted. A batch is stored whole or not at all; when one is
        refused (Rejected), the batches before it are stored, and the error's `index`es
        count from the first call given."""
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be from 1 to 10000.")
        accepted = 0
        first = 0
        batch: list[bytes] = []
        size = 0
        for call in calls:
            encoded = orjson.dumps(call)
            if batch and (len(batch) == batch_size or size + len(encoded) > BATCH_BYTES):
                accepted += self._ingest_batch(batch, first)
                first += len(batch)
                batch, size = [], 0
            batch.append(encoded)
            size += len(encoded) + 1
        if batch:
            accepted += self._ingest_batch(batch, first)
        return accepted

    def append(
        self,
        session_id: str,
        entries: Sequence[Mapping[str, Any]] | None = None,
        *,
        src: str | None = None,
        dest: str | None = None,
        type: str | None = None,
        start: int | None = None,
        end: int | None = None,
        private: bool | None = None,
        idempotency_key: str | None = None,
    ) -> LiveAnswer:
        """POST /ingest/v1/calls/{session_id}/entries: entries of a call in progress (and
        `end` to complete it). An Idempotency-Key is made when none is given, so that a
        retry never appends the entries twice."""
        given = {"src": src, "dest": dest, "type": type, "start": start, "end": end}
        body: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
        if entries is not None:
            body["entries"] = list(entries)
        if private is not None:
            body["private"] = private
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key or str(uuid.uuid4()),
        }
        path = f"/ingest/v1/calls/{_path_id(session_id)}/entries"
        answer = json_of(
            self._sender.send("POST", path, "bearer", content=orjson.dumps(body), headers=headers)
        )
        return cast(LiveAnswer, answer)

    def erase(self, session_id: str) -> int:
        """DELETE /v1/calls/{session_id}: erase the call (and a call in progress of that
        id); how many were erased. NotFound when there is none."""
        response = self._sender.send("DELETE", f"/v1/calls/{_path_id(session_id)}", "bearer")
        return self._erased(response)

    def erase_number(self, number: str, *, before: When | None = None) -> int:
        """POST /v1/erasures: erase every call to or from `number` (that started before
        `before`, when given); how many were erased."""
        body: dict[str, Any] = {"number": number}
        if before is not None:
            body["before"] = before if isinstance(before, int) else _when(before)
        headers = {"Content-Type": "application/json"}
        response = self._sender.send(
            "POST", "/v1/erasures", "bearer", content=orjson.dumps(body), headers=headers
        )
        return self._erased(response)

    # the machinery
    def _listing(
        self, kind: str, start: int, end: int, offset: int, limit: int, number: str | None
    ) -> Listing[Any]:
        params = [("offset", str(offset)), ("limit", str(limit))]
        if number is not None:
            params.append(("number", number))
        path = f"/api/{kind}/{start}/{end}"
        answer = json_of(self._sender.send("GET", path, "basic", params=params))
        if not (
            isinstance(answer, dict)
            and isinstance(answer.get("calls"), list)
            and isinstance(answer.get("total_calls"), int)
        ):
            raise UnexpectedAnswer(
                f"GET /api/{kind}/...: the answer is not {{calls, total_calls}}."
            )
        return Listing(answer["calls"], answer["total_calls"])

    def _pages(
        self, kind: str, start: int, end: int, number: str | None, page_size: int
    ) -> Iterator[Any]:
        offset = 0
        while True:
            page = self._listing(kind, start, end, offset, page_size, number)
            yield from page.calls
            offset += len(page.calls)
            if not page.calls or offset >= page.total_calls:
                return

    @staticmethod
    def _search_params(
        from_: When | None,
        to: When | None,
        limit: int,
        cursor: str | None,
        include_detail: bool,
        filters: Mapping[str, str | int | bool | None],
    ) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        if from_ is not None:
            params.append(("from", _when(from_)))
        if to is not None:
            params.append(("to", _when(to)))
        for name, value in filters.items():
            if isinstance(value, bool):
                params.append((name, "true" if value else "false"))
            elif value is not None:
                params.append((name, str(value)))
        params.append(("limit", str(limit)))
        if cursor is not None:
            params.append(("cursor", cursor))
        if include_detail:
            params.append(("include", "detail"))
        return params

    def _same_origin(self, url: str) -> str:
        """A `next` link on this client's server (its scheme too: behind a proxy a server
        may write http for https), never another host: the credentials go with it."""
        parts, base = urlsplit(url), urlsplit(self.base_url)
        if parts.netloc and parts.netloc != base.netloc:
            raise UnexpectedAnswer(
                f"The next page is on another server ({parts.netloc}): not followed."
            )
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    @staticmethod
    def _call_page(answer: Any) -> CallPage:
        if not (isinstance(answer, dict) and isinstance(answer.get("calls"), list)):
            raise UnexpectedAnswer("GET /v1/calls: the answer is not a page of calls.")
        return CallPage(
            answer.get("from", ""), answer.get("to", ""), answer["calls"], answer.get("next")
        )

    def _ingest_batch(self, batch: list[bytes], first: int) -> int:
        body = b"[" + b",".join(batch) + b"]"
        headers = {"Content-Type": "application/json"}
        try:
            response = self._sender.send(
                "POST", "/ingest/v1/calls", "bearer", content=body, headers=headers
            )
        except Rejected as exc:
            for problem in exc.errors:
                if isinstance(problem.get("index"), int):
                    problem["index"] += first
            raise
        answer = json_of(response)
        if not (isinstance(answer, dict) and isinstance(answer.get("accepted"), int)):
            raise UnexpectedAnswer("POST /ingest/v1/calls: the answer is not {accepted}.")
        accepted: int = answer["accepted"]
        return accepted

    def _erased(self, response: httpx.Response) -> int:
        answer = json_of(response)
        if not (isinstance(answer, dict) and isinstance(answer.get("erased"), int)):
            raise UnexpectedAnswer("The erasure's answer is not {erased}.")
        erased: int = answer["erased"]
        return erased
