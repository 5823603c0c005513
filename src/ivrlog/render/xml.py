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
    dest, src, start, end, session_id, call_type, log, _ = row
    return (
        f"<item><dest>{escape_text(dest)}</dest>"
        f"<src>{escape_text(shown_src(src, call_type))}</src>"
        f"<start>{start}</start><end>{end}</end>"
        f"<session_id>{escape_text(session_id)}</session_id>{detail}"
        f"<type>{escape_text(call_type)}</type><log>{'true' if log else 'false'}</log></item>"
    )


def _summary(row: CallRow) -> str:
    return _item(row, "")


def _with_detail(row: CallRow) -> str:
    fragment = row[7]
    return _item(row, f"<detail>{fragment}</detail>" if fragment else "<detail/>")


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
