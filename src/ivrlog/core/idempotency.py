"""Idempotency keys of live updates: a retried update is answered, not applied again.

A sender names an update with a key of its choice (the `Idempotency-Key` header). The
first update with that key for a call is applied, and its answer is kept with the key in
the same transaction as its entries; an update with the same key for the same call (of
the same account) is then answered with the kept answer and changes nothing. The same
key with a different body is refused: it is a mistake of the sender, not a retry.

Only a stored update's answer (200) is kept: a refused update stored nothing, and sending
it again is answered anew. Keys are kept at least `KEY_LIFETIME` seconds, and deleted by
the first retention purge after that.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from ivrlog.core.errors import BadRequest, FieldError, ValidationFailed

MAX_KEY_LENGTH: Final = 255
KEY_LIFETIME: Final = 24 * 3600  # seconds a key is kept at least
# printable ASCII (space to tilde), neither starting nor ending with a space (HTTP would
# strip it on the way)
KEY_PATTERN: Final = f"^[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"
KEY_HEADER: Final = "Idempotency-Key"
_KEY = re.compile(KEY_PATTERN)


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """An update's key and the SHA-256 of its body (hex), which tells a retry (the same
    body) from a reuse of the key (another body)."""

    key: str
    body_sha256: str


def idempotent_request(key: str | None, body: bytes) -> IdempotentRequest | None:
    """The request's key and body hash, None without a key; BadRequest (400) for a key
    that KEY_PATTERN does not match."""
    if key is None:
        return None
    if _KEY.fullmatch(key) is None:
        raise BadRequest(
            f"Invalid {KEY_HEADER}: must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, "
            "neither starting nor ending with a space."
        )
    return IdempotentRequest(key, hashlib.sha256(body).hexdigest())


class KeyReused(ValidationFailed):
    """The key was used for another update of the call (422, as the IETF draft on the
    Idempotency-Key header advises); nothing was stored."""

    def __init__(self, key: str) -> None:
        super().__init__(
            [
                FieldError(
                    0,
                    KEY_HEADER,
                    f"the key {key!r} was used for another update of this call (its body "
                    "differs): use a new key for a new update",
                )
            ]
        )
