from __future__ import annotations

import pytest

from ivrlog.core.errors import BadRequest
from ivrlog.core.query import (
    build_query,
    call_cutoff,
    detail_cutoff,
    parse_paging,
    parse_window,
)


def test_window_parses_whole_seconds() -> None:
    assert parse_window("0", "1") == (0, 1)
    assert parse_window("1575898386", "253402300799") == (1575898386, 253402300799)


@pytest.mark.parametrize(
    ("start", "end", "names"),
    [
        ("abc", "10", "start"),
        ("-1", "10", "start"),
        ("1.5", "10", "start"),
        ("", "10", "start"),
        ("٣", "10", "start"),  # a non-ASCII digit
        ("1", "x", "end"),
        ("1", "253402300800", "end"),
        ("10", "10", "end"),
        ("10", "5", "end"),
    ],
)
def test_window_errors_name_the_parameter(start: str, end: str, names: str) -> None:
    with pytest.raises(BadRequest, match=f"^Invalid {names}") as info:
        parse_window(start, end)
    assert info.value.status == 400


def test_paging_defaults_and_bounds() -> None:
    assert parse_paging(None, None) == (0, 1000)
    assert parse_paging("", "") == (0, 1000)
    assert parse_paging("0", "1") == (0, 1)
    assert parse_paging("9223372036854775807", "10000") == (2**63 - 1, 10000)


@pytest.mark.parametrize(
    ("offset", "limit", "name", "allowed"),
    [
        ("-1", None, "offset", "from 0 to 9223372036854775807"),
        ("x", None, "offset", "from 0 to 9223372036854775807"),
        ("9223372036854775808", None, "offset", "from 0 to 9223372036854775807"),
        (None, "0", "limit", "from 1 to 10000"),
        (None, "10001", "limit", "from 1 to 10000"),
        (None, "ten", "limit", "from 1 to 10000"),
    ],
)
def test_paging_errors(offset: str | None, limit: str | None, name: str, allowed: str) -> None:
    with pytest.raises(BadRequest, match=f"Invalid {name} .*{allowed}"):
        parse_paging(offset, limit)


def test_build_query_treats_empty_number_as_no_filter() -> None:
    query = build_query(
        7, "10", "20", number="", raw_offset=None, raw_limit="5", cutoff=3, call_cutoff=1
    )
    assert (query.account_id, query.start, query.end, query.number) == (7, 10, 20, None)
    assert (query.offset, query.limit, query.detail_cutoff) == (0, 5, 3)


@pytest.mark.parametrize(
    ("call_cutoff", "window"),
    [(0, (10, 20)), (10, (10, 20)), (15, (15, 20)), (19, (19, 20)), (20, (20, 20)), (99, (20, 20))],
)
def test_build_query_starts_the_window_at_the_call_cutoff(
    call_cutoff: int, window: tuple[int, int]
) -> None:
    query = build_query(
        7,
        "10",
        "20",
        number=None,
        raw_offset="3",
        raw_limit=None,
        cutoff=0,
        call_cutoff=call_cutoff,
    )
    assert (query.start, query.end) == window
    assert (query.offset, query.limit) == (3, 1000)


def test_build_query_checks_the_window_as_asked_before_the_cutoff() -> None:
    with pytest.raises(BadRequest, match="Invalid end 10"):
        build_query(
            7, "10", "10", number=None, raw_offset=None, raw_limit=None, cutoff=0, call_cutoff=5
        )


def test_call_cutoff_counts_whole_days_back() -> None:
    assert call_cutoff(1_000_000.9, 365) == 1_000_000 - 365 * 86_400


def test_detail_cutoff_counts_whole_days_back() -> None:
    assert detail_cutoff(1_000_000.9, 5) == 1_000_000 - 5 * 86_400
