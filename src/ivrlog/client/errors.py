"""The client's exceptions: one class a kind of failure, all under ClientError.

A request that fails for good raises one of these after the client's retries
(ivrlog.client.retry): the network (ConnectionFailed, RequestTimeout), an answer the
server gave (ApiError and its subclasses by status), or an answer that is not what the
endpoint documents (UnexpectedAnswer)."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Any failure of an ivrlog.client request; `message` says what happened."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectionFailed(ClientError):
    """The server could not be reached, or the connection broke, on every attempt."""


class RequestTimeout(ConnectionFailed):
    """The server did not answer within the client's timeout, on every attempt."""


class UnexpectedAnswer(ClientError):
    """A success status whose body is not the JSON the endpoint documents (a proxy's
    page, a server that is not Fuse-compatible)."""


class ApiError(ClientError):
    """The server answered with an error status; `message` is its `error` text."""

    def __init__(self, status: int, message: str, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class BadRequest(ApiError):
    """400: a parameter or body the server refused; the message names it."""


class Unauthorized(ApiError):
    """401: missing or wrong credentials, or a disabled account."""


class Forbidden(ApiError):
    """403: the credential cannot do this (a developer key asked to erase)."""


class NotFound(ApiError):
    """404: no such call (or its detail is unavailable: see `message`), or no such path."""


class Conflict(ApiError):
    """409: the call is complete, and entries cannot be added to it."""


class PayloadTooLarge(ApiError):
    """413: a body beyond the server's limits (calls, entries, bytes or values)."""


class Rejected(ApiError):
    """422: calls or an update the server refused whole; `errors` lists each problem
    (`index`, `path`, `message`), with `index` counted over every call given to
    Client.ingest, not only its batch."""

    def __init__(
        self,
        status: int,
        message: str,
        body: bytes = b"",
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(status, message, body)
        self.errors = errors or []


class Throttled(ApiError):
    """429: too many requests, still so after the retries; `retry_after` is the seconds
    the server asked to wait (None when it did not say)."""

    def __init__(
        self, status: int, message: str, body: bytes = b"", retry_after: float | None = None
    ) -> None:
        super().__init__(status, message, body)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the server failed, still so after the retries."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: Rejected,
}


def error_class(status: int) -> type[ApiError]:
    """The exception of an error status."""
    if status >= 500:
        return ServerError
    if status == 429:
        return Throttled
    return _BY_STATUS.get(status, ApiError)
