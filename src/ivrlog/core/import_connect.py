"""`ivrlog import connect-flow-logs`: Amazon Connect contact flow logs, as CloudWatch Logs
keeps them, as ivrlog calls. docs/import.md has the mapping as a table.

Input read:
- JSON lines, one flow block record a line (`{"ContactId": ..., "ContactFlowModuleType":
  ..., "Timestamp": ...}`); a line may also be a CloudWatch event whose `message` is the
  record (`aws logs get-log-events`), or an S3 export line (`<time> <record>`);
- the JSON of `aws logs filter-log-events` or `get-log-events` (`{"events": [...]}`).

The records are grouped by ContactId (a contact's records may come from several streams
and files, interleaved with other contacts'), and ordered by their Timestamp, then by
the order they were read; a record read twice (overlapping exports) counts once. A
contact is a call; each record an entry."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from ivrlog.core.bringing import ImportFailed, iso_moment

INPUT_BLOCKS: Final = frozenset({"GetUserInput", "StoreUserInput"})
NOT_INPUT: Final = frozenset({"Timeout", "NoMatchingCondition", "InvalidNumber", "Error"})
ERROR: Final = re.compile(r"error|exception|fail", re.IGNORECASE)
EXPORT_LINE: Final = re.compile(r"(\S+) (\{.*\})\s*")  # an S3 export: `<time> <record>`


class _Record:
    __slots__ = ("at", "moment", "order", "record")

    def __init__(self, moment: float, order: int, record: Mapping[str, Any]) -> None:
        self.moment, self.order, self.record = moment, order, record
        self.at = math.floor(moment)  # whole seconds, as entries keep time


def _record(where: str, value: Any) -> Mapping[str, Any]:
    """The flow log record in `value` (itself, or a CloudWatch event's message)."""
    if (
        isinstance(value, dict)
        and isinstance(value.get("message"), str)
        and "ContactId" not in value
    ):
        try:
            value = orjson.loads(value["message"])
        except orjson.JSONDecodeError as exc:
            raise ImportFailed(f"{where}: the event's message is not JSON ({exc.msg}).") from None
    if not isinstance(value, dict):
        raise ImportFailed(f"{where}: must be a flow log record (a JSON object).")
    for name in ("ContactId", "ContactFlowModuleType"):
        if not isinstance(value.get(name), str) or not value[name]:
            raise ImportFailed(f"{where}: no {name}; a contact flow log record has one.")
    if iso_moment(value.get("Timestamp")) is None:
        raise ImportFailed(
            f"{where}: Timestamp must be an ISO 8601 time (2024-03-12T14:05:31.482Z),"
            f" not {value.get('Timestamp')!r}."
        )
    return value


def _lines(where: str, data: bytes) -> Iterable[tuple[str, Any]]:
    for number, raw in enumerate(data.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        place = f"{where}, line {number}"
        try:
            yield place, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            exported = EXPORT_LINE.fullmatch(line.decode("utf-8", "replace"))
            if exported is None:
                raise ImportFailed(f"{place}: not JSON ({exc.msg}).") from None
            try:
                yield place, orjson.loads(exported[2])
            except orjson.JSONDecodeError as inner:
                raise ImportFailed(f"{place}: not JSON ({inner.msg}).") from None


def read_records(documents: Iterable[tuple[str, bytes]]) -> dict[str, list[_Record]]:
    """Every record of the input by ContactId, in order; ImportFailed at the first line
    that is not one (naming its file and line)."""
    contacts: dict[str, list[_Record]] = defaultdict(list)
    seen: set[bytes] = set()  # records read twice (overlapping exports) count once
    order = 0
    for where, data in documents:
        whole: Any = None
        if data.lstrip()[:1] == b"{":
            try:
                whole = orjson.loads(data)
            except orjson.JSONDecodeError:
                whole = None  # JSON lines
        if isinstance(whole, dict) and isinstance(whole.get("events"), list):
            found: Iterable[tuple[str, Any]] = (
                (f"{where}: events[{n}]", event) for n, event in enumerate(whole["events"])
            )
        else:
            found = _lines(where, data)
        for place, value in found:
            record = _record(place, value)
            same = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            if same in seen:
                continue
            seen.add(same)
            order += 1
            moment = iso_moment(record["Timestamp"])
            assert moment is not None  # checked by _record
            contacts[record["ContactId"]].append(_Record(moment, order, record))
    return contacts


def _entry(record: Mapping[str, Any], at: int) -> dict[str, Any]:
    block = record["ContactFlowModuleType"]
    results = record.get("Results")
    parameters = record.get("Parameters")
    text = parameters.get("Text") if isinstance(parameters, dict) else None
    if isinstance(results, str) and ERROR.search(results):
        cls, line = "error", f"{block}: {results}"
    elif block in INPUT_BLOCKS and isinstance(results, str) and results not in NOT_INPUT:
        cls, line = "event", f"User input: {results}"
    elif block == "PlayPrompt":
        cls, line = (
            "prompt",
            f"Playing prompt: {text}" if isinstance(text, str) else "Playing prompt",
        )
    else:
        cls, line = "info", block if results is None else f"{block}: {results}"
    data: dict[str, Any] = {
        "module_type": block,
        "result_variable": str(record.get("Identifier") or block),
    }
    for key, name in (
        ("Parameters", "parameters"),
        ("Results", "results"),
        ("ExternalResults", "external_results"),
    ):
        if key in record:
            data[name] = record[key]
    return {"event": {"line": line, "data": data}, "class": cls, "timestamp": at}


def connect_calls(contacts: Mapping[str, list[_Record]]) -> list[dict[str, Any]]:
    """A call of each contact. Flow logs carry no phone numbers and no direction: `src`
    and `dest` are empty and `type` is inbound (docs/import.md)."""
    calls = []
    for contact, records in contacts.items():
        ordered = sorted(records, key=lambda r: (r.moment, r.order))
        detail: list[dict[str, Any]] = []
        flow = None
        for item in ordered:
            name = item.record.get("ContactFlowName") or item.record.get("ContactFlowId")
            if name != flow:  # the contact's first flow, or one it was transferred to
                flow = name
                detail.append(
                    {
                        "event": {
                            "line": f'Executing application "{name or "contact flow"}"',
                            "data": {
                                "module_type": "start",
                                "result_variable": "start",
                                "contact_flow_id": item.record.get("ContactFlowId"),
                            },
                        },
                        "class": "info",
                        "timestamp": item.at,
                    }
                )
            detail.append(_entry(item.record, item.at))
        calls.append(
            {
                "session_id": contact,
                "src": "",
                "dest": "",
                "type": "inbound",
                "start": ordered[0].at,
                "end": ordered[-1].at,
                "detail": detail,
            }
        )
    return calls
