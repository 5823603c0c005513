"""Errors that carry their HTTP status and the message a client sees.

One handler in the web layer renders every one of them, in JSON or XML.
"""

from __future__ import annotations

from typing import Any


class IvrlogError(Exception):
    """Base of every error a client may see. `message` is safe to show."""

    status = 500
    message = "Database error."

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


class BadRequest(IvrlogError):
    status = 400


class Unauthorized(IvrlogError):
    status = 401
    message = "Authentication headers invalid or the account is inactive."


class IngestUnauthorized(Unauthorized):
    message = "Ingest token invalid or the account is inactive."


class NotFound(IvrlogError):
    status = 404
    message = "Not found."


class CallNotFound(NotFound):
    message = "No call log was found."


class DetailUnavailable(NotFound):
    message = "There are no call log details available for this call."


class MethodNotAllowed(IvrlogError):
    status = 405
    message = "Invalid HTTP method supplied (only GET allowed)."


class NotAcceptable(IvrlogError):
    """The Accept header names none of the formats the endpoint answers in."""

    status = 406


class Conflict(IvrlogError):
    """The request is valid but cannot apply to the call as it stands; nothing was stored."""

    status = 409


class CallComplete(Conflict):
    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"The call {session_id!r} is complete: no entries can be added to it. "
            "Nothing was stored. To replace it, POST it whole to /ingest/v1/calls."
        )


class PayloadTooLarge(IvrlogError):
    status = 413


class UnsupportedMediaType(IvrlogError):
    status = 415


class ValidationFailed(IvrlogError):
    """A batch was refused whole; `errors` names every problem by index and path."""

    status = 422

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        count = len(errors)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found; nothing was stored.")

    def body(self) -> dict[str, Any]:
        return {
            "error": self.message,
            "errors": [
                {"index": e.index, "path": e.path, "message": e.message} for e in self.errors
            ],
        }


class FieldError:
    """One problem in an ingested batch: which call, which field, what is wrong."""

    __slots__ = ("index", "message", "path")

    def __init__(self, index: int, path: str, message: str) -> None:
        self.index = index
        self.path = path
        self.message = message

    def __repr__(self) -> str:
        return f"FieldError({self.index}, {self.path!r}, {self.message!r})"


class AccountError(Exception):
    """A CLI-level problem with an account (unknown email, duplicate, bad address)."""


class DatabaseError(IvrlogError):
    status = 500
    message = "Database error."


class RetryLater(IvrlogError):
    """Refused for a while; `retry_after` in seconds (the answer's Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class TooManyRequests(RetryLater):
    """Failed authentication throttled."""

    status = 429


class ServerBusy(RetryLater):
    """The server holds as many ingest bodies as it may, and the request waited its
    longest for its turn."""

    status = 503
