"""`ivrlog calls list|show`, run in-process with Typer's runner on real databases filled
through core ingestion: the filters, checks and formats of GET /v1/calls."""

from __future__ import annotations

import csv
import io
import os
import sys
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from ivrlog import cli_calls
from ivrlog.cli import app
from ivrlog.core.accounts import add_account
from ivrlog.core.errors import BadRequest
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.live import append_entries
from ivrlog.core.records import CALL_COLUMNS
from ivrlog.core.search import parse_search
from ivrlog.render.calls import ENTRY_COLUMNS
from ivrlog.storage import open_store
from tests.factories import DAY, NOW, call, entry

EMAIL = "ops@example.com"
WIDE = {"COLUMNS": "250"}  # a table wide enough that no value is wrapped


def _calls() -> list[dict[str, Any]]:
    a = NOW - 3600
    b = NOW - 7200
    return [
        call(
            "a;1",
            a,
            end=a + 40,
            src="6175550100",
            dest="8005550000",
            detail=[
                entry('Executing application "Billing" version "3"', timestamp=a),
                entry("User input 1", "event", a + 5, "menu", "choice"),
                entry("Card number entered", "info", a + 20, "card", "card_number", tries=2),
            ],
        ),
        call(
            "b;2",
            b,
            end=b + 300,
            src="2125550199",
            dest="6175550111",
            type="outbound",
            detail=[
                entry('Executing application "Support"', timestamp=b),
                entry("Payment service failed", "error", b + 200, "pay", "confirm"),
            ],
        ),
        call('c,"3"', NOW - 10 * DAY, src="6179990000", dest="8005550000", type="transfer"),
        call("d", NOW - 60, src="+15085550123", dest="8005550000", private=True),
    ]


@pytest.fixture
def db(db_url: str) -> str:
    """A database of each backend with one account and its calls."""
    store = open_store(db_url)
    try:
        account = add_account(store, EMAIL, now=NOW)
        stored = store.account_by_email(account.email)
        assert stored is not None
        ingest_calls(store, stored.id, _calls())
    finally:
        store.close()
    return db_url


def run(db: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["calls", *args, "--db", db, "--now", str(NOW)], env=WIDE)


def listed(db: str, *args: str) -> dict[str, Any]:
    result = run(db, "list", EMAIL, "--from", "-30d", *args, "--json")
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = orjson.loads(result.stdout)
    return shown


def flat(text: str) -> str:
    return " ".join(text.split())


def test_list_json_is_the_api_document(db: str) -> None:
    shown = listed(db)
    assert list(shown) == ["from", "to", "calls", "next"]
    assert shown["from"] == "2026-10-19T11:06:40Z"
    assert shown["to"] == "2026-11-18T11:06:41Z"
    assert shown["next"] is None
    assert [c["session_id"] for c in shown["calls"]] == ["d", "a;1", "b;2", 'c,"3"']
    first = shown["calls"][1]
    assert first == {
        "session_id": "a;1",
        "src": "6175550100",
        "dest": "8005550000",
        "type": "inbound",
        "start": NOW - 3600,
        "end": NOW - 3560,
        "duration": 40,
        "app": "Billing",
        "app_version": "3",
        "ended_in": "card:card_number",
        "has_error": False,
        "path": ["start:start", "menu:choice", "card:card_number"],
        "log": True,
    }
    outbound = shown["calls"][2]
    assert outbound["src"] == "2125550199"  # the number itself, never Outbound
    assert (outbound["has_error"], outbound["app"], outbound["app_version"]) == (
        True,
        "Support",
        None,
    )
    assert shown["calls"][3]["log"] is False  # past the detail window
    private = shown["calls"][0]
    assert (private["log"], private["path"], private["app"]) == (False, [], None)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), ["d", "a;1", "b;2", 'c,"3"']),
        (("--number", "8005550000"), ["d", "a;1", 'c,"3"']),
        (("--src", "617*"), ["a;1", 'c,"3"']),
        (("--src", "+15085550123"), ["d"]),
        (("--dest", "617*"), ["b;2"]),
        (("--type", "outbound"), ["b;2"]),
        (("--min-duration", "100"), ["b;2"]),
        (("--max-duration", "40"), ["d", "a;1", 'c,"3"']),
        (("--app", "Billing"), ["a;1"]),
        (("--reached", "choice"), ["a;1"]),
        (("--reached", "pay:confirm"), ["b;2"]),
        (("--ended-in", "card:card_number"), ["a;1"]),
        (("--ended-in", "choice"), []),
        (("--has-error",), ["b;2"]),
        (("--no-error",), ["d", "a;1", 'c,"3"']),
        (("--text", "card ENTERED"), ["a;1"]),
        (("--q", "payment"), ["b;2"]),
        (("--from", "-3h", "--to", "-90m"), ["b;2"]),
        (("--type", "inbound", "--src", "617*", "--no-error", "--q", "card"), ["a;1"]),
    ],
)
def test_list_filters(db: str, flags: tuple[str, ...], expected: list[str]) -> None:
    assert [c["session_id"] for c in listed(db, *flags)["calls"]] == expected


