"""/openapi.json describes what the server accepts: its limits are the validation's own
constants, and documents valid per its schemas are exactly those ingestion accepts."""

from __future__ import annotations

import copy
from typing import Any, cast

import jsonschema_rs  # schemathesis's JSON Schema validator (test extras)
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrlog.core import live, validation
from ivrlog.core.errors import IvrlogError
from ivrlog.core.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from ivrlog.core.limits import (
    MAX_CALLS,
    MAX_ENTRIES,
    MAX_LIMIT,
    MAX_NUMBER,
    MAX_OFFSET,
    MAX_SESSION_ID,
    MAX_TIME,
)
from ivrlog.core.live import validate_update
from ivrlog.core.model import CALL_TYPES, ENTRY_CLASSES
from ivrlog.core.ports import Store
from ivrlog.core.validation import validate_batch
from ivrlog.settings import Settings
from ivrlog.web import create_app

DOCUMENT: dict[str, Any] = create_app(
    Settings(database="unused.db", purge_interval=0), store=cast(Store, None)
).openapi()
SCHEMAS = DOCUMENT["components"]["schemas"]


def validator(name: str) -> Any:
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]}
    )


CALL = validator("IngestCall")
UPDATE = validator("LiveUpdate")


def server_accepts(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except IvrlogError:
        return False
    return True


def test_the_limits_are_the_validation_s_constants() -> None:
    call = SCHEMAS["IngestCall"]["properties"]
    assert call["session_id"]["maxLength"] == MAX_SESSION_ID
    assert call["session_id"]["minLength"] == 1
    assert call["src"]["maxLength"] == call["dest"]["maxLength"] == MAX_NUMBER
    for time in (call["start"], call["end"], SCHEMAS["IngestEntry"]["properties"]["timestamp"]):
        assert (time["minimum"], time["maximum"]) == (0, MAX_TIME)
    assert call["detail"]["maxItems"] == MAX_ENTRIES
    assert call["type"]["enum"] == list(CALL_TYPES)
    assert SCHEMAS["IngestEntry"]["properties"]["class"]["enum"] == list(ENTRY_CLASSES)
    update = SCHEMAS["LiveUpdate"]["properties"]
    assert update["entries"]["maxItems"] == MAX_ENTRIES
    assert update["start"]["maximum"] == MAX_TIME
    assert {"maximum": MAX_TIME, "minimum": 0, "type": "integer"} in update["end"]["anyOf"]
    bulk = DOCUMENT["paths"]["/ingest/v1/calls"]["post"]["requestBody"]["content"]
    assert bulk["application/json"]["schema"]["maxItems"] == MAX_CALLS
    entries = DOCUMENT["paths"]["/ingest/v1/calls/{session_id}/entries"]["post"]
    params = {p["name"]: p for p in entries["parameters"]}
    assert params["session_id"]["schema"]["maxLength"] == MAX_SESSION_ID
    key = params["Idempotency-Key"]
    assert (key["in"], key["required"]) == ("header", False)
    assert key["schema"]["maxLength"] == MAX_KEY_LENGTH
    assert key["schema"]["pattern"] == KEY_PATTERN
    read = DOCUMENT["paths"]["/api/call/{session_id}"]["get"]["parameters"][0]
    assert read["schema"]["pattern"] == params["session_id"]["schema"]["pattern"]
    page = {
        p["name"]: p for p in DOCUMENT["paths"]["/api/calls/{start}/{end}"]["get"]["parameters"]
    }
    assert page["start"]["schema"]["maximum"] == page["end"]["schema"]["maximum"] == MAX_TIME
    assert page["offset"]["schema"]["maximum"] == MAX_OFFSET
    assert page["limit"]["schema"]["maximum"] == MAX_LIMIT
    assert page["offset"]["allowEmptyValue"] is True


def test_unknown_fields_are_refused_where_the_server_refuses_them() -> None:
    closed = {
        "IngestCall": validation.CALL_FIELDS,
        "IngestEntry": validation.ENTRY_FIELDS,
        "IngestEvent": validation.EVENT_FIELDS,
        "LiveUpdate": live.UPDATE_FIELDS,
    }
    for name, fields in closed.items():
        assert SCHEMAS[name]["additionalProperties"] is False
        assert set(SCHEMAS[name]["properties"]) == set(fields)
    # an entry's data takes any key
    assert SCHEMAS["IngestEventData"]["additionalProperties"] is True


def test_too_many_entries_are_refused_by_both() -> None:
    entry = {
        "event": {"line": "", "data": {"module_type": "", "result_variable": ""}},
        "class": "info",
        "timestamp": 0,
    }
    call = {"session_id": "s", "src": "", "dest": "", "type": "inbound", "start": 0, "end": 0}
    for count, valid in ((MAX_ENTRIES, True), (MAX_ENTRIES + 1, False)):
        many = {**call, "detail": [entry] * count}
        assert CALL.is_valid(many) is valid
        assert server_accepts(validate_batch, [many]) is valid
        update = {"entries": [entry] * count}
        assert UPDATE.is_valid(update) is valid
        assert server_accepts(validate_update, "s", update) is valid


# A valid document with one field changed to a value at or around a limit, of the wrong
# type, or left out (MISSING), or an unknown field added: the server and the schema must
# agree on each. Session ids are drawn from Latin-1, where the pattern states the whole
# rule; whole numbers are Python ints (JSON Schema's integer also takes 1.0, which the
# server refuses); `end >= start` crosses fields, which JSON Schema cannot say: kept true.
MISSING = object()
times = st.sampled_from([-1, 0, 1, MAX_TIME - 1, MAX_TIME, MAX_TIME + 1]) | st.integers(0, MAX_TIME)
any_time = times | st.sampled_from(["1", None, True, 1.5, MISSING])
texts = st.text(st.characters(max_codepoint=0xFF), max_size=4) | st.sampled_from([None, 1])
NUMBERS = (
    st.text(st.characters(max_codepoint=0x7F), max_size=2)
    | st.integers(MAX_NUMBER, MAX_NUMBER + 1).map(lambda n: "6" * n)
    | st.sampled_from(["61\x007", None, 1, MISSING])
)
FLAGS = st.sampled_from([True, False, 0, "yes", None, MISSING])
ENTRY = {
    "event": {"line": "Executing", "data": {"module_type": "start", "result_variable": "s"}},
    "class": "info",
    "timestamp": 15,
}
ENTRY_CHANGES: dict[tuple[str, ...], Any] = {
    (): st.sampled_from([None, "entry", []]),
    ("event",): st.sampled_from([None, "x", [], MISSING]),
    ("event", "line"): texts | st.just(MISSING),
    ("event", "data"): st.sampled_from([None, [], "x", MISSING]),
    ("event", "data", "module_type"): texts | st.just(MISSING),
    ("event", "data", "result_variable"): texts | st.just(MISSING),
    ("event", "data", "caller id"): st.integers() | texts | st.just({"a": [1, None]}),
    ("class",): st.sampled_from([*ENTRY_CLASSES, "trace", "INFO", None, MISSING]),
    ("timestamp",): any_time,
    ("private",): FLAGS,
    ("event", "extra"): st.just(1),
    ("Class",): st.just(1),
}
CALL_CHANGES: dict[tuple[Any, ...], Any] = {
    ("session_id",): st.text(st.characters(max_codepoint=0xFF), max_size=3)
    | st.integers(MAX_SESSION_ID - 1, MAX_SESSION_ID + 1).map(lambda n: "x" * n)
    | st.sampled_from([None, 1, MISSING]),
    ("src",): NUMBERS,
    ("dest",): NUMBERS,
    ("type",): st.sampled_from([*CALL_TYPES, "inbound ", None, MISSING]),
    ("start",): any_time,
    ("end",): any_time,
    ("private",): FLAGS,
    ("detail",): st.sampled_from([[], {}, None, "x", MISSING]),
    ("sessionid",): st.just(1),
    **{("detail", 0, *path): value for path, value in ENTRY_CHANGES.items()},
}
UPDATE_CHANGES: dict[tuple[Any, ...], Any] = {
    ("src",): NUMBERS,
    ("dest",): NUMBERS,
    ("type",): st.sampled_from([*CALL_TYPES, "Inbound", None, MISSING]),
    ("start",): any_time,
    ("end",): any_time,
    ("private",): FLAGS,
    ("entries",): st.sampled_from([[], {}, None, "x", MISSING]),
    ("session_id",): st.just("s"),  # the path's, unknown in the body
    **{("entries", 0, *path): value for path, value in ENTRY_CHANGES.items()},
}


def one_change(valid: Any, changes: dict[tuple[Any, ...], Any]) -> Any:
    """`valid` (copied) with one of `changes` (path: strategy) applied, or none."""

    @st.composite
    def strategy(draw: st.DrawFn) -> Any:
        document = copy.deepcopy(valid)
        path = draw(st.sampled_from([None, *changes]))
        if path is None:
            return document
        value = draw(changes[path])
        *parents, last = path
        target = document
        for step in parents:
            target = target[step]
        if value is MISSING:
            target.pop(last, None)
        else:
            target[last] = value
        start, end = document.get("start"), document.get("end")
        if type(start) is int and type(end) is int and end < start:
            document["end"] = start
        return document

    return strategy()


@st.composite
def _whole_entry(draw: st.DrawFn, base: dict[str, Any], key: str) -> Any:
    """An entry replaced whole (the `()` change of ENTRY_CHANGES)."""
    document = copy.deepcopy(base)
    document[key] = [draw(ENTRY_CHANGES[()])]
    return document


VALID_CALL = {
    "session_id": "100035;000;1575898377",
    "src": "6177123000",
    "dest": "6177123001",
    "type": "inbound",
    "start": 10,
    "end": 20,
    "detail": [ENTRY],
}
VALID_UPDATE = {"entries": [ENTRY]}
_CALL_PATHS = {k: v for k, v in CALL_CHANGES.items() if k != ("detail", 0)}
_UPDATE_PATHS = {k: v for k, v in UPDATE_CHANGES.items() if k != ("entries", 0)}


@given(one_change(VALID_CALL, _CALL_PATHS) | _whole_entry(VALID_CALL, "detail"))
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_a_call_is_valid_per_the_schema_exactly_when_the_server_accepts_it(
    call: dict[str, Any],
) -> None:
    assert CALL.is_valid(call) == server_accepts(validate_batch, [call]), call


@given(one_change(VALID_UPDATE, _UPDATE_PATHS) | _whole_entry(VALID_UPDATE, "entries"))
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_an_update_is_valid_per_the_schema_exactly_when_the_server_accepts_it(
    update: dict[str, Any],
) -> None:
    assert UPDATE.is_valid(update) == server_accepts(validate_update, "sid", update), update


@pytest.mark.parametrize(
    ("session_id", "valid"),
    [
        ("100035;000;1575898377", True),
        ("x" * MAX_SESSION_ID, True),
        ("x" * (MAX_SESSION_ID + 1), False),
        ("", False),
        ("a/b", False),
        ("tab\there", False),
        ("no\xa0break", False),
        ("soft\xadhyphen", False),
        ("caf\xe9 \xbd", True),
    ],
)
def test_the_session_id_rule_in_the_path_is_the_server_s(session_id: str, valid: bool) -> None:
    entries = DOCUMENT["paths"]["/ingest/v1/calls/{session_id}/entries"]["post"]
    [rule] = [p["schema"] for p in entries["parameters"] if p["name"] == "session_id"]
    assert jsonschema_rs.Draft202012Validator(rule).is_valid(session_id) is valid
    assert server_accepts(validate_update, session_id, {}) is valid
