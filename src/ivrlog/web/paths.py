"""Checks on the request path that the router cannot make."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import Request

from ivrlog.core.errors import BadRequest


def check_utf8_path(request: Request) -> None:
    """Refuse (400) a path whose percent-escapes do not decode as UTF-8.

    The server decodes such escapes to U+FFFD, so `%FF%FE` and `%ED%A0%80` (a surrogate)
    would name the same session id; a properly encoded U+FFFD (`%EF%BF%BD`) is valid
    UTF-8 and a session id like any other."""
    check_utf8_raw_path(request.scope.get("raw_path"))


def check_utf8_raw_path(raw: bytes | None) -> None:
    """`check_utf8_path` on the scope's `raw_path`."""
    if raw is None:  # an ASGI server that does not pass the raw path: nothing to check
        return
    try:
        unquote_to_bytes(bytes(raw)).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(
            "Invalid session_id: its percent-escapes are not valid UTF-8; send the session "
            "id as UTF-8, each byte that is not a safe ASCII character percent-encoded."
        ) from None
