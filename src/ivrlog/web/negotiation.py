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


# ivrlog's own list (/v1/calls): its formats and their media types, the default first
LISTED_FORMATS = (
    ("json", "application/json"),
    ("ndjson", "application/x-ndjson"),
    ("csv", "text/csv"),
)


def q_value(params: list[str]) -> float:
    """The quality (`q`) of an Accept or Accept-Encoding range's parameters: 1 when absent,
    0 when it is not a number from 0 to 1."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


@lru_cache(maxsize=256)
def listed_format(accept: str) -> str | None:
    """The format of /v1/calls that `accept` prefers: json, ndjson or csv; None when it
    accepts none of them (a 406). No Accept, an empty one, or `*/*`: json.

    Each format takes the quality of the most specific range that covers it (its own
    media type, then `type/*`, then `*/*`; q=0 refuses it); the highest quality wins,
    then a format named over one covered by a wildcard, then the one listed first, then
    json before ndjson before csv."""
    ranges: list[tuple[str, float, int]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        if media:
            ranges.append((media.lower(), q_value(params), position))
    if not ranges:
        return "json"
    best: tuple[tuple[float, int, int, int], str] | None = None
    for order, (name, media) in enumerate(LISTED_FORMATS):
        covers = {media: 2, media.split("/")[0] + "/*": 1, "*/*": 0}
        match: tuple[int, float, int] | None = None  # specificity, quality, position
        for given, quality, position in ranges:
            specific = covers.get(given)
            if specific is not None and (match is None or specific > match[0]):
                match = (specific, quality, position)
        if match is None or match[1] <= 0:
            continue
        rank = (match[1], match[0], -match[2], -order)
        if best is None or rank > best[0]:
            best = (rank, name)
    return None if best is None else best[1]
