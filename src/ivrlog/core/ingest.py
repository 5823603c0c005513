"""Bulk ingestion: parse a batch, validate every call, render its detail once, store.

A batch is all or nothing: every problem is collected and reported by index and path,
and nothing is written unless the whole batch is valid.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from typing import Any, Final, TypeGuard

import orjson

from ivrlog.core.errors import (
    BadRequest,
    FieldError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from ivrlog.core.model import CALL_TYPES, ENTRY_CLASSES, Fragments, StoredCall
from ivrlog.core.ports import Store
from ivrlog.core.redact import BUILTIN_RULES, Redactor
from ivrlog.core.sensitive import NONE
from ivrlog.render.xml import write_element

MAX_BODY_BYTES: Final = 64 * 1024 * 1024
MAX_CALLS: Final = 10_000
MAX_ENTRIES: Final = 10_000
MAX_SESSION_ID: Final = 128
MAX_NUMBER: Final = 64
MAX_TIME: Final = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_REPORTED_ERRORS: Final = 1_000
MAX_DEPTH: Final = 64  # objects and lists nested in an entry's data
# JSON values a body may hold, counted before parsing as its `{`, `[`, `,` and `:` (those
# inside strings too): a parsed value costs up to ~100 bytes of memory, so a body of
# `[{},{},...]` would take 30 times its size (docs/api.md, limits)
MAX_BODY_VALUES: Final = 8_000_000
PRIVATE: Final = "[private]"

_CALL_FIELDS: Final = ("session_id", "src", "dest", "type", "start", "end", "private", "detail")
_ENTRY_FIELDS: Final = ("event", "class", "timestamp", "private")
_EVENT_FIELDS: Final = ("line", "data")
_KEPT_DATA: Final = ("module_type", "result_variable")


# a run of 19 digits, found as a substring once every digit is "0" and all else a space:
# ten times faster than a regular expression on digit-heavy bodies (B3)
_DIGITS_AS_ZERO: Final = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGITS: Final = b"0" * 19


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


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def value_bound(text: bytes) -> int:
    """An upper bound on the JSON values that `text` starts or separates, counted at C
    speed: its `{`, `[`, `,` and `:` (those inside strings too)."""
    return text.count(b",") + text.count(b":") + text.count(b"{") + text.count(b"[")


TOO_MANY_VALUES: Final = (
    f"The body holds more than {MAX_BODY_VALUES} JSON values (counted as its commas, colons, "
    "braces and brackets); send it in several requests."
)


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


def parse_update(body: bytes, content_type: str) -> Any:
    """The JSON value of a live update's body (core.live checks it is an object)."""
    media = _media_type(content_type)
    if media not in ("", "application/json"):
        raise UnsupportedMediaType(
            f"Content-Type {media!r} is not accepted: use application/json (one object)."
        )
    check_value_count(body)
    return _parse_json(body)


def parse_batch(body: bytes, content_type: str) -> list[Any]:
    """The call objects of a request body: a JSON array, or NDJSON (one call a line)."""
    media = _media_type(content_type)
    check_value_count(body)
    if media in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
        calls = []
        for number, line in enumerate(body.split(b"\n"), start=1):
            if line.strip():
                try:
                    calls.append(loads(line))
                except orjson.JSONDecodeError as exc:
                    raise BadRequest(f"Body line {number} is not valid JSON: {exc}.") from None
                if len(calls) > MAX_CALLS:
                    raise PayloadTooLarge(f"A request holds at most {MAX_CALLS} calls.")
        return calls
    if media not in ("", "application/json"):
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not accepted: "
            "use application/json (an array) or application/x-ndjson."
        )
    parsed = _parse_json(body)
    if not isinstance(parsed, list):
        raise BadRequest("The body must be a JSON array of call objects (or NDJSON).")
    if len(parsed) > MAX_CALLS:
        raise PayloadTooLarge(f"A request holds at most {MAX_CALLS} calls.")
    return parsed


