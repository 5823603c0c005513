"""Which calls and details a page shows: the number filter, outbound calls, and `log`,
private calls and detail retention (SPEC section 2)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_read.helpers import (
    CUTOFF,
    DETAIL_KEYS,
    LISTS,
    WINDOW,
    ClientAt,
    get,
    ids,
    page,
    parse_xml,
    stored,
)
from tests.factories import DAY, NOW, call, entry

# number, outbound


@pytest.mark.parametrize("endpoint", LISTS)
def test_number_keeps_only_calls_to_that_dest(
    client: TestClient, account: Credentials, endpoint: str
) -> None:
    stored(
        client,
        account,
        [
            call("to-a-1", start=NOW - 300, dest="6170000001"),
            call("to-b", start=NOW - 200, dest="6170000002"),
            call("from-a", start=NOW - 150, src="6170000001", dest="6170000003"),
            call("to-a-2", start=NOW - 100, dest="6170000001"),
        ],
    )

    body = page(client, account, endpoint, number="6170000001")

    assert ids(body) == ["to-a-2", "to-a-1"]
    assert body["total_calls"] == 2
    assert {c["dest"] for c in body["calls"]} == {"6170000001"}


def test_number_filter_applies_to_total_and_paging(
    client: TestClient, account: Credentials
) -> None:
    stored(
        client,
        account,
        [call(f"a{n}", start=NOW - 900 + n, dest="111") for n in range(3)]
        + [call(f"b{n}", start=NOW - 800 + n, dest="222") for n in range(4)],
    )

    body = page(client, account, number="111", limit=1, offset=1)

    assert ids(body) == ["a1"]
    assert body["total_calls"] == 3
    assert page(client, account, number="999") == {"calls": [], "total_calls": 0}


@pytest.mark.parametrize("endpoint", LISTS)
def test_outbound_calls_show_src_outbound(
    client: TestClient, account: Credentials, endpoint: str
) -> None:
    stored(
        client,
        account,
        [
            call("out", start=NOW - 300, src="6175550000", type="outbound"),
            call("in", start=NOW - 200, src="6175550001", type="inbound"),
            call("xfer", start=NOW - 100, src="6175550002", type="transfer"),
        ],
    )

    calls = {c["session_id"]: c for c in page(client, account, endpoint)["calls"]}

    assert calls["out"]["src"] == "Outbound"
    assert calls["out"]["type"] == "outbound"
    assert calls["in"]["src"] == "6175550001"
    assert calls["xfer"]["src"] == "6175550002"


def test_outbound_src_in_xml(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call("out", src="6175550000", type="outbound")])

    response = get(client, account, f"/api/calls/{WINDOW[0]}/{WINDOW[1]}", "application/xml")

    assert parse_xml(response).findtext("calls/item/src") == "Outbound"


# log, private, retention


def test_log_is_true_only_when_the_detail_is_readable(
    client: TestClient, account: Credentials
) -> None:
    stored(
        client,
        account,
        [
            call("readable", start=NOW - 3600),
            call("private", start=NOW - 3500, private=True),
            call("no-entries", start=NOW - 3400, detail=[]),
            call("expired", start=CUTOFF - 1),
            call("at-cutoff", start=CUTOFF),
        ],
    )

    logs = {c["session_id"]: c["log"] for c in page(client, account)["calls"]}

    assert logs == {
        "readable": True,
        "private": False,
        "no-entries": False,
        "expired": False,
        "at-cutoff": True,
    }


def test_all_logs_lists_calls_without_readable_detail_with_an_empty_detail(
    client: TestClient, account: Credentials
) -> None:
    stored(
        client,
        account,
        [
            call("private", start=NOW - 3500, private=True),
            call("no-entries", start=NOW - 3400, detail=[]),
            call("expired", start=CUTOFF - 1),
            call("at-cutoff", start=CUTOFF, detail=[entry("kept", timestamp=CUTOFF)]),
        ],
    )

    calls = {c["session_id"]: c for c in page(client, account, "/api/all_logs")["calls"]}

    assert set(calls) == {"private", "no-entries", "expired", "at-cutoff"}
    for session_id in ("private", "no-entries", "expired"):
        assert calls[session_id]["detail"] == []
        assert calls[session_id]["log"] is False
        assert list(calls[session_id]) == DETAIL_KEYS
    assert calls["at-cutoff"]["detail"] == [entry("kept", timestamp=CUTOFF)]
    assert calls["at-cutoff"]["log"] is True


def test_detail_expires_as_the_clock_moves(
    client_at: ClientAt, account: Credentials, client: TestClient
) -> None:
    start = NOW - DAY
    stored(client, account, [call("s1", start=start)])
    window = (start, start + 1)

    fresh = client_at(start + 5 * DAY)
    stale = client_at(start + 5 * DAY + 1)

    (readable,) = page(fresh, account, "/api/all_logs", window)["calls"]
    (expired,) = page(stale, account, "/api/all_logs", window)["calls"]
    assert (readable["log"], readable["detail"]) == (True, [entry(timestamp=start)])
    assert (expired["log"], expired["detail"]) == (False, [])
    assert get(fresh, account, "/api/call/s1").status_code == 200
    assert get(stale, account, "/api/call/s1").status_code == 404


def test_detail_retention_days_setting_moves_the_cutoff(
    client_at: ClientAt, account: Credentials, client: TestClient
) -> None:
    stored(client, account, [call("two-days", start=NOW - 2 * DAY)])

    short = client_at(NOW, detail_retention_days=1)

    assert page(client, account)["calls"][0]["log"] is True
    assert page(short, account)["calls"][0]["log"] is False


def test_private_call_keeps_its_summary_but_no_detail(
    client: TestClient, account: Credentials
) -> None:
    stored(
        client,
        account,
        [call("p1", start=NOW - 3600, end=NOW - 3500, src="1", dest="2", private=True)],
    )

    summary = page(client, account)["calls"][0]
    full = page(client, account, "/api/all_logs")["calls"][0]

    assert summary == {
        "dest": "2",
        "src": "1",
        "start": NOW - 3600,
        "end": NOW - 3500,
        "session_id": "p1",
        "type": "inbound",
        "log": False,
    }
    assert full["detail"] == []
    assert (full["start"], full["end"]) == (str(NOW - 3600), str(NOW - 3500))
    assert get(client, account, "/api/call/p1").json() == {
        "error": "There are no call log details available for this call."
    }


def test_reingesting_a_call_as_private_drops_its_detail(
    client: TestClient, account: Credentials
) -> None:
    stored(client, account, [call("p1")])
    assert get(client, account, "/api/call/p1").status_code == 200

    stored(client, account, [call("p1", private=True)])

    assert page(client, account)["calls"][0]["log"] is False
    assert get(client, account, "/api/call/p1").status_code == 404
