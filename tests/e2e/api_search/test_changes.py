"""GET /v1/changes through HTTP: completions (bulk and live), replacements, erasures
(DELETE /v1/calls/{id}), each call once at its latest change, resuming from `after`, and
the call as /v1/calls shows it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_search.helpers import find, flow, found, stored
from tests.factories import NOW, call, entry


def changes(client: TestClient, creds: Credentials, **params: str) -> dict[str, Any]:
    response = find(client, creds, *params.items(), path="/v1/changes")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert list(body) == ["changes", "after"]
    return body


def feed(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["change"], c["session_id"]) for c in body["changes"]]


def live(client: TestClient, creds: Credentials, session_id: str, **update: Any) -> None:
    response = client.post(
        f"/ingest/v1/calls/{session_id}/entries",
        json=update,
        headers={"Authorization": f"Bearer {creds.ingest_token}"},
    )
    assert response.status_code == 200, response.text


def test_an_empty_feed_answers_the_position_asked(client: TestClient, account: Credentials) -> None:
    assert changes(client, account) == {"changes": [], "after": 0}
    assert changes(client, account, after="41") == {"changes": [], "after": 41}


def test_the_feed_mirrors_completions_replacements_and_live_calls(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    stored(client, account, [call("a", NOW - 300), call("b", NOW - 200)])
    stored(client, other_account, [call("theirs", NOW - 100)])
    first = changes(client, account)
    assert feed(first) == [("completed", "a"), ("completed", "b")]
    seqs = [c["seq"] for c in first["changes"]]
    assert seqs == sorted(seqs)
    assert first["after"] == seqs[-1]

    # nothing new: resuming answers nothing, at the same position
    assert changes(client, account, after=str(first["after"])) == {
        "changes": [],
        "after": first["after"],
    }

    # a replacement and a live call that completes later
    stored(client, account, [flow("a", NOW - 300, [("exit", "hangup")])])
    live(
        client,
        account,
        "live;1",
        src="1",
        dest="2",
        type="inbound",
        entries=[entry(timestamp=NOW - 50)],
    )
    assert feed(changes(client, account, after=str(first["after"]))) == [("replaced", "a")]
    live(client, account, "live;1", end=NOW - 10)
    since = changes(client, account, after=str(first["after"]))
    assert feed(since) == [("replaced", "a"), ("completed", "live;1")]
    assert since["changes"][0]["seq"] > first["after"]

    # from the start: each call once, at its latest change
    whole = changes(client, account)
    assert feed(whole) == [("completed", "b"), ("replaced", "a"), ("completed", "live;1")]
    assert whole["after"] == since["after"]


def test_each_change_holds_the_call_as_the_list_shows_it(
    client: TestClient, account: Credentials
) -> None:
    stored(client, account, [flow("x;1", NOW - 300, [("menu", "main")], error=True)])
    (change,) = changes(client, account)["changes"]
    assert list(change) == ["seq", "change", "session_id", "call"]
    (listed,) = found(client, account)["calls"]
    assert change["call"] == listed


def test_limit_pages_the_feed(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call(f"c{n}", NOW - n) for n in range(5)])
    seen: list[str] = []
    after = "0"
    while True:
        body = changes(client, account, after=after, limit="2")
        assert len(body["changes"]) <= 2
        if not body["changes"]:
            break
        seen += [c["session_id"] for c in body["changes"]]
        after = str(body["after"])
    assert sorted(seen) == [f"c{n}" for n in range(5)]
    assert len(seen) == 5


def test_a_large_limit_answers_the_same(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call(f"c{n}", NOW - n) for n in range(3)])
    assert changes(client, account, limit="10000") == changes(client, account, limit="3")


def test_an_erasure_takes_a_place_without_the_call(
    client: TestClient, account: Credentials
) -> None:
    stored(client, account, [call("a;1", NOW - 300), call("b;2", NOW - 200)])
    before = changes(client, account)
    erased = client.delete(
        "/v1/calls/a;1", headers={"Authorization": f"Bearer {account.ingest_token}"}
    )
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"erased": 1}
    since = changes(client, account, after=str(before["after"]))
    (change,) = since["changes"]
    assert list(change) == ["seq", "change", "session_id"]
    assert (change["change"], change["session_id"]) == ("erased", "a;1")
    assert change["seq"] > before["after"]
    # from the start: the erased call once, at its erasure, after the calls still kept
    assert feed(changes(client, account)) == [("completed", "b;2"), ("erased", "a;1")]
    assert [c["session_id"] for c in found(client, account)["calls"]] == ["b;2"]
