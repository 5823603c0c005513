"""Erasure: one call by its session id, or every call to or from a number (started before
a time when given), deleted for good with its detail, its search words and the calls in
progress it selects (Store.erase). The HTTP endpoints (web/erasure.py) and `ivrlog
erase` both call these functions.

The audit keeps when, how many and a keyed hash of the selector (HMAC-SHA256 with the
store's audit key), never the selector itself: a plain hash of a 10-digit number is
reversed by trying every number, a keyed one only by whoever holds the key
(docs/privacy.md, erasure).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final

from ivrlog.core.errors import BadRequest, NotFound
from ivrlog.core.limits import MAX_NUMBER
from ivrlog.core.model import Erasure
from ivrlog.core.ports import Store
from ivrlog.core.when import ALLOWED, parse_when

FIELDS: Final = ("number", "before")
NUMBER_RULE: Final = f"a non-empty string of at most {MAX_NUMBER} characters, without NUL"


class ErasureNotFound(NotFound):
    message = "No call or call in progress with that session id."


def selector_text(erasure: Erasure) -> str:
    """The canonical text of what `erasure` selects: `session;<id>`, or
    `number;before=<UNIX seconds or ->;<number>` (the number last, so that no choice of
    its characters can make two selectors read the same)."""
    if erasure.session_id is not None:
        return f"session;{erasure.session_id}"
    before = "-" if erasure.before is None else str(erasure.before)
    return f"number;before={before};{erasure.number}"


def selector_hash(key: bytes, erasure: Erasure) -> str:
    """HMAC-SHA256 of the selector's canonical text under `key`, in hex: the same for the
    same key and selector, and telling nothing of the selector without the key."""
    text = selector_text(erasure).encode("utf-8", "surrogatepass")  # any str hashes
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def _erase(store: Store, account_id: int, erasure: Erasure, now: int) -> int:
    return store.erase(account_id, erasure, selector_hash(store.audit_key(), erasure), now)


def erase_call(store: Store, account_id: int, session_id: str, now: int) -> int:
    """Erase the account's call (completed or in progress) of `session_id`: the count
    erased (1, or 2 if the session id is both a completed call and one in progress);
    ErasureNotFound (404) when there is none."""
    # no stored session id holds NUL (PostgreSQL text cannot): such an id names no call
    count = 0 if "\x00" in session_id else _erase(store, account_id, Erasure(session_id), now)
    if count == 0:
        raise ErasureNotFound()
    return count


def check_number(number: object) -> str:
    """`number` when it is a non-empty string of at most MAX_NUMBER characters, else
    BadRequest; the message never quotes it (it may be the very number to erase)."""
    if not isinstance(number, str) or not 0 < len(number) <= MAX_NUMBER or "\x00" in number:
        raise BadRequest(f"Invalid number: must be {NUMBER_RULE} (the src or dest to erase).")
    return number


def erase_number(store: Store, account_id: int, number: str, before: int | None, now: int) -> int:
    """Erase every call of the account whose src or dest is `number` (exactly), started
    before `before` when given, completed or in progress; how many (0 is no error)."""
    erasure = Erasure(number=check_number(number), before=before)
    return _erase(store, account_id, erasure, now)


def parse_before(value: object, now: int) -> int | None:
    """`before` of an erasure: absent (None), UNIX seconds as a JSON integer, or a string
    core.when.parse_when reads (UNIX seconds, ISO 8601 with an offset, `-30d`)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_when("before", str(value), now)
    if isinstance(value, str):
        return parse_when("before", value, now)
    raise BadRequest(f"Invalid before: must be {ALLOWED}.")


def parse_erasure(doc: Any, now: int) -> Erasure:
    """The Erasure of a `POST /v1/erasures` body, `{"number": N, "before": T}` (`before`
    optional); BadRequest naming the field and what is allowed otherwise."""
    if not isinstance(doc, Mapping):
        raise BadRequest(
            'The body must be a JSON object: {"number": "...", "before": ...} (before optional).'
        )
    unknown = [name for name in doc if name not in FIELDS]
    if unknown:
        raise BadRequest(
            f"Unknown field {str(unknown[0])[:64]!r} in the body: the fields are number and "
            "before (optional)."
        )
    if "number" not in doc:
        raise BadRequest(f"Missing number: must be {NUMBER_RULE} (the src or dest to erase).")
    return Erasure(number=check_number(doc["number"]), before=parse_before(doc.get("before"), now))
