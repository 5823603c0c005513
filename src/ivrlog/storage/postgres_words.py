"""The search words of a call's detail as PostgreSQL stores them (a tsvector, written by
COPY BINARY with the detail: storage/postgres.py)."""

from __future__ import annotations

import struct


def tsvector_binary(words: str | None) -> bytes | None:
    """The search words as a tsvector in PostgreSQL's binary form (tsvectorsend: the
    lexeme count, then each lexeme as NUL-ended UTF-8 with no positions), so that COPY
    BINARY writes them with the detail: exactly the tsvector that
    array_to_tsvector(string_to_array(words, ' ')) makes (the server sorts the lexemes)."""
    if not words:
        return None
    lexemes = words.split(" ")
    parts = [struct.pack("!i", len(lexemes))]
    parts += [w.encode() + b"\x00\x00\x00" for w in lexemes]
    return b"".join(parts)