def api_message(params: list[tuple[str, str]]) -> str:
    with pytest.raises(BadRequest) as refused:
        parse_search(params, account_id=1, now=NOW, detail_cutoff=0, call_cutoff=0)
    return refused.value.message


@pytest.mark.parametrize(
    ("flags", "params"),
    [
        (("--min-duration", "-5"), [("min_duration", "-5")]),
        (("--max-duration", "1.5"), [("max_duration", "1.5")]),
        (("--type", "fax"), [("type", "fax")]),
        (("--from", "yesterday"), [("from", "yesterday")]),
        (("--to", "2026-11-18T08:00:00"), [("to", "2026-11-18T08:00:00")]),
        (("--from", "-1h", "--to", "-2h"), [("from", "-1h"), ("to", "-2h")]),
        (("--limit", "0"), [("limit", "0")]),
        (("--limit", "10001"), [("limit", "10001")]),
        (("--cursor", "nonsense!"), [("cursor", "nonsense!")]),
        (("--number", "617*"), [("number", "617*")]),
        (("--number", "1", "--dest", "2"), [("number", "1"), ("dest", "2")]),
        (("--src", "*"), [("src", "*")]),
        (("--q", "!!!"), [("q", "!!!")]),
    ],
)
def test_bad_values_are_the_apis(
    db: str, flags: tuple[str, ...], params: list[tuple[str, str]]
) -> None:
    result = run(db, "list", EMAIL, *flags)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert flat(api_message(params)) in flat(result.stderr)


def test_unknown_account_and_conflicting_formats(db: str) -> None:
    result = run(db, "list", "ghost@example.com")
    assert result.exit_code == 1
    assert "No account for ghost@example.com" in result.stderr
    result = run(db, "list", EMAIL, "--json", "--csv")
    assert result.exit_code == 2
    assert "at most one of --json, --ndjson and --csv" in flat(result.stderr)
    result = run(db, "list", EMAIL, "--limit", "all")
    assert result.exit_code == 2
    assert "--limit all needs --json, --ndjson or --csv" in flat(result.stderr)


def parse_csv(data: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(data, newline=""))
    header = next(reader)
    return [dict(zip(header, record, strict=True)) for record in reader]


def test_list_csv_parses_back(db: str) -> None:
    result = run(db, "list", EMAIL, "--from", "-30d", "--csv")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"session_id,src,dest,")
    assert result.stdout_bytes.count(b"\r\n") == 5
    records = parse_csv(result.stdout)
    assert [r["session_id"] for r in records] == ["d", "a;1", "b;2", 'c,"3"']
    assert list(records[0]) == list(CALL_COLUMNS)
    billing = records[1]
    assert billing["duration"] == "40"
    assert billing["app"] == "Billing"
    assert orjson.loads(billing["path"]) == ["start:start", "menu:choice", "card:card_number"]
    assert (billing["has_error"], billing["log"]) == ("false", "true")
    assert records[0]["app"] == records[0]["ended_in"] == ""


def test_list_csv_with_detail_one_record_an_entry(db: str) -> None:
    result = run(db, "list", EMAIL, "--from", "-30d", "--csv", "--detail", "--src", "617*")
    assert result.exit_code == 0, result.output
    records = parse_csv(result.stdout)
    assert list(records[0]) == [*CALL_COLUMNS, *ENTRY_COLUMNS]
    assert [(r["session_id"], r["entry"]) for r in records] == [
        ("a;1", "0"),
        ("a;1", "1"),
        ("a;1", "2"),
        ('c,"3"', ""),  # its detail is past the window: one record, no entry
    ]
    assert records[1]["line"] == "User input 1"
    assert records[1]["class"] == "event"
    assert records[2]["result_variable"] == "card_number"
    assert orjson.loads(records[2]["data"]) == {
        "tries": 2,
        "module_type": "card",
        "result_variable": "card_number",
    }


def test_list_ndjson_and_detail(db: str) -> None:
    result = run(db, "list", EMAIL, "--from", "-30d", "--ndjson", "--detail")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    calls = [orjson.loads(line) for line in lines]
    assert [c["session_id"] for c in calls] == ["d", "a;1", "b;2", 'c,"3"']
    assert [c["detail"][1]["event"]["line"] for c in calls if "detail" in c] == [
        "User input 1",
        "Payment service failed",
    ]
    assert "detail" not in calls[0]  # private: no entry stored


