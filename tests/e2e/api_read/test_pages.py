"""The read API's pages: the shapes of its three endpoints, the window, paging, order,
session ids with ';', and accounts kept apart.

Every rule of SPEC section 2 that answers 200; the errors are in tests/e2e/api_errors/.
Data goes in through the real ingest endpoint.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_read.helpers import (
    DETAIL_KEYS,
    LISTS,
    SUMMARY_KEYS,
    WINDOW,
    get,
    ids,
    media_type,
    page,
    shape,
    stored,
)
from tests.factories import DAY, NOW, basic, call, entry

# shapes


def test_calls_have_summary_keys_in_order_with_integer_times(
    client: TestClient, account: Credentials
) -> None:
    stored(client, account, [call("s1", start=NOW - 3600, end=NOW - 3563)])

    response = get(client, account, f"/api/calls/{WINDOW[0]}/{WINDOW[1]}")

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    body = response.json()
    assert list(body) == ["calls", "total_calls"]
    assert body["total_calls"] == 1
    (summary,) = body["calls"]
    assert list(summary) == SUMMARY_KEYS
    assert summary == {
        "dest": "6177123001",
        "src": "6177123000",
        "start": NOW - 3600,
        "end": NOW - 3563,
        "session_id": "s1",
        "type": "inbound",
        "log": True,
    }
    assert shape(summary) == [
        ("dest", "str"),
        ("src", "str"),
        ("start", "int"),
        ("end", "int"),
        ("session_id", "str"),
        ("type", "str"),
        ("log", "bool"),
    ]
    assert type(body["total_calls"]) is int


def test_all_logs_have_detail_keys_in_order_with_string_times(
    client: TestClient, account: Credentials
) -> None:
    detail = [
        entry("Executing application", timestamp=NOW - 3600),
        entry("Say hi", "prompt", NOW - 3599, "prompt", "hi", has_audio=False, revision_id="1"),
    ]
    stored(client, account, [call("s1", start=NOW - 3600, end=NOW - 3563, detail=detail)])

    body = page(client, account, "/api/all_logs")

    assert list(body) == ["calls", "total_calls"]
    assert body["total_calls"] == 1
    (full,) = body["calls"]
    assert list(full) == DETAIL_KEYS
    assert full["start"] == str(NOW - 3600)
    assert full["end"] == str(NOW - 3563)
    assert full["start"].isdigit()
    assert full["end"].isdigit()
    assert full["detail"] == detail
    assert shape(full["detail"]) == shape(detail)
    assert full["log"] is True
    assert [type(full[key]).__name__ for key in DETAIL_KEYS] == [
        "str",
        "str",
        "str",
        "str",
        "str",
        "list",
        "str",
        "bool",
    ]


def test_call_is_a_bare_array_of_entries_in_ingested_order(
    client: TestClient, account: Credentials
) -> None:
    detail = [
        entry("first", timestamp=NOW - 3600),
        entry("second", "event", NOW - 3590, "number", "X", score=0.5, tags=["a", 2], extra=None),
        entry("third", "error", NOW - 3580, "exit", "hangup", nested={"b": 1, "a": [True]}),
    ]
    stored(client, account, [call("s1", start=NOW - 3600, detail=detail)])

    response = get(client, account, "/api/call/s1")

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    body = response.json()
    assert isinstance(body, list)
    assert body == detail
    assert shape(body) == shape(detail)
    assert [e["event"]["line"] for e in body] == ["first", "second", "third"]


# the window


@pytest.mark.parametrize("endpoint", LISTS)
def test_window_includes_its_start_and_excludes_its_end(
    client: TestClient, account: Credentials, endpoint: str
) -> None:
    start, end = NOW - 2 * DAY, NOW - DAY
    stored(
        client,
        account,
        [
            call("before", start=start - 1),
            call("at-start", start=start),
            call("inside", start=start + 1),
            call("last-second", start=end - 1),
            call("at-end", start=end),
            call("after", start=end + 1),
        ],
    )

    body = page(client, account, endpoint, (start, end))

    assert ids(body) == ["last-second", "inside", "at-start"]
    assert body["total_calls"] == 3


def test_one_second_window_holds_only_the_calls_at_its_start(
    client: TestClient, account: Credentials
) -> None:
    stored(client, account, [call("a", start=NOW - 100), call("b", start=NOW - 99)])

    assert ids(page(client, account, window=(NOW - 100, NOW - 99))) == ["a"]


def test_window_without_calls_is_an_empty_page(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call("a", start=NOW - 100)])

    assert page(client, account, window=(NOW - 50, NOW)) == {"calls": [], "total_calls": 0}


# paging


@pytest.mark.parametrize("endpoint", LISTS)
def test_offset_and_limit_page_through_the_window(
    client: TestClient, account: Credentials, endpoint: str
) -> None:
    stored(client, account, [call(f"c{n}", start=NOW - 1000 + n) for n in range(5)])
    newest_first = ["c4", "c3", "c2", "c1", "c0"]

    pages = [page(client, account, endpoint, offset=o, limit=2) for o in (0, 2, 4)]

    assert [ids(p) for p in pages] == [["c4", "c3"], ["c2", "c1"], ["c0"]]
    assert [p["total_calls"] for p in pages] == [5, 5, 5]
    assert [session_id for p in pages for session_id in ids(p)] == newest_first


@pytest.mark.parametrize("offset", [5, 6, 10_000])
def test_offset_at_or_beyond_the_end_gives_an_empty_list_and_the_full_total(
    client: TestClient, account: Credentials, offset: int
) -> None:
    stored(client, account, [call(f"c{n}", start=NOW - 1000 + n) for n in range(5)])

    assert page(client, account, offset=offset) == {"calls": [], "total_calls": 5}


def test_total_counts_the_window_not_the_page(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call(f"c{n}", start=NOW - 1000 + n) for n in range(7)])
    stored(client, account, [call("outside", start=WINDOW[0] - 1)])

    body = page(client, account, limit=3, offset=1)

    assert ids(body) == ["c5", "c4", "c3"]
    assert body["total_calls"] == 7


def test_default_limit_is_1000_and_default_offset_is_0(
    client: TestClient, account: Credentials
) -> None:
    stored(client, account, [call(f"c{n:04d}", start=NOW - 5000 + n) for n in range(1001)])

    body = page(client, account)

    assert body["total_calls"] == 1001
    assert len(body["calls"]) == 1000
    assert body["calls"][0]["session_id"] == "c1000"
    assert body["calls"][-1]["session_id"] == "c0001"
    assert ids(page(client, account, offset=1000)) == ["c0000"]


@pytest.mark.parametrize(("limit", "shown"), [(1, 1), (10_000, 3)])
def test_limit_bounds_are_accepted(
    client: TestClient, account: Credentials, limit: int, shown: int
) -> None:
    stored(client, account, [call(f"c{n}", start=NOW - 1000 + n) for n in range(3)])

    body = page(client, account, limit=limit, offset=0)

    assert len(body["calls"]) == shown
    assert body["total_calls"] == 3


def test_empty_offset_and_limit_mean_the_defaults(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call("a", start=NOW - 100)])

    response = client.get(f"/api/calls/{WINDOW[0]}/{WINDOW[1]}?offset=&limit=", auth=basic(account))

    assert response.status_code == 200
    assert ids(response.json()) == ["a"]


# order


@pytest.mark.parametrize("endpoint", LISTS)
def test_newest_first_then_session_id_descending(
    client: TestClient, account: Credentials, endpoint: str
) -> None:
    tie = NOW - 500
    stored(
        client,
        account,
        [
            call("m", start=tie - 10),
            call("a;10", start=tie),
            call("z", start=tie - 20),
            call("a;2", start=tie),
            call("b", start=tie),
            call("y", start=tie + 10),
        ],
    )

    assert ids(page(client, account, endpoint)) == ["y", "b", "a;2", "a;10", "m", "z"]


def test_paging_through_ties_is_stable(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call(f"t{n}", start=NOW - 500) for n in range(6)])

    pages = [ids(page(client, account, offset=o, limit=2)) for o in (0, 2, 4)]

    assert pages == [["t5", "t4"], ["t3", "t2"], ["t1", "t0"]]


# session ids with ';'


@pytest.mark.parametrize(
    "path",
    [
        "/api/call/100035;000;1575898377",
        "/api/call/100035%3B000%3B1575898377",
        "/api/call/100035%3b000%3b1575898377",
    ],
)
def test_session_id_with_semicolons_is_found_raw_or_percent_encoded(
    client: TestClient, account: Credentials, path: str
) -> None:
    detail = [entry("only this call", timestamp=NOW - 3600)]
    stored(
        client,
        account,
        [
            call("100035;000;1575898377", detail=detail),
            call("100035", detail=[entry("a prefix", timestamp=NOW - 3600)]),
        ],
    )

    response = get(client, account, path)

    assert response.status_code == 200, response.text
    assert response.json() == detail


# accounts


def test_an_account_never_sees_another_accounts_calls(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    stored(client, account, [call("mine", start=NOW - 300), call("shared", start=NOW - 200)])
    stored(
        client,
        other_account,
        [
            call("theirs", start=NOW - 250),
            call("shared", start=NOW - 100, detail=[entry("their detail", timestamp=NOW - 100)]),
        ],
    )

    for endpoint in LISTS:
        mine = page(client, account, endpoint)
        theirs = page(client, other_account, endpoint)
        assert ids(mine) == ["shared", "mine"]
        assert mine["total_calls"] == 2
        assert ids(theirs) == ["shared", "theirs"]
        assert theirs["total_calls"] == 2
    assert get(client, account, "/api/call/theirs").json() == {"error": "No call log was found."}
    assert get(client, account, "/api/call/shared").json()[0]["event"]["line"] != "their detail"
    assert get(client, other_account, "/api/call/shared").json()[0]["event"]["line"] == (
        "their detail"
    )
