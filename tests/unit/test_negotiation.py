from __future__ import annotations

import pytest

from ivrlog.render import JSON, XML
from ivrlog.web.negotiation import renderer_for, wants_xml


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
