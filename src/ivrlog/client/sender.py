"""How the client sends a request: one httpx client (a connection pool) with the
account's credentials, the retries of ivrlog.client.retry, and each failure turned into
one exception of ivrlog.client.errors."""

from __future__ import annotations

import base64
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson

from ivrlog import __version__
from ivrlog.client.errors import (
    ApiError,
    ClientError,
    ConnectionFailed,
    Rejected,
    RequestTimeout,
    Throttled,
    UnexpectedAnswer,
    error_class,
)
from ivrlog.client.retry import Retry, retried, retry_after

Auth = Literal["basic", "bearer"]


class Sender:
    """The connections of a Client to `base_url`, and its credentials: HTTP Basic
    (`email`, `key`) for reads, the Bearer `token` for writes."""

    def __init__(
        self,
        base_url: str,
        *,
        email: str | None,
        key: str | None,
        token: str | None,
        timeout: float,
        retry: Retry,
        transport: httpx.BaseTransport | None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http:// or https:// URL, not {base_url!r}.")
        if parts.username is not None or parts.password is not None:
            raise ValueError("Give credentials as email and key (or token), not in the URL.")
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._timeout = timeout
        self._basic = (
            "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode()
            if email is not None and key is not None
            else None
        )
        self._bearer = f"Bearer {token}" if token is not None else None
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": f"ivrlog-client/{__version__}", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def _credential(self, auth: Auth) -> str:
        """The Authorization header of a read ("basic") or a write ("bearer")."""
        if auth == "basic":
            if self._basic is None:
                raise ValueError("This request reads: give the Client an email and a key.")
            return self._basic
        if self._bearer is None:
            raise ValueError("This request writes: give the Client the account's ingest token.")
        return self._bearer

    def send(
        self,
        method: str,
        url: str,
        auth: Auth,
        *,
        params: list[tuple[str, str]] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The answer of a request, retried as the policy says; raises a ClientError."""
        sent = {**(headers or {}), "Authorization": self._credential(auth)}
        where = f"{method} {urlsplit(url).path}"
        attempts = self.retry.attempts
        for attempt in range(attempts):
            wait: float | None = None
            try:
                response = self._http.request(
                    method,
                    url,
                    params=tuple(params) if params is not None else None,
                    content=content,
                    headers=sent,
                )
            except httpx.TimeoutException:
                failure: ClientError = RequestTimeout(
                    f"{where}: no answer from {self.base_url} within {self._timeout} s"
                    f" ({attempt + 1} attempts)."
                )
            except httpx.DecodingError as exc:
                raise UnexpectedAnswer(
                    f"{where}: the answer's body cannot be decoded ({exc})."
                ) from None
            except httpx.RequestError as exc:
                failure = ConnectionFailed(
                    f"{where}: could not reach {self.base_url} ({type(exc).__name__}: {exc};"
                    f" {attempt + 1} attempts)."
                )
            else:
                if response.status_code < 300:
                    return response
                if response.status_code < 400:  # redirects are not followed: say where to
                    location = response.headers.get("location", "nowhere said")
                    raise UnexpectedAnswer(
                        f"{where}: answered {response.status_code}, a redirect to {location}:"
                        " give the Client the URL it redirects to."
                    )
                failure = api_error(response)
                if not retried(response.status_code):
                    raise failure
                wait = retry_after(response.headers.get("retry-after"))
                if isinstance(failure, Throttled):
                    failure.retry_after = wait
                if wait is not None and wait > self.retry.max_retry_after:
                    raise failure
            if attempt + 1 == attempts:
                raise failure
            self.retry.sleep(self.retry.delay(attempt, wait))
        raise AssertionError("unreachable: the last attempt returns or raises")


def json_of(response: httpx.Response) -> Any:
    """The parsed JSON body of a success; UnexpectedAnswer when it is not JSON."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        kind = response.headers.get("content-type", "no Content-Type")
        raise UnexpectedAnswer(
            f"{response.request.method} {response.request.url.path}: "
            f"answered {response.status_code} with a body that is not JSON ({kind})."
        ) from None


def api_error(response: httpx.Response) -> ApiError:
    """The exception of an error answer: its class by status, its message the body's
    `error` (every ivrlog and Plum Fuse error has one), else the start of the body."""
    status = response.status_code
    body = response.content
    errors: list[dict[str, Any]] = []
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        message: str = document["error"]
        found = document.get("errors")
        if isinstance(found, list):
            errors = [e for e in found if isinstance(e, dict)]
    else:
        text = body[:200].decode("utf-8", "replace").strip()
        message = f"HTTP {status}" + (f": {text}" if text else "")
    kind = error_class(status)
    if kind is Rejected:
        return Rejected(status, message, body, errors)
    return kind(status, message, body)
