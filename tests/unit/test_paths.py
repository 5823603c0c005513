"""check_utf8_path: the raw path's escapes must decode as UTF-8."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Request

from ivrlog.core.errors import BadRequest
from ivrlog.web.paths import check_utf8_path


def request(raw_path: bytes | None) -> Request:
    scope: dict[str, Any] = {"type": "http", "path": "/api/call/x", "headers": []}
    if raw_path is not None:
        scope["raw_path"] = raw_path
    return Request(scope)


@pytest.mark.parametrize(
    "raw", [b"/api/call/100035%3B000", b"/api/call/a;b", b"/api/call/%EF%BF%BD", b"/x/100%"]
)
def test_utf8_paths_pass(raw: bytes) -> None:
    check_utf8_path(request(raw))


@pytest.mark.parametrize("raw", [b"/api/call/%FF", b"/api/call/%ED%A0%80", b"/api/call/%C3"])
def test_other_escapes_are_refused(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="session_id"):
        check_utf8_path(request(raw))


def test_a_server_without_the_raw_path_is_not_checked() -> None:
    check_utf8_path(request(None))
