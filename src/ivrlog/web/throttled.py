"""How a 429 of the authentication throttle (core/throttle.py) reads in the OpenAPI
document of every endpoint that takes credentials."""

from __future__ import annotations

from typing import Any

from ivrlog.web.schemas import error_doc

THROTTLED_DOC: dict[str, Any] = {
    **error_doc(
        "Too many failed authentications from this address (every request of it that needs "
        "credentials, for a while), or naming this account (failed attempts only); "
        "docs/operations.md.",
        "Too many failed authentication attempts; retry after 42 seconds.",
    ),
    "headers": {
        "Retry-After": {
            "description": "Seconds until an attempt may succeed.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
