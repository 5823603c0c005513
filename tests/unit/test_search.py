"""core/search.py on the in-memory store: every /v1/calls parameter's accepted forms and
every bad value's 400 (naming the parameter and what is allowed), the default window and
its clamping at call retention, cursors, a page's next key, exports, and /v1/changes'
parameters."""

from __future__ import annotations

import base64

import orjson
import pytest

from ivrlog.core.errors import BadRequest
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.model import CallKey, NumberMatch
from ivrlog.core.search import (
    CHANGES_DEFAULT,
    DEFAULT_PAGE,
    DEFAULT_WINDOW,
    PARAMETERS,
    SearchRequest,
    decode_cursor,
    encode_cursor,
    export_batches,
    export_records,
    parse_changes,
    parse_search,
    row_key,
    search_page,
    window_only,
)
from ivrlog.render.calls import csv_rows
from tests.factories import DAY, NOW, call, entry
from tests.fake_store import MemoryStore

ACCOUNT = 7
CUTOFF = NOW - 5 * DAY
CALL_CUTOFF = NOW - 365 * DAY


def parsed(*params: tuple[str, str], account_id: int = ACCOUNT) -> SearchRequest:
    return parse_search(
        list(params),
        account_id=account_id,
        now=NOW,
        detail_cutoff=CUTOFF,
        call_cutoff=CALL_CUTOFF,
    )


def refused(*params: tuple[str, str]) -> str:
    with pytest.raises(BadRequest) as caught:
        parsed(*params)
    assert caught.value.status == 400
    return caught.value.message


# the window


def test_the_default_window_is_the_last_24_hours_up_to_and_including_now() -> None:
    query = parsed().filter
    assert (query.start, query.end) == (NOW - DEFAULT_WINDOW, NOW + 1)
    assert query.account_id == ACCOUNT
    assert query.detail_cutoff == CUTOFF


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (str(NOW - 100), NOW - 100),
        ("1794301200", 1_794_301_200),
        ("2026-11-10T09:00:00Z", 1_794_301_200),
        ("2026-11-10T10:00:00+01:00", 1_794_301_200),
        ("2026-11-10 04:00:00-05:00", 1_794_301_200),
        ("2026-11-10T09:00Z", 1_794_301_200),
        ("2026-11-10T09:00:00.999z", 1_794_301_200),
        ("-30s", NOW - 30),
        ("-15m", NOW - 900),
        ("-4h", NOW - 4 * 3600),
        ("-7d", NOW - 7 * DAY),
        ("-2w", NOW - 14 * DAY),
    ],
)
def test_from_and_to_take_unix_seconds_iso_8601_and_times_before_now(
    raw: str, seconds: int
) -> None:
    assert parsed(("from", raw), ("to", str(NOW + 10))).filter.start == seconds
    assert parsed(("from", "0"), ("to", raw)).filter.end == seconds


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize(
    "raw",
    [
        "",
        "yesterday",
        "-5",
        "-5y",
        "+5m",
        "1.5",
        "2026-11-30T09:00:00",
        "2026-13-01T00:00:00Z",
        str(MAX_TIME + 1),
        "٣",
        "1" * 30,
    ],
)
def test_a_bad_time_names_its_parameter_and_the_three_forms(name: str, raw: str) -> None:
    message = refused((name, raw))
    assert message.startswith(f"Invalid {name} ")
    assert "UNIX seconds" in message
    assert "ISO 8601" in message
    assert "-15m" in message


def test_from_must_be_before_to() -> None:
    assert "must be before to" in refused(("from", "-1h"), ("to", "-2h"))
    assert "must be before to" in refused(("from", "-1h"), ("to", "-1h"))
    # `to` alone before the default start: the message names `to`, not a `from` never given
    message = refused(("to", "-2d"))
    assert message.startswith("Invalid to '-2d': must be after from")


def test_a_window_reaching_past_call_retention_starts_there() -> None:
    query = parsed(("from", "0"), ("to", str(NOW))).filter
    assert (query.start, query.end) == (CALL_CUTOFF, NOW)
    # a window wholly past retention is empty
    old = parsed(("from", "0"), ("to", str(CALL_CUTOFF - 10))).filter
    assert old.start == old.end == CALL_CUTOFF - 10


# filters


def test_numbers_are_exact_or_prefixes() -> None:
    query = parsed(("src", "617*"), ("dest", "6175550100")).filter
    assert query.src == NumberMatch("617", True)
    assert query.dest == NumberMatch("6175550100", False)
    assert parsed(("number", "6175550100")).filter.dest == NumberMatch("6175550100", False)


