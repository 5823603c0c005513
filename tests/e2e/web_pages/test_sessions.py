"""Sign-in, the session cookie, CSRF and the throttling of failed sign-ins, through the
app's HTTP stack (the browser tests drive the same in Chromium: tests/e2e/browser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, rotate_account, set_active
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.e2e.web_pages.html import Parsed
from tests.factories import NOW


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings: Settings, store: Store, clock: Clock) -> FastAPI:
    # one failure budget small enough to spend (per address 6, per email 3, a minute)
    limited = Settings(
        database=settings.database,
        purge_interval=0,
        auth_failures_per_address="6/minute",
        auth_failures_per_account="3/minute",
    )
    return create_app(limited, store=store, clock=clock, cache_clock=clock)


def token(client: TestClient, path: str = "/sign-in") -> str:
    page = Parsed(client.get(path).text)
    posted = [f for f in page.forms if f.method == "post"]
    assert posted
    return posted[0].fields["csrf_token"]


def sign_in(client: TestClient, email: str, key: str) -> object:
    return client.post(
        "/sign-in",
        data={"email": email, "key": key, "csrf_token": token(client), "next": "/calls"},
        follow_redirects=False,
    )


def test_sign_in_gives_a_signed_http_only_lax_cookie(
    client: TestClient, account: Credentials
) -> None:
    response = sign_in(client, account.email, account.developer_key)
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/calls"  # type: ignore[attr-defined]
    cookie = next(
        c
        for c in response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
        if c.startswith("ivrlog_session=")
    )
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "max-age=43200" in cookie.lower()  # session_hours, 12 by default
    assert "secure" not in attributes
    assert client.get("/calls").status_code == 200


def test_the_cookie_is_secure_behind_https_by_a_setting(
    settings: Settings, store: Store, account: Credentials
) -> None:
    app = create_app(
        Settings(database=settings.database, purge_interval=0, secure_cookies=True),
        store=store,
        clock=lambda: NOW,
    )
    with TestClient(app, base_url="https://testserver") as client:
        response = sign_in(client, account.email, account.developer_key)
        cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
        assert "; secure" in cookie.lower()


def test_a_session_ends_when_it_expires(
    client: TestClient, account: Credentials, clock: Clock
) -> None:
    sign_in(client, account.email, account.developer_key)
    clock.now += 12 * 3600 - 5
    assert client.get("/calls", follow_redirects=False).status_code == 200
    clock.now += 10
    gone = client.get("/calls?from=-1h", follow_redirects=False)
    assert gone.status_code == 303
    assert gone.headers["location"] == "/sign-in?next=%2Fcalls%3Ffrom%3D-1h"


@pytest.mark.parametrize("change", ["rotate", "disable"])
def test_a_key_rotation_or_a_disabled_account_ends_its_sessions(
    client: TestClient, account: Credentials, store: Store, clock: Clock, change: str
) -> None:
    sign_in(client, account.email, account.developer_key)
    assert client.get("/calls", follow_redirects=False).status_code == 200
    if change == "rotate":
        rotate_account(store, account.email)
    else:
        set_active(store, account.email, False)
    clock.now += 1  # the account cache's time to live
    assert client.get("/calls", follow_redirects=False).status_code == 303


def test_every_form_that_changes_something_carries_a_csrf_token(
    client: TestClient, account: Credentials
) -> None:
    sign_in(client, account.email, account.developer_key)
    for path in ("/calls", "/reports"):
        for form in Parsed(client.get(path).text).forms:
            if form.method == "post":
                assert form.fields.get("csrf_token"), (path, form.action)


@pytest.mark.parametrize("forged", [None, "", "not-a-token"])
def test_a_form_without_its_csrf_token_is_refused(
    client: TestClient, account: Credentials, forged: str | None
) -> None:
    sign_in(client, account.email, account.developer_key)
    data = {} if forged is None else {"csrf_token": forged}
    refused = client.post("/sign-out", data=data, follow_redirects=False)
    assert refused.status_code == 403
    assert "csrf_token" in refused.text
    assert client.get("/calls", follow_redirects=False).status_code == 200  # still signed in
    # a token made for another browser (its own nonce cookie) is refused too
    with TestClient(client.app) as other:
        theirs = token(other)
    assert client.post("/sign-out", data={"csrf_token": theirs}).status_code == 403
    signed_out = client.post(
        "/sign-out", data={"csrf_token": token(client, "/calls")}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    assert client.get("/calls", follow_redirects=False).status_code == 303


def test_a_wrong_key_is_401_and_says_nothing_of_which_part_was_wrong(
    client: TestClient, account: Credentials
) -> None:
    for email, key in ((account.email, "wrong"), ("nobody@example.com", "x"), ("", "")):
        response = sign_in(client, email, key)
        assert response.status_code == 401  # type: ignore[attr-defined]
        assert "The email or the key is wrong" in response.text  # type: ignore[attr-defined]


@pytest.fixture
def elsewhere(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=("203.0.113.9", 50000)) as the_client:
        yield the_client


def test_failed_sign_ins_are_throttled_per_email_and_per_address(
    client: TestClient,
    elsewhere: TestClient,
    account: Credentials,
    other_account: Credentials,
) -> None:
    for _ in range(3):
        assert sign_in(client, account.email, "wrong").status_code == 401  # type: ignore[attr-defined]
    throttled = sign_in(client, account.email, "wrong")
    assert throttled.status_code == 429  # type: ignore[attr-defined]
    assert int(throttled.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    # that email from another address is throttled too; another email there is not
    assert sign_in(elsewhere, account.email, "wrong").status_code == 429  # type: ignore[attr-defined]
    good = sign_in(elsewhere, other_account.email, other_account.developer_key)
    assert good.status_code == 303  # type: ignore[attr-defined]
    # the first address has failed 4 times: 2 more failures, of any email, spend its budget
    for guess in range(2):
        sign_in(client, f"guess{guess}@example.com", "x")
    spent = sign_in(client, other_account.email, other_account.developer_key)
    assert spent.status_code == 429  # type: ignore[attr-defined]
