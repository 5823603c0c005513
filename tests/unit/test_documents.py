"""web/documents.py: a request body read by its Content-Type into the documents core
checks (415 for another type), its integers kept exact, its size in calls bounded."""

from __future__ import annotations

import pytest

from ivrlog.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from ivrlog.core.limits import MAX_CALLS
from ivrlog.web.documents import loads, media_type, parse_batch, parse_update


@pytest.mark.parametrize(
    ("header", "media"),
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=utf-8", "application/json"),
        (" application/x-ndjson ;x=1", "application/x-ndjson"),
        ("", ""),
    ],
)
def test_the_media_type_is_the_header_without_parameters(header: str, media: str) -> None:
    assert media_type(header) == media


@pytest.mark.parametrize("header", ["", "application/json", "APPLICATION/JSON; charset=utf-8"])
def test_a_bulk_body_as_json_is_an_array_of_calls(header: str) -> None:
    assert parse_batch(b'[{"a": 1}, {"b": [2]}]', header) == [{"a": 1}, {"b": [2]}]


@pytest.mark.parametrize(
    "header", ["application/x-ndjson", "application/jsonl", "application/ndjson; charset=utf-8"]
)
def test_a_bulk_body_as_ndjson_is_a_call_a_line(header: str) -> None:
    assert parse_batch(b'{"a": 1}\n\n  \n{"b": 2}\n', header) == [{"a": 1}, {"b": 2}]


def test_another_type_of_bulk_body_is_415_naming_the_header_as_sent() -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        parse_batch(b"[]", "Text/Plain; charset=utf-8")
    assert refused.value.status == 415
    assert refused.value.message == (
        "Content-Type 'Text/Plain; charset=utf-8' is not accepted: "
        "use application/json (an array) or application/x-ndjson."
    )


def test_another_type_of_update_is_415_naming_the_media_type() -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        parse_update(b"{}", "Application/X-NDJSON; a=b")
    assert refused.value.message == (
        "Content-Type 'application/x-ndjson' is not accepted: use application/json (one object)."
    )
    assert parse_update(b'{"entries": []}', "application/json; charset=utf-8") == {"entries": []}
    assert parse_update(b"[1]", "") == [1]  # core.live says it must be an object


def test_a_bulk_body_that_is_not_an_array_is_400() -> None:
    with pytest.raises(BadRequest, match="must be a JSON array of call objects"):
        parse_batch(b'{"session_id": "x"}', "application/json")


def test_malformed_json_is_400_naming_the_line_of_ndjson() -> None:
    with pytest.raises(BadRequest, match=r"^The body is not valid JSON: "):
        parse_batch(b"[{]", "application/json")
    with pytest.raises(BadRequest, match=r"^Body line 3 is not valid JSON: "):
        parse_batch(b'{}\n{}\n{"a":\n', "application/x-ndjson")


def test_more_calls_than_max_calls_are_413_in_either_form() -> None:
    message = f"A request holds at most {MAX_CALLS} calls."
    assert len(parse_batch(b"[" + b",".join([b"{}"] * MAX_CALLS) + b"]", "")) == MAX_CALLS
    with pytest.raises(PayloadTooLarge) as refused:
        parse_batch(b"[" + b",".join([b"{}"] * (MAX_CALLS + 1)) + b"]", "")
    assert refused.value.message == message
    with pytest.raises(PayloadTooLarge, match=message):
        parse_batch(b"{}\n" * (MAX_CALLS + 1), "application/x-ndjson")


def test_integers_keep_their_value_and_type() -> None:
    assert loads(b"[9223372036854775807, -9223372036854775808, 1.5]") == [
        2**63 - 1,
        -(2**63),
        1.5,
    ]
    assert loads(b'{"n": 18446744073709551615}') == {"n": 2**64 - 1}  # orjson's u64
    with pytest.raises(BadRequest, match="integers must fit in 64 bits"):
        loads(b"[123456789012345678901234567890]")


@pytest.mark.parametrize(
    "text", [b"[NaN, 1234567890123456789012]", b"[1e999, 12345678901234567890123]"]
)
def test_values_json_does_not_have_are_refused_on_the_long_digit_path(text: bytes) -> None:
    with pytest.raises(BadRequest, match=r"^The body is not valid JSON: "):
        parse_batch(text, "")
