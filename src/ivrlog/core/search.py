"""ivrlog's own list of calls (/v1/calls, `ivrlog calls list`): its parameters checked
into a CallFilter, its pages read by cursor, its exports read in batches; and the change
sequence's parameters (/v1/changes).

Every parameter is optional; an unknown one, one given twice or a bad value is a 400 that
names it and says what is allowed (never silently ignored). docs/api.md documents them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import orjson

from ivrlog.core.errors import BadRequest
from ivrlog.core.limits import MAX_LIMIT, MAX_NUMBER, MAX_SESSION_ID, MAX_TIME
from ivrlog.core.model import CALL_TYPES, CallFilter, CallKey, NumberMatch, SummaryRow
from ivrlog.core.ports import Store
from ivrlog.core.query import whole_number
from ivrlog.core.summary import MAX_WORD, WORD, words
from ivrlog.core.when import parse_when

Format = Literal["json", "ndjson", "csv"]
FORMATS: Final = ("json", "ndjson", "csv")
PARAMETERS: Final = (
    "from",
    "to",
    "number",
    "src",
    "dest",
    "type",
    "min_duration",
    "max_duration",
    "app",
    "reached",
    "ended_in",
    "has_error",
    "q",
    "limit",
    "cursor",
    "include",
    "format",
)
CHANGES_PARAMETERS: Final = ("after", "limit")
CHANGES_DEFAULT: Final = 1000  # changes an answer when `limit` is not given
DEFAULT_WINDOW: Final = 86_400  # seconds before now that `from` defaults to
DEFAULT_PAGE: Final = 100  # calls a page when `limit` is not given
EXPORT_BATCH: Final = 1000  # calls read at once by an export (`limit=all`)
RECORD_BATCH: Final = 2000  # CSV records read at once by the export of a window alone
MAX_NAME: Final = 1000  # characters of `app`, `reached`, `ended_in`
MAX_Q: Final = 1000  # characters of `q`
MAX_Q_WORDS: Final = 32
MAX_SEQ: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A checked /v1/calls request.

    `limit` None is `limit=all` (an export of everything the filter matches); `format` is
    None when the request did not say (the web layer then goes by Accept); `params` are
    the request's own parameters, which the next page's URL repeats."""

    filter: CallFilter
    after: CallKey | None
    limit: int | None
    format: Format | None
    detail: bool
    params: tuple[tuple[str, str], ...]

    def next_params(self, last: CallKey) -> list[tuple[str, str]]:
        """The parameters of the page after the one that ended with `last`: the same
        filter, its window as resolved UNIX seconds (so that a relative window does not
        move while a client pages), and a cursor past `last`."""
        kept = [(k, v) for k, v in self.params if k not in ("from", "to", "cursor")]
        window = [("from", str(self.filter.start)), ("to", str(self.filter.end))]
        return window + kept + [("cursor", encode_cursor(last))]


