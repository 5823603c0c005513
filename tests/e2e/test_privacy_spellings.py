"""Card numbers and SSNs in every spelling docs/privacy.md names, ingested in lines, data
values and data keys, in bulk and live, on both backends: absent from every API answer,
from the database's bytes (SQLite's files; PostgreSQL's data files and WAL after a
CHECKPOINT), and from a running server's log."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, add_account
from ivrlog.storage import open_store
from tests.e2e.privacy.helpers import post_live
from tests.e2e.serving import serving
from tests.factories import DAY, NOW, basic, call, entry, ingest
from tests.pg import PostgresServer
from tests.raw_files import ascii_digits, database_bytes, digits_of, leaks

T0 = NOW - 600
MODES = pytest.mark.parametrize("live", [False, True], ids=["bulk", "live"])

CARD_SEPARATORS = [
    " ", "-", "\t", "\u00a0", "\u202f", "\u3000", "\u2013", "\u2014", "\u2212", "\u2011",
    "\uff0d", "\ufe63", "\ufe58", "\u058a", "\u2e3a", "\u2e3b", "\u301c", "\u30a0", "\u2053",
    "\u00ad", "\u200b", "\u2060", "\ufeff", " - ", "    ", " " * 8, ".", "/", ",", "_", "+",
    "\n", "\r\n", "%20", "%2D", "%2d", "%2B", "%2E", "%2F", "%C2%A0", "%E2%80%93", "%2520",
]  # fmt: skip
SSN_SEPARATORS = ["-", " ", ".", "\u2013", "\u2011", "\uff0d", "%2D", "%20", "+"]


def luhn_card(rng: random.Random, length: int) -> str:
    payload = "4" + "".join(rng.choice("0123456789") for _ in range(length - 2))
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return payload + str(-total % 10)


def in_script(zero: str, digits: str) -> str:
    return "".join(chr(ord(zero) + int(d)) if d.isdigit() else d for d in digits)


def groups(digits: str, sizes: tuple[int, ...], separator: str) -> str:
    out, at = [], 0
    for size in sizes:
        out.append(digits[at : at + size])
        at += size
    return separator.join(out)


def spellings(rng: random.Random) -> list[tuple[str, str]]:
    """(a secret as written, its ASCII digits), each with digits of its own."""
    found: list[tuple[str, str]] = []
    for separator in CARD_SEPARATORS:
        digits = luhn_card(rng, 16)
        found.append((groups(digits, (4, 4, 4, 4), separator), digits))
    amex, long, short = luhn_card(rng, 15), luhn_card(rng, 19), luhn_card(rng, 13)
    found += [
        (groups(amex, (4, 6, 5), "."), amex),
        (groups(long, (4, 4, 4, 4, 3), "/"), long),
        (groups(short, (4, 4, 5), "_"), short),
    ]
    spelled: tuple[Callable[[str], str], ...] = (
        lambda d: " ".join(d),  # digit by digit
        lambda d: "\u2011".join(d),
        lambda d: in_script("\uff10", groups(d, (4, 4, 4, 4), "\uff0d")),  # fullwidth
        lambda d: in_script("\u0660", groups(d, (4, 4, 4, 4), " ")),  # Arabic-Indic
        lambda d: in_script("\u0966", d),  # Devanagari
        lambda d: "".join(f"%{ord(c):02X}" for c in d),  # percent-encoded digits
        lambda d: groups(d, (4, 4, 4, 4), "%2E").replace("1", "%31"),
    )
    for written in spelled:
        digits = luhn_card(rng, 16)
        found.append((written(digits), digits))
    for separator in SSN_SEPARATORS:
        digits = "".join(rng.choice("0123456789") for _ in range(9))
        found.append((groups(digits, (3, 2, 4), separator), digits))
    digits = "".join(rng.choice("0123456789") for _ in range(9))
    found.append((in_script("\uff10", groups(digits, (3, 2, 4), "-")), digits))
    return found


def raw_database(
    db_url: str, backend: str, request: pytest.FixtureRequest, *, wal: bool = True
) -> bytes:
    server: PostgresServer | None = None
    if backend == "postgresql":
        server = request.getfixturevalue("postgres_server")
    return database_bytes(db_url, server, wal=wal)


def api_texts(client: TestClient, creds: Credentials, session_ids: list[str]) -> list[str]:
    shown = []
    for accept in ("application/json", "application/xml"):
        headers = {"Accept": accept}
        page = client.get(f"/api/all_logs/0/{NOW + DAY}", auth=basic(creds), headers=headers)
        assert page.status_code == 200, page.text
        shown.append(page.text)
        for session_id in session_ids:
            one = client.get(
                f"/api/call/{quote(session_id, safe='')}", auth=basic(creds), headers=headers
            )
            assert one.status_code == 200, one.text
            shown.append(one.text)
    return shown


def shown_in(secret: tuple[str, str], text: str) -> bool:
    written, digits = secret
    return (
        written in text
        or orjson.dumps(written).decode()[1:-1] in text
        or digits in digits_of(text)
        or digits in digits_of(unquote_plus(text))
    )


@MODES
def test_no_spelling_reaches_the_api_or_the_database_bytes(
    client: TestClient,
    account: Credentials,
    db_url: str,
    backend: str,
    live: bool,
    request: pytest.FixtureRequest,
) -> None:
    rng = random.Random(f"{backend}-{live}")
    run = f"{backend[0]}{'l' if live else 'b'}"
    secrets = spellings(rng)
    kept = {f"{rng.randrange(10**11, 10**12)}" for _ in secrets}  # 12 digits: no card
    calls, session_ids = [], []
    for index, ((written, _), number) in enumerate(zip(secrets, sorted(kept), strict=True)):
        data: dict[str, Any] = {
            "value": f"zqV{run}{index} card {written} end",
            f"zqK{run}{index}k {written}": "k",
            "kept": f"ref {number}",
            "nested": [{"deep": f"pay {written}"}],
        }
        one = entry(f"zqL{run}{index} paid with {written} today", timestamp=T0, **data)
        session_ids.append(f"spelling-{run}-{index}")  # one call each: rows stay small
        calls.append(call(session_ids[-1], T0, detail=[one]))
    if live:
        for one in calls:
            body = {key: one[key] for key in ("src", "dest", "type", "start", "end")}
            body["entries"] = one["detail"]
            response = post_live(client, account, one["session_id"], body)
            assert response.status_code == 200, response.text
    else:
        response = ingest(client, account, calls)
        assert response.status_code == 200, response.text

    shown = api_texts(client, account, session_ids)
    for secret in secrets:
        assert not any(shown_in(secret, text) for text in shown), f"{secret!r} is served"
    every = "".join(shown)
    for index in range(len(secrets)):
        for marker in (f"zqV{run}{index} card [redacted] end", f"zqK{run}{index}k [redacted]"):
            assert marker in every
        assert f"zqL{run}{index} paid with [redacted] today" in every

    raw = raw_database(db_url, backend, request)
    raw_digits = ascii_digits(raw_database(db_url, backend, request, wal=False))
    found = {written: leaks(written, digits, raw, raw_digits) for written, digits in secrets}
    assert {written: how for written, how in found.items() if how} == {}
    # the same entries did reach the disk, and their digits are readable there
    for index in range(len(secrets)):
        assert f"zqL{run}{index} paid with [redacted] today".encode() in raw
    for number in kept:
        assert number.encode() in raw_digits


# ---------------------------------------------------------------- the server log


@pytest.mark.e2e
def test_the_server_log_holds_no_spelling(db_url: str, backend: str, tmp_path: Path) -> None:
    secrets = spellings(random.Random(f"log-{backend}"))
    store = open_store(db_url)
    try:
        creds = add_account(store, "dev@example.com")
    finally:
        store.close()
    log = tmp_path / "server.log"
    now = int(time.time())
    with (
        serving(db_url, log) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        for written, _ in secrets:
            # a path keeps percent-encoding as sent; a space or a line break cannot
            # stand in a request line, so those are sent encoded
            path = written if "%" in written else quote(written, safe="+/")
            response = http.get(f"/api/call/{path}", auth=basic(creds))
            assert response.status_code == 404
            response = http.get(f"/api/calls/0/{now}?number={path}", auth=basic(creds))
            assert response.status_code == 200
    text = log.read_text(errors="replace")
    assert text.count("GET /api/call/[redacted] HTTP/1.1") == len(secrets)
    assert text.count("?number=[redacted] HTTP/1.1") == len(secrets)
    for secret in secrets:
        assert not shown_in(secret, text), f"{secret!r} is in the server log"
