"""What a database holds on disk, byte for byte, and checks that a secret is not in it."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import orjson
import psycopg

from ivrlog.storage import sqlite_path
from tests.pg import PostgresServer

_NOT_ASCII_DIGITS = bytes(b for b in range(256) if not 48 <= b <= 57)


def database_bytes(db_url: str, server: PostgresServer | None, *, wal: bool = True) -> bytes:
    """The bytes of a SQLite database file and its journals; on PostgreSQL, after a
    CHECKPOINT (so that every page and the WAL are on disk), the files of the test's own
    relations (its schema's tables, indexes and their TOAST tables) and, with `wal`, the
    whole WAL, as the server's data directory holds them. The WAL is shared by every test
    of the run, so digits read across it can spell any short number by chance: look for
    a secret's digits in order only without it."""
    path = sqlite_path(db_url)
    if path is not None:
        files = [Path(path + suffix) for suffix in ("", "-wal", "-journal", "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    assert server is not None
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        relations = [
            name
            for (name,) in conn.execute(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema()"
                " UNION SELECT pg_relation_filepath(t.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " JOIN pg_class t ON t.oid = c.reltoastrelid"
                " WHERE n.nspname = current_schema()"
                " UNION SELECT pg_relation_filepath(i.indexrelid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " JOIN pg_index i ON i.indrelid = c.reltoastrelid"
                " WHERE n.nspname = current_schema()"
            )
            if name is not None
        ]
    files = [
        f
        for relation in sorted(relations)
        for f in sorted((server.data / relation).parent.glob(Path(relation).name + "*"))
        # its segments (16385.1) and forks (16385_fsm), not another relation (163851)
        if f.is_file() and f.name.removeprefix(Path(relation).name)[:1] in ("", ".", "_")
    ]
    if wal:
        files += [f for f in sorted((server.data / "pg_wal").iterdir()) if f.is_file()]
    return b"".join(f.read_bytes() for f in files)


def ascii_digits(data: bytes) -> bytes:
    """The ASCII digits of `data` in order, everything else dropped."""
    return data.translate(None, _NOT_ASCII_DIGITS)


def digits_of(text: str) -> str:
    """The decimal digits of `text` (any script) as ASCII, everything else dropped."""
    return "".join(str(unicodedata.decimal(c)) for c in text if unicodedata.category(c) == "Nd")


def leaks(written: str, digits: str, raw: bytes, raw_digits: bytes) -> list[str]:
    """How a secret (`written` as sent, `digits` its ASCII digits) shows in raw bytes: as
    sent, as JSON writes it, or as its digits in order with no other digit between."""
    found = []
    if written.encode() in raw:
        found.append("as sent")
    if orjson.dumps(written)[1:-1] in raw:
        found.append("JSON-escaped")
    # A run of one digit (000000000) is left to the two checks above: the binary parts of
    # a database (page numbers, record headers, FTS5 segments) hold bytes 0x30 to 0x39
    # too, and a long run of one of them turned up there by chance, with no secret in it
    if len(set(digits)) > 1 and digits.encode() in raw_digits:
        found.append("its digits")
    return found
