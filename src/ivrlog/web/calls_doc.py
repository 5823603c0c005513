"""The OpenAPI reference of GET /v1/calls and GET /v1/changes: their parameters (which the
handlers check themselves, core/search.py) and the shapes of their answers. Handlers
return ready bytes, never these models.

Each parameter's schema admits every value the handler accepts (a value outside it is
always a 400); a few values inside it are refused too, for rules a JSON Schema cannot
state (the descriptions and docs/api.md say which)."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from ivrlog.core.limits import MAX_LIMIT, MAX_NUMBER, MAX_TIME
from ivrlog.core.model import CALL_TYPES
from ivrlog.core.search import (
    CHANGES_DEFAULT,
    DEFAULT_PAGE,
    FORMATS,
    MAX_NAME,
    MAX_Q,
    MAX_Q_WORDS,
    MAX_SEQ,
)
from ivrlog.core.summary import MAX_WORD
from ivrlog.web.negotiation import LISTED_FORMATS
from ivrlog.web.schemas import LogEntry, error_doc
from ivrlog.web.throttled import THROTTLED_DOC

# the forms of core/when.py, whole: UNIX seconds, relative to now, ISO 8601 with an offset
WHEN_PATTERN: Final = (
    r"^([0-9]{1,20}|-[0-9]{1,9}[smhdw]|[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
    r"(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}:?[0-9]{2}))$"
)
WHEN_FORMS: Final = (
    "UNIX seconds (`1764493200`), ISO 8601 with an offset (`2026-11-30T09:00:00Z`, "
    "`2026-11-30T10:00:00+01:00`) or a time before now (`-30s`, `-15m`, `-4h`, `-7d`, `-2w`)."
)
NAME_SCHEMA: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME,
}
MODULE: Final = (
    "a module's `result_variable`, or its `module_type:result_variable` (`getdigits:card_number`)"
)


def query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _number(name: str, what: str) -> dict[str, Any]:
    return query_parameter(
        name,
        f"Only calls whose `{name}` (the {what} number) is this one, or starts with it when "
        f"it ends in `*` (`617*`). 1 to {MAX_NUMBER} characters, no other `*`.",
        {"type": "string", "pattern": rf"^[^*\x00]{{1,{MAX_NUMBER}}}[*]?$"},
    )


CALLS_PARAMETERS: Final = [
    query_parameter(
        "from",
        "Window start, inclusive: " + WHEN_FORMS + " Default: 24 hours before now. A start "
        "older than `call_retention_days` is moved up to it. Must be before `to`.",
        {"type": "string", "pattern": WHEN_PATTERN},
    ),
    query_parameter(
        "to",
        "Window end, exclusive: " + WHEN_FORMS + " Default: the second after now.",
        {"type": "string", "pattern": WHEN_PATTERN},
    ),
    query_parameter(
        "number",
        "Only calls to this number (`dest`, exact), as in the compatible API. Not with `dest`.",
        {"type": "string", "pattern": rf"^[^*\x00]{{1,{MAX_NUMBER}}}$"},
    ),
    _number("src", "caller's (for an outbound call, the calling)"),
    _number("dest", "called"),
    query_parameter(
        "type", "Only calls of this type.", {"type": "string", "enum": list(CALL_TYPES)}
    ),
    query_parameter(
        "min_duration",
        "Only calls that lasted at least this many seconds (`end - start`).",
        {"type": "integer", "minimum": 0, "maximum": MAX_TIME},
    ),
    query_parameter(
        "max_duration",
        "Only calls that lasted at most this many seconds; not less than `min_duration`.",
        {"type": "integer", "minimum": 0, "maximum": MAX_TIME},
    ),
    query_parameter("app", "Only calls of this application (its name, exact).", NAME_SCHEMA),
    query_parameter("reached", f"Only calls that visited this module: {MODULE}.", NAME_SCHEMA),
    query_parameter(
        "ended_in", f"Only calls whose last module was this one: {MODULE}.", NAME_SCHEMA
    ),
    query_parameter(
        "has_error",
        "Only calls with (`true`) or without (`false`) an `error` entry.",
        {"type": "string", "enum": ["true", "false"]},
    ),
    query_parameter(
        "q",
        f"Only calls whose entries' lines hold every one of these words (1 to {MAX_Q_WORDS} "
        f"words of letters and digits, each at most {MAX_WORD} characters; any case), "
        "anywhere in the call. Only calls whose detail is stored and readable match; "
        "private entries never do, and redacted text is what is searched.",
        {"type": "string", "minLength": 1, "maxLength": MAX_Q},
    ),
    query_parameter(
        "limit",
        f"Calls a page (default {DEFAULT_PAGE}), or `all`: every call the filter matches, "
        "streamed (no `next`).",
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                {"type": "string", "enum": ["all"]},
            ]
        },
    ),
    query_parameter(
        "cursor",
        "Where the page starts: the cursor of a previous answer's `next` link (opaque; "
        "`next` repeats every other parameter).",
        {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
    ),
    query_parameter(
        "include",
        "`detail`: each call carries its entries (as `/api/call/{session_id}` gives "
        "them); in CSV, one row per entry.",
        {"type": "string", "enum": ["detail"]},
    ),
    query_parameter(
        "format",
        "The answer's format, whatever `Accept` says; without it, `Accept` chooses ("
        + ", ".join(f"`{media}`" for _, media in LISTED_FORMATS)
        + "; none or `*/*`: JSON).",
        {"type": "string", "enum": list(FORMATS)},
    ),
]

CHANGES_PARAMETERS: Final = [
    query_parameter(
        "after",
        "The position to resume from: the `after` of the previous answer (default 0: "
        "from the start).",
        {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
    ),
    query_parameter(
        "limit",
        f"Changes an answer at most (default {CHANGES_DEFAULT}).",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    ),
]


class FoundCall(BaseModel):
    session_id: str
    src: str = Field(description="The caller's number (an outbound call's too).")
    dest: str = Field(description="The called number.")
    type: Literal[CALL_TYPES]  # type: ignore[valid-type]
    start: int = Field(description="UNIX seconds.")
    end: int = Field(description="UNIX seconds.")
    duration: int = Field(description="`end - start`, seconds.")
    app: str | None = Field(description="The application's name; null when the call named none.")
    app_version: str | None
    ended_in: str | None = Field(description="The last of `path`; null when it is empty.")
    has_error: bool = Field(description="Whether the call had an `error` entry.")
    path: list[str] = Field(
        description="The modules the call went through, in order, each "
        "`module_type:result_variable` (once per visit); empty for a private call."
    )
    log: bool = Field(description="True exactly when the call's detail can be read now.")
    detail: list[LogEntry] = Field(
        default_factory=list,
        description="With `include=detail` only: the call's entries; empty when `log` is false.",
    )


class FoundCalls(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(
        alias="from",
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        description="The window's resolved start, ISO 8601 in UTC.",
    )
    to: str = Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        description="The window's resolved end (exclusive), ISO 8601 in UTC.",
    )
    calls: list[FoundCall] = Field(description="Newest first (start, then session id).")
    next: str | None = Field(description="The next page's URL; null on the last page.")


class Change(BaseModel):
    seq: int = Field(description="The change's position in the account's sequence.")
    change: Literal["completed", "replaced", "erased"]
    session_id: str
    call: FoundCall | None = Field(
        None,
        description="The call as it is now; absent for an erasure (null when the call "
        "has since been deleted by retention).",
    )


class Changes(BaseModel):
    changes: list[Change] = Field(description="In sequence order; a call once, at its latest.")
    after: int = Field(
        description="The last `seq` of the answer (the request's `after` when there is "
        "none): the position to resume from."
    )


LINK_HEADER: Final = {
    "Link": {
        "description": '`<URL>; rel="next"`: the next page (absent on the last page and '
        "for `limit=all`).",
        "schema": {"type": "string"},
    }
}

COMMON_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: error_doc(
        "No, malformed or wrong credentials, or an inactive account.",
        "Authentication headers invalid or the account is inactive.",
    ),
    405: error_doc("Any method but GET.", "Invalid HTTP method supplied (only GET allowed)."),
    429: THROTTLED_DOC,
    500: error_doc("An unexpected failure; details go to the server log.", "Database error."),
}

CALLS_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "model": FoundCalls,
        "description": "A page of calls, or with `limit=all` every call the filter matches "
        "(streamed), in the format chosen by `format` or `Accept`; gzip'd when "
        "`Accept-Encoding` allows it.",
        "headers": LINK_HEADER,
        "content": {
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "One call (as in JSON) a line."}
            },
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "RFC 4180, a header row, one row a call (with "
                    "`include=detail`, one row an entry).",
                }
            },
        },
    },
    400: error_doc(
        "An unknown parameter, one given twice, or a bad value (the message names it and "
        "says what is allowed).",
        "Invalid has_error 'yes': must be true or false.",
    ),
    406: error_doc(
        "No `format`, and an `Accept` that names none of the three formats.",
        "Not acceptable: /v1/calls answers application/json, application/x-ndjson or "
        "text/csv (or choose with format=json|ndjson|csv).",
    ),
    **COMMON_ERRORS,
}

CHANGES_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"model": Changes, "description": "The account's next changes."},
    400: error_doc(
        "An unknown parameter, one given twice, or a bad `after` or `limit`.",
        "Invalid limit '0': must be a whole number from 1 to 10000.",
    ),
    **COMMON_ERRORS,
}

SECURITY: Final[list[dict[str, list[str]]]] = [{"developerKey": []}]
