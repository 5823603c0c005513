"""core/import_twilio.py on the fixtures (shaped after the Studio v2 API reference's own
examples) and on malformed input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ivrlog.core.bringing import ImportFailed
from ivrlog.core.import_twilio import read_documents, studio_calls
from ivrlog.core.ingest import prepare_call

FIXTURES = Path(__file__).parents[1] / "fixtures" / "import" / "twilio-studio"
INBOUND = "FN23a1ebf070ab6e735d1e533ea8c759b6"
OUTBOUND = "FNefa7e6b5cbd9df1c83b01070f2447219"
NO_CONTEXT = "FN04cd68572164a080fdc0505320965775"


def fixtures(*names: str) -> list[tuple[str, bytes]]:
    files = [FIXTURES / n for n in names] if names else sorted(FIXTURES.glob("*.json"))
    return [(f.name, f.read_bytes()) for f in files]


def calls_of(documents: list[tuple[str, bytes]]) -> dict[str, dict[str, Any]]:
    calls, skipped = studio_calls(read_documents(documents))
    assert skipped == []
    return {c["session_id"]: c for c in calls}


def test_an_execution_with_its_context_and_steps() -> None:
    call = calls_of(fixtures())[INBOUND]
    assert (call["src"], call["dest"], call["type"]) == ("+15555550142", "+15555550100", "inbound")
    assert (call["start"], call["end"]) == (1710252331, 1710252352)  # date_updated
    lines = [(e["class"], e["event"]["line"]) for e in call["detail"]]
    assert lines == [
        ("info", 'Executing application "FW56a242ab9cf0c291a89442d7b4255f81"'),
        ("info", "Widget Trigger: incomingCall (next: say_welcome)"),
        ("info", "Widget say_welcome: audioComplete (next: gather_menu)"),
        ("event", "User input: 2 (next: split_menu)"),  # Digits from the context
        ("info", "Widget split_menu: match (next: http_account_lookup)"),
        ("error", "Widget http_account_lookup: failed (next: Ended)"),
    ]
    failed = call["detail"][-1]["event"]["data"]
    assert failed["module_type"] == "make-http-request"
    assert failed["result_variable"] == "http_account_lookup"
    assert failed["output"]["status_code"] == 503
    assert "From" not in call["detail"][2]["event"]["data"]["output"]  # the call's own params


def test_what_ivrlog_derives_of_it() -> None:
    stored = prepare_call(calls_of(fixtures())[INBOUND])
    assert stored.summary.app == "FW56a242ab9cf0c291a89442d7b4255f81"
    assert stored.summary.ended_in is not None
    assert stored.summary.ended_in.key == "make-http-request:http_account_lookup"
    assert stored.summary.has_error
    assert stored.summary.inputs == 1
    keys = [module.key for module in stored.summary.visits]
    assert keys[1:3] == ["trigger:Trigger", "say-play:say_welcome"]


def test_steps_of_one_second_keep_the_page_order() -> None:
    # keypress and match share 14:05:46; the page lists keypress after match (newest first)
    call = calls_of(fixtures())[INBOUND]
    events = [e["event"]["data"].get("event") for e in call["detail"][1:]]
    assert events == ["incomingCall", "audioComplete", "keypress", "match", "failed"]


def test_without_context_the_trigger_tells_the_direction() -> None:
    calls = calls_of(fixtures())
    outbound, inbound = calls[OUTBOUND], calls[NO_CONTEXT]
    assert (outbound["type"], outbound["src"], outbound["dest"]) == ("outbound", "", "+15555550177")
    assert (inbound["type"], inbound["src"], inbound["dest"]) == ("inbound", "+15555550188", "")
    assert [e["class"] for e in inbound["detail"]].count("event") == 0  # a timeout: no input


def test_an_execution_alone_and_steps_alone() -> None:
    alone = calls_of(fixtures("execution.json"))[INBOUND]
    assert len(alone["detail"]) == 1
    calls, skipped = studio_calls(read_documents(fixtures("steps.json")))
    assert calls == []
    assert [(s.where, s.reason) for s in skipped] == [
        (INBOUND, "5 steps of an execution the input does not hold")
    ]


def test_an_active_execution_is_skipped() -> None:
    execution = orjson.loads((FIXTURES / "execution.json").read_bytes())
    calls, skipped = studio_calls(
        read_documents([("a.json", orjson.dumps([{**execution, "status": "active"}]))])
    )
    assert calls == []
    assert skipped[0].reason == "status 'active': import it once it has ended"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b'{"sid": "FN1",\n "flow_sid": ', "bad.json, line 2: not JSON"),
        (
            b'{"hello": 1}',
            "bad.json: not a Studio Execution, Step, Context or a page of them (keys: hello)",
        ),
        (b"[1]", "bad.json: [0]: must be a JSON object, not int"),
        (
            b'{"steps": [{"sid": "FT1", "execution_sid": "FN1", "name": "x",'
            b' "transitioned_from": "a"}]}',
            "bad.json: steps[0].transitioned_to: must be a string, not None",
        ),
        (
            b'{"sid": "FN1", "flow_sid": "FW1", "date_created": "yesterday"}',
            "bad.json.date_created: must be an ISO 8601 time (2024-03-12T14:05:31Z),"
            " not 'yesterday'",
        ),
        (b'{"executions": [{"sid": "XX"}]}', "bad.json: executions[0].sid: must be a FN... sid"),
    ],
)
def test_malformed_input_names_the_file_and_the_place(document: bytes, message: str) -> None:
    with pytest.raises(ImportFailed) as failed:
        read_documents([*fixtures("execution.json"), ("bad.json", document)])
    assert failed.value.message.startswith(message)
