"""What sync reads of a Fuse-compatible source: the port (Source) and its calls as sync
understands them (SourceCall), with the source's quirks taken care of.

- `start` and `end` are integers in /api/calls and strings of digits in /api/all_logs
  (as on Plum Fuse): both are read.
- `src` of an outbound call is the word `Outbound`: the number is not known. A local
  call that already has the number keeps it.
- `log` is false for a private call, a call whose detail expired at the source, or one
  without entries; its `detail` is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ivrlog.core.model import CALL_TYPES, SummaryRow

OUTBOUND: Final = "Outbound"  # the src the compatible API shows for an outbound call


class Listing(Protocol):
    """A page of a compatible list endpoint."""

    @property
    def calls(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def total_calls(self) -> int: ...


class Source(Protocol):
    """A Fuse-compatible account (ivrlog.client.Client is one): its two list endpoints.
    A failure raises; the client behind it has retried what can be retried."""

    def calls(self, start: int, end: int, *, offset: int, limit: int) -> Listing: ...

    def all_logs(self, start: int, end: int, *, offset: int, limit: int) -> Listing: ...


@dataclass(frozen=True, slots=True)
class SourceCall:
    """A call the source listed, its fields checked."""

    session_id: str
    src: str
    dest: str
    type: str
    start: int
    end: int
    log: bool

    def same_as(self, row: SummaryRow) -> bool:
        """Whether the local call `row` has this summary (an outbound call's `Outbound`
        matches any local src: the local call may know the number)."""
        _, src, dest, kind, start, end = row[:6]
        src_matches = src == self.src or (self.type == "outbound" and self.src == OUTBOUND)
        return src_matches and (dest, kind, start, end) == (
            self.dest,
            self.type,
            self.start,
            self.end,
        )

    def document(self, detail: list[Any], local: SummaryRow | None) -> dict[str, Any]:
        """The call as ingestion takes it, with `detail`; an outbound call keeps the local
        call's number rather than `Outbound`."""
        src = self.src
        if local is not None and self.type == "outbound" and src == OUTBOUND:
            src = local[1]
        return {
            "session_id": self.session_id,
            "src": src,
            "dest": self.dest,
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "detail": detail,
        }


def _time(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def source_call(raw: Any) -> SourceCall | str:
    """The listed call, or why it cannot be read (the reason a skip gives)."""
    if not isinstance(raw, Mapping):
        return f"not a call object: {raw!r:.80}"
    session_id = raw.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        return "no session_id"
    start, end = _time(raw.get("start")), _time(raw.get("end"))
    if start is None or end is None:
        return f"start and end must be UNIX seconds, not {raw.get('start')!r}, {raw.get('end')!r}"
    kind = raw.get("type")
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind not in CALL_TYPES:
        return f"type must be one of {', '.join(CALL_TYPES)}, not {raw.get('type')!r}"
    src, dest = raw.get("src"), raw.get("dest")
    if not isinstance(src, str) or not isinstance(dest, str):
        return "src and dest must be strings"
    return SourceCall(session_id, src, dest, kind, start, end, raw.get("log") is True)


def source_detail(raw: Mapping[str, Any]) -> list[Any]:
    """The entries /api/all_logs gave a call: empty when its `log` is false."""
    detail = raw.get("detail")
    return detail if raw.get("log") is True and isinstance(detail, list) else []
