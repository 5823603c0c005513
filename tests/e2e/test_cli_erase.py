"""`ivrlog erase`, run in-process with Typer's runner against real databases: both
selectors, the confirmation (declined: nothing erased), the count, and each error."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from ivrlog.cli import app
from ivrlog.core.accounts import add_account
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.live import append_entries
from ivrlog.core.ports import Store
from ivrlog.storage import open_store
from tests.factories import DAY, NOW, call, entry

EMAIL = "ops@example.com"
NUMBER = "6175550123"
OTHER = "6175550999"


@pytest.fixture
def filled(db_url: str) -> str:
    """A database with an account whose calls the tests erase: `a;1` and `b;2` from
    NUMBER (a day apart), `c;3` of another number, and `live;4` from NUMBER in progress."""
    store = open_store(db_url)
    try:
        account_id = _account(store)
        calls = [
            call("a;1", NOW - 2 * DAY, src=NUMBER, dest=OTHER),
            call("b;2", NOW - 3600, src=OTHER, dest=NUMBER),
            call("c;3", NOW - 3600, src=OTHER, dest=OTHER),
        ]
        assert ingest_calls(store, account_id, calls) == 3
        update = {"src": NUMBER, "dest": OTHER, "type": "inbound", "entries": [entry()]}
        append_entries(store, account_id, "live;4", update, now=NOW)
    finally:
        store.close()
    return db_url


def _account(store: Store) -> int:
    add_account(store, EMAIL, now=NOW)
    account = store.account_by_email(EMAIL)
    assert account is not None
    return account.id


def remaining(db: str) -> set[str]:
    """The session ids of the account's calls, completed or in progress, still there."""
    store = open_store(db)
    try:
        account = store.account_by_email(EMAIL)
        assert account is not None
        return {
            session_id
            for session_id in ("a;1", "b;2", "c;3", "live;4")
            if store.call_detail(account.id, session_id, "json", 0).found
        }
    finally:
        store.close()


def run(*args: str, answer: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["erase", *args], input=answer)
    return result.exit_code, result.stdout, result.output


def test_erase_a_session_id_with_yes(filled: str) -> None:
    code, stdout, _ = run(EMAIL, "--session-id", "a;1", "--yes", "--db", filled)
    assert code == 0, stdout
    assert stdout.startswith("Erased 1 call: the call 'a;1' of ops@example.com")
    assert remaining(filled) == {"b;2", "c;3", "live;4"}


def test_erase_a_call_in_progress(filled: str) -> None:
    code, stdout, _ = run(EMAIL, "--session-id", "live;4", "-y", "--json", "--db", filled)
    assert code == 0, stdout
    assert orjson.loads(stdout) == {"email": EMAIL, "erased": 1}
    assert remaining(filled) == {"a;1", "b;2", "c;3"}


def test_erase_a_number_with_json(filled: str) -> None:
    code, stdout, _ = run("OPS@example.com", "--number", NUMBER, "--yes", "--json", "--db", filled)
    assert code == 0, stdout
    assert orjson.loads(stdout) == {"email": EMAIL, "erased": 3}
    assert remaining(filled) == {"c;3"}


def test_erase_a_number_before_a_time(filled: str) -> None:
    before = str(NOW - DAY)
    code, stdout, _ = run(EMAIL, "--number", NUMBER, "--before", before, "--yes", "--db", filled)
    assert code == 0, stdout
    assert stdout.startswith(f"Erased 1 call: every call of ops@example.com to or from '{NUMBER}'")
    assert "started before 2026-11-17T11:06:40Z" in stdout
    assert remaining(filled) == {"b;2", "c;3", "live;4"}


def test_erasing_a_number_without_calls_is_0(filled: str) -> None:
    code, stdout, _ = run(EMAIL, "--number", "5550000", "--yes", "--db", filled)
    assert code == 0, stdout
    assert stdout.startswith("Erased 0 calls")
    assert remaining(filled) == {"a;1", "b;2", "c;3", "live;4"}


def test_a_declined_confirmation_erases_nothing(filled: str) -> None:
    code, stdout, output = run(EMAIL, "--number", NUMBER, "--db", filled, answer="n\n")
    assert code == 1
    assert f"Erase every call of ops@example.com to or from '{NUMBER}', for good?" in output
    assert "Nothing was erased." in output
    assert "Erased" not in stdout
    assert remaining(filled) == {"a;1", "b;2", "c;3", "live;4"}
    # no answer (end of input) is no either
    code, _, output = run(EMAIL, "--session-id", "a;1", "--db", filled, answer="")
    assert code != 0
    assert remaining(filled) == {"a;1", "b;2", "c;3", "live;4"}


def test_a_confirmed_erasure_erases(filled: str) -> None:
    code, stdout, output = run(EMAIL, "--session-id", "b;2", "--db", filled, answer="y\n")
    assert code == 0, output
    assert "Erase the call 'b;2' of ops@example.com (completed or in progress), for good?" in output
    assert "Erased 1 call" in stdout
    assert remaining(filled) == {"a;1", "c;3", "live;4"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "Give exactly one of --session-id ID and --number N."),
        (["--session-id", "a;1", "--number", NUMBER], 2, "Give exactly one of"),
        (["--session-id", "a;1", "--before", "-1d"], 2, "--before goes with --number only."),
        (["--number", NUMBER, "--before", "soon"], 2, "Invalid --before 'soon': must be UNIX"),
        (["--number", ""], 2, "Invalid number: must be a non-empty string of at most 64"),
        (["--session-id", "nope"], 1, "No call or call in progress with that session id."),
    ],
)
def test_errors_are_clear_and_erase_nothing(
    filled: str, args: list[str], code: int, message: str
) -> None:
    got, _, output = run(EMAIL, *args, "--yes", "--db", filled)
    assert got == code, output
    assert "Error:" in output
    assert message in " ".join(output.split())
    assert remaining(filled) == {"a;1", "b;2", "c;3", "live;4"}


def test_an_unknown_account_is_an_error(filled: str) -> None:
    code, _, output = run("nobody@example.com", "--session-id", "a;1", "--yes", "--db", filled)
    assert code == 1
    assert "No account for nobody@example.com." in output
    assert remaining(filled) == {"a;1", "b;2", "c;3", "live;4"}
