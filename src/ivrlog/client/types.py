"""The documents the API answers, as typed dictionaries (plain JSON, parsed once):
docs/api.md describes every field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar


class Event(TypedDict):
    line: str
    data: dict[str, Any]


# `class` is a keyword: the functional form
Entry = TypedDict("Entry", {"event": Event, "class": str, "timestamp": int})


class FuseCall(TypedDict):
    """A call of GET /api/calls: `start` and `end` are integers; `src` is `Outbound` for
    an outbound call."""

    dest: str
    src: str
    start: int
    end: int
    session_id: str
    type: str
    log: bool


class FuseLoggedCall(TypedDict):
    """A call of GET /api/all_logs: as Plum Fuse gives them, `start` and `end` are
    strings of digits here, and `detail` is empty when `log` is false."""

    dest: str
    src: str
    start: str
    end: str
    session_id: str
    detail: list[Entry]
    type: str
    log: bool


class Call(TypedDict):
    """A call of GET /v1/calls and /v1/changes: its summary, and `detail` when asked
    for (include_detail) and readable."""

    session_id: str
    src: str
    dest: str
    type: str
    start: int
    end: int
    duration: int
    app: str | None
    app_version: str | None
    ended_in: str | None
    has_error: bool
    path: list[str]
    log: bool
    detail: NotRequired[list[Entry]]


class Change(TypedDict):
    """A place of GET /v1/changes; an erasure has no `call`."""

    seq: int
    change: Literal["completed", "replaced", "erased"]
    session_id: str
    call: NotRequired[Call]


class LiveAnswer(TypedDict):
    """The answer of POST /ingest/v1/calls/{session_id}/entries."""

    session_id: str
    appended: int
    out_of_order: int
    entries: int
    complete: bool


T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    """A page of a compatible list endpoint: its calls and `total_calls`, the count of
    the whole window (not of the page)."""

    calls: list[T]
    total_calls: int


@dataclass(frozen=True)
class CallPage:
    """A page of GET /v1/calls: the window it used (ISO 8601, UTC), its calls, and the
    URL of the next page (None on the last)."""

    from_: str
    to: str
    calls: list[Call]
    next: str | None


@dataclass(frozen=True)
class ChangePage:
    """An answer of GET /v1/changes: its changes, and `after`, where to resume."""

    changes: list[Change]
    after: int
