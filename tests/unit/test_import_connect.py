"""core/import_connect.py on the fixtures (shaped after the Amazon Connect and CloudWatch
documentation's own examples) and on malformed input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ivrlog.core.bringing import ImportFailed
from ivrlog.core.import_connect import connect_calls, read_records
from ivrlog.core.ingest import prepare_call

FIXTURES = Path(__file__).parents[1] / "fixtures" / "import" / "connect-flow-logs"
TRANSFERRED = "66b56996-123f-49b0-ada2-243af389c5b1"
FAILED = "110b62b2-dd0b-44d9-92d0-8cb885605a26"
NORMAL = "5efa5785-c53e-451a-9bcc-5aa3ab8abb54"


def calls_of(*documents: tuple[str, bytes]) -> dict[str, dict[str, Any]]:
    return {c["session_id"]: c for c in connect_calls(read_records(documents))}


def fixture(name: str) -> tuple[str, bytes]:
    return (name, (FIXTURES / name).read_bytes())


def test_contacts_are_grouped_and_ordered() -> None:
    calls = calls_of(fixture("flow-logs.jsonl"))
    assert set(calls) == {TRANSFERRED, FAILED, NORMAL}
    failed = calls[FAILED]
    assert (failed["start"], failed["end"], failed["type"]) == (1710252333, 1710252363, "inbound")
    assert [(e["class"], e["event"]["line"]) for e in failed["detail"]] == [
        ("info", 'Executing application "Main IVR"'),
        ("info", "SetLoggingBehavior"),
        ("info", "SetVoice"),
        ("prompt", "Playing prompt: Thank you for calling Example Utilities."),
        ("info", "GetUserInput: Timeout"),
        ("event", "User input: 3"),
        ("error", "InvokeExternalResource: The Lambda Function Returned An Error."),
        (
            "prompt",
            "Playing prompt: Sorry, we are having technical difficulties. Please call again later.",
        ),
        ("info", "Disconnect"),
    ]
    lookup = calls[NORMAL]["detail"][5]["event"]["data"]
    assert lookup["module_type"] == "InvokeExternalResource"
    assert lookup["result_variable"] == "Account lookup Lambda"
    assert lookup["external_results"]["accountStatus"] == "active"


def test_a_transfer_to_another_flow_starts_its_application() -> None:
    stored = prepare_call(calls_of(fixture("flow-logs.jsonl"))[TRANSFERRED])
    starts = [
        e
        for e in orjson.loads(stored.detail_json or "[]")
        if e["event"]["data"]["module_type"] == "start"
    ]
    assert [e["event"]["line"] for e in starts] == [
        'Executing application "Main IVR"',
        'Executing application "Billing Routing"',
    ]
    assert stored.summary.app == "Main IVR"
    assert stored.summary.ended_in is not None
    assert stored.summary.ended_in.module_type == "Transfer"


def test_filter_log_events_json_reads_as_the_lines_do() -> None:
    assert calls_of(fixture("filter-log-events.json")) == calls_of(fixture("flow-logs.jsonl"))


def test_cloudwatch_events_and_s3_export_lines() -> None:
    lines = (FIXTURES / "flow-logs.jsonl").read_bytes().splitlines()
    events = b"\n".join(
        orjson.dumps({"timestamp": 1, "message": line.decode(), "ingestionTime": 2})
        for line in lines
    )
    exported = b"\n".join(b"2024-03-12T14:05:31.482Z " + line for line in lines)
    expected = calls_of(fixture("flow-logs.jsonl"))
    assert calls_of(("events.jsonl", events)) == expected
    assert calls_of(("000000", exported + b"\n\n")) == expected


def test_records_of_one_contact_from_several_files() -> None:
    lines = (FIXTURES / "flow-logs.jsonl").read_bytes().splitlines(keepends=True)
    split = calls_of(("a.jsonl", b"".join(lines[::2])), ("b.jsonl", b"".join(lines[1::2])))
    assert split == calls_of(fixture("flow-logs.jsonl"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"ContactId": "c1", "ContactFlowModuleType"', "logs.jsonl, line 3: not JSON"),
        (b'{"ContactFlowModuleType": "PlayPrompt"}', "logs.jsonl, line 3: no ContactId"),
        (
            b'{"ContactId": "c1", "ContactFlowModuleType": "PlayPrompt", "Timestamp": "noon"}',
            "logs.jsonl, line 3: Timestamp must be an ISO 8601 time",
        ),
        (
            b'{"timestamp": 1, "message": "oops"}',
            "logs.jsonl, line 3: the event's message is not JSON",
        ),
        (b"[1, 2]", "logs.jsonl, line 3: must be a flow log record"),
    ],
)
def test_malformed_input_names_the_file_and_the_line(line: bytes, message: str) -> None:
    good = (FIXTURES / "flow-logs.jsonl").read_bytes().splitlines()[:2]
    with pytest.raises(ImportFailed) as failed:
        read_records([("logs.jsonl", b"\n".join([*good, line]))])
    assert failed.value.message.startswith(message)
