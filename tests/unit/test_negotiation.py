from __future__ import annotations

import pytest

from ivrlog.render import JSON, XML
from ivrlog.web.negotiation import listed_format, renderer_for, wants_xml


@pytest.mark.parametrize(
    "accept",
    [
        "application/xml",
        "text/xml",
        "Application/XML",
        "application/xml, application/json",
        "text/xml, */*",
        "application/json;q=0.5, application/xml",
        "application/xml;q=0.9, application/json;q=0.8",
        "text/html, application/xml;q=0.9",
    ],
)
def test_xml_when_preferred(accept: str) -> None:
    assert wants_xml(accept)
    assert renderer_for(accept) is XML


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "*/*",
        "application/json",
        "application/json, application/xml",
        "application/xml;q=0.5, application/json",
        "application/xml;q=0",
        "application/xml;q=nonsense",
        "text/html",
        "*/*, application/xml;q=0.9",
    ],
)
def test_json_otherwise(accept: str) -> None:
    assert not wants_xml(accept)
    assert renderer_for(accept) is JSON


def test_no_accept_header_is_json() -> None:
    assert renderer_for(None) is JSON


# /v1/calls: json, ndjson or csv


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", "json"),
        (" ", "json"),
        ("*/*", "json"),
        ("application/json", "json"),
        ("application/*", "json"),
        ("application/x-ndjson", "ndjson"),
        ("Application/X-NDJSON; charset=utf-8", "ndjson"),
        ("text/csv", "csv"),
        ("text/*", "csv"),
        ("text/csv, */*;q=0.1", "csv"),
        ("application/x-ndjson, application/json", "ndjson"),
        ("application/json, application/x-ndjson", "json"),
        ("application/json;q=0.5, text/csv", "csv"),
        ("*/*, text/csv", "csv"),  # named beats a wildcard of the same quality
        ("application/json;q=0, */*", "ndjson"),
        ("text/html, application/xml;q=0.9, */*;q=0.8", "json"),
        ("text/csv;q=nonsense, application/json;q=0.2", "json"),
    ],
)
def test_listed_format_by_accept(accept: str, expected: str) -> None:
    assert listed_format(accept) == expected


@pytest.mark.parametrize(
    "accept",
    [
        "application/xml",
        "text/html",
        "image/png, text/xml",
        "*/*;q=0",
        "text/csv;q=0",
        "text/csv;q=2",
    ],
)
def test_listed_format_none_when_no_format_is_acceptable(accept: str) -> None:
    assert listed_format(accept) is None
