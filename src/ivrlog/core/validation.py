"""What an ingested document must be: the field rules of calls, entries and updates.

A check adds every problem it finds to `Problems` (by the call's index in the request
and the field's path) rather than stopping at the first, so that one answer (422) names
them all; nothing is stored unless there is none. The bounds are core/limits.py's; the
OpenAPI shapes (web/schemas.py) describe the same documents, and
tests/unit/test_schema_rules.py ties the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, TypeGuard

from ivrlog.core.errors import FieldError, PayloadTooLarge, ValidationFailed
from ivrlog.core.limits import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_NUMBER,
    MAX_REPORTED_ERRORS,
    MAX_SESSION_ID,
    MAX_TIME,
)
from ivrlog.core.model import CALL_TYPES, ENTRY_CLASSES

# the fields each object may hold, in the order the documents show them
CALL_FIELDS: Final = ("session_id", "src", "dest", "type", "start", "end", "private", "detail")
ENTRY_FIELDS: Final = ("event", "class", "timestamp", "private")
EVENT_FIELDS: Final = ("line", "data")
# the keys of an entry's data that every entry has, and that privacy keeps
KEPT_DATA: Final = ("module_type", "result_variable")
NUMBER_FIELDS: Final = ("src", "dest")  # phone numbers, as strings

_ENTRY_KEYS: Final = frozenset(ENTRY_FIELDS)
_EVENT_KEYS: Final = frozenset(EVENT_FIELDS)
_CLASSES: Final = frozenset(ENTRY_CLASSES)
_SCALARS: Final = frozenset((str, int, float, bool, type(None)))


class Problems:
    """The problems of one request: counted all, the first MAX_REPORTED_ERRORS kept."""

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
    """Whether `value` is a time ivrlog takes: whole UNIX seconds, 0 to MAX_TIME."""
    if not _is_int(value) or not 0 <= value <= MAX_TIME:
        problems.add(index, path, f"must be a whole number of UNIX seconds, 0 to {MAX_TIME}")
        return False
    return True


def check_unknown(
    obj: dict[str, Any], allowed: Iterable[str], index: int, prefix: str, problems: Problems
) -> None:
    """Every key of `obj` not `allowed` is a problem."""
    allowed = tuple(allowed)
    for key in obj:
        if key not in allowed:
            problems.add(index, prefix + key, f"unknown field; allowed: {', '.join(allowed)}")


def too_deep(value: dict[str, Any] | list[Any], room: int) -> bool:
    """Whether containers nest inside `value` more than `room` levels deep."""
    if room <= 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(isinstance(child, (dict, list)) and too_deep(child, room - 1) for child in children)


def check_entry(entry: Any, index: int, path: str, problems: Problems) -> None:
    """A log entry: its event (line and data), class, timestamp and private flag."""
    if not isinstance(entry, dict):
        problems.add(index, path, "must be an object")
        return
    check_unknown(entry, ENTRY_FIELDS, index, path + ".", problems)
    event = entry.get("event")
    if not isinstance(event, dict):
        problems.add(index, path + ".event", "must be an object with line and data")
    else:
        check_unknown(event, EVENT_FIELDS, index, path + ".event.", problems)
        if not isinstance(event.get("line"), str):
            problems.add(index, path + ".event.line", "must be a string")
        data = event.get("data")
        if not isinstance(data, dict):
            problems.add(index, path + ".event.data", "must be an object")
        elif too_deep(data, MAX_DEPTH):
            problems.add(
                index, path + ".event.data", f"nests objects and lists deeper than {MAX_DEPTH}"
            )
        else:
            for key in KEPT_DATA:
                if not isinstance(data.get(key), str):
                    problems.add(index, f"{path}.event.data.{key}", "must be a string")
    if entry.get("class") not in ENTRY_CLASSES:
        problems.add(index, path + ".class", f"must be one of: {', '.join(ENTRY_CLASSES)}")
    check_time(entry.get("timestamp"), index, path + ".timestamp", problems)
    if not isinstance(entry.get("private", False), bool):
        problems.add(index, path + ".private", "must be true or false")


def plain_entry(entry: Any) -> bool:
    """Whether `entry` is valid at a glance: the usual entry, whose data holds no object
    or list (so it cannot nest too deep), built of plain JSON types. True only for an
    entry check_entry finds no problem in; for any other, check_entry says what is wrong
    (or that nothing is). About a third of check_entry's time on B3's entries."""
    if type(entry) is not dict or not entry.keys() <= _ENTRY_KEYS:
        return False
    event = entry.get("event")
    if type(event) is not dict or not event.keys() <= _EVENT_KEYS:
        return False
    data = event.get("data")
    kind = entry.get("class")
    timestamp = entry.get("timestamp")
    return (
        type(event.get("line")) is str
        and type(data) is dict
        and type(data.get("module_type")) is str
        and type(data.get("result_variable")) is str
        and _SCALARS.issuperset(map(type, data.values()))
        and type(kind) is str
        and kind in _CLASSES
        and type(timestamp) is int
        and 0 <= timestamp <= MAX_TIME
        and type(entry.get("private", False)) is bool
    )


def check_session_id(session_id: Any, index: int, problems: Problems) -> TypeGuard[str]:
    """1 to MAX_SESSION_ID printable characters, without `/`."""
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
    for field in NUMBER_FIELDS:
        value = call.get(field)
        if (required or field in call) and (
            not isinstance(value, str) or len(value) > MAX_NUMBER or "\x00" in value
        ):
            problems.add(
                index, field, f"must be a string of at most {MAX_NUMBER} characters, without NUL"
            )
    if (required or "type" in call) and call.get("type") not in CALL_TYPES:
        problems.add(index, "type", f"must be one of: {', '.join(CALL_TYPES)}")


def check_call(call: Any, index: int, seen: dict[str, int], problems: Problems) -> None:
    """A completed call of a bulk request; `seen` maps the session ids of the calls before
    it to their index (a request names a call once). Raises PayloadTooLarge (413) for a
    call of more than MAX_ENTRIES entries."""
    if not isinstance(call, dict):
        problems.add(index, "", "must be a call object")
        return
    check_unknown(call, CALL_FIELDS, index, "", problems)
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
    if not all(map(plain_entry, detail)):
        for position, entry in enumerate(detail):
            check_entry(entry, index, f"detail[{position}]", problems)


def validate_batch(calls: list[Any]) -> None:
    """Raise ValidationFailed naming every problem of the batch; return when it is valid."""
    problems = Problems()
    seen: dict[str, int] = {}
    for index, call in enumerate(calls):
        check_call(call, index, seen, problems)
    problems.raise_any()