def test_paging_with_the_printed_cursor(db: str) -> None:
    seen: list[str] = []
    flags = ["--from", "-30d"]
    for _ in range(3):
        result = run(db, "list", EMAIL, *flags, "--limit", "3", "--json")
        assert result.exit_code == 0, result.output
        page = orjson.loads(result.stdout)
        seen += [c["session_id"] for c in page["calls"]]
        if page["next"] is None:
            assert "next page" not in result.stderr
            break
        assert page["next"].startswith("/v1/calls?from=")
        flags = flat(result.stderr).split("run it again with ")[1].split(" ")
        assert flags[::2] == ["--from", "--to", "--cursor"]
        assert f"cursor={flags[5]}" in page["next"]
    assert seen == ["d", "a;1", "b;2", 'c,"3"']


@pytest.mark.parametrize(("fmt", "count"), [("--json", None), ("--ndjson", 4), ("--csv", 5)])
def test_limit_all_exports_everything(db: str, fmt: str, count: int | None) -> None:
    result = run(db, "list", EMAIL, "--from", "-30d", "--limit", "all", fmt)
    assert result.exit_code == 0, result.output
    if count is None:
        assert listed(db, "--limit", "2") != orjson.loads(result.stdout)
        assert orjson.loads(result.stdout) == listed(db)
    else:
        assert len(result.stdout.splitlines()) == count
    assert "next page" not in result.stderr


def test_list_table(db: str) -> None:
    result = run(db, "list", EMAIL, "--from", "-30d", "--limit", "3")
    assert result.exit_code == 0, result.output
    table = result.stdout
    assert "3 calls of ops@example.com" in table
    for shown in ("a;1", "b;2", "d", "Billing 3", "Support", "card:card_number", "0:40", "5:00"):
        assert shown in table
    assert 'c,"3"' not in table
    assert table.count("error") == 2  # the column and the one call with an error
    assert "--cursor" in result.stderr
    result = run(db, "list", EMAIL, "--app", "nobody")
    assert result.exit_code == 0
    assert "No calls of ops@example.com match" in result.stdout


def test_show_text_and_json(db: str) -> None:
    result = run(db, "show", EMAIL, "a;1")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Call a;1" in text
    assert "start:start > menu:choice > card:card_number" in text
    assert "Billing 3" in text
    assert "Card number entered" in text
    assert '{"tries":2}' in text
    result = run(db, "show", EMAIL, "a;1", "--json")
    assert result.exit_code == 0, result.output
    shown = orjson.loads(result.stdout)
    assert shown["session_id"] == "a;1"
    assert shown["path"] == ["start:start", "menu:choice", "card:card_number"]
    assert [e["event"]["line"] for e in shown["detail"]] == [
        'Executing application "Billing" version "3"',
        "User input 1",
        "Card number entered",
    ]
    assert {k: v for k, v in shown.items() if k != "detail"} == listed(db, "--app", "Billing")[
        "calls"
    ][0]


def test_show_a_call_without_readable_detail(db: str) -> None:
    result = run(db, "show", EMAIL, 'c,"3"', "--json")
    assert result.exit_code == 0, result.output
    shown = orjson.loads(result.stdout)
    assert (shown["log"], shown["detail"]) == (False, [])
    result = run(db, "show", EMAIL, 'c,"3"')
    assert result.exit_code == 0
    assert "not readable" in result.stdout


def test_show_unknown_call_account_and_call_in_progress(db: str) -> None:
    result = run(db, "show", EMAIL, "nope")
    assert result.exit_code == 1
    assert "No call 'nope' for ops@example.com" in flat(result.stderr)
    result = run(db, "show", "ghost@example.com", "a;1")
    assert result.exit_code == 1
    assert "No account for ghost@example.com" in result.stderr
    store = open_store(db)
    try:
        account = store.account_by_email(EMAIL)
        assert account is not None
        update = {
            "src": "1",
            "dest": "2",
            "type": "inbound",
            "entries": [entry("Hello", timestamp=NOW - 10)],
        }
        append_entries(store, account.id, "live;1", update, now=NOW)
    finally:
        store.close()
    result = run(db, "show", EMAIL, "live;1")
    assert result.exit_code == 1
    assert "still in progress" in flat(result.stderr)


def test_a_reader_that_goes_away_stops_the_output_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ivrlog calls list ... --limit all --csv | head`: no traceback, exit code 1."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w", encoding="utf-8") as closed_pipe:
        monkeypatch.setattr(sys, "stdout", closed_pipe)
        with pytest.raises(typer.Exit) as stopped:
            cli_calls._write(iter([b"session_id\r\n", b"x" * 100_000]))
        assert stopped.value.exit_code == 1
        closed_pipe.write("what is flushed at exit goes nowhere")
        closed_pipe.flush()


def test_help_lists_the_calls_commands() -> None:
    result = CliRunner().invoke(app, ["calls", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "list" in result.stdout
    assert "show" in result.stdout
    assert " calls " in CliRunner().invoke(app, ["--help"], env=WIDE).stdout
