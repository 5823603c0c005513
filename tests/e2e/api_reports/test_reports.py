"""GET /v1/reports/volume, /durations and /funnel through HTTP, on calls ingested in bulk
and live (so that their steps are derived as in production): each funnel figure is the
count of the /v1/calls filter it links to, the window is whole hours, an erasure and a
replacement change the figures at once, and every bad request is a 400 naming its
parameter. The figures against their model on every store: tests/integration/
test_report_model.py."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_search.helpers import find, flow, stored
from tests.factories import NOW, basic, entry

APP = "Card Payments"
HOUR_START = NOW - NOW % 3600 - 3 * 3600  # a whole hour, three hours ago
CARD = [("getdigits", "card_number"), ("getdigits", "expiry"), ("exit", "goodbye")]
HANGUP = [("getdigits", "card_number")]
WINDOW = {"from": str(HOUR_START), "to": str(HOUR_START + 3600)}


def report(client: TestClient, creds: Credentials | None, name: str, **params: str) -> Any:
    response = find(client, creds, *params.items(), path=f"/v1/reports/{name}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def count(client: TestClient, creds: Credentials, **params: str) -> int:
    response = find(client, creds, *params.items(), ("limit", "10000"))
    assert response.status_code == 200, response.text
    return len(response.json()["calls"])


def live(client: TestClient, creds: Credentials, session_id: str, **update: Any) -> None:
    response = client.post(
        f"/ingest/v1/calls/{session_id}/entries",
        json=update,
        headers={"Authorization": f"Bearer {creds.ingest_token}"},
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def calls(client: TestClient, account: Credentials) -> None:
    t = HOUR_START + 60
    stored(
        client,
        account,
        [
            flow("paid-1", t, CARD, end=t + 40),
            flow("paid-2", t + 100, CARD, end=t + 160),
            flow("hung-1", t + 200, HANGUP, end=t + 230),
            flow("hung-2", t + 300, HANGUP, error=True, end=t + 320),
            flow("other-app", t + 400, HANGUP, app="Balance Line", end=t + 410),
            flow("outbound", t + 500, CARD, type="outbound", end=t + 520),
            flow("next-hour", HOUR_START + 3600, HANGUP, end=HOUR_START + 3700),
        ],
    )
    # a call completed live: its steps are derived at completion, as for bulk calls
    live(
        client,
        account,
        "live-1",
        src="6175550100",
        dest="8005550100",
        type="inbound",
        entries=[
            entry(f'Executing application "{APP}" version "2.1"', "info", t + 600),
            entry("Enter your card number", "prompt", t + 601, "getdigits", "card_number"),
        ],
    )
    live(client, account, "live-1", entries=[], end=t + 650)


@pytest.mark.usefixtures("calls")
def test_each_funnel_figure_is_the_count_of_the_calls_it_links_to(
    client: TestClient, account: Credentials
) -> None:
    body = report(client, account, "funnel", app=APP, **WINDOW)
    assert (body["app"], body["from"], body["to"]) == (APP, HOUR_START, HOUR_START + 3600)
    modules = {m["module"]: m for m in body["modules"]}
    # flow order: where calls first reach them (start, say, webservice, then the steps)
    assert [m["module"] for m in body["modules"]] == [
        "start:start",
        "webservice:lookup",
        "getdigits:card_number",
        "getdigits:expiry",
        "exit:goodbye",
    ]
    assert modules["getdigits:card_number"] == {
        "module": "getdigits:card_number",
        "reached": 6,
        "ended": 3,
        "errors": 0,
        # hung-1 29 s, hung-2 19 s, live-1 49 s, the paid calls and outbound 1 s each
        "median_seconds": 1,
    }
    assert modules["webservice:lookup"]["errors"] == 1
    window = {"app": APP, "from": str(body["from"]), "to": str(body["to"])}
    for m in body["modules"]:
        assert m["reached"] == count(client, account, reached=m["module"], **window)
        assert m["ended"] == count(client, account, ended_in=m["module"], **window)


@pytest.mark.usefixtures("calls")
def test_volume_and_durations_count_the_window_by_type(
    client: TestClient, account: Credentials
) -> None:
    wide = {"from": str(HOUR_START - 1800), "to": str(HOUR_START + 3601)}
    body = report(client, account, "volume", **wide)
    # whole hours: from the hour holding `from` to the end of the one holding `to` - 1
    assert (body["from"], body["to"], body["by"]) == (
        HOUR_START - 3600,
        HOUR_START + 7200,
        "hour",
    )
    assert body["buckets"] == [
        {"at": HOUR_START - 3600, "calls": 0, "inbound": 0, "outbound": 0, "transfer": 0},
        {"at": HOUR_START, "calls": 7, "inbound": 6, "outbound": 1, "transfer": 0},
        {"at": HOUR_START + 3600, "calls": 1, "inbound": 1, "outbound": 0, "transfer": 0},
    ]
    by_app = report(client, account, "volume", app="Balance Line", by="day", **wide)
    assert by_app["by"] == "day"
    assert sum(b["calls"] for b in by_app["buckets"]) == 1
    durations = report(client, account, "durations", app=APP, **WINDOW)
    assert durations["calls"] == 6
    lasted = {b["min_seconds"]: b["calls"] for b in durations["buckets"] if b["calls"]}
    # 40, 60, 30, 20, 20 and 50 seconds
    assert lasted == {40: 1, 60: 1, 30: 1, 20: 2, 50: 1}
    assert durations["median_seconds"] == 30
    assert durations["buckets"][-1] == {"min_seconds": 3600, "max_seconds": None, "calls": 0}


@pytest.mark.usefixtures("calls")
def test_an_erasure_and_a_replacement_change_the_figures_at_once(
    client: TestClient, account: Credentials
) -> None:
    response = client.delete(
        "/v1/calls/hung-1", headers={"Authorization": f"Bearer {account.ingest_token}"}
    )
    assert response.status_code == 200, response.text
    t = HOUR_START + 60
    stored(client, account, [flow("paid-1", t, HANGUP, end=t + 5)])  # now hung up too
    modules = {
        m["module"]: m for m in report(client, account, "funnel", app=APP, **WINDOW)["modules"]
    }
    assert modules["getdigits:card_number"]["ended"] == 3  # hung-2, live-1, paid-1
    assert modules["exit:goodbye"]["reached"] == 2  # paid-2, outbound
    assert report(client, account, "volume", **WINDOW)["buckets"][0]["calls"] == 6


@pytest.mark.usefixtures("calls")
def test_an_account_counts_only_its_own_calls(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    assert report(client, other_account, "funnel", app=APP, **WINDOW)["modules"] == []
    assert report(client, other_account, "durations", **WINDOW)["calls"] == 0
    assert report(client, account, "durations", **WINDOW)["calls"] == 7


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("funnel", {}, "Missing app: the funnel is of one application (app=NAME)."),
        ("volume", {"by": "week"}, "Invalid by 'week': must be hour or day."),
        ("durations", {"by": "hour"}, "Unknown parameter 'by'; allowed: app, from, to."),
        ("volume", {"app": ""}, "Invalid app: must be 1 to 1000 characters."),
        ("funnel", {"app": "x", "from": "soon"}, "Invalid from 'soon'"),
        ("volume", {"from": "-1h", "to": "-2h"}, "Invalid from '-1h': must be before to."),
    ],
)
def test_a_bad_request_is_a_400_naming_its_parameter(
    client: TestClient, account: Credentials, path: str, params: dict[str, str], message: str
) -> None:
    response = find(client, account, *params.items(), path=f"/v1/reports/{path}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_a_report_needs_credentials(client: TestClient, account: Credentials) -> None:
    response = client.get("/v1/reports/volume")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    wrong = client.get("/v1/reports/volume", auth=(account.email, "wrong"))
    assert wrong.status_code == 401
    assert client.get("/v1/reports/volume", auth=basic(account)).status_code == 200
