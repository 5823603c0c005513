"""The call page through the app's HTTP stack: a call whose detail expired says so and
when, a call kept without entries says why, another account's call is not found, and
the page's curl line names the call percent-encoded (the browser tests drive the rest)."""

from __future__ import annotations

import html

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.when import iso_utc
from tests.e2e.web_pages.html import Parsed
from tests.e2e.web_pages.test_sessions import sign_in
from tests.factories import DAY, NOW, call, entry, ingest


@pytest.fixture
def signed(client: TestClient, account: Credentials) -> TestClient:
    old, private = NOW - 6 * DAY, NOW - 3600
    calls = [
        call("old;1", old, detail=[entry("hello", timestamp=old)]),
        call("private;1", private, private=True, detail=[entry("x", timestamp=private)]),
        call("fresh;1", NOW - 60, detail=[entry("Please enter", "prompt", NOW - 60)]),
    ]
    assert ingest(client, account, calls).status_code == 200
    sign_in(client, account.email, account.developer_key)
    return client


def test_a_call_whose_detail_expired_says_when(signed: TestClient) -> None:
    page = signed.get("/calls/old%3B1")
    assert page.status_code == 200
    parsed = Parsed(page.text)
    assert "detail-note" in parsed.ids
    # kept 5 days (detail_retention_days) from its start, 6 days ago: a day ago
    assert "The detail of this call expired on 2026-11-17 11:06:40 UTC" in page.text
    assert iso_utc(NOW - DAY) == "2026-11-17T11:06:40Z"


def test_a_private_call_says_no_entry_is_kept(signed: TestClient) -> None:
    page = signed.get("/calls/private;1")
    assert page.status_code == 200
    assert "No entry of this call is kept" in page.text


def test_a_call_shows_its_entries_and_its_curl_line(
    signed: TestClient, account: Credentials
) -> None:
    page = signed.get("/calls/fresh%3B1")
    assert "Please enter" in page.text
    assert "detail-note" not in Parsed(page.text).ids
    assert f'curl -u "{account.email}:$IVRLOG_KEY"' in html.unescape(page.text)
    assert "/api/call/fresh%3B1" in page.text


def test_another_account_s_call_is_not_found(
    signed: TestClient, other_account: Credentials
) -> None:
    with TestClient(signed.app) as other:
        sign_in(other, other_account.email, other_account.developer_key)
        assert other.get("/calls/fresh%3B1").status_code == 404
        assert other.get("/calls.count?from=-1d").text == "0 calls match."
