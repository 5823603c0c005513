"""SPEC 4: card numbers and SSNs are redacted before storage, in bulk and live ingestion
(a property, then fixed cases), and only accounts' own patterns apply when redaction is off."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import assume, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ivrlog.core.accounts import Credentials
from ivrlog.core.patterns import add_pattern
from ivrlog.core.ports import Store
from ivrlog.core.redact import REDACTED, luhn_valid
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.conftest import BACKENDS, new_database
from tests.e2e.privacy.helpers import (
    CARD,
    CARD_DASHED,
    CARD_SPACED,
    END,
    MEMBER_PATTERN,
    MODES,
    SESSION_IDS,
    SSN,
    T0,
    send,
    service,
    stored_entries,
    views,
)
from tests.factories import NOW, database_text, entry
from tests.pg import PostgresServer

# ---------------------------------------------------------------- property: cards and SSNs


def check_digit(payload: str) -> str:
    """The Luhn check digit that makes `payload + digit` valid (written independently of
    ivrlog's luhn_valid, which the property cross-checks)."""
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str(-total % 10)


@st.composite
def cards(draw: st.DrawFn) -> tuple[str, str]:
    """(the card's digits, the card as written: plain, 4-grouped with spaces or dashes)."""
    length = draw(st.integers(13, 19))
    payload = draw(st.sampled_from("123456789")) + draw(
        st.text("0123456789", min_size=length - 2, max_size=length - 2)
    )
    digits = payload + check_digit(payload)
    groups = [digits[i : i + 4] for i in range(0, length, 4)]
    written = draw(st.sampled_from((digits, " ".join(groups), "-".join(groups))))
    return digits, written


SSNS = st.builds(
    "{:03d}-{:02d}-{:04d}".format,
    st.integers(0, 999),
    st.integers(0, 99),
    st.integers(0, 9999),
)
# Arbitrary text around the secrets, with digits and separators often right next to them.
# Control characters are left out: JSON writes them as \u00XX, whose hex digits could join
# the text's own digits into a false match on the raw bytes.
TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\t -0123456789"),
    max_size=10,
)
PATHS = st.lists(
    st.one_of(st.text(string.ascii_lowercase, min_size=1, max_size=5), st.integers(0, 2)),
    max_size=4,
)


def nest(value: Any, path: list[str | int]) -> Any:
    """`value` at `path`: a key is a dict, a number n a list with n items before it."""
    for step in reversed(path):
        value = {step: value} if isinstance(step, str) else [*(["pad"] * step), value]
    return value


def at(value: Any, path: list[str | int]) -> Any:
    for step in path:
        value = value[step]
    return value


@given(
    card=cards(),
    ssn=SSNS,
    texts=st.lists(TEXT, min_size=7, max_size=7),
    paths=st.lists(PATHS, min_size=3, max_size=3),
    live=st.booleans(),
)
@hypothesis_settings(max_examples=40, deadline=None)
@pytest.mark.parametrize("backend", BACKENDS)
def test_no_card_number_or_ssn_is_stored_or_served(
    backend: str,
    postgres_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
    card: tuple[str, str],
    ssn: str,
    texts: list[str],
    paths: list[list[str | int]],
    live: bool,
) -> None:
    digits, written = card
    assert luhn_valid(digits)  # the generator and ivrlog agree on what a card number is
    b1, a1, b2, a2, b3, mid, a3 = texts
    ssn_digits = ssn.replace("-", "")
    # the 9 digits of an SSN could occur in the surrounding text or a timestamp by chance
    assume(ssn_digits not in " ".join([*texts, str(T0), str(END)]))
    number = int(digits)
    data: dict[str, Any] = {
        "card": nest(f"zqA{b1}{written}{a1}", paths[0]),
        "ssn": nest(f"zqS{b2}{ssn}{a2}", paths[1]),
        "kept": "zqK",
        f"zqN{written}": "zqV",  # a key holding the card
    }
    if number < 2**63:  # a JSON integer must fit in 64 bits
        data["amount"] = nest(number, paths[2])
    line = f"zqL{b3}{written}{mid}{ssn}{a3}"
    session_id = f"prop-{next(SESSION_IDS)}"
    note(f"line={line!r} data={data!r} live={live}")
    with (
        new_database(backend, tmp_path_factory.mktemp("property"), lambda: postgres_server) as db,
        service(db) as svc,
    ):
        send(svc.client, svc.creds, session_id, [entry(line, timestamp=T0, **data)], live=live)
        [stored] = stored_entries(svc.client, svc.creds, session_id)
        assert stored["event"]["line"].startswith("zqL")
        assert stored["event"]["data"]["kept"] == "zqK"
        if "amount" in data:
            assert at(stored["event"]["data"]["amount"], paths[2]) == REDACTED
        for name, text in views(svc.client, svc.creds, session_id).items():
            for secret in (digits, written, ssn, ssn_digits):
                assert secret not in text, f"{secret!r} in {name}: {text}"
            for marker in ("zqL", "zqA", "zqS", "zqK", "zqN", "zqV", REDACTED):
                assert marker in text, f"{marker!r} missing from {name}"
        on_disk = database_text(svc.db)
    for secret in (digits, written, ssn, ssn_digits):
        assert secret not in on_disk, f"{secret!r} is in the database files"
    for marker in ("zqL", "zqA", "zqS", REDACTED):  # the same entries did reach the disk
        assert marker in on_disk


