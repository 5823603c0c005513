"""The XML renderer: documents, pages streamed in batches, and stored detail embedded as
is. Elements are written by core/xmlwriter.py (the writer ingestion uses for the stored
detail), which says how keys become names and how text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from ivrlog.core.model import CallPage, CallRow
from ivrlog.core.xmlwriter import escape_text, write_element
from ivrlog.render.listing import shown_src

XML_DECLARATION = '<?xml version="1.0"?>\n'


def render_document(value: Any) -> bytes:
    """A whole document: `<result>` holding `value`."""
    out = [XML_DECLARATION]
    write_element("result", value, out)
    return "".join(out).encode()


MEDIA_TYPE = "application/xml"
FORMAT: Final = "xml"


def _item(row: CallRow, detail: str) -> str:
    """One listed call; `detail` is its `<detail>` element, or empty in /api/calls."""
    return (
        f"<item><dest>{escape_text(row[0])}</dest><src>{escape_text(shown_src(row))}</src>"
        f"<start>{row[2]}</start><end>{row[3]}</end>"
        f"<session_id>{escape_text(row[4])}</session_id>{detail}"
        f"<type>{escape_text(row[5])}</type><log>{'true' if row[6] else 'false'}</log></item>"
    )


def _summary(row: CallRow) -> str:
    return _item(row, "")


def _with_detail(row: CallRow) -> str:
    return _item(row, f"<detail>{row[7]}</detail>" if row[7] else "<detail/>")


def _page(page: CallPage, shape: Callable[[CallRow], str]) -> Iterator[bytes]:
    yield (XML_DECLARATION + "<result><calls>").encode()
    for batch in page.batches():
        yield "".join(map(shape, batch)).encode()
    yield f"</calls><total_calls>{page.total}</total_calls></result>".encode()


def calls_page(page: CallPage) -> Iterator[bytes]:
    return _page(page, _summary)


def all_logs_page(page: CallPage) -> Iterator[bytes]:
    return _page(page, _with_detail)


def detail(fragment: str) -> bytes:
    return f"{XML_DECLARATION}<result>{fragment}</result>".encode()


def document(value: Any) -> bytes:
    return render_document(value)
