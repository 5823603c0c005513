"""POST /ingest/v1/calls is idempotent: a call posted again replaces the stored one; private
calls and entries keep only what SPEC section 4 allows."""

from __future__ import annotations

import copy

import orjson
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_ingest.helpers import (
    DETAIL_UNAVAILABLE,
    all_logs,
    canonical,
    detail_of,
    error_message,
    get_detail,
    listed,
    session_ids,
)
from tests.factories import NOW, call, database_text, entry, ingest

# idempotent


def test_reposting_a_call_replaces_it(client: TestClient, account: Credentials) -> None:
    first = call("same;1", NOW - 3600, detail=[entry(line="one"), entry(line="two")])
    assert ingest(client, account, [first, call("other")]).status_code == 200
    again = call(
        "same;1",
        NOW - 1800,
        end=NOW - 1000,
        src="6170000000",
        dest="6179999999",
        type="transfer",
        detail=[entry(line="three", cls="error", timestamp=NOW - 1800)],
    )
    response = ingest(client, account, [again])
    assert response.status_code == 200
    assert orjson.loads(response.content) == {"accepted": 1}
    page = listed(client, account)
    assert page["total_calls"] == 2
    assert [c["session_id"] for c in page["calls"]].count("same;1") == 1
    assert page["calls"][0] == {
        "dest": "6179999999",
        "src": "6170000000",
        "start": NOW - 1800,
        "end": NOW - 1000,
        "session_id": "same;1",
        "type": "transfer",
        "log": True,
    }
    assert detail_of(client, account, "same;1") == again["detail"]
    logs = all_logs(client, account)
    assert [c["session_id"] for c in logs["calls"]] == ["same;1", "other"]
    assert logs["calls"][0]["detail"] == again["detail"]


def test_retrying_the_same_batch_is_harmless(client: TestClient, account: Credentials) -> None:
    batch = [call(f"r;{i}", NOW - 60 * i) for i in range(5)]
    for _ in range(3):
        response = ingest(client, account, batch)
        assert orjson.loads(response.content) == {"accepted": 5}
    assert listed(client, account)["total_calls"] == 5
    assert session_ids(client, account) == [f"r;{i}" for i in range(5)]


def test_reposting_as_private_drops_the_detail(client: TestClient, account: Credentials) -> None:
    assert ingest(client, account, [call("p", detail=[entry(line="before")])]).status_code == 200
    assert detail_of(client, account, "p")[0]["event"]["line"] == "before"
    response = ingest(client, account, [call("p", private=True, detail=[entry(line="after")])])
    assert response.status_code == 200
    assert orjson.loads(response.content) == {"accepted": 1}
    assert error_message(get_detail(client, account, "p"), 404) == DETAIL_UNAVAILABLE
    assert listed(client, account)["calls"][0]["log"] is False
    assert listed(client, account)["total_calls"] == 1
    assert all_logs(client, account)["calls"][0]["detail"] == []


def test_detail_replaced_by_a_private_call_is_not_left_on_disk(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    marker = "zq-private-marker-7f3a"
    assert ingest(client, account, [call("p", detail=[entry(line=marker)])]).status_code == 200
    assert ingest(client, account, [call("p", private=True)]).status_code == 200
    assert marker not in database_text(db_url)


def test_reposting_with_no_entries_drops_the_detail(
    client: TestClient, account: Credentials
) -> None:
    assert ingest(client, account, [call("e")]).status_code == 200
    assert ingest(client, account, [call("e", detail=[])]).status_code == 200
    assert error_message(get_detail(client, account, "e"), 404) == DETAIL_UNAVAILABLE
    assert listed(client, account)["calls"][0]["log"] is False


def test_reposting_private_call_with_detail_restores_it(
    client: TestClient, account: Credentials
) -> None:
    assert ingest(client, account, [call("back", private=True)]).status_code == 200
    again = call("back", detail=[entry(line="visible")])
    assert ingest(client, account, [again]).status_code == 200
    assert detail_of(client, account, "back") == again["detail"]
    assert listed(client, account)["calls"][0]["log"] is True


def test_same_session_id_in_two_accounts_is_two_calls(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    mine = call("shared", detail=[entry(line="mine")])
    theirs = call("shared", detail=[entry(line="theirs")])
    assert ingest(client, account, [mine]).status_code == 200
    assert ingest(client, other_account, [theirs]).status_code == 200
    assert detail_of(client, account, "shared") == mine["detail"]
    assert detail_of(client, other_account, "shared") == theirs["detail"]


# privacy


def test_private_call_keeps_its_summary_only(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    marker = "zq-secret-line-91c2"
    private = call("priv", private=True, detail=[entry(line=marker, secret=marker)])
    assert ingest(client, account, [private]).status_code == 200
    summary = listed(client, account)["calls"][0]
    assert (summary["session_id"], summary["log"], summary["src"]) == ("priv", False, "6177123000")
    assert error_message(get_detail(client, account, "priv"), 404) == DETAIL_UNAVAILABLE
    assert marker not in database_text(db_url)


def test_private_entry_is_masked(client: TestClient, account: Credentials, db_url: str) -> None:
    marker = "zq-secret-value-44d0"
    hidden = {
        "event": {
            "line": f"Caller said {marker}",
            "data": {
                "zeta": marker,
                "module_type": "input",
                "count": 3,
                "result_variable": "pin",
                "nested": {"inner": marker},
                "flag": True,
                "nothing": None,
                "list": [marker],
            },
        },
        "class": "event",
        "timestamp": NOW - 3590,
        "private": True,
    }
    shown = entry(line="visible", timestamp=NOW - 3580, note="kept")
    assert ingest(client, account, [call("pe", detail=[hidden, shown])]).status_code == 200
    masked, plain = detail_of(client, account, "pe")
    assert canonical(masked) == canonical(
        {
            "event": {
                "line": "[private]",
                "data": {
                    "zeta": "[private]",
                    "module_type": "input",
                    "count": "[private]",
                    "result_variable": "pin",
                    "nested": "[private]",
                    "flag": "[private]",
                    "nothing": "[private]",
                    "list": "[private]",
                },
            },
            "class": "event",
            "timestamp": NOW - 3590,
        }
    )
    assert canonical(plain) == canonical(shown)
    assert marker not in database_text(db_url)


def test_entry_private_flag_is_not_stored(client: TestClient, account: Credentials) -> None:
    """The entry's own `private` flag is not part of the stored entry."""
    sent = call("shape", detail=[{**entry(), "private": False}])
    expected = copy.deepcopy(sent["detail"])
    del expected[0]["private"]
    assert ingest(client, account, [sent]).status_code == 200
    (got,) = detail_of(client, account, "shape")
    assert list(got) == ["event", "class", "timestamp"]
    assert canonical([got]) == canonical(expected)
