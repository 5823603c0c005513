"""The `ivrlog` commands, run in-process with Typer's runner against real databases."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from ivrlog.cli import app
from ivrlog.core.accounts import Authenticator, hash_secret
from ivrlog.core.demo import DEMO_EMAIL
from ivrlog.core.model import CallQuery
from ivrlog.settings import Settings
from ivrlog.storage import open_store

NOW = 1_795_000_000


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db(db_url: str) -> str:
    """A fresh database of each backend."""
    return db_url


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_accounts_add_json_then_list(runner: CliRunner, db: str) -> None:
    code, output = run(runner, "accounts", "add", "Ops@Example.com", "--json", "--db", db)
    assert code == 0, output
    lines = output.strip().splitlines()
    assert len(lines) == 1
    shown = orjson.loads(lines[0])
    assert list(shown) == ["email", "developer_key", "ingest_token"]
    assert shown["email"] == "ops@example.com"
    store = open_store(db)
    try:
        account = store.account_by_email("ops@example.com")
        assert account is not None
        assert account.developer_key_hash == hash_secret(shown["developer_key"])
        assert account.ingest_token_hash == hash_secret(shown["ingest_token"])
    finally:
        store.close()
    code, output = run(runner, "accounts", "list", "--json", "--db", db)
    assert code == 0
    assert orjson.loads(output)["email"] == "ops@example.com"
    assert orjson.loads(output)["active"] is True
    code, output = run(runner, "accounts", "list", "--db", db)
    assert "ops@example.com" in output
    assert "active" in output
    assert shown["developer_key"] not in output


def test_accounts_add_text_shows_both_secrets_once(runner: CliRunner, db: str) -> None:
    code, output = run(runner, "accounts", "add", "a@example.com", "--db", db)
    assert code == 0
    assert "ivk_" in output
    assert "ivt_" in output
    assert "shown once" in output


def test_duplicate_and_bad_emails_fail_clearly(runner: CliRunner, db: str) -> None:
    assert run(runner, "accounts", "add", "a@example.com", "--db", db)[0] == 0
    code, output = run(runner, "accounts", "add", "A@example.com", "--db", db)
    assert code == 1
    assert "already exists" in output
    code, output = run(runner, "accounts", "add", "nonsense", "--db", db)
    assert code == 1
    assert "not an email address" in output


def test_disable_enable_rotate(runner: CliRunner, db: str) -> None:
    _, output = run(runner, "accounts", "add", "a@example.com", "--json", "--db", db)
    old = orjson.loads(output)
    assert run(runner, "accounts", "disable", "a@example.com", "--db", db)[0] == 0
    store = open_store(db)
    try:
        auth = Authenticator(store, ttl=0)
        account = store.account_by_email("a@example.com")
        assert account is not None
        assert account.active is False
        code, output = run(runner, "accounts", "enable", "a@example.com", "--json", "--db", db)
        assert code == 0
        assert orjson.loads(output) == {"email": "a@example.com", "active": True}
        code, output = run(runner, "accounts", "rotate", "a@example.com", "--json", "--db", db)
        assert code == 0
        new = orjson.loads(output)
        assert new["developer_key"] != old["developer_key"]
        assert new["ingest_token"] != old["ingest_token"]
        assert auth.writer(f"Bearer {new['ingest_token']}").email == "a@example.com"
        account = store.account_by_email("a@example.com")
        assert account is not None
        assert account.developer_key_hash == hash_secret(new["developer_key"])
    finally:
        store.close()


@pytest.mark.parametrize("command", ["disable", "enable", "rotate"])
def test_unknown_account(runner: CliRunner, db: str, command: str) -> None:
    code, output = run(runner, "accounts", command, "ghost@example.com", "--db", db)
    assert code == 1
    assert "No account for ghost@example.com" in output


def test_database_from_environment(runner: CliRunner, db: str) -> None:
    code, _ = run(runner, "accounts", "add", "env@example.com", env={"IVRLOG_DATABASE": db})
    assert code == 0
    store = open_store(db)
    try:
        assert store.account_by_email("env@example.com") is not None
    finally:
        store.close()


def test_postgres_url_is_refused_clearly(runner: CliRunner) -> None:
    code, output = run(runner, "accounts", "list", "--db", "postgresql://localhost/x")
    assert code == 2
    assert "PostgreSQL" in output


def test_bad_setting_is_named(runner: CliRunner, db: str) -> None:
    code, output = run(runner, "demo", "--no-serve", "--port", "0", "--db", db)
    assert code == 2
    assert "port" in output


def test_demo_fills_prints_and_is_deterministic(runner: CliRunner, db: str, tmp_path: Path) -> None:
    # the same seed gives the same calls, on this backend and on a SQLite file
    first, second = db, str(tmp_path / "two.db")
    args = ["demo", "--no-serve", "--seed", "42", "--now", str(NOW), "--calls", "300"]
    code, output = run(runner, *args, "--db", first)
    assert code == 0, output
    assert DEMO_EMAIL in output
    assert "300 calls (seed 42)" in output
    curls = [line for line in output.splitlines() if line.startswith("curl ")]
    assert len(curls) == 5
    assert any("/v1/calls?" in c for c in curls)
    assert any("/api/calls/" in c for c in curls)
    assert any("/api/all_logs/" in c for c in curls)
    assert any("/api/call/" in c and "%3B" in c for c in curls)
    assert any("Accept: application/xml" in c for c in curls)
    # the web pages' address and the demo sign-in
    assert "http://127.0.0.1:8080/sign-in" in output
    assert f"sign in with the email {DEMO_EMAIL}" in output
    assert run(runner, *args, "--db", second)[0] == 0
    dumps = []
    for path in (first, second):
        store = open_store(path)
        try:
            account = store.account_by_email(DEMO_EMAIL)
            assert account is not None
            query = CallQuery(account.id, 0, NOW + 1, None, 0, 10000, NOW - 5 * 86_400)
            page = store.open_page(query, "json")
            dumps.append((page.total, [row for batch in page.batches() for row in batch]))
        finally:
            store.close()
    assert dumps[0] == dumps[1]
    assert dumps[0][0] == 300


def test_demo_rerun_replaces_only_the_demo_account(runner: CliRunner, db: str) -> None:
    assert run(runner, "accounts", "add", "real@example.com", "--db", db)[0] == 0
    args = ["demo", "--no-serve", "--calls", "50", "--db", db]
    _, first = run(runner, *args)
    _, second = run(runner, *args)
    key = next(line.split()[-1] for line in second.splitlines() if "developer key" in line)
    old_key = next(line.split()[-1] for line in first.splitlines() if "developer key" in line)
    assert key != old_key
    store = open_store(db)
    try:
        assert store.account_by_email("real@example.com") is not None
        demo = store.account_by_email(DEMO_EMAIL)
        assert demo is not None
        assert demo.developer_key_hash == hash_secret(key)
        page = store.open_page(CallQuery(demo.id, 0, NOW * 2, None, 0, 10000, 0), None)
        assert page.total == 50
        page.close()
    finally:
        store.close()


def test_help_lists_every_command(runner: CliRunner) -> None:
    code, output = run(runner, "--help")
    assert code == 0
    for command in ("serve", "demo", "accounts"):
        assert command in output
    code, output = run(runner, "accounts", "--help")
    for command in ("add", "list", "disable", "enable", "rotate"):
        assert command in output


@pytest.mark.parametrize("count", ["1", "3"])
def test_demo_with_very_few_calls_still_prints_curl_lines(
    runner: CliRunner, db: str, count: str
) -> None:
    code, output = run(runner, "demo", "--no-serve", "--calls", count, "--seed", "2", "--db", db)
    assert code == 0, output
    assert len([line for line in output.splitlines() if line.startswith("curl ")]) == 5


def test_patterns_and_messages_are_shown_literally_not_as_markup(
    runner: CliRunner, db: str
) -> None:
    assert run(runner, "accounts", "add", "ops@example.com", "--db", db)[0] == 0
    code, output = run(
        runner, "redaction", "add", "ops@example.com", "[/a]+x", "--label", "[bold]x", "--db", db
    )
    assert code == 0, output
    code, output = run(runner, "redaction", "list", "--db", db)
    assert code == 0, output
    assert "[/a]+x" in output
    assert "[bold]x" in output
    code, output = run(
        runner, "redaction", "add", "ops@example.com", "[/a]((", "--label", "y", "--db", db
    )
    assert code == 1
    assert "'[/a]((' is not a valid regular expression" in " ".join(output.split())
    code, output = run(
        runner, "redaction", "add", "ops@example.com", "a*", "--label", "z", "--db", db
    )
    assert code == 1
    assert "insert [redacted] between" in " ".join(output.split())


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, (True, 600, 14400, 365)),
        (["--no-redaction", "--purge-interval", "0"], {}, (False, 0, 14400, 365)),
        (
            [],
            {
                "IVRLOG_REDACTION": "false",
                "IVRLOG_OPEN_CALL_TIMEOUT": "60",
                "IVRLOG_CALL_RETENTION_DAYS": "30",
            },
            (False, 600, 60, 30),
        ),
        (["--redaction"], {"IVRLOG_REDACTION": "false"}, (True, 600, 14400, 365)),
    ],
)
def test_serve_takes_the_retention_and_privacy_settings(
    runner: CliRunner,
    db: str,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    expected: tuple[bool, int, int, int],
) -> None:
    import ivrlog.cli as cli_module

    served: list[Settings] = []
    monkeypatch.setattr(cli_module, "_serve", served.append)
    code, output = run(runner, "serve", "--db", db, *args, env=env)
    assert code == 0, output
    [settings] = served
    assert (
        settings.redaction,
        settings.purge_interval,
        settings.open_call_timeout,
        settings.call_retention_days,
    ) == expected


def test_an_account_holds_at_most_max_patterns(runner: CliRunner, db: str) -> None:
    from ivrlog.core.patterns import MAX_PATTERNS, add_pattern

    assert run(runner, "accounts", "add", "ops@example.com", "--db", db)[0] == 0
    store = open_store(db)
    try:
        for n in range(MAX_PATTERNS):
            add_pattern(store, "ops@example.com", f"p{n}", f"MEM{n}-[0-9]{{4}}")
    finally:
        store.close()
    code, output = run(
        runner,
        "redaction",
        "add",
        "ops@example.com",
        "X-[0-9]{4}",
        "--label",
        "one-more",
        "--db",
        db,
    )
    assert code == 1
    assert f"has {MAX_PATTERNS} patterns, the most an account may have" in " ".join(output.split())