class Problems:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.count = 0

    def add(self, index: int, path: str, message: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(FieldError(index, path, message))

    def raise_any(self) -> None:
        """Raise ValidationFailed naming the problems found, if any."""
        if self.count:
            failure = ValidationFailed(self.errors)
            if self.count > len(self.errors):
                failure.message = (
                    f"{self.count} problems found (the first {len(self.errors)} are listed);"
                    " nothing was stored."
                )
            raise failure


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_time(value: Any, index: int, path: str, problems: Problems) -> bool:
    if not _is_int(value) or not 0 <= value <= MAX_TIME:
        problems.add(index, path, f"must be a whole number of UNIX seconds, 0 to {MAX_TIME}")
        return False
    return True


def check_unknown(
    obj: dict[str, Any], allowed: Iterable[str], index: int, prefix: str, problems: Problems
) -> None:
    allowed = tuple(allowed)
    for key in obj:
        if key not in allowed:
            problems.add(index, prefix + key, f"unknown field; allowed: {', '.join(allowed)}")


def _too_deep(value: dict[str, Any] | list[Any], room: int) -> bool:
    """Whether containers nest inside `value` more than `room` levels deep."""
    if room <= 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(isinstance(child, (dict, list)) and _too_deep(child, room - 1) for child in children)


def check_entry(entry: Any, index: int, path: str, problems: Problems) -> None:
    if not isinstance(entry, dict):
        problems.add(index, path, "must be an object")
        return
    check_unknown(entry, _ENTRY_FIELDS, index, path + ".", problems)
    event = entry.get("event")
    if not isinstance(event, dict):
        problems.add(index, path + ".event", "must be an object with line and data")
    else:
        check_unknown(event, _EVENT_FIELDS, index, path + ".event.", problems)
        if not isinstance(event.get("line"), str):
            problems.add(index, path + ".event.line", "must be a string")
        data = event.get("data")
        if not isinstance(data, dict):
            problems.add(index, path + ".event.data", "must be an object")
        elif _too_deep(data, MAX_DEPTH):
            problems.add(
                index, path + ".event.data", f"nests objects and lists deeper than {MAX_DEPTH}"
            )
        else:
            for key in _KEPT_DATA:
                if not isinstance(data.get(key), str):
                    problems.add(index, f"{path}.event.data.{key}", "must be a string")
    if entry.get("class") not in ENTRY_CLASSES:
        problems.add(index, path + ".class", f"must be one of: {', '.join(ENTRY_CLASSES)}")
    check_time(entry.get("timestamp"), index, path + ".timestamp", problems)
    if not isinstance(entry.get("private", False), bool):
        problems.add(index, path + ".private", "must be true or false")


def check_session_id(session_id: Any, index: int, problems: Problems) -> TypeGuard[str]:
    if (
        not isinstance(session_id, str)
        or not 1 <= len(session_id) <= MAX_SESSION_ID
        or not session_id.isprintable()
        or "/" in session_id
    ):
        problems.add(
            index,
            "session_id",
            f"must be a string of 1 to {MAX_SESSION_ID} printable characters without '/'",
        )
        return False
    return True


def check_summary(
    call: dict[str, Any], index: int, problems: Problems, *, required: bool = True
) -> None:
    """src, dest and type; when not `required`, only those present are checked."""
    for field in ("src", "dest"):
        value = call.get(field)
        if (required or field in call) and (
            not isinstance(value, str) or len(value) > MAX_NUMBER or "\x00" in value
        ):
            problems.add(
                index, field, f"must be a string of at most {MAX_NUMBER} characters, without NUL"
            )
    if (required or "type" in call) and call.get("type") not in CALL_TYPES:
        problems.add(index, "type", f"must be one of: {', '.join(CALL_TYPES)}")


def _check_call(call: Any, index: int, seen: dict[str, int], problems: Problems) -> None:
    if not isinstance(call, dict):
        problems.add(index, "", "must be a call object")
        return
    check_unknown(call, _CALL_FIELDS, index, "", problems)
    session_id = call.get("session_id")
    if check_session_id(session_id, index, problems):
        if session_id in seen:
            problems.add(index, "session_id", f"repeats the session id of call {seen[session_id]}")
        else:
            seen[session_id] = index
    check_summary(call, index, problems)
    start, end = call.get("start"), call.get("end")
    start_ok = check_time(start, index, "start", problems)
    end_ok = check_time(end, index, "end", problems)
    if start_ok and end_ok and int(end) < int(start):  # type: ignore[arg-type]
        problems.add(index, "end", f"must not be before start ({start})")
    if not isinstance(call.get("private", False), bool):
        problems.add(index, "private", "must be true or false")
    detail = call.get("detail", [])
    if not isinstance(detail, list):
        problems.add(index, "detail", "must be an array of log entries")
        return
    if len(detail) > MAX_ENTRIES:
        raise PayloadTooLarge(f"Call {index} has {len(detail)} entries; at most {MAX_ENTRIES}.")
    for position, entry in enumerate(detail):
        check_entry(entry, index, f"detail[{position}]", problems)


def validate_batch(calls: list[Any]) -> None:
    """Raise ValidationFailed naming every problem of the batch; return when it is valid."""
    problems = Problems()
    seen: dict[str, int] = {}
    for index, call in enumerate(calls):
        _check_call(call, index, seen, problems)
    problems.raise_any()


def normalize_entry(entry: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """An entry in the stored shape and key order: private content replaced (a private
    entry's, or one of the account's sensitive modules), then sensitive values redacted."""
    event = entry["event"]
    data = event["data"]
    line = event["line"]
    sensitive = redactor.sensitive
    if entry.get("private", False) or (sensitive is not NONE and sensitive.match(data)):
        line = PRIVATE
        data = {key: value if key in _KEPT_DATA else PRIVATE for key, value in data.items()}
    if redactor.active:
        line = redactor.text(line)
        data = redactor.value(data)
    return {
        "event": {"line": line, "data": data},
        "class": entry["class"],
        "timestamp": entry["timestamp"],
    }


def render_detail(entries: list[dict[str, Any]]) -> tuple[str, str]:
    """The stored fragments of a call's entries: a JSON array and a run of `<item>`s."""
    out: list[str] = []
    for entry in entries:
        write_element("item", entry, out)
    return orjson.dumps(entries).decode(), "".join(out)


def render_entries(entries: list[dict[str, Any]]) -> list[Fragments]:
    """Each entry's stored fragments: its JSON text and its `<item>` element."""
    rendered = []
    for entry in entries:
        out: list[str] = []
        write_element("item", entry, out)
        rendered.append(Fragments(orjson.dumps(entry).decode(), "".join(out)))
    return rendered


def prepare_call(call: dict[str, Any], redactor: Redactor = BUILTIN_RULES) -> StoredCall:
    """A validated call object as it will be stored."""
    private = bool(call.get("private", False))
    entries = [] if private else [normalize_entry(e, redactor) for e in call.get("detail", [])]
    detail_json, detail_xml = render_detail(entries) if entries else (None, None)
    return StoredCall(
        session_id=call["session_id"],
        src=call["src"],
        dest=call["dest"],
        type=call["type"],
        start=call["start"],
        end=call["end"],
        private=private,
        entry_count=len(entries),
        detail_json=detail_json,
        detail_xml=detail_xml,
    )


def past_detail_retention(call: StoredCall, detail_cutoff: int) -> StoredCall:
    """`call` without its detail when it started before `detail_cutoff`: that detail could
    never be read, and the purge may be dropping the place it would be written to (a
    PostgreSQL day partition)."""
    if call.start >= detail_cutoff or call.detail_json is None:
        return call
    return dataclasses.replace(call, entry_count=0, detail_json=None, detail_xml=None)


def ingest_calls(
    store: Store,
    account_id: int,
    calls: list[Any],
    redactor: Redactor | None = None,
    *,
    cutoffs: tuple[int, int] | None = None,
) -> int:
    """Validate, redact and store a batch atomically; the number of calls accepted.

    Without a redactor the built-in rules (card numbers, SSNs) apply. With `cutoffs`
    (the detail and call cutoffs of retention, now), what retention has already removed
    is not written: a call started before the call cutoff is accepted but not stored, the
    detail of one started before the detail cutoff is dropped (both would read as gone)."""
    validate_batch(calls)
    rules = BUILTIN_RULES if redactor is None else redactor
    detail_cutoff, call_cutoff = (0, 0) if cutoffs is None else cutoffs
    prepared = [
        past_detail_retention(prepare_call(call, rules), detail_cutoff)
        for call in calls
        if call["start"] >= call_cutoff
    ]
    if prepared:
        store.put_calls(account_id, prepared)
    return len(calls)