@pytest.mark.parametrize("name", ["src", "dest", "number"])
@pytest.mark.parametrize("raw", ["", "*", "6*7", "**", "1" * 65, "61\x007"])
def test_a_bad_number_names_its_parameter(name: str, raw: str) -> None:
    message = refused((name, raw))
    assert message.startswith(f"Invalid {name} ")
    assert "1 to 64 characters" in message
    assert "617*" in message


def test_number_is_exact_and_not_with_dest() -> None:
    assert "must be exact; use dest=617*" in refused(("number", "617*"))
    assert refused(("number", "1"), ("dest", "1")) == (
        "Give number or dest, not both: number is dest, exact."
    )


def test_each_filter_lands_in_the_call_filter() -> None:
    query = parsed(
        ("type", "outbound"),
        ("min_duration", "10"),
        ("max_duration", "60"),
        ("app", "Card Payments"),
        ("reached", "getdigits:card_number"),
        ("ended_in", "goodbye"),
        ("has_error", "true"),
        ("q", "Card NUMBER card"),
    ).filter
    assert (query.type, query.min_duration, query.max_duration) == ("outbound", 10, 60)
    assert (query.app, query.reached, query.ended_in) == (
        "Card Payments",
        "getdigits:card_number",
        "goodbye",
    )
    assert query.has_error is True
    assert query.words == ("card", "number")  # lowercase, each once
    assert parsed(("has_error", "false")).filter.has_error is False
    assert parsed().filter.has_error is None


def test_an_unset_filter_is_none() -> None:
    query = parsed().filter
    assert (query.src, query.dest, query.type, query.app, query.words) == (
        None,
        None,
        None,
        None,
        (),
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            (("type", "Inbound"),),
            "Invalid type 'Inbound': must be one of inbound, outbound, transfer.",
        ),
        ((("min_duration", "-1"),), "Invalid min_duration '-1': must be a whole number from 0"),
        ((("max_duration", "1.5"),), "Invalid max_duration '1.5': must be a whole number from 0"),
        ((("min_duration", "9" * 5000),), "Invalid min_duration '9999"),
        (
            (("min_duration", "60"), ("max_duration", "10")),
            "Invalid max_duration 10: must not be less than min_duration (60).",
        ),
        ((("has_error", "yes"),), "Invalid has_error 'yes': must be true or false."),
        ((("app", ""),), "Invalid app: must be 1 to 1000 characters"),
        ((("reached", "x" * 1001),), "Invalid reached: must be 1 to 1000 characters"),
        ((("ended_in", ""),), "Invalid ended_in: must be 1 to 1000 characters."),
        ((("q", "!!! ..."),), "Invalid q '!!! ...': must hold 1 to 32 words"),
        ((("q", "a" * 65),), "Invalid q"),
        ((("q", " ".join(f"w{n}" for n in range(33))),), "Invalid q"),
        ((("q", "word " * 201),), "Invalid q"),
        ((("include", "details"),), "Invalid include 'details': must be detail."),
        ((("format", "xml"),), "Invalid format 'xml': must be one of json, ndjson, csv."),
    ],
)
def test_each_bad_value_is_a_400_naming_it(
    params: tuple[tuple[str, str], ...], expected: str
) -> None:
    assert refused(*params).startswith(expected)


def test_q_takes_at_most_32_words_of_64_characters() -> None:
    words = [f"w{n}" for n in range(32)]
    assert parsed(("q", " ".join(words))).filter.words == tuple(words)
    assert parsed(("q", "a" * 64)).filter.words == ("a" * 64,)


# limit, include, format, unknown and repeated parameters


def test_limit_is_a_page_size_or_all() -> None:
    assert parsed().limit == DEFAULT_PAGE
    assert parsed(("limit", "1")).limit == 1
    assert parsed(("limit", "10000")).limit == 10_000
    assert parsed(("limit", "all")).limit is None


@pytest.mark.parametrize("raw", ["0", "10001", "-1", "", "ALL", "1e3", "٣", "1" * 5000])
def test_a_bad_limit_says_1_to_10000_or_all(raw: str) -> None:
    message = refused(("limit", raw))
    assert message.startswith("Invalid limit ")
    assert message.endswith("must be a whole number from 1 to 10000, or all.")


def test_include_and_format() -> None:
    assert parsed(("include", "detail")).detail is True
    assert parsed().detail is False
    assert parsed().format is None
    for fmt in ("json", "ndjson", "csv"):
        assert parsed(("format", fmt)).format == fmt


def test_an_unknown_parameter_is_refused_with_the_list_of_allowed_ones() -> None:
    message = refused(("number", "1"), ("offset", "10"))
    assert message == f"Unknown parameter 'offset'; allowed: {', '.join(PARAMETERS)}."


