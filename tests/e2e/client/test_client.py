"""ivrlog.client against a real ivrlog server: every method, its paging, its errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ivrlog.client import (
    BadRequest,
    Client,
    Conflict,
    NotFound,
    Rejected,
    Unauthorized,
)
from tests.e2e.client.conftest import Live
from tests.factories import call, entry

NOW = int(time.time())
BASE = NOW - 3 * 86_400  # the module's calls start here, one a minute


def calls_of(prefix: str, count: int, **extra: Any) -> list[dict[str, Any]]:
    made = []
    for n in range(count):
        start = BASE + 60 * n
        detail = [
            entry('Executing application "Desk" version "2"', timestamp=start),
            entry("Playing prompt", "prompt", start + 1, "prompt", "welcome"),
        ]
        made.append(call(f"{prefix};{n:03d}", start, detail=detail, **extra))
    return made


@pytest.fixture(scope="module")
def stored(live: Live) -> list[dict[str, Any]]:
    calls = calls_of("client", 23) + calls_of("outbound", 2, type="outbound", dest="8005550000")
    with live.client() as client:
        assert client.ingest(calls, batch_size=7) == 25
    return calls


def test_ingest_sends_batches_and_counts_what_was_accepted(live: Live) -> None:
    with live.client() as client:
        assert client.ingest(calls_of("batch", 5), batch_size=2) == 5
        assert client.ingest([]) == 0
        found = {c["session_id"] for c in client.iter_search(from_=BASE, to=BASE + 600)}
    assert {f"batch;{n:03d}" for n in range(5)} <= found


def test_offset_paging_lists_every_call_once_newest_first(live: Live, stored: list[Any]) -> None:
    with live.client() as client:
        listed = list(client.iter_calls(BASE, BASE + 23 * 60, page_size=4))
        first = client.calls(BASE, BASE + 23 * 60, limit=5)
    ids = [c["session_id"] for c in listed if c["session_id"].startswith("client;")]
    assert ids == [f"client;{n:03d}" for n in reversed(range(23))]
    assert first.total_calls == len(listed)
    assert len(first.calls) == 5
    assert isinstance(first.calls[0]["start"], int)


def test_all_logs_carries_detail_and_the_fuse_quirks(live: Live, stored: list[Any]) -> None:
    with live.client() as client:
        logged = list(client.iter_all_logs(BASE, BASE + 60, page_size=1))
        outbound = client.all_logs(BASE, BASE + 120, number="8005550000")
    assert [c["session_id"] for c in logged] == ["outbound;000", "client;000", "batch;000"]
    assert logged[1]["start"] == str(BASE)  # a string, as on Plum Fuse
    assert logged[1]["detail"][1]["event"]["line"] == "Playing prompt"
    assert [c["src"] for c in outbound.calls] == ["Outbound", "Outbound"]


def test_one_call_and_its_errors(live: Live, stored: list[Any]) -> None:
    with live.client() as client:
        entries = client.call("client;004")
        assert [e["class"] for e in entries] == ["info", "prompt"]
        with pytest.raises(NotFound) as missing:
            client.call("no such call")
    assert missing.value.status == 404
    assert missing.value.message == "No call log was found."


def test_search_pages_follow_next_with_the_same_filter(live: Live, stored: list[Any]) -> None:
    with live.client() as client:
        page = client.search(from_=BASE, to=BASE + 23 * 60, limit=10, type="inbound")
        every = list(client.iter_search(from_=BASE, to=BASE + 23 * 60, page_size=6, type="inbound"))
        outbound = list(
            client.iter_search(from_=BASE, to=NOW, type="outbound", include_detail=True)
        )
    assert len(page.calls) == 10
    assert page.next is not None
    assert [c["session_id"] for c in every][:10] == [c["session_id"] for c in page.calls]
    ids = [c["session_id"] for c in every if c["session_id"].startswith("client;")]
    assert ids == [f"client;{n:03d}" for n in reversed(range(23))]
    assert {c["type"] for c in every} == {"inbound"}
    assert [c["src"] for c in outbound] == ["6177123000", "6177123000"]  # the real number
    assert outbound[0]["app"] == "Desk"
    assert outbound[0]["detail"][0]["timestamp"] == BASE + 60


def test_search_refusal_names_the_parameter(live: Live) -> None:
    with live.client() as client, pytest.raises(BadRequest) as refused:
        client.search(type="local")
    assert "type" in refused.value.message


def test_changes_resume_where_they_ended(live: Live, stored: list[Any]) -> None:
    with live.client() as client:
        every = list(client.iter_changes(limit=4))
        page = client.changes(after=every[-1]["seq"])
        client.ingest([call("changes;new", BASE + 5)])
        later = list(client.iter_changes(after=every[-1]["seq"]))
    assert len({c["session_id"] for c in every}) == len(every) >= 25
    assert page.changes == []
    assert page.after == every[-1]["seq"]
    assert [(c["change"], c["session_id"]) for c in later] == [("completed", "changes;new")]


def test_live_calls_and_their_idempotency_key(live: Live) -> None:
    first = entry("Executing application", timestamp=NOW - 100)
    with live.client() as client:
        answer = client.append("live;1", [first], src="1", dest="2", type="inbound")
        again = client.append(
            "live;1", [entry(timestamp=NOW - 90)], idempotency_key="k-1", end=NOW - 80
        )
        repeated = client.append(
            "live;1", [entry(timestamp=NOW - 90)], idempotency_key="k-1", end=NOW - 80
        )
        with pytest.raises(Conflict):
            client.append("live;1", [entry(timestamp=NOW - 70)])
        assert len(client.call("live;1")) == 2
    assert answer["appended"] == 1
    assert not answer["complete"]
    assert again == repeated
    assert again["complete"]
    assert again["entries"] == 2


def test_erasure_by_session_and_by_number(live: Live) -> None:
    with live.client() as client:
        client.ingest(
            [call("erase;1", BASE, src="6175550199"), call("erase;2", BASE, src="6175550199")]
        )
        assert client.erase("erase;1") == 1
        with pytest.raises(NotFound):
            client.erase("erase;1")
        assert client.erase_number("6175550199") == 1


def test_a_refused_batch_names_calls_by_their_place_in_the_whole_list(live: Live) -> None:
    calls = calls_of("refused", 5)
    calls[3]["type"] = "local"
    with live.client() as client, pytest.raises(Rejected) as refused:
        client.ingest(calls, batch_size=2)
    assert refused.value.status == 422
    assert [(e["index"], e["path"]) for e in refused.value.errors] == [(3, "type")]


def test_wrong_credentials_are_unauthorized_and_missing_ones_a_usage_error(live: Live) -> None:
    with Client(live.server.url, email=live.creds.email, key="wrong") as client:
        with pytest.raises(Unauthorized) as refused:
            client.calls(BASE, NOW)
        with pytest.raises(ValueError, match="ingest token"):
            client.ingest([call()])
    assert refused.value.message == "Authentication headers invalid or the account is inactive."


def test_credentials_never_ride_in_the_url() -> None:
    with pytest.raises(ValueError, match="not in the URL"):
        Client("http://me:secret@127.0.0.1:1")
    with pytest.raises(ValueError, match="http"):
        Client("ftp://127.0.0.1")
