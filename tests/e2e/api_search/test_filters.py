"""Each /v1/calls filter through HTTP, on calls ingested through POST /ingest/v1/calls (so
their summaries are derived as in production), and the window: its defaults, forms,
echo in UTC and clamping at call retention."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.when import iso_utc
from tests.e2e.api_search.helpers import find, flow, found, ids, stored
from tests.factories import DAY, NOW, call

CARD = [("getdigits", "card_number"), ("getdigits", "expiry"), ("exit", "goodbye")]
HANGUP = [("getdigits", "card_number"), ("exit", "hangup")]


@pytest.fixture
def calls(client: TestClient, account: Credentials) -> None:
    stored(
        client,
        account,
        [
            flow("paid", NOW - 900, CARD, lines=("Please enter your card number",), end=NOW - 780),
            flow(
                "hung-up",
                NOW - 800,
                HANGUP,
                lines=("Please enter your card number", "Goodbye"),
                src="6175550001",
                error=True,
                end=NOW - 790,
            ),
            flow(
                "balance",
                NOW - 700,
                [("menu", "main"), ("exit", "goodbye")],
                app="Balance Line",
                version="1.0",
                lines=("Your balance is 12 dollars",),
                dest="8005550199",
                end=NOW - 640,
            ),
            flow(
                "callback",
                NOW - 600,
                [("dial", "agent"), ("exit", "goodbye")],
                app=None,
                type="outbound",
                src="2125550123",
                dest="6175550002",
                end=NOW - 300,
            ),
            flow(
                "private",
                NOW - 500,
                HANGUP,
                lines=("Please enter your card number",),
                private=True,
                end=NOW - 490,
            ),
        ],
    )


@pytest.mark.usefixtures("calls")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["private", "callback", "balance", "hung-up", "paid"]),
        ({"number": "6177123001"}, ["private", "hung-up", "paid"]),
        ({"dest": "6177123001"}, ["private", "hung-up", "paid"]),
        ({"dest": "800*"}, ["balance"]),
        ({"dest": "617*"}, ["private", "callback", "hung-up", "paid"]),
        ({"src": "6175550001"}, ["hung-up"]),
        ({"src": "617555*"}, ["hung-up"]),
        ({"src": "212*"}, ["callback"]),
        ({"src": "6"}, []),
        ({"type": "outbound"}, ["callback"]),
        ({"type": "inbound"}, ["private", "balance", "hung-up", "paid"]),
        ({"type": "transfer"}, []),
        ({"min_duration": "60"}, ["callback", "balance", "paid"]),
        ({"max_duration": "10"}, ["private", "hung-up"]),
        ({"min_duration": "60", "max_duration": "120"}, ["balance", "paid"]),
        ({"min_duration": "120", "max_duration": "120"}, ["paid"]),
        ({"app": "Card Payments"}, ["hung-up", "paid"]),
        ({"app": "Balance Line"}, ["balance"]),
        ({"app": "card payments"}, []),
        ({"reached": "card_number"}, ["hung-up", "paid"]),
        ({"reached": "getdigits:expiry"}, ["paid"]),
        ({"reached": "getdigits"}, []),
        ({"reached": "agent"}, ["callback"]),
        ({"ended_in": "hangup"}, ["hung-up"]),
        ({"ended_in": "exit:goodbye"}, ["callback", "balance", "paid"]),
        ({"ended_in": "card_number"}, []),
        ({"has_error": "true"}, ["hung-up"]),
        ({"has_error": "false"}, ["private", "callback", "balance", "paid"]),
        ({"q": "card"}, ["hung-up", "paid"]),  # never the private call
        ({"q": "CARD number goodbye"}, ["hung-up"]),
        ({"q": "balance"}, ["balance"]),
        ({"q": "bal"}, []),
        ({"app": "Card Payments", "reached": "card_number", "q": "goodbye"}, ["hung-up"]),
        ({"dest": "617*", "has_error": "false", "min_duration": "100"}, ["callback", "paid"]),
    ],
)
def test_each_filter_and_their_combination(
    client: TestClient, account: Credentials, params: dict[str, str], expected: list[str]
) -> None:
    assert ids(found(client, account, **params)) == expected


@pytest.mark.usefixtures("calls")
def test_a_call_as_the_list_shows_it(client: TestClient, account: Credentials) -> None:
    (hung_up,) = found(client, account, src="6175550001")["calls"]
    assert hung_up == {
        "session_id": "hung-up",
        "src": "6175550001",
        "dest": "6177123001",
        "type": "inbound",
        "start": NOW - 800,
        "end": NOW - 790,
        "duration": 10,
        "app": "Card Payments",
        "app_version": "2.1",
        "ended_in": "exit:hangup",
        "has_error": True,
        "path": [
            "start:start",
            "say:prompt",
            "webservice:lookup",
            "getdigits:card_number",
            "exit:hangup",
        ],
        "log": True,
    }
    (callback,) = found(client, account, type="outbound")["calls"]
    # an outbound call shows its number as src, never `Outbound`
    assert (callback["src"], callback["app"], callback["app_version"]) == (
        "2125550123",
        None,
        None,
    )
    (private,) = found(client, account, max_duration="10", has_error="false")["calls"]
    assert private["session_id"] == "private"
    assert (private["path"], private["ended_in"], private["log"]) == ([], None, False)


def test_another_accounts_calls_are_never_listed(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    stored(client, other_account, [call("theirs", NOW - 100)])
    stored(client, account, [call("mine", NOW - 200)])
    assert ids(found(client, account)) == ["mine"]
    assert ids(found(client, other_account)) == ["theirs"]


def test_calls_whose_detail_expired_are_listed_but_not_found_by_words(
    client: TestClient, account: Credentials
) -> None:
    stored(
        client,
        account,
        [
            flow("old", NOW - 6 * DAY, CARD, lines=("card",)),
            flow("new", NOW - DAY, CARD, lines=("card",)),
        ],
    )
    body = found(client, account)
    assert ids(body) == ["new", "old"]
    assert [c["log"] for c in body["calls"]] == [True, False]
    # the summary outlives the detail
    assert body["calls"][1]["path"] == ["start:start", "say:prompt", *(f"{m}:{r}" for m, r in CARD)]
    assert ids(found(client, account, q="card")) == ["new"]
    assert ids(found(client, account, reached="card_number")) == ["new", "old"]


# the window


def test_the_default_window_is_the_last_24_hours_echoed_in_utc(
    client: TestClient, account: Credentials
) -> None:
    stored(
        client,
        account,
        [
            call("too-old", NOW - DAY - 1),
            call("oldest", NOW - DAY),
            call("now", NOW),
            call("future", NOW + 1),
        ],
    )
    response = find(client, account)
    assert response.status_code == 200
    body = response.json()
    assert ids(body) == ["now", "oldest"]
    assert (body["from"], body["to"]) == (iso_utc(NOW - DAY), iso_utc(NOW + 1))
    assert body["from"].endswith("Z")
    assert body["next"] is None


def test_from_is_inclusive_and_to_exclusive(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call(f"c{n}", NOW - 100 * n) for n in range(1, 5)])
    body = found(client, account, **{"from": str(NOW - 300), "to": str(NOW - 100)})
    assert ids(body) == ["c2", "c3"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("-250s", "-150s"),
        ("-4m", "-2m"),
        (iso_utc(NOW - 250), iso_utc(NOW - 150)),
        ("2026-11-18T16:02:30+05:00", str(NOW - 150)),  # NOW - 250 at +05:00
    ],
)
def test_relative_and_iso_times(
    client: TestClient, account: Credentials, start: str, end: str
) -> None:
    stored(client, account, [call(f"c{n}", NOW - 100 * n) for n in range(1, 4)])
    body = found(client, account, **{"from": start, "to": end})
    assert ids(body) == ["c2"]


def test_the_echoed_window_is_the_resolved_one(client: TestClient, account: Credentials) -> None:
    body = found(client, account, **{"from": "-4h", "to": "2026-11-18T13:00:00+02:00"})
    assert body["from"] == iso_utc(NOW - 4 * 3600)
    assert body["to"] == "2026-11-18T11:00:00Z"


def test_a_window_past_call_retention_starts_at_it(
    client: TestClient, account: Credentials
) -> None:
    stored(client, account, [call("kept", NOW - 300 * DAY)])
    body = found(client, account, **{"from": "0", "to": str(NOW)})
    assert body["from"] == iso_utc(NOW - 365 * DAY)
    assert ids(body) == ["kept"]


def test_names_holding_nul_are_found_exactly(client: TestClient, account: Credentials) -> None:
    stored(client, account, [flow("nul", NOW - 100, [("menu", "a\x00b")], app="x\x00y")])
    stored(client, account, [flow("plain", NOW - 50, [("menu", "a b")], app="x y")])
    assert ids(found(client, account, app="x\x00y")) == ["nul"]
    assert ids(found(client, account, reached="menu:a\x00b")) == ["nul"]
    assert ids(found(client, account, ended_in="a\x00b")) == ["nul"]
    assert ids(found(client, account, app="x\x00")) == []
