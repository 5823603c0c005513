"""What a database holds on disk, byte for byte, and checks that a secret is not in it."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import orjson
import psycopg

from ivrlog.storage import sqlite_path
from tests.pg import PostgresServer

_NOT_ASCII_DIGITS = bytes(b for b in range(256) if not 48 <= b <= 57)


def database_bytes(db_url: str, server: PostgresServer | None) -> bytes:
    """The bytes of a SQLite database file and its journals; on PostgreSQL, after a
    CHECKPOINT (so that every page and the WAL are on disk), the files of the test run's
    database and the whole WAL, as the server's data directory holds them."""
    path = sqlite_path(db_url)
    if path is not None:
        files = [Path(path + suffix) for suffix in ("", "-wal", "-journal", "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    assert server is not None
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    folders = [server.data / "base" / str(row[0]), server.data / "pg_wal"]
    files = [f for folder in folders for f in sorted(folder.iterdir()) if f.is_file()]
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
    if digits.encode() in raw_digits:
        found.append("its digits")
    return found