# ---------------------------------------------------------------- fixed cases


@MODES
def test_every_form_is_redacted_keys_too_and_near_misses_stay(
    client: TestClient, account: Credentials, db_url: str, live: bool
) -> None:
    data: dict[str, Any] = {
        CARD: CARD_DASHED,  # keys are redacted too, and stay unique
        SSN: [{"deep": [f"ssn {SSN}!"]}],
        "number": int(CARD),
        "negative": -int(CARD),
        "float": float(CARD),
        "order": "order 123456789012 ref 123-456-789",  # 12 digits; not an SSN's shape
        "count": 4111111111111113,  # no 13 to 19 digits of it pass Luhn
        "flag": True,
    }
    line = f"card {CARD_SPACED}, again {CARD}, ssn {SSN} zq-neighbour"
    send(client, account, "fixed", [entry(line, timestamp=T0, **data)], live=live)
    [stored] = stored_entries(client, account, "fixed")
    assert stored["event"] == {
        "line": f"card {REDACTED}, again {REDACTED}, ssn {REDACTED} zq-neighbour",
        "data": {
            REDACTED: REDACTED,
            f"{REDACTED}#2": [{"deep": [f"ssn {REDACTED}!"]}],
            "number": REDACTED,
            "negative": REDACTED,
            "float": REDACTED,
            "order": "order 123456789012 ref 123-456-789",
            "count": 4111111111111113,
            "flag": True,
            "module_type": "start",
            "result_variable": "start",
        },
    }
    on_disk = database_text(db_url)
    for secret in (CARD, CARD_SPACED, CARD_DASHED, SSN):
        assert secret not in on_disk
    assert "zq-neighbour" in on_disk
    assert "order 123456789012" in on_disk


# ---------------------------------------------------------------- redaction switched off


@pytest.fixture
def unredacted_client(db_url: str, store: Store) -> Iterator[TestClient]:
    application: FastAPI = create_app(
        Settings(database=db_url, redaction=False), store=store, clock=lambda: NOW
    )
    with TestClient(application, raise_server_exceptions=False) as the_client:
        yield the_client


@MODES
def test_without_redaction_cards_are_kept_but_account_patterns_apply(
    unredacted_client: TestClient, store: Store, account: Credentials, db_url: str, live: bool
) -> None:
    add_pattern(store, account.email, "member-id", MEMBER_PATTERN, now=NOW)
    line = f"card {CARD_SPACED} ssn {SSN} member MEM-123456 zq-unredacted"
    sent = entry(line, timestamp=T0, number=int(CARD), text=CARD_DASHED, member="MEM-654321")
    send(unredacted_client, account, "as-sent", [sent], live=live)
    [stored] = stored_entries(unredacted_client, account, "as-sent")
    assert (
        stored["event"]["line"] == f"card {CARD_SPACED} ssn {SSN} member {REDACTED} zq-unredacted"
    )
    assert stored["event"]["data"]["number"] == int(CARD)
    assert stored["event"]["data"]["text"] == CARD_DASHED
    assert stored["event"]["data"]["member"] == REDACTED
    on_disk = database_text(db_url)
    assert CARD_SPACED in on_disk
    assert SSN in on_disk
    assert "MEM-123456" not in on_disk
    assert "MEM-654321" not in on_disk
