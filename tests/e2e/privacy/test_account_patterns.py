"""SPEC 4: accounts' own redaction patterns, added and removed through the CLI, reach the
running app; duplicates, unknown accounts and unsafe patterns are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.redact import REDACTED
from tests.e2e.privacy.helpers import (
    MEMBER_PATTERN,
    eventually,
    listed_patterns,
    member_line,
    run,
    said,
    send,
    stored_entries,
)
from tests.factories import database_text


def test_an_account_pattern_added_and_removed_with_the_cli_reaches_the_running_app(
    client: TestClient, account: Credentials, other_account: Credentials, db_url: str
) -> None:
    def line_of(session_id: str, creds: Credentials = account) -> str:
        [stored] = stored_entries(client, creds, session_id)
        return str(stored["event"]["line"])

    # before: kept (and the app has looked the account's patterns up, so they are cached)
    send(client, account, "before", [member_line("MEM-000001", "zq-before")], live=False)
    assert line_of("before") == "member MEM-000001 zq-before"

    code, output = run(
        "redaction", "add", account.email, MEMBER_PATTERN, "--label", "member-id", "--db", db_url
    )
    assert code == 0, output
    assert "member-id" in output
    code, output = run("redaction", "list", "--db", db_url)
    assert code == 0, output
    assert account.email in output
    assert "member-id" in output
    assert MEMBER_PATTERN in output
    expected = {"email": account.email, "label": "member-id", "pattern": MEMBER_PATTERN}
    assert listed_patterns(db_url) == [expected]
    assert listed_patterns(db_url, account.email) == [expected]
    assert listed_patterns(db_url, other_account.email) == []

    def redacted_now(n: int) -> bool:
        # a new call each time, through either endpoint (a live call cannot be replaced)
        value = f"MEM-{100000 + n}"
        send(client, account, f"during-{n}", [member_line(value, "zq-during")], live=n % 2 == 1)
        return line_of(f"during-{n}") == f"member {REDACTED} zq-during"

    n = eventually(redacted_now, "the new pattern never applied")
    during, during_id = f"MEM-{100000 + n}", f"during-{n}"
    assert line_of("before") == "member MEM-000001 zq-before"  # stored calls are not rewritten
    # another account's data is not touched by this account's pattern
    send(client, other_account, "theirs", [member_line("MEM-333333", "zq-theirs")], live=False)
    assert line_of("theirs", other_account) == "member MEM-333333 zq-theirs"

    code, output = run("redaction", "remove", account.email, "member-id", "--db", db_url)
    assert code == 0, output
    assert listed_patterns(db_url) == []

    def kept_now(n: int) -> bool:
        value = f"MEM-{200000 + n}"
        send(client, account, "after", [member_line(value, "zq-after")], live=False)
        return line_of("after") == f"member {value} zq-after"

    eventually(kept_now, "the removed pattern kept applying")
    assert line_of(during_id) == f"member {REDACTED} zq-during"  # stays redacted
    on_disk = database_text(db_url)
    assert during not in on_disk
    assert "zq-during" in on_disk


def test_pattern_commands_refuse_duplicates_and_unknown_accounts_and_labels(
    account: Credentials, db_url: str
) -> None:
    add = ("redaction", "add", account.email, MEMBER_PATTERN, "--label", "member-id")
    assert run(*add, "--db", db_url)[0] == 0
    code, output = run(
        "redaction", "add", account.email, "X-\\d+", "--label", "member-id", "--db", db_url
    )
    assert code == 1
    assert "already has a pattern labelled 'member-id'" in said(output)
    code, output = run(
        "redaction", "add", "nobody@example.com", "X-\\d+", "--label", "x", "--db", db_url
    )
    assert code == 1
    assert "No account for nobody@example.com" in said(output)
    code, output = run("redaction", "remove", account.email, "no-such-label", "--db", db_url)
    assert code == 1
    assert "no pattern labelled 'no-such-label'" in said(output)
    code, output = run("redaction", "remove", "nobody@example.com", "member-id", "--db", db_url)
    assert code == 1
    assert "No account for nobody@example.com" in said(output)
    code, output = run("redaction", "list", "nobody@example.com", "--db", db_url)
    assert code == 1
    assert "No account for nobody@example.com" in said(output)
    # only the first pattern was ever stored
    expected = {"email": account.email, "label": "member-id", "pattern": MEMBER_PATTERN}
    assert listed_patterns(db_url) == [expected]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(", "is not a valid regular expression"),
        ("a*", "can match the empty string"),
        ("(a|ab)*", "can match the empty string"),
        (r"(a)\1", "that RE2, the linear-time engine ivrlog runs patterns with, does not have"),
        ("a.{490}#", "too costly to run on every ingested string"),
    ],
)
def test_unsafe_patterns_are_refused_with_the_reason_and_not_stored(
    account: Credentials, db_url: str, pattern: str, why: str
) -> None:
    code, output = run(
        "redaction", "add", account.email, pattern, "--label", "bad", "--json", "--db", db_url
    )
    assert code == 1, output
    assert f"Pattern refused: '{pattern}'" in said(output)
    assert why in said(output)
    assert listed_patterns(db_url) == []
