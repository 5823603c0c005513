"""A call's timeline as the call page shows it (web/pages.py): its entries grouped by
module visit, in the order they ran, each with what kind of step it was (what the
caller heard, what they entered, a web-service call, an error, anything else), the
seconds between a prompt and the caller's answer, private entries as private; and why
there is no entry when there is none (expired, private, none given)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ivrlog.core.model import Module
from ivrlog.core.summary import INPUT_PREFIX, PRIVATE_LINE
from ivrlog.core.when import iso_utc, utc_text

WEB_SERVICE: Final = ("web_service", "webservice", "web service", "webservices")
LABELS: Final = {
    "prompt": "Heard",
    "input": "Entered",
    "web_service": "Web service",
    "error": "Error",
    "other": "Logged",
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: str  # prompt, input, web_service, error, other
    label: str
    line: str
    timestamp: int
    private: bool
    answer_after: int | None  # seconds since the last prompt, for an input

    @property
    def iso(self) -> str:
        return iso_utc(self.timestamp)

    @property
    def utc(self) -> str:
        return utc_text(self.timestamp)


@dataclass(frozen=True, slots=True)
class Visit:
    module: str
    entries: tuple[TimelineEntry, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    visits: tuple[Visit, ...]
    in_progress: bool
    note: str | None  # why there is no entry, or None


def _kind(entry: dict[str, Any]) -> str:
    cls = entry["class"]
    line: str = entry["event"]["line"]
    data = entry["event"]["data"]
    if cls == "error":
        return "error"
    if cls == "prompt":
        return "prompt"
    if cls == "event" and line.startswith(INPUT_PREFIX):
        return "input"
    kind = str(data.get("module_type", "")).lower()
    if kind in WEB_SERVICE or line.lower().startswith("web service"):
        return "web_service"
    return "other"


def timeline(entries: list[dict[str, Any]], *, in_progress: bool, note: str | None) -> Timeline:
    """The timeline of entries as stored (by timestamp, then as given)."""
    ordered = sorted(entries, key=lambda e: e["timestamp"])
    visits: list[tuple[str, list[TimelineEntry]]] = []
    prompted: int | None = None
    for entry in ordered:
        data = entry["event"]["data"]
        module = Module(str(data["module_type"]), str(data["result_variable"])).key
        line = entry["event"]["line"]
        kind = _kind(entry)
        after = None
        if kind == "input" and prompted is not None:
            after = max(entry["timestamp"] - prompted, 0)
        if kind == "prompt":
            prompted = entry["timestamp"]
        elif kind == "input":
            prompted = None
        shown = TimelineEntry(
            kind, LABELS[kind], line, entry["timestamp"], line == PRIVATE_LINE, after
        )
        if not visits or visits[-1][0] != module:
            visits.append((module, []))
        visits[-1][1].append(shown)
    return Timeline(
        tuple(Visit(module, tuple(shown)) for module, shown in visits), in_progress, note
    )


def missing_note(expired_at: int | None) -> str:
    """Why a completed call shows no entry: its detail expired (and when), or none was
    kept (a private call, or one ingested without entries)."""
    if expired_at is not None:
        return (
            f"The detail of this call expired on {utc_text(expired_at)}: only its summary is kept."
        )
    return "No entry of this call is kept: it was ingested as private, or without entries."
