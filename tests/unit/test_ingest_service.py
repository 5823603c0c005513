"""core.ingest.ingest_calls on the in-memory store: what a batch stores, replaces,
redacts, keeps private, drops past retention, and that a refused batch stores nothing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ivrlog.core.errors import PayloadTooLarge, ValidationFailed
from ivrlog.core.ingest import PRIVATE, ingest_calls
from ivrlog.core.limits import MAX_ENTRIES
from ivrlog.core.live import append_entries
from ivrlog.core.pattern_check import check_pattern
from ivrlog.core.redact import NO_REDACTION, REDACTED, Redactor
from ivrlog.core.sensitive import SensitiveNames
from tests.factories import DAY, NOW, call, entry
from tests.fake_store import MemoryStore
from tests.unit.conftest import lines, listed

CARD = "4111 1111 1111 1111"  # passes the Luhn check
SSN = "123-45-6789"


def detail(store: MemoryStore, account_id: int, session_id: str) -> list[Any]:
    found, fragment = store.call_detail(account_id, session_id, "json", 0)
    assert found
    assert fragment is not None
    parsed: list[Any] = orjson.loads(fragment)
    return parsed


def test_a_batch_is_stored_with_its_summaries_and_detail(
    fake: MemoryStore, account_id: int
) -> None:
    first = entry("hello", timestamp=NOW - 100, caller="6175550000", n=3)
    batch = [
        call("a;1", NOW - 100, detail=[first, entry("bye", cls="prompt", timestamp=NOW - 90)]),
        call("b;2", NOW - 50, src="111", dest="222", type="outbound"),
    ]
    assert ingest_calls(fake, account_id, batch) == 2
    rows = listed(fake, account_id)
    assert list(rows) == ["b;2", "a;1"]  # newest first
    assert rows["b;2"][:7] == ("222", "111", NOW - 50, NOW - 13, "b;2", "outbound", 1)
    stored = detail(fake, account_id, "a;1")
    assert stored[0] == {
        "event": {
            "line": "hello",
            "data": {
                "caller": "6175550000",
                "n": 3,
                "module_type": "start",
                "result_variable": "start",
            },
        },
        "class": "info",
        "timestamp": NOW - 100,
    }
    assert [e["class"] for e in stored] == ["info", "prompt"]
    xml = fake.call_detail(account_id, "a;1", "xml", 0)[1]
    assert xml is not None
    assert xml.startswith("<item><event><line>hello</line>")


def test_a_call_ingested_again_replaces_the_stored_one(fake: MemoryStore, account_id: int) -> None:
    ingest_calls(fake, account_id, [call("s", NOW - 100, detail=[entry("first")])])
    ingest_calls(fake, account_id, [call("s", NOW - 80, src="555", detail=[entry("second")])])
    rows = listed(fake, account_id)
    assert list(rows) == ["s"]
    assert (rows["s"][1], rows["s"][2]) == ("555", NOW - 80)
    assert lines(fake, account_id, "s") == ["second"]


def test_a_bulk_call_replaces_the_same_call_in_progress(fake: MemoryStore, account_id: int) -> None:
    update = {"src": "1", "dest": "2", "type": "inbound", "entries": [entry("live")]}
    append_entries(fake, account_id, "s", update, now=NOW)
    ingest_calls(fake, account_id, [call("s", NOW - 100, detail=[entry("bulk")])])
    assert lines(fake, account_id, "s") == ["bulk"]
    assert list(listed(fake, account_id)) == ["s"]  # completed now: listed


def test_card_numbers_and_ssns_are_redacted_before_they_are_stored(
    fake: MemoryStore, account_id: int
) -> None:
    said = entry(f"card {CARD} ssn {SSN}", card=CARD, nested={"ssn": [SSN]})
    ingest_calls(fake, account_id, [call("s", detail=[said])])
    [stored] = detail(fake, account_id, "s")
    assert stored["event"]["line"] == f"card {REDACTED} ssn {REDACTED}"
    assert stored["event"]["data"]["card"] == REDACTED
    assert stored["event"]["data"]["nested"] == {"ssn": [REDACTED]}
    assert CARD not in fake.call_detail(account_id, "s", "xml", 0)[1]  # type: ignore[operator]


def test_the_accounts_rules_replace_the_built_in_ones(fake: MemoryStore, account_id: int) -> None:
    own = Redactor(builtin=False, custom=(check_pattern(r"MEM-\d{6}"),))
    ingest_calls(fake, account_id, [call("s", detail=[entry(f"MEM-123456 {CARD}")])], own)
    assert lines(fake, account_id, "s") == [f"{REDACTED} {CARD}"]
    ingest_calls(fake, account_id, [call("t", detail=[entry(f"MEM-123456 {CARD}")])], NO_REDACTION)
    assert lines(fake, account_id, "t") == [f"MEM-123456 {CARD}"]


def test_an_entry_of_a_sensitive_module_is_stored_private(
    fake: MemoryStore, account_id: int
) -> None:
    module = fake.add_sensitive_module(account_id, "result_variable", "pin", NOW)
    rules = Redactor(sensitive=SensitiveNames.of([module]))
    keyed = entry("pin is 1234", result_variable="PIN", digits="1234")
    ingest_calls(fake, account_id, [call("s", detail=[keyed, entry("menu")])], rules)
    pin, menu = detail(fake, account_id, "s")
    assert pin["event"] == {
        "line": PRIVATE,
        "data": {"digits": PRIVATE, "module_type": "start", "result_variable": "PIN"},
    }
    assert menu["event"]["line"] == "menu"


def test_a_private_call_keeps_its_summary_and_no_entry(fake: MemoryStore, account_id: int) -> None:
    ingest_calls(fake, account_id, [call("p", private=True, detail=[entry(f"card {CARD}")])])
    row = listed(fake, account_id)["p"]
    assert (row[6], row[7]) == (0, None)  # log false, no detail
    assert fake.call_detail(account_id, "p", "json", 0) == (True, None)
    assert fake.database_bytes() == 0  # not a character of it was kept


def test_a_private_entry_keeps_only_its_module_and_result_variable(
    fake: MemoryStore, account_id: int
) -> None:
    secret = {**entry("said the pin", module_type="input", result_variable="pin", value="1234")}
    ingest_calls(fake, account_id, [call("s", detail=[{**secret, "private": True}])])
    [stored] = detail(fake, account_id, "s")
    assert stored["event"] == {
        "line": PRIVATE,
        "data": {"value": PRIVATE, "module_type": "input", "result_variable": "pin"},
    }
    assert "private" not in stored


def test_retention_cutoffs_keep_out_what_is_already_expired(
    fake: MemoryStore, account_id: int
) -> None:
    detail_cutoff, call_cutoff = NOW - 5 * DAY, NOW - 365 * DAY
    batch = [
        call("ancient", call_cutoff - 1),
        call("at-call-cutoff", call_cutoff),
        call("old", detail_cutoff - 1),
        call("fresh", detail_cutoff),
    ]
    accepted = ingest_calls(fake, account_id, batch, cutoffs=(detail_cutoff, call_cutoff))
    assert accepted == 4  # every call is accepted: a retry must not fail
    rows = listed(fake, account_id)  # a detail cutoff of 0: log says what is stored
    assert {sid: row[6] for sid, row in rows.items()} == {
        "fresh": 1,
        "old": 0,
        "at-call-cutoff": 0,
    }
    assert fake.call_detail(account_id, "ancient", "json", 0) == (False, None)
    assert fake.count_expired(NOW, 0) == (1, 0)  # only fresh's detail was written


def test_an_invalid_call_leaves_the_whole_batch_unstored(
    fake: MemoryStore, account_id: int
) -> None:
    ingest_calls(fake, account_id, [call("kept", NOW - 10, detail=[entry("before")])])
    bad = call("bad", detail=[entry(cls="shout")])
    with pytest.raises(ValidationFailed) as failed:
        ingest_calls(fake, account_id, [call("kept", NOW - 5, detail=[entry("after")]), bad])
    [error] = failed.value.errors
    assert (error.index, error.path) == (1, "detail[0].class")
    assert error.message.startswith("must be one of: info")
    assert list(listed(fake, account_id)) == ["kept"]
    assert lines(fake, account_id, "kept") == ["before"]


def test_every_problem_of_a_batch_is_named(fake: MemoryStore, account_id: int) -> None:
    batch = [call("same"), call("same", end=0), {"session_id": "x/y"}, "not a call"]
    with pytest.raises(ValidationFailed) as failed:
        ingest_calls(fake, account_id, batch)
    found = {(e.index, e.path) for e in failed.value.errors}
    assert {(1, "session_id"), (1, "end"), (2, "session_id"), (2, "src"), (3, "")} <= found
    assert listed(fake, account_id) == {}


def test_too_many_entries_refuse_the_batch(fake: MemoryStore, account_id: int) -> None:
    many = [entry(timestamp=NOW - 100)] * (MAX_ENTRIES + 1)
    with pytest.raises(PayloadTooLarge, match=f"at most {MAX_ENTRIES}"):
        ingest_calls(fake, account_id, [call("ok"), call("big", NOW - 100, detail=many)])
    assert listed(fake, account_id) == {}
