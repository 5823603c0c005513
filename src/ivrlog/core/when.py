"""Points in time as ivrlog's own API and CLI take them: UNIX seconds, ISO 8601 with an
offset, or a time relative to now (`-15m`, `-4h`, `-7d`). docs/api.md (times) documents
them; /v1/calls' `from` and `to`, erasure's `before` and the CLI's flags read them here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from ivrlog.core.errors import BadRequest
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.query import whole_number

UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
RELATIVE = re.compile(r"-(\d{1,9})([smhdw])")
# an ISO 8601 date and time with its offset (Z or ±HH:MM), seconds optional, fractions
# of a second allowed (and dropped)
ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:?\d{2})"
)
ALLOWED: Final = (
    f"UNIX seconds (0 to {MAX_TIME}), ISO 8601 with an offset (2026-11-30T09:00:00Z, "
    "2026-11-30T10:00:00+01:00) or a time before now (-30s, -15m, -4h, -7d, -2w)"
)


def parse_when(name: str, raw: str, now: int) -> int:
    """`raw` as whole UNIX seconds (fractions dropped, toward the past); BadRequest naming
    `name` and what is allowed when it is none of the three forms or out of range."""
    value = whole_number(raw)
    if value is None:
        value = _relative(raw, now) if raw.startswith("-") else _iso(raw)
    if value is None or not 0 <= value <= MAX_TIME:
        raise BadRequest(f"Invalid {name} {raw!r}: must be {ALLOWED}.")
    return value


DURATION = re.compile(r"(\d{1,9})([smhdw])")


def parse_duration(name: str, raw: str) -> int:
    """A length of time written `30s`, `15m`, `1h`, `2d` or `1w`, in seconds; BadRequest
    naming `name` otherwise."""
    found = DURATION.fullmatch(raw.strip())
    if found is None:
        raise BadRequest(
            f"Invalid {name} {raw!r}: must be a whole number and a unit, s, m, h, d or w"
            " (30s, 15m, 1h, 2d, 1w)."
        )
    return int(found[1]) * UNITS[found[2]]


def _relative(raw: str, now: int) -> int | None:
    found = RELATIVE.fullmatch(raw)
    return None if found is None else now - int(found[1]) * UNITS[found[2]]


def _iso(raw: str) -> int | None:
    if ISO.fullmatch(raw) is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("z", "Z").replace(" ", "T"))
    except ValueError:
        return None
    return None if parsed.tzinfo is None else int(parsed.timestamp() // 1)


def utc_text(seconds: int) -> str:
    """UNIX seconds as the pages write them before a browser localizes them
    (2026-11-30 09:00:00 UTC)."""
    return iso_utc(seconds).replace("T", " ").replace("Z", " UTC")


def iso_utc(seconds: int) -> str:
    """UNIX seconds as ISO 8601 in UTC with `Z` (2026-11-30T09:00:00Z)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
