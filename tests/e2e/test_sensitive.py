"""Sensitive modules end to end: `ivrlog sensitive add|list|remove`, and entries of a
sensitive result variable or module type stored as private ones, in bulk and live, on
both backends, with redaction on or off, never on disk."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import Store
from ivrlog.core.sensitive import add_sensitive
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.e2e.privacy.helpers import eventually, post_live, run, said, send, stored_entries
from tests.e2e.test_privacy_spellings import luhn_card, raw_database
from tests.factories import NOW, basic, database_text, entry
from tests.raw_files import ascii_digits, digits_of, leaks

T0 = NOW - 600
PRIVATE = "[private]"
MODES = pytest.mark.parametrize("live", [False, True], ids=["bulk", "live"])


def card_call(run: str, card: str) -> list[dict[str, Any]]:
    """A payment step: a prompt, the card keyed digit by digit, a payment module, and a
    confirmation whose result variable only starts like the sensitive one."""
    entries = [
        entry(f"Please enter your card zqA{run}x", module_type="prompt", result_variable="ask")
    ]
    for index, digit in enumerate(card):
        entries.append(
            entry(
                f"User input: {digit} (dtmf) zqD{run}{index}x",
                module_type="digits",
                result_variable="card_number",
                digit=digit,
                note={"said": f"zqN{run}{index}x"},
            )
        )
    spaced = " ".join([card[:4], " " * 8 + card[4:]])  # no rule catches nine spaces
    entries.append(
        entry(
            f"Charging {spaced} zqP{run}x",
            module_type="Payment_Gateway",
            result_variable="charge",
            card=spaced,
        )
    )
    entries.append(
        entry(f"Confirmed zqC{run}x", module_type="prompt", result_variable="card_number_confirm")
    )
    return [{**e, "timestamp": T0 + i} for i, e in enumerate(entries)]


def check_stored(client: TestClient, creds: Credentials, session_id: str, card: str) -> None:
    stored = stored_entries(client, creds, session_id)
    assert len(stored) == len(card) + 3
    first, *digits, payment, confirm = (e["event"] for e in stored)
    assert first["line"].startswith("Please enter your card zqA")
    for event in digits:
        assert event == {
            "line": PRIVATE,
            "data": {
                "digit": PRIVATE,
                "note": PRIVATE,
                "module_type": "digits",
                "result_variable": "card_number",
            },
        }
    assert payment == {
        "line": PRIVATE,
        "data": {"card": PRIVATE, "module_type": "Payment_Gateway", "result_variable": "charge"},
    }
    assert confirm["line"].startswith("Confirmed zqC")


def check_disk(raw: bytes, rows: str, run: str, card: str) -> None:
    """Nothing of the sensitive entries in the database's bytes (`raw`) nor in its rows
    as SQL reads them (`rows`: on PostgreSQL a row over 2 kB is stored compressed, so
    the bytes of a completed call's detail show nothing either way)."""
    for marker in (f"zqA{run}x", f"zqC{run}x"):  # the other entries did reach the disk
        assert marker in rows
    for where in (raw.decode("latin-1"), rows):
        for index in range(len(card)):
            assert f"zqD{run}{index}x" not in where
            assert f"zqN{run}{index}x" not in where
        assert f"zqP{run}x" not in where
    assert leaks(card, card, raw, ascii_digits(raw)) == []
    assert card not in digits_of(rows)


def keyed(client: TestClient, creds: Credentials, entries: list[dict[str, Any]]) -> None:
    """The call as an IVR sends it live: an update per entry, the call left open (its
    entries stay one small row each: on PostgreSQL too, their bytes are readable)."""
    summary = {"src": "caller", "dest": "ivr-line", "type": "inbound", "start": T0}
    for one in entries:
        response = post_live(client, creds, "payment", {**summary, "entries": [one]})
        assert response.status_code == 200, response.text


@MODES
def test_a_card_keyed_digit_by_digit_under_a_sensitive_result_variable_never_reaches_the_disk(
    client: TestClient,
    store: Store,
    account: Credentials,
    db_url: str,
    backend: str,
    live: bool,
    request: pytest.FixtureRequest,
) -> None:
    add_sensitive(store, account.email, "result_variable", "Card_Number")  # any case
    add_sensitive(store, account.email, "module_type", "payment_gateway")
    run_id = f"{backend[0]}{'l' if live else 'b'}"
    card = luhn_card(random.Random(run_id), 16)
    if live:
        keyed(client, account, card_call(run_id, card))
    else:
        send(client, account, "payment", card_call(run_id, card), live=False)
    check_stored(client, account, "payment", card)
    for accept in ("application/json", "application/xml"):
        shown = client.get(
            "/api/call/payment", auth=basic(account), headers={"Accept": accept}
        ).text
        assert f"zqD{run_id}" not in shown
        assert f"zqP{run_id}" not in shown
    raw = raw_database(db_url, backend, request)
    if live:  # the open call's entries: one row each, on both backends
        assert f"zqA{run_id}x".encode() in raw
    check_disk(raw, database_text(db_url), run_id, card)


@pytest.fixture
def unredacted_client(db_url: str, store: Store) -> Iterator[TestClient]:
    application = create_app(
        Settings(database=db_url, redaction=False), store=store, clock=lambda: NOW
    )
    with TestClient(application, raise_server_exceptions=False) as the_client:
        yield the_client


@MODES
def test_sensitive_modules_apply_with_redaction_off(
    unredacted_client: TestClient, store: Store, account: Credentials, live: bool
) -> None:
    add_sensitive(store, account.email, "result_variable", "card_number")
    add_sensitive(store, account.email, "module_type", "Payment_Gateway")
    card = luhn_card(random.Random(7), 16)
    send(unredacted_client, account, "off", card_call("off", card), live=live)
    check_stored(unredacted_client, account, "off", card)
    # redaction is off: a card in an ordinary entry is kept as sent
    send(unredacted_client, account, "plain", [entry(f"card {card}", timestamp=T0)], live=live)
    [plain] = stored_entries(unredacted_client, account, "plain")
    assert plain["event"]["line"] == f"card {card}"


# ---------------------------------------------------------------- the CLI


def listed(db: str, *email: str) -> list[Any]:
    code, output = run("sensitive", "list", *email, "--json", "--db", db)
    assert code == 0, output
    return [orjson.loads(line) for line in output.splitlines()]


def test_sensitive_commands_add_list_and_remove(
    account: Credentials, other_account: Credentials, db_url: str
) -> None:
    code, output = run(
        "sensitive", "add", account.email, "--result-variable", "card_number", "--db", db_url
    )
    assert code == 0, output
    assert "Sensitive result_variable 'card_number' added." in said(output)
    code, output = run(
        "sensitive",
        "add",
        account.email.upper(),
        "--module-type",
        "[bold]Payment",
        "--json",
        "--db",
        db_url,
    )
    assert code == 0, output
    assert orjson.loads(output) == {
        "email": account.email,
        "field": "module_type",
        "name": "[bold]Payment",
    }
    assert (
        run("sensitive", "add", other_account.email, "--result-variable", "pin", "--db", db_url)[0]
        == 0
    )
    mine = [
        {"email": account.email, "field": "result_variable", "name": "card_number"},
        {"email": account.email, "field": "module_type", "name": "[bold]Payment"},
    ]
    assert listed(db_url, account.email) == mine
    assert listed(db_url) == [
        *mine,
        {"email": other_account.email, "field": "result_variable", "name": "pin"},
    ]
    code, output = run("sensitive", "list", "--db", db_url)
    assert code == 0, output
    assert "[bold]Payment" in output  # shown literally, not as markup
    assert "card_number" in output
    assert other_account.email in output

    code, output = run(
        "sensitive", "remove", account.email, "--module-type", "[BOLD]payment", "--db", db_url
    )
    assert code == 0, output
    assert "Sensitive module_type '[bold]Payment' removed." in said(output)
    assert listed(db_url, account.email) == mine[:1]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["add", "{email}"],
            2,
            "Give exactly one of --result-variable NAME and --module-type NAME.",
        ),
        (["add", "{email}", "--result-variable", "a", "--module-type", "b"], 2, "Give exactly one"),
        (["remove", "{email}"], 2, "Give exactly one"),
        (
            ["add", "{email}", "--result-variable", "CARD_NUMBER"],
            1,
            "has the sensitive result_variable 'card_number' already",
        ),
        (["add", "{email}", "--result-variable", ""], 1, "1 to 128 printable characters"),
        (
            ["add", "nobody@example.com", "--result-variable", "x"],
            1,
            "No account for nobody@example.com",
        ),
        (
            ["remove", "{email}", "--result-variable", "pin"],
            1,
            "has no sensitive result_variable 'pin'",
        ),
        (["remove", "{email}", "--module-type", "card_number"], 1, "has no sensitive module_type"),
        (["list", "nobody@example.com"], 1, "No account for nobody@example.com"),
    ],
)
def test_sensitive_commands_refuse_with_the_reason(
    account: Credentials, db_url: str, args: list[str], code: int, message: str
) -> None:
    assert (
        run("sensitive", "add", account.email, "--result-variable", "card_number", "--db", db_url)[
            0
        ]
        == 0
    )
    got, output = run("sensitive", *(a.format(email=account.email) for a in args), "--db", db_url)
    assert got == code, output
    assert message in said(output)
    assert listed(db_url) == [
        {"email": account.email, "field": "result_variable", "name": "card_number"}
    ]