def encode_cursor(key: CallKey) -> str:
    """An opaque cursor pointing past the call `key`."""
    raw = orjson.dumps([key.start, key.session_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CURSOR = re.compile(r"[A-Za-z0-9_-]+")  # unpadded URL-safe base64


def decode_cursor(raw: str) -> CallKey:
    """The key an opaque cursor points past; BadRequest for anything but a cursor this
    module made (what it holds goes to the store: it is checked as any parameter is)."""
    decoded: object = None
    if CURSOR.fullmatch(raw) is not None:
        try:
            decoded = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (binascii.Error, ValueError):
            decoded = None
    if (
        isinstance(decoded, list)
        and len(decoded) == 2
        and isinstance(decoded[0], int)
        and not isinstance(decoded[0], bool)
        and 0 <= decoded[0] <= MAX_TIME
        and isinstance(decoded[1], str)
        and 1 <= len(decoded[1]) <= MAX_SESSION_ID
        and "\x00" not in decoded[1]
    ):
        return CallKey(decoded[0], decoded[1])
    raise BadRequest(
        f"Invalid cursor {raw[:100]!r}: must be a cursor from a `next` link of this endpoint."
    )


def given_once(params: Sequence[tuple[str, str]], allowed: Sequence[str]) -> dict[str, str]:
    """The parameters by name; BadRequest for an unknown one or one given twice."""
    given: dict[str, str] = {}
    for name, value in params:
        if name not in allowed:
            raise BadRequest(f"Unknown parameter {name!r}; allowed: {', '.join(allowed)}.")
        if name in given:
            raise BadRequest(f"Parameter {name!r} is given more than once; give it once.")
        given[name] = value
    return given


def _is_whole(raw: str, low: int, high: int) -> bool:
    value = whole_number(raw)
    return value is not None and low <= value <= high


def _whole(name: str, raw: str, low: int, high: int) -> int:
    if not _is_whole(raw, low, high):
        raise BadRequest(f"Invalid {name} {raw!r}: must be a whole number from {low} to {high}.")
    return int(raw)


def _number(name: str, raw: str | None) -> NumberMatch | None:
    if raw is None:
        return None
    value, prefix = (raw[:-1], True) if raw.endswith("*") else (raw, False)
    if not value or "*" in value or len(value) > MAX_NUMBER or "\x00" in value:
        raise BadRequest(
            f"Invalid {name} {raw!r}: must be a number of 1 to {MAX_NUMBER} characters, "
            f"exact (6175550100) or a prefix ending in * (617*)."
        )
    return NumberMatch(value, prefix)


def _name(name: str, raw: str | None) -> str | None:
    if raw is not None and not 1 <= len(raw) <= MAX_NAME:
        raise BadRequest(f"Invalid {name}: must be 1 to {MAX_NAME} characters.")
    return raw


def _words(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    found = tuple(dict.fromkeys(words(raw)))
    too_long = [w for w in WORD.findall(raw.lower()) if len(w) > MAX_WORD]
    if len(raw) > MAX_Q or too_long or not found or len(found) > MAX_Q_WORDS:
        raise BadRequest(
            f"Invalid q {raw[:100]!r}: must hold 1 to {MAX_Q_WORDS} words (letters and "
            f"digits) of at most {MAX_WORD} characters each, {MAX_Q} characters in all."
        )
    return found


def parse_search(
    params: Sequence[tuple[str, str]],
    *,
    account_id: int,
    now: int,
    detail_cutoff: int,
    call_cutoff: int,
) -> SearchRequest:
    """A /v1/calls request's parameters (in the order given) as a SearchRequest.

    The window is [from, to): `from` defaults to 24 hours before now, `to` to the second
    after now; `from` must be before `to`. A window reaching past call retention starts
    at `call_cutoff` (those calls are as if deleted)."""
    given = given_once(params, PARAMETERS)
    end = parse_when("to", given["to"], now) if "to" in given else now + 1
    start = parse_when("from", given["from"], now) if "from" in given else now - DEFAULT_WINDOW
    if start >= end and "from" in given:
        raise BadRequest(f"Invalid from {given['from']!r}: must be before to ({end}).")
    if start >= end:
        raise BadRequest(
            f"Invalid to {given['to']!r}: must be after from (by default 24 hours before now,"
            f" {start})."
        )
    if "number" in given and "dest" in given:
        raise BadRequest("Give number or dest, not both: number is dest, exact.")
    dest = _number("dest", given.get("dest"))
    if "number" in given:
        dest = _number("number", given["number"])
        if dest is not None and dest.prefix:
            raise BadRequest(
                f"Invalid number {given['number']!r}: must be exact; use dest=617* for a prefix."
            )
    call_type = given.get("type")
    if call_type is not None and call_type not in CALL_TYPES:
        raise BadRequest(f"Invalid type {call_type!r}: must be one of {', '.join(CALL_TYPES)}.")
    low = (
        _whole("min_duration", given["min_duration"], 0, MAX_TIME)
        if "min_duration" in given
        else None
    )
    high = (
        _whole("max_duration", given["max_duration"], 0, MAX_TIME)
        if "max_duration" in given
        else None
    )
    if low is not None and high is not None and low > high:
        raise BadRequest(
            f"Invalid max_duration {high}: must not be less than min_duration ({low})."
        )
    has_error = given.get("has_error")
    if has_error is not None and has_error not in ("true", "false"):
        raise BadRequest(f"Invalid has_error {has_error!r}: must be true or false.")
    raw_limit = given.get("limit")
    limit: int | None = DEFAULT_PAGE
    if raw_limit == "all":
        limit = None
    elif raw_limit is not None:
        if not _is_whole(raw_limit, 1, MAX_LIMIT):
            raise BadRequest(
                f"Invalid limit {raw_limit!r}: must be a whole number from 1 to {MAX_LIMIT},"
                " or all."
            )
        limit = int(raw_limit)
    include = given.get("include")
    if include is not None and include != "detail":
        raise BadRequest(f"Invalid include {include!r}: must be detail.")
    fmt = given.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise BadRequest(f"Invalid format {fmt!r}: must be one of {', '.join(FORMATS)}.")
    query = CallFilter(
        account_id=account_id,
        start=min(max(start, call_cutoff), end),
        end=end,
        detail_cutoff=detail_cutoff,
        src=_number("src", given.get("src")),
        dest=dest,
        type=call_type,
        min_duration=low,
        max_duration=high,
        app=_name("app", given.get("app")),
        reached=_name("reached", given.get("reached")),
        ended_in=_name("ended_in", given.get("ended_in")),
        has_error=None if has_error is None else has_error == "true",
        words=_words(given.get("q")),
    )
    return SearchRequest(
        filter=query,
        after=decode_cursor(given["cursor"]) if "cursor" in given else None,
        limit=limit,
        format=fmt,  # type: ignore[arg-type]
        detail=include == "detail",
        params=tuple(params),
    )


def row_key(row: SummaryRow) -> CallKey:
    """A listed call's place in the order (its start, its session id)."""
    return CallKey(row[4], row[0])


def search_page(store: Store, request: SearchRequest) -> tuple[list[SummaryRow], CallKey | None]:
    """One page (request.limit calls at most) and the key its next page starts after
    (None on the last page)."""
    limit = DEFAULT_PAGE if request.limit is None else request.limit
    rows = store.search_calls(request.filter, request.after, limit + 1, detail=request.detail)
    if len(rows) > limit:
        return rows[:limit], row_key(rows[limit - 1])
    return rows, None


def export_batches(
    store: Store, request: SearchRequest, batch: int = EXPORT_BATCH
) -> Iterator[list[SummaryRow]]:
    """Every call the filter matches (from request.after on), EXPORT_BATCH at a time, each
    batch one keyset read: the memory an export takes does not grow with its size, and
    calls that arrive meanwhile never make it repeat or skip one."""
    after = request.after
    while True:
        rows = store.search_calls(request.filter, after, batch, detail=request.detail)
        if rows:
            yield rows
        if len(rows) < batch:
            return
        after = row_key(rows[-1])


def window_only(query: CallFilter) -> bool:
    """Whether the filter is its time window alone (the account's calls of the window)."""
    return query == CallFilter(query.account_id, query.start, query.end, query.detail_cutoff)


def export_records(
    store: Store, request: SearchRequest, batch: int = RECORD_BATCH
) -> Iterator[bytes]:
    """The CSV records (no header) of every call of a window-only filter, from
    request.after on: the records the store keeps ready, RECORD_BATCH a chunk, each one
    keyset read as export_batches reads. The same bytes as render/calls.csv_rows of
    export_batches' rows, at a fraction of the cost (docs/performance.md, B7)."""
    query, after = request.filter, request.after
    if not window_only(query) or request.detail:
        raise ValueError("records are kept for a filter of a time window alone, without detail")
    while True:
        chunk = store.window_records(
            query.account_id, query.start, query.end, query.detail_cutoff, after, batch
        )
        if chunk.records:
            yield chunk.records
        if chunk.total < batch or chunk.last is None:
            return
        after = chunk.last


def parse_changes(params: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """/v1/changes' `after` (default 0: from the start) and `limit` (default
    CHANGES_DEFAULT)."""
    given = given_once(params, CHANGES_PARAMETERS)
    after = _whole("after", given["after"], 0, MAX_SEQ) if "after" in given else 0
    limit = _whole("limit", given["limit"], 1, MAX_LIMIT) if "limit" in given else CHANGES_DEFAULT
    return after, limit


def one_call(
    account_id: int, session_id: str, *, call_cutoff: int, detail_cutoff: int
) -> CallFilter:
    """The filter of the account's call of this session id, wherever it started since
    `call_cutoff` (the oldest start still kept; 0: any)."""
    start = min(max(call_cutoff, 0), MAX_TIME + 1)
    return CallFilter(account_id, start, MAX_TIME + 1, detail_cutoff, session_id=session_id)
