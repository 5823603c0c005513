"""Shapes for the OpenAPI reference only. Handlers return ready bytes, never these."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from ivrlog.core.limits import (
    MAX_CALLS,
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_NUMBER,
    MAX_SESSION_ID,
    MAX_TIME,
)
from ivrlog.core.model import CALL_TYPES, ENTRY_CLASSES


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow")
    module_type: str = Field(description="The type of the module that ran.")
    result_variable: str = Field(description="The module's variable name in the call flow.")


class Event(BaseModel):
    line: str = Field(description="The log line.")
    data: EventData = Field(
        description="module_type and result_variable, then any other keys exactly as ingested."
    )


class LogEntry(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    event: Event
    class_: Literal["info", "event", "debug", "prompt", "error"] = Field(alias="class")
    timestamp: int = Field(description="UNIX seconds.")


class CallSummary(BaseModel):
    dest: str = Field(description="The number called (the deployment's number).")
    src: str = Field(description="The caller's number; `Outbound` for an outbound call.")
    start: int = Field(description="UNIX seconds (an integer here).")
    end: int = Field(description="UNIX seconds (an integer here).")
    session_id: str
    type: Literal["inbound", "outbound", "transfer"]
    log: bool = Field(description="True exactly when the call's detail can be read now.")


class CallWithDetail(BaseModel):
    dest: str
    src: str = Field(description="The caller's number; `Outbound` for an outbound call.")
    start: str = Field(description="UNIX seconds as a string of digits (the Fuse quirk).")
    end: str = Field(description="UNIX seconds as a string of digits (the Fuse quirk).")
    session_id: str
    detail: list[LogEntry] = Field(description="Empty when `log` is false.")
    type: Literal["inbound", "outbound", "transfer"]
    log: bool


class CallsPage(BaseModel):
    calls: list[CallSummary]
    total_calls: int = Field(description="Every call in the window (and number), not the page.")


class AllLogsPage(BaseModel):
    calls: list[CallWithDetail]
    total_calls: int


class ErrorBody(BaseModel):
    error: str


class FieldProblem(BaseModel):
    index: int = Field(description="Position of the call in the batch, from 0.")
    path: str = Field(description="The field, e.g. `detail[3].class`; empty for the call itself.")
    message: str


class IngestErrors(BaseModel):
    error: str
    errors: list[FieldProblem]


# What ingestion accepts, as checked by core/validation.py and core/live.py, with the
# bounds of core/limits.py (tests tie the two together: tests/unit/test_schema_rules.py,
# tests/e2e/test_openapi_limits.py). Unknown fields are refused except
# in an entry's `data`; a session id is Python-printable, which no JSON Schema pattern
# states whole: the pattern holds its Latin-1 part (U+0000 to U+00FF), the description
# the rest.
SESSION_ID_PATTERN: Final = r"^[^/\x00-\x1f\x7f-\xa0\xad]+$"
SESSION_ID_RULE: Final = (
    f"1 to {MAX_SESSION_ID} printable characters (Unicode letters, marks, numbers, "
    "punctuation, symbols and the space), without `/`."
)
SESSION_ID_SCHEMA: Final[dict[str, Any]] = {
    "minLength": 1,
    "maxLength": MAX_SESSION_ID,
    "pattern": SESSION_ID_PATTERN,
}
NO_NUL: Final = r"^[^\x00]*$"


def _time(description: str = "UNIX seconds.") -> Any:
    return Field(ge=0, le=MAX_TIME, description=description)


class IngestEventData(BaseModel):
    model_config = ConfigDict(extra="allow")
    module_type: str = Field(description="The type of the module that ran.")
    result_variable: str = Field(description="The module's variable name in the call flow.")


class IngestEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: str = Field(description="The log line.")
    data: IngestEventData = Field(
        description="module_type and result_variable, and any other keys (JSON values, "
        f"objects and lists nested at most {MAX_DEPTH} deep), stored as sent."
    )


class IngestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    event: IngestEvent
    class_: Literal[ENTRY_CLASSES] = Field(alias="class")  # type: ignore[valid-type]
    timestamp: int = _time()
    private: bool = Field(
        False, description="Store `[private]` for the line and every data value but the two kept."
    )


class IngestCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(
        min_length=1,
        max_length=MAX_SESSION_ID,
        pattern=SESSION_ID_PATTERN,
        description=SESSION_ID_RULE,
    )
    src: str = Field(max_length=MAX_NUMBER, pattern=NO_NUL)
    dest: str = Field(max_length=MAX_NUMBER, pattern=NO_NUL)
    type: Literal[CALL_TYPES]  # type: ignore[valid-type]
    start: int = _time()
    end: int = _time("UNIX seconds, not before start.")
    private: bool = Field(False, description="Keep the summary only; no entry is stored.")
    detail: list[IngestEntry] = Field(default_factory=list, max_length=MAX_ENTRIES)


def _none_required(schema: dict[str, Any]) -> None:
    schema.pop("required", None)


class LiveUpdate(BaseModel):
    """Every field is optional (src, dest and type are needed on the call's first update);
    null is not accepted where a string or a number is expected, except for end."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_none_required)
    src: str = Field(
        max_length=MAX_NUMBER, pattern=NO_NUL, description="Needed when the call is new."
    )
    dest: str = Field(
        max_length=MAX_NUMBER, pattern=NO_NUL, description="Needed when the call is new."
    )
    type: Literal[CALL_TYPES] = Field(  # type: ignore[valid-type]
        description="Needed when the call is new; may change later (e.g. to transfer)."
    )
    start: int = _time("Default: the earliest entry's timestamp when the call is new.")
    private: bool = Field(
        False,
        description="Make the call private: its stored entries are dropped, later ones are not "
        "kept, and it stays private.",
    )
    entries: list[IngestEntry] = Field(
        default_factory=list,
        max_length=MAX_ENTRIES,
        description="Kept in timestamp order (ties in arrival order): an entry older than "
        "those stored is placed by its timestamp and counted in `out_of_order`. At most "
        f"{MAX_ENTRIES} entries a call, over all its updates (413 beyond).",
    )
    end: int | None = Field(
        None, ge=0, le=MAX_TIME, description="Completes the call (not before start)."
    )


class LiveAccepted(BaseModel):
    session_id: str
    appended: int = Field(description="Entries added by this update (0 for a private call).")
    out_of_order: int = Field(
        description="Entries of this update older than one before them (stored or in the "
        "update), placed by their timestamp."
    )
    entries: int = Field(description="Entries the call holds now (0 for a private call).")
    complete: bool = Field(description="True once the call is complete and listed.")


class Accepted(BaseModel):
    accepted: int = Field(description=f"Calls stored (at most {MAX_CALLS} a request).")


def error_doc(description: str, example: str) -> dict[str, Any]:
    return {
        "model": ErrorBody,
        "description": description,
        "content": {
            "application/json": {"example": {"error": example}},
            "application/xml": {
                "example": f'<?xml version="1.0"?>\n<result><error>{example}</error></result>'
            },
        },
    }
