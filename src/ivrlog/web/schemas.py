"""Shapes for the OpenAPI reference only. Handlers return ready bytes, never these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ivrlog.core.ingest import MAX_CALLS, MAX_ENTRIES, MAX_NUMBER, MAX_SESSION_ID


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


class IngestEntry(LogEntry):
    private: bool = Field(
        False, description="Store `[private]` for the line and every data value but the two kept."
    )


class IngestCall(BaseModel):
    session_id: str = Field(
        min_length=1, max_length=MAX_SESSION_ID, description="Printable, without `/`."
    )
    src: str = Field(max_length=MAX_NUMBER)
    dest: str = Field(max_length=MAX_NUMBER)
    type: Literal["inbound", "outbound", "transfer"]
    start: int = Field(ge=0)
    end: int = Field(ge=0, description="Not before start.")
    private: bool = Field(False, description="Keep the summary only; no entry is stored.")
    detail: list[IngestEntry] = Field(default_factory=list, max_length=MAX_ENTRIES)


def _none_required(schema: dict[str, Any]) -> None:
    schema.pop("required", None)


class LiveUpdate(BaseModel):
    """Every field is optional (src, dest and type are needed on the call's first update);
    null is not accepted where a string or a number is expected, except for end."""

    model_config = ConfigDict(json_schema_extra=_none_required)
    src: str = Field(max_length=MAX_NUMBER, description="Needed when the call is new.")
    dest: str = Field(max_length=MAX_NUMBER, description="Needed when the call is new.")
    type: Literal["inbound", "outbound", "transfer"] = Field(
        description="Needed when the call is new; may change later (e.g. to transfer)."
    )
    start: int = Field(
        ge=0, description="Default: the earliest entry's timestamp when the call is new."
    )
    private: bool = Field(
        False,
        description="Make the call private: its stored entries are dropped, later ones are not "
        "kept, and it stays private.",
    )
    entries: list[IngestEntry] = Field(
        default_factory=list,
        max_length=MAX_ENTRIES,
        description="Kept in timestamp order (ties in arrival order): an entry older than "
        "those stored is placed by its timestamp and counted in `out_of_order`.",
    )
    end: int | None = Field(None, ge=0, description="Completes the call (not before start).")


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
