"""gzip for ivrlog's own read API (/v1/calls, exports): whether a client accepts it, and
a streamed compression of an answer's chunks (docs/api.md, formats and export)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Final

from ivrlog.web.negotiation import q_value

# zlib's fastest level, as nginx's gzip_comp_level default: an export is bound by the
# server's CPU, and level 1 already shrinks the JSON and CSV of calls several times
LEVEL: Final = 1
GZIP_WINDOW: Final = 16 + zlib.MAX_WBITS  # deflate with the gzip header and trailer
GZIP_NAMES: Final = ("gzip", "x-gzip")


def wants_gzip(accept_encoding: str | None) -> bool:
    """Whether an `Accept-Encoding` header accepts gzip (RFC 9110 12.5.3): `gzip` (or
    `x-gzip`), or `*` when gzip is not named, with a quality above 0, and not below an
    `identity` the client explicitly prefers. No header: no."""
    if not accept_encoding:
        return False
    named: float | None = None
    wildcard: float | None = None
    identity: float | None = None
    for item in accept_encoding.split(","):
        coding, *params = item.split(";")
        coding = coding.strip().lower()
        quality = q_value(params)
        if coding in GZIP_NAMES:
            named = quality if named is None else max(named, quality)
        elif coding == "*":
            wildcard = quality
        elif coding == "identity":
            identity = quality
    gzip = named if named is not None else wildcard
    if gzip is None or gzip <= 0.0:
        return False
    return identity is None or identity <= gzip


def gzip_chunks(chunks: Iterable[bytes], level: int = LEVEL) -> Iterator[bytes]:
    """`chunks` compressed as one gzip stream, chunk by chunk: each chunk is flushed
    (a sync flush) so that a slow export still reaches the client as it is made, and
    memory holds one chunk and the compressor's window, whatever the size."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, GZIP_WINDOW)
    for chunk in chunks:
        if chunk:
            yield compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    yield compressor.flush(zlib.Z_FINISH)
