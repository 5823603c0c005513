"""web/compress.py: Accept-Encoding read with its q-values, and a streamed gzip."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator

import pytest

from ivrlog.web.compress import gzip_chunks, wants_gzip


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip, deflate, br", True),
        ("deflate, br", False),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("gzip;q=0, *", False),  # gzip named: the wildcard does not bring it back
        ("*", True),
        ("*;q=0", False),
        ("identity", False),
        ("gzip;q=0.5, identity;q=1", False),  # identity explicitly preferred
        ("gzip;q=1, identity;q=0.5", True),
        ("gzip;q=nonsense", False),
        ("gzip;q=2", False),
        (" gzip ; q=0.3 ", True),
    ],
)
def test_wants_gzip(header: str | None, wanted: bool) -> None:
    assert wants_gzip(header) is wanted


def test_gzip_round_trip() -> None:
    chunks = [b"session_id,src\r\n", b"", os.urandom(70_000), b"a,b\r\n" * 50_000]
    assert gzip.decompress(b"".join(gzip_chunks(chunks))) == b"".join(chunks)
    assert gzip.decompress(b"".join(gzip_chunks([]))) == b""


def test_each_chunk_can_be_decompressed_as_it_arrives() -> None:
    """A slow export still moves: every compressed chunk holds all of its input."""
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    chunks = [b'{"calls":[', b'{"session_id":"a"}', b',{"session_id":"b"}', b"]}"]
    received = b""
    for chunk, compressed in zip(chunks, gzip_chunks(chunks), strict=False):
        received += reader.decompress(compressed)
        assert received.endswith(chunk)


def test_gzip_is_streamed_lazily() -> None:
    taken = []

    def source() -> Iterator[bytes]:
        for i in range(3):
            taken.append(i)
            yield b"x" * 1000

    stream = gzip_chunks(source())
    next(stream)
    assert taken == [0]
