"""Ingest request bodies into documents: the Content-Type decides how a body is read
(JSON, or NDJSON for a bulk request; 415 for anything else), the JSON values a body may
hold are counted before parsing (413), and integers are kept exact. Core receives the
parsed documents (core/ingest.py, core/live.py) and checks them.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

import orjson

from ivrlog.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from ivrlog.core.limits import MAX_BODY_VALUES, MAX_CALLS

JSON_TYPES: Final = ("", "application/json")  # no Content-Type is JSON
NDJSON_TYPES: Final = ("application/x-ndjson", "application/jsonl", "application/ndjson")
TOO_MANY_VALUES: Final = (
    f"The body holds more than {MAX_BODY_VALUES} JSON values (counted as its commas, colons, "
    "braces and brackets); send it in several requests."
)
TOO_MANY_CALLS: Final = f"A request holds at most {MAX_CALLS} calls."

# a run of 19 digits, found as a substring once every digit is "0" and all else a space:
# ten times faster than a regular expression on digit-heavy bodies (B3)
_DIGITS_AS_ZERO: Final = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGITS: Final = b"0" * 19


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, lower case, without its parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def loads(raw: bytes) -> Any:
    """Parse JSON. orjson turns an integer beyond 64 bits into a float, which would change
    its JSON type; when the text has a run of 19 or more digits the standard parser reads
    it instead, and an integer that does not fit in 64 bits is refused."""
    if _LONG_DIGITS not in raw.translate(_DIGITS_AS_ZERO):
        return orjson.loads(raw)
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise orjson.JSONDecodeError(str(exc), "", 0) from None
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise BadRequest(
            f"The body holds a value ivrlog cannot store ({exc}): integers must fit in "
            "64 bits (send larger ones as strings) and text must be valid Unicode."
        ) from None
    return value


def value_bound(text: bytes) -> int:
    """An upper bound on the JSON values that `text` starts or separates, counted at C
    speed: its `{`, `[`, `,` and `:` (those inside strings too)."""
    return text.count(b",") + text.count(b":") + text.count(b"{") + text.count(b"[")


def check_value_count(body: bytes) -> None:
    """Refuse (413) a body that may hold more than MAX_BODY_VALUES JSON values, before
    parsing it. Each counted value is a byte: a body no longer than the limit (every
    usual batch) is not counted."""
    if len(body) > MAX_BODY_VALUES and value_bound(body) > MAX_BODY_VALUES:
        raise PayloadTooLarge(TOO_MANY_VALUES)


def _parse_json(body: bytes) -> Any:
    try:
        return loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None


def _parse_ndjson(body: bytes) -> list[Any]:
    calls = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if line.strip():
            try:
                calls.append(loads(line))
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"Body line {number} is not valid JSON: {exc}.") from None
            if len(calls) > MAX_CALLS:
                raise PayloadTooLarge(TOO_MANY_CALLS)
    return calls


def parse_update(body: bytes, content_type: str) -> Any:
    """The JSON value of a live update's body (core.live checks it is an object)."""
    media = media_type(content_type)
    if media not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {media!r} is not accepted: use application/json (one object)."
        )
    check_value_count(body)
    return _parse_json(body)


def parse_batch(body: bytes, content_type: str) -> list[Any]:
    """The call objects of a bulk body: a JSON array, or NDJSON (one call a line)."""
    media = media_type(content_type)
    check_value_count(body)
    if media in NDJSON_TYPES:
        return _parse_ndjson(body)
    if media not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not accepted: "
            "use application/json (an array) or application/x-ndjson."
        )
    parsed = _parse_json(body)
    if not isinstance(parsed, list):
        raise BadRequest("The body must be a JSON array of call objects (or NDJSON).")
    if len(parsed) > MAX_CALLS:
        raise PayloadTooLarge(TOO_MANY_CALLS)
    return parsed