@pytest.mark.parametrize("name", ["from", "limit", "app", "q"])
def test_a_repeated_parameter_is_refused(name: str) -> None:
    message = refused((name, "-1h"), (name, "-1h"))
    assert message == f"Parameter {name!r} is given more than once; give it once."


# cursors


def test_a_cursor_round_trips_and_is_opaque_url_safe_text() -> None:
    key = CallKey(NOW - 5, "100035;000;1575898377/é")
    cursor = encode_cursor(key)
    assert decode_cursor(cursor) == key
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert parsed(("cursor", cursor)).after == key


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "garbage",
        "!!!!",
        "a",
        _b64([1, "x"]) + "!",
        _b64({"start": 1, "session_id": "x"}),
        _b64([1, "x", 2]),
        _b64(["1", "x"]),
        _b64([True, "x"]),
        _b64([-1, "x"]),
        _b64([MAX_TIME + 1, "x"]),
        _b64([1.5, "x"]),
        _b64([1, ""]),
        _b64([1, "x" * 129]),
        _b64([1, "a\x00b"]),
        _b64([1, 2]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_garbage_cursor_is_a_400(raw: str) -> None:
    message = refused(("cursor", raw))
    assert message.startswith("Invalid cursor ")
    assert message.endswith("must be a cursor from a `next` link of this endpoint.")


def test_next_params_keep_every_filter_and_fix_a_relative_window() -> None:
    request = parsed(
        ("q", "card"),
        ("from", "-2h"),
        ("src", "617*"),
        ("cursor", encode_cursor(CallKey(NOW, "z"))),
        ("limit", "5"),
        ("format", "csv"),
    )
    last = CallKey(NOW - 100, "a;1")
    assert request.next_params(last) == [
        ("from", str(NOW - 7200)),
        ("to", str(NOW + 1)),
        ("q", "card"),
        ("src", "617*"),
        ("limit", "5"),
        ("format", "csv"),
        ("cursor", encode_cursor(last)),
    ]
    # the next page's parameters parse to the same filter, after `last`, at any later now
    again = parse_search(
        request.next_params(last),
        account_id=ACCOUNT,
        now=NOW + 3600,
        detail_cutoff=CUTOFF,
        call_cutoff=CALL_CUTOFF,
    )
    assert again.filter == request.filter
    assert again.after == last
    assert (again.limit, again.format) == (5, "csv")


# pages and exports on the store


@pytest.fixture
def stored(fake: MemoryStore, account_id: int) -> list[str]:
    """Seven calls, newest first: two share a start (ordered by session id)."""
    calls = [
        call("c;1", NOW - 700),
        call("c;2", NOW - 600, dest="6175550100"),
        call("c;3", NOW - 500),
        call("c;4b", NOW - 400),
        call("c;4a", NOW - 400),
        call("c;5", NOW - 300, type="outbound"),
        call("c;6", NOW - 200),
    ]
    assert ingest_calls(fake, account_id, calls) == len(calls)
    return ["c;6", "c;5", "c;4b", "c;4a", "c;3", "c;2", "c;1"]


def test_search_page_returns_the_next_key_until_the_last_page(
    fake: MemoryStore, account_id: int, stored: list[str]
) -> None:
    request = parsed(("limit", "3"), account_id=account_id)
    seen: list[str] = []
    pages = 0
    while True:
        rows, last = search_page(fake, request)
        pages += 1
        seen += [row[0] for row in rows]
        if last is None:
            break
        assert last == row_key(rows[-1])
        request = parsed(*request.next_params(last), account_id=account_id)
    assert seen == stored
    assert pages == 3


def test_a_page_that_ends_exactly_at_the_last_call_has_no_next(
    fake: MemoryStore, account_id: int, stored: list[str]
) -> None:
    rows, last = search_page(fake, parsed(("limit", "7"), account_id=account_id))
    assert [row[0] for row in rows] == stored
    assert last is None
    rows, last = search_page(fake, parsed(("limit", "6"), account_id=account_id))
    assert last == CallKey(NOW - 600, "c;2")


def test_a_page_honours_its_filter_and_the_account(
    fake: MemoryStore, account_id: int, stored: list[str]
) -> None:
    rows, _ = search_page(fake, parsed(("type", "outbound"), account_id=account_id))
    assert [row[0] for row in rows] == ["c;5"]
    rows, _ = search_page(fake, parsed(("number", "6175550100"), account_id=account_id))
    assert [row[0] for row in rows] == ["c;2"]
    rows, last = search_page(fake, parsed(account_id=account_id + 1))
    assert (rows, last) == ([], None)


@pytest.mark.parametrize("batch", [1, 2, 3, 7, 8, 1000])
def test_export_batches_cover_every_match_once_in_order(
    fake: MemoryStore, account_id: int, stored: list[str], batch: int
) -> None:
    batches = list(export_batches(fake, parsed(("limit", "all"), account_id=account_id), batch))
    assert [row[0] for rows in batches for row in rows] == stored
    assert all(1 <= len(rows) <= batch for rows in batches)
    assert len(batches) == -(-len(stored) // batch)


def test_an_export_starts_after_its_cursor_and_keeps_its_filter(
    fake: MemoryStore, account_id: int, stored: list[str]
) -> None:
    cursor = encode_cursor(CallKey(NOW - 400, "c;4b"))
    request = parsed(("limit", "all"), ("cursor", cursor), account_id=account_id)
    assert [r[0] for rows in export_batches(fake, request, 2) for r in rows] == stored[3:]
    inbound = parsed(("limit", "all"), ("type", "inbound"), account_id=account_id)
    assert [r[0] for rows in export_batches(fake, inbound, 2) for r in rows] == [
        s for s in stored if s != "c;5"
    ]
    nothing = parsed(("limit", "all"), ("app", "none"), account_id=account_id)
    assert list(export_batches(fake, nothing)) == []


@pytest.mark.parametrize("batch", [1, 2, 3, 7, 1000])
def test_export_records_are_the_csv_of_the_export_batches(
    fake: MemoryStore, account_id: int, stored: list[str], batch: int
) -> None:
    cursor = encode_cursor(CallKey(NOW - 400, "c;4b"))
    for params in ((("limit", "all"),), (("limit", "all"), ("cursor", cursor))):
        request = parsed(*params, account_id=account_id)
        chunks = list(export_records(fake, request, batch))
        assert all(chunk.count(b"\r\n") <= batch for chunk in chunks)
        assert b"".join(chunks) == b"".join(
            csv_rows(rows, False) for rows in export_batches(fake, request)
        )
    assert b"".join(export_records(fake, parsed(("limit", "all"), account_id=account_id)))


@pytest.mark.parametrize(
    "params",
    [
        (("type", "inbound"),),
        (("number", "617"),),
        (("src", "617*"),),
        (("min_duration", "0"),),
        (("max_duration", "10"),),
        (("app", "Bank"),),
        (("reached", "main"),),
        (("ended_in", "main"),),
        (("has_error", "false"),),
        (("q", "balance"),),
        (("include", "detail"),),
    ],
)
def test_only_a_window_without_detail_is_read_from_the_kept_records(
    fake: MemoryStore, params: tuple[tuple[str, str], ...]
) -> None:
    assert window_only(parsed(("from", "-7d"), ("cursor", encode_cursor(CallKey(NOW, "x")))).filter)
    request = parsed(("limit", "all"), *params)
    assert window_only(request.filter) is (params[0][0] == "include")
    with pytest.raises(ValueError, match="a time window alone"):
        next(export_records(fake, request))


def test_calls_that_arrive_while_paging_are_never_repeated_or_skipped(
    fake: MemoryStore, account_id: int, stored: list[str]
) -> None:
    request = parsed(("limit", "2"), account_id=account_id)
    rows, last = search_page(fake, request)
    seen = [row[0] for row in rows]
    arrivals = 0
    while last is not None:
        # a newer call, one between the pages, one just older than the cursor
        arrivals += 1
        ingest_calls(
            fake,
            account_id,
            [
                call(f"new;{arrivals}", NOW - 100),
                call(f"mid;{arrivals}", last.start, detail=[entry(timestamp=last.start)]),
            ],
        )
        request = parsed(*request.next_params(last), account_id=account_id)
        rows, last = search_page(fake, request)
        seen += [row[0] for row in rows]
    assert len(seen) == len(set(seen))
    assert [s for s in seen if s in stored] == stored


# /v1/changes


def test_changes_parameters() -> None:
    assert parse_changes([]) == (0, CHANGES_DEFAULT)
    assert parse_changes([("after", "42"), ("limit", "10")]) == (42, 10)
    assert parse_changes([("limit", "10000"), ("after", str(2**63 - 1))]) == (2**63 - 1, 10_000)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            [("after", "-1")],
            "Invalid after '-1': must be a whole number from 0 to 9223372036854775807.",
        ),
        ([("after", str(2**63))], "Invalid after"),
        ([("after", "x")], "Invalid after 'x'"),
        ([("limit", "0")], "Invalid limit '0': must be a whole number from 1 to 10000."),
        ([("limit", "all")], "Invalid limit 'all': must be a whole number from 1 to 10000."),
        ([("since", "1")], "Unknown parameter 'since'; allowed: after, limit."),
        ([("after", "1"), ("after", "2")], "Parameter 'after' is given more than once"),
    ],
)
def test_bad_changes_parameters_are_400s_naming_them(
    params: list[tuple[str, str]], expected: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_changes(params)
    assert caught.value.message.startswith(expected)
