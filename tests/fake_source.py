"""A Fuse-compatible account in memory for core/sync.py's unit tests: the two list
endpoints' semantics (window, newest first, offset and limit, total_calls, `start`/`end`
as strings in all_logs, empty detail when `log` is false), every request recorded, and
a failure on demand (a source killed after some requests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Page:
    calls: list[dict[str, Any]]
    total_calls: int


class SourceDown(ConnectionError):
    pass


@dataclass
class FakeSource:
    calls_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    fail_after: int | None = None  # requests answered before every request fails
    on_request: Any = None  # called with (kind, start, end) before answering

    def put(self, *calls: dict[str, Any]) -> None:
        for call in calls:
            self.calls_by_id[call["session_id"]] = call

    def _window(self, kind: str, start: int, end: int, offset: int, limit: int) -> list[Any]:
        if self.fail_after is not None and len(self.requests) >= self.fail_after:
            raise SourceDown("the source went away")
        assert end > start, "the compatible API refuses end <= start"
        assert 1 <= limit <= 10_000
        self.requests.append((kind, start, end, offset, limit))
        if self.on_request is not None:
            self.on_request(kind, start, end)
        found = [c for c in self.calls_by_id.values() if start <= c["start"] < end]
        found.sort(key=lambda c: (c["start"], c["session_id"]), reverse=True)
        return found

    def calls(self, start: int, end: int, *, offset: int, limit: int) -> Page:
        found = self._window("calls", start, end, offset, limit)
        shown = [
            {
                "dest": c["dest"],
                "src": "Outbound" if c["type"] == "outbound" else c["src"],
                "start": c["start"],
                "end": c["end"],
                "session_id": c["session_id"],
                "type": c["type"],
                "log": c.get("log", True),
            }
            for c in found[offset : offset + limit]
        ]
        return Page(shown, len(found))

    def all_logs(self, start: int, end: int, *, offset: int, limit: int) -> Page:
        found = self._window("all_logs", start, end, offset, limit)
        shown = [
            {
                "dest": c["dest"],
                "src": "Outbound" if c["type"] == "outbound" else c["src"],
                "start": str(c["start"]),
                "end": str(c["end"]),
                "session_id": c["session_id"],
                "detail": c["detail"] if c.get("log", True) else [],
                "type": c["type"],
                "log": c.get("log", True),
            }
            for c in found[offset : offset + limit]
        ]
        return Page(shown, len(found))
