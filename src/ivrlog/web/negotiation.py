"""Choosing JSON or XML from the Accept header."""

from __future__ import annotations

from functools import lru_cache

from ivrlog.render import JSON, XML, Renderer

_XML_TYPES = ("application/xml", "text/xml")
_JSON_TYPES = ("application/json", "application/*", "*/*")


@lru_cache(maxsize=256)
def wants_xml(accept: str) -> bool:
    """True when XML is preferred over JSON: a higher quality, or the same quality and
    listed first. Anything else, or no Accept at all, means JSON."""
    best_xml: tuple[float, int] = (0.0, 0)
    best_json: tuple[float, int] = (0.0, 0)
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        media = media.lower()
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        rank = (quality, -position)
        if media in _XML_TYPES and rank > best_xml:
            best_xml = rank
        elif media in _JSON_TYPES and rank > best_json:
            best_json = rank
    return best_xml[0] > 0 and best_xml > best_json


def renderer_for(accept: str | None) -> Renderer:
    return XML if accept and wants_xml(accept) else JSON
