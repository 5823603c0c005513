"""`ivrlog import twilio-studio|connect-flow-logs` in-process with Typer's runner on real
databases (SQLite and PostgreSQL): the fixtures stored through ingestion, a second import
that changes nothing, skips with their reasons, and malformed input that stores nothing."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from ivrlog.cli import app
from ivrlog.core.accounts import add_account
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.model import CallFilter
from ivrlog.storage import open_store

EMAIL = "imports@example.com"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "import"
WIDE = {"COLUMNS": "400"}  # no message wrapped
LONG = ["--call-retention-days", "3650", "--detail-retention-days", "3650"]  # 2024's calls


@pytest.fixture
def db(db_url: str) -> str:
    store = open_store(db_url)
    try:
        add_account(store, EMAIL)
    finally:
        store.close()
    return db_url


def run(db: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["import", *args, "--into", EMAIL, "--db", db], env=WIDE)


def held(db: str) -> dict[str, tuple[Any, ...]]:
    store = open_store(db)
    try:
        account = store.account_by_email(EMAIL)
        assert account is not None
        rows = store.search_calls(
            CallFilter(account.id, 0, MAX_TIME + 1, 0), None, 1000, detail=True
        )
        seq = max((c.seq for c in store.changes(account.id, 0, 1000, 0)), default=0)
    finally:
        store.close()
    return {r[0]: (*r[1:6], r[9], r[10], r[11], r[12], seq) for r in rows}


def test_twilio_studio_executions_are_imported_once(db: str) -> None:
    first = run(db, "twilio-studio", str(FIXTURES / "twilio-studio"), "--json", *LONG)
    assert first.exit_code == 0, first.output
    answer = orjson.loads(first.stdout)
    assert answer == {"imported": 3, "files": 7, "skipped": [], "detail_not_kept": 0}
    calls = held(db)
    inbound = calls["FN23a1ebf070ab6e735d1e533ea8c759b6"]
    assert inbound[:5] == ("+15555550142", "+15555550100", "inbound", 1710252331, 1710252352)
    assert inbound[6:8] == ("make-http-request:http_account_lookup", 1)  # ended in, error
    again = run(db, "twilio-studio", str(FIXTURES / "twilio-studio"), *LONG)
    assert again.exit_code == 0, again.output
    assert "Imported 3 Twilio Studio calls into imports@example.com from 7 files; 0 skipped." in (
        again.stdout
    )
    assert {k: v[:-1] for k, v in held(db).items()} == {k: v[:-1] for k, v in calls.items()}


def test_connect_flow_logs_from_a_folder_of_exports(db: str, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    lines = (FIXTURES / "connect-flow-logs" / "flow-logs.jsonl").read_bytes()
    (folder / "000000.gz").write_bytes(gzip.compress(lines))
    shutil.copy(FIXTURES / "connect-flow-logs" / "filter-log-events.json", folder)  # overlaps
    result = run(db, "connect-flow-logs", str(folder), "--json", *LONG)
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["imported"] == 3
    calls = held(db)
    failed = calls["110b62b2-dd0b-44d9-92d0-8cb885605a26"]
    assert failed[7] == 1  # has_error
    assert len(orjson.loads(failed[8])) == 9  # each record once, though read twice


def test_what_the_local_rules_refuse_is_skipped_and_said(db: str, tmp_path: Path) -> None:
    record = {
        "ContactId": "a/b",
        "ContactFlowName": "Main IVR",
        "ContactFlowModuleType": "PlayPrompt",
        "Timestamp": "2024-03-12T14:05:31.482Z",
        "Parameters": {"Text": "Card 4111 1111 1111 1111 on file"},
    }
    old = {**record, "ContactId": "old-contact", "Timestamp": "2001-01-01T00:00:00Z"}
    kept = {**record, "ContactId": "kept-contact"}
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in (record, old, kept)))
    result = run(db, "connect-flow-logs", str(path), "--call-retention-days", "1000")
    assert result.exit_code == 0, result.output
    assert "skipped a/b: session_id:" in result.stderr
    assert "skipped old-contact: started before" in result.stderr
    assert "past call_retention_days (1000)" in result.stderr
    assert "1 of them started before" in result.stdout  # its entries past the detail window
    calls = held(db)
    assert list(calls) == ["kept-contact"]


def test_redaction_applies_to_imported_entries(db: str, tmp_path: Path) -> None:
    record = {
        "ContactId": "card-contact",
        "ContactFlowName": "Main IVR",
        "ContactFlowModuleType": "PlayPrompt",
        "Timestamp": "2024-03-12T14:05:31.482Z",
        "Parameters": {"Text": "Card 4111 1111 1111 1111 on file"},
    }
    path = tmp_path / "logs.jsonl"
    path.write_bytes(orjson.dumps(record))
    assert run(db, "connect-flow-logs", str(path), *LONG).exit_code == 0
    detail = held(db)["card-contact"][8]
    assert "4111" not in detail
    assert "Card [redacted] on file" in detail


@pytest.mark.parametrize(
    ("kind", "name", "bad", "message"),
    [
        (
            "connect-flow-logs",
            "zz-bad.jsonl",
            b'{"ContactId": "c"}\n\n{oops',
            "zz-bad.jsonl, line 1: no ContactFlowModuleType",
        ),
        ("connect-flow-logs", "zz-bad.jsonl", b"\n\n{oops\n", "zz-bad.jsonl, line 3: not JSON"),
        (
            "twilio-studio",
            "zz-bad.json",
            b'{"sid": "FN1",\n\n "flow_sid": ',
            "zz-bad.json, line 3: not JSON",
        ),
    ],
)
def test_malformed_input_stores_nothing(
    db: str, tmp_path: Path, kind: str, name: str, bad: bytes, message: str
) -> None:
    folder = tmp_path / "input"
    shutil.copytree(FIXTURES / kind, folder)
    (folder / name).write_bytes(bad)
    result = run(db, kind, str(folder), *LONG)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Nothing was imported." in result.stderr
    assert held(db) == {}


def test_a_path_that_is_not_there_or_an_unknown_account(db: str, tmp_path: Path) -> None:
    missing = run(db, "twilio-studio", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1
    assert "no such file or folder" in missing.stderr
    result = CliRunner().invoke(
        app,
        [
            "import",
            "twilio-studio",
            str(FIXTURES / "twilio-studio"),
            "--into",
            "no@example.com",
            "--db",
            db,
        ],
    )
    assert result.exit_code == 1
    assert "no@example.com" in result.stderr
