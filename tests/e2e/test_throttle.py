"""Throttling of failed authentication over HTTP: per client address, per account, 429
with Retry-After in the one error envelope, and an account's right credentials never
slowed from an address that is not itself throttled."""

from __future__ import annotations

import dataclasses
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.factories import NOW, call, ingest

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
# budgets per day: `limits`' sliding window counter may let one more failure through when
# a test straddles the edge of a window, and a day's edge is far less likely than a minute's

CALL_PATH = "/api/call/100035;000;1575898377"
UNAUTHORIZED = "Authentication headers invalid or the account is inactive."


class Server:
    """One app; `at(address)` is a client whose requests come from that address."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.app = create_app(settings, store=store, clock=lambda: NOW)
        self._clients: list[TestClient] = []

    def at(self, address: str) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False, client=(address, 50000))
        client.__enter__()
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.__exit__(None, None, None)


@contextmanager
def server(settings: Settings, store: Store, address: str, account: str) -> Iterator[Server]:
    changed = dataclasses.replace(
        settings, auth_failures_per_address=address, auth_failures_per_account=account
    )
    running = Server(changed, store)
    try:
        yield running
    finally:
        running.close()


def assert_throttled(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 86_400
    message = response.json()["error"]
    assert message == (f"Too many failed authentication attempts; retry after {seconds} seconds.")
    assert "www-authenticate" not in response.headers
    return seconds


def wrong(creds: Credentials) -> tuple[str, str]:
    return (creds.email, "ivk_wrong")


def test_an_address_past_its_budget_gets_429_even_with_right_credentials(
    settings: Settings, store: Store, account: Credentials
) -> None:
    with server(settings, store, "5/day", "off") as running:
        attacker, neighbour = running.at("203.0.113.7"), running.at("198.51.100.9")
        for _ in range(5):
            assert attacker.get(CALL_PATH, auth=wrong(account)).status_code == 401
        assert_throttled(attacker.get(CALL_PATH, auth=wrong(account)))
        # refused before credentials are checked: a 429 tells nothing of a guess
        assert_throttled(attacker.get(CALL_PATH, auth=(account.email, account.developer_key)))
        assert_throttled(attacker.get(CALL_PATH))
        bearer = {"Authorization": f"Bearer {account.ingest_token}"}
        assert_throttled(attacker.post("/ingest/v1/calls", json=[], headers=bearer))
        # another address is untouched
        ok = neighbour.get(CALL_PATH, auth=(account.email, account.developer_key))
        assert ok.status_code == 404  # authenticated: the call does not exist
        assert neighbour.get(CALL_PATH, auth=wrong(account)).status_code == 401
        # system endpoints need no credentials and are never throttled
        assert attacker.get("/-/health").status_code == 200


def test_429_in_xml(settings: Settings, store: Store, account: Credentials) -> None:
    with server(settings, store, "1/day", "off") as running:
        client = running.at("203.0.113.7")
        assert client.get(CALL_PATH, auth=wrong(account)).status_code == 401
        response = client.get(CALL_PATH, auth=wrong(account), headers={"Accept": "text/xml"})
        assert response.status_code == 429
        assert response.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(response.content)
        assert root.tag == "result"
        error = root.findtext("error")
        assert error is not None
        assert error.startswith("Too many failed authentication attempts; retry after ")


def test_an_account_under_attack_keeps_working_for_its_real_clients(
    settings: Settings, store: Store, account: Credentials
) -> None:
    ingest(TestClient(create_app(settings, store=store, clock=lambda: NOW)), account, [call()])
    with server(settings, store, "off", "3/day") as running:
        attackers = [running.at(f"203.0.113.{n}") for n in range(1, 6)]
        for attacker in attackers[:3]:
            assert attacker.get(CALL_PATH, auth=wrong(account)).status_code == 401
        # spread over addresses, the account's budget is spent: failures are 429 now
        assert_throttled(attackers[3].get(CALL_PATH, auth=wrong(account)))
        # the email is compared as accounts compare it
        shouted = (account.email.upper(), "ivk_wrong")
        assert_throttled(attackers[4].get(CALL_PATH, auth=shouted))
        # the account's real key works, from a fresh address and from an attacker's
        for client in (running.at("198.51.100.9"), attackers[0]):
            response = client.get(CALL_PATH, auth=(account.email, account.developer_key))
            assert response.status_code == 200, response.text


def test_an_unknown_email_is_throttled_like_a_real_one(
    settings: Settings, store: Store, account: Credentials
) -> None:
    with server(settings, store, "off", "2/day") as running:
        client = running.at("203.0.113.7")
        nobody = ("nobody@example.com", "ivk_wrong")
        assert client.get(CALL_PATH, auth=nobody).status_code == 401
        assert client.get(CALL_PATH, auth=nobody).status_code == 401
        assert_throttled(client.get(CALL_PATH, auth=nobody))
        # a different email has a budget of its own
        assert client.get(CALL_PATH, auth=wrong(account)).status_code == 401


def test_ingest_tokens_are_throttled_by_address_only(
    settings: Settings, store: Store, account: Credentials
) -> None:
    with server(settings, store, "3/day", "1/day") as running:
        attacker, platform = running.at("203.0.113.7"), running.at("198.51.100.9")
        bad = {"Authorization": "Bearer ivt_wrong"}
        for _ in range(3):
            assert attacker.post("/ingest/v1/calls", json=[], headers=bad).status_code == 401
        assert_throttled(attacker.post("/ingest/v1/calls", json=[], headers=bad))
        live = attacker.post("/ingest/v1/calls/x/entries", json={"entries": []}, headers=bad)
        assert_throttled(live)
        good = {"Authorization": f"Bearer {account.ingest_token}"}
        assert ingest(platform, account, [call()]).status_code == 200
        assert platform.post("/ingest/v1/calls", json=[], headers=good).status_code == 200


def test_off_never_throttles(settings: Settings, store: Store, account: Credentials) -> None:
    with server(settings, store, "off", "0") as running:
        client = running.at("203.0.113.7")
        statuses = {client.get(CALL_PATH, auth=wrong(account)).status_code for _ in range(60)}
        assert statuses == {401}


def test_requests_without_credentials_spend_no_budget(
    settings: Settings, store: Store, account: Credentials
) -> None:
    """Many clients send a first request without credentials and only answer the 401's
    challenge: that guesses nothing, and must not lock their address out."""
    with server(settings, store, "3/day", "3/day") as running:
        client = running.at("203.0.113.7")
        assert {client.get(CALL_PATH).status_code for _ in range(10)} == {401}
        no_token = client.post("/ingest/v1/calls", json=[])
        assert no_token.status_code == 401
        right = (account.email, account.developer_key)
        assert client.get(CALL_PATH, auth=right).status_code == 404  # authenticated
        # while a wrong password is a guess, and counted
        for _ in range(3):
            assert client.get(CALL_PATH, auth=wrong(account)).status_code == 401
        assert_throttled(client.get(CALL_PATH, auth=right))


def test_the_budget_comes_back_when_the_window_passes(
    settings: Settings, store: Store, account: Credentials
) -> None:
    # `limits` reads the system clock: a two-second window, polled, no time asserted. Its
    # sliding counter weighs the previous window's failures down as the next one goes on,
    # so failures that straddle a window's edge may need one more to spend the budget:
    # fail until throttled (the exact count is pinned by the /day tests above)
    with server(settings, store, "2/2seconds", "off") as running:
        client = running.at("203.0.113.7")
        right = (account.email, account.developer_key)
        statuses: list[int] = []
        while 429 not in statuses and len(statuses) < 10:
            statuses.append(client.get(CALL_PATH, auth=wrong(account)).status_code)
        assert statuses[:2] == [401, 401]
        assert_throttled(client.get(CALL_PATH, auth=right))
        deadline = time.monotonic() + 30
        status = 429
        while status == 429 and time.monotonic() < deadline:
            time.sleep(0.1)
            status = client.get(CALL_PATH, auth=right).status_code
        assert status == 404  # authenticated again (no such call)


def test_failures_and_throttles_are_counted_in_the_metrics(
    settings: Settings, store: Store, account: Credentials
) -> None:
    with server(settings, store, "2/day", "off") as running:
        client = running.at("203.0.113.7")
        client.get(CALL_PATH, auth=wrong(account))
        client.post("/ingest/v1/calls", json=[], headers={"Authorization": "Bearer nope"})
        client.get(CALL_PATH, auth=wrong(account))
        value = running.app.state.ctx.metrics.registry.get_sample_value
        assert value("ivrlog_auth_failures_total", {"scheme": "basic"}) == 1
        assert value("ivrlog_auth_failures_total", {"scheme": "bearer"}) == 1
        assert value("ivrlog_auth_throttled_total", {"limit": "address"}) == 1
