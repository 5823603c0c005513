"""Pages are streamed batch by batch from stored fragments, in either format."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence

import orjson
import pytest

from ivrlog.core.model import CallRow
from ivrlog.render import JSON, XML, Renderer
from ivrlog.render.listing import OUTBOUND, shown_src

DETAIL_JSON = (
    '[{"event":{"line":"hi","data":{"module_type":"start","result_variable":"start"}},'
    '"class":"info","timestamp":5}]'
)
DETAIL_XML = (
    "<item><event><line>hi</line><data><module_type>start</module_type>"
    "<result_variable>start</result_variable></data></event><class>info</class>"
    "<timestamp>5</timestamp></item>"
)


class FakePage:
    """A CallPage that records how far it has been read."""

    def __init__(self, batches: list[list[CallRow]], total: int) -> None:
        self._batches = batches
        self.total = total
        self.read = 0
        self.closed = False

    def batches(self) -> Iterator[Sequence[CallRow]]:
        for batch in self._batches:
            self.read += 1
            yield batch

    def close(self) -> None:
        self.closed = True


def rows(fragment: str | None, count: int, first: int = 0) -> list[CallRow]:
    return [
        ("617", "508", 100 + i, 200 + i, f"s;{i}", "inbound", 1 if fragment else 0, fragment)
        for i in range(first, first + count)
    ]


@pytest.mark.parametrize(
    ("renderer", "fragment"), [(JSON, DETAIL_JSON), (XML, DETAIL_XML)], ids=["json", "xml"]
)
def test_one_chunk_per_batch_read_lazily(renderer: Renderer, fragment: str) -> None:
    page = FakePage([rows(fragment, 2), rows(fragment, 2, 2), rows(None, 1, 4)], total=9)
    stream = renderer.all_logs_page(page)
    head = next(stream)
    assert page.read == 0  # nothing read before the first batch is asked for
    first = next(stream)
    assert page.read == 1
    rest = list(stream)
    assert page.read == 3
    assert len(rest) == 3  # two more batches and the closing part
    body = head + first + b"".join(rest)
    if renderer is JSON:
        parsed = orjson.loads(body)
        assert parsed["total_calls"] == 9
        assert [c["session_id"] for c in parsed["calls"]] == [f"s;{i}" for i in range(5)]
        assert parsed["calls"][0]["detail"] == orjson.loads(DETAIL_JSON)
        assert parsed["calls"][4]["detail"] == []
    else:
        root = ET.fromstring(body)
        assert root.findtext("total_calls") == "9"
        items = root.findall("calls/item")
        assert len(items) == 5
        assert items[0].findtext("detail/item/event/line") == "hi"
        assert list(items[4].find("detail") or []) == []


@pytest.mark.parametrize("renderer", [JSON, XML], ids=["json", "xml"])
def test_empty_page(renderer: Renderer) -> None:
    body = b"".join(renderer.calls_page(FakePage([], total=0)))
    if renderer is JSON:
        assert orjson.loads(body) == {"calls": [], "total_calls": 0}
    else:
        root = ET.fromstring(body)
        assert root.findtext("total_calls") == "0"
        assert root.findall("calls/item") == []


CALL_TYPE_ROWS: list[CallRow] = [
    ("617", "508", 100, 200, f"s;{call_type}", call_type, 0, None)
    for call_type in ("inbound", "outbound", "transfer")
]


def test_an_outbound_call_shows_outbound_as_its_src() -> None:
    assert [shown_src(row[1], row[5]) for row in CALL_TYPE_ROWS] == ["508", OUTBOUND, "508"]
    assert OUTBOUND == "Outbound"  # SPEC 2


@pytest.mark.parametrize("renderer", [JSON, XML], ids=["json", "xml"])
@pytest.mark.parametrize("listing", ["calls_page", "all_logs_page"])
def test_both_renderers_show_the_src_the_rule_gives(renderer: Renderer, listing: str) -> None:
    body = b"".join(getattr(renderer, listing)(FakePage([CALL_TYPE_ROWS], 3)))
    if renderer is JSON:
        shown = [call["src"] for call in orjson.loads(body)["calls"]]
    else:
        shown = [item.findtext("src") for item in ET.fromstring(body).iter("item")]
    assert shown == [shown_src(row[1], row[5]) for row in CALL_TYPE_ROWS]