def test_a_module_made_sensitive_with_the_cli_reaches_the_running_app(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    def line_of(session_id: str) -> str:
        [stored] = stored_entries(client, account, session_id)
        return str(stored["event"]["line"])

    def keyed(n: int, marker: str) -> list[dict[str, Any]]:
        return [entry(f"User input: {n % 10} {marker}", timestamp=T0, result_variable="pin")]

    send(client, account, "before", keyed(0, "zq-before"), live=False)  # cached as ordinary
    assert line_of("before") == "User input: 0 zq-before"
    assert (
        run("sensitive", "add", account.email, "--result-variable", "PIN", "--db", db_url)[0] == 0
    )

    def private_now(n: int) -> bool:
        send(client, account, f"during-{n}", keyed(n, "zq-during"), live=n % 2 == 1)
        return line_of(f"during-{n}") == PRIVATE

    eventually(private_now, "the sensitive module never applied")
    assert line_of("before") == "User input: 0 zq-before"  # stored calls are not rewritten
    assert (
        run("sensitive", "remove", account.email, "--result-variable", "pin", "--db", db_url)[0]
        == 0
    )

    def kept_now(n: int) -> bool:
        send(client, account, f"after-{n}", keyed(n, "zq-after"), live=False)
        return line_of(f"after-{n}") == f"User input: {n % 10} zq-after"

    eventually(kept_now, "the removed module kept applying")
