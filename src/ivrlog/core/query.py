"""The read side of the compatible API: parameters checked, pages and details found."""

from __future__ import annotations

from typing import Final

from ivrlog.core.errors import BadRequest, CallNotFound, DetailUnavailable
from ivrlog.core.limits import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_TIME
from ivrlog.core.model import CallDetail, CallQuery, DetailFormat
from ivrlog.core.ports import AsyncLookups, Store

SECONDS_PER_DAY: Final = 86_400


def whole_number(raw: str) -> int | None:
    """`raw` as a whole number when it is 1 to 20 ASCII digits, else None (the length is
    checked first: int() of thousands of digits is slow, and refused past 4300)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        return None
    return int(raw)


def parse_time(name: str, raw: str) -> int:
    value = whole_number(raw)
    if value is None or value > MAX_TIME:
        raise BadRequest(
            f"Invalid {name} {raw!r}: must be a whole number of UNIX seconds, 0 to {MAX_TIME}."
        )
    return value


def parse_window(raw_start: str, raw_end: str) -> tuple[int, int]:
    start = parse_time("start", raw_start)
    end = parse_time("end", raw_end)
    if end <= start:
        raise BadRequest(f"Invalid end {end}: must be greater than start ({start}).")
    return start, end


def parse_paging(raw_offset: str | None, raw_limit: str | None) -> tuple[int, int]:
    """Offset and limit; an absent or empty value means the default."""
    offset = 0
    if raw_offset:
        parsed = whole_number(raw_offset)
        if parsed is None or parsed > MAX_OFFSET:
            raise BadRequest(
                f"Invalid offset {raw_offset!r}: must be a whole number from 0 to {MAX_OFFSET}."
            )
        offset = parsed
    limit = DEFAULT_LIMIT
    if raw_limit:
        parsed = whole_number(raw_limit)
        if parsed is None or not 1 <= parsed <= MAX_LIMIT:
            raise BadRequest(
                f"Invalid limit {raw_limit!r}: must be a whole number from 1 to {MAX_LIMIT}."
            )
        limit = parsed
    return offset, limit


def detail_cutoff(now: float, detail_retention_days: int) -> int:
    """The oldest call start whose detail may still be read."""
    return int(now) - detail_retention_days * SECONDS_PER_DAY


def call_cutoff(now: float, call_retention_days: int) -> int:
    """The oldest call start still kept (SPEC 5): an older call is never read, as if the
    purge had deleted it already, whether or not it has run (docs/operations.md)."""
    return int(now) - call_retention_days * SECONDS_PER_DAY


def build_query(
    account_id: int,
    raw_start: str,
    raw_end: str,
    *,
    number: str | None,
    raw_offset: str | None,
    raw_limit: str | None,
    cutoff: int,
    call_cutoff: int,
) -> CallQuery:
    """A checked page query. Its window starts no earlier than `call_cutoff`, so that the
    calls past retention are neither listed nor counted in total_calls on any store,
    before the purge deletes them (an empty window when the whole of it is past)."""
    start, end = parse_window(raw_start, raw_end)
    offset, limit = parse_paging(raw_offset, raw_limit)
    start = min(max(start, call_cutoff), end)
    return CallQuery(
        account_id=account_id,
        start=start,
        end=end,
        number=number or None,
        offset=offset,
        limit=limit,
        detail_cutoff=cutoff,
    )


def call_detail(
    store: Store,
    account_id: int,
    session_id: str,
    fmt: DetailFormat,
    cutoff: int,
    call_cutoff: int,
) -> str:
    """A call's entries as a stored fragment, or CallNotFound (a call started before
    `call_cutoff` included) / DetailUnavailable."""
    detail = store.call_detail(account_id, session_id, fmt, cutoff, call_cutoff=call_cutoff)
    return _fragment(detail)


async def call_detail_async(
    store: AsyncLookups,
    account_id: int,
    session_id: str,
    fmt: DetailFormat,
    cutoff: int,
    call_cutoff: int,
) -> str:
    """call_detail, awaited on a store with async lookups."""
    detail = await store.call_detail_async(
        account_id, session_id, fmt, cutoff, call_cutoff=call_cutoff
    )
    return _fragment(detail)


def _fragment(detail: CallDetail) -> str:
    if not detail.found:
        raise CallNotFound
    if detail.fragment is None:
        raise DetailUnavailable
    return detail.fragment
