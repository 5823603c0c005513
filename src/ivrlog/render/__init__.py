"""Turns core results into bytes: JSON and XML, two renderers of the same data."""

from collections.abc import Iterator
from typing import Any, Protocol

from ivrlog.core.model import CallPage, DetailFormat
from ivrlog.render import json, xml


class Renderer(Protocol):
    """What every format provides; the web layer picks one per request."""

    MEDIA_TYPE: str
    FORMAT: DetailFormat

    def calls_page(self, page: CallPage) -> Iterator[bytes]: ...

    def all_logs_page(self, page: CallPage) -> Iterator[bytes]: ...

    def detail(self, fragment: str) -> bytes: ...

    def document(self, value: Any) -> bytes: ...


JSON: Renderer = json
XML: Renderer = xml

__all__ = ["JSON", "XML", "Renderer"]
