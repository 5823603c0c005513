"""SPEC section 2's error table for credentials: 401 with WWW-Authenticate, in JSON and XML,
and account changes reaching a running app within a second."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, rotate_account
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.e2e.api_errors.helpers import (
    ALL_PATHS,
    CALL_PATH,
    NO_CALL,
    PAGE_PATHS,
    UNAUTHORIZED,
    XML,
    assert_json_error,
    assert_xml_error,
    header,
    stored,
)
from tests.factories import NOW, basic, call

# 401: credentials

BAD_CREDENTIALS: dict[str, Callable[[Credentials, Credentials], str]] = {
    "empty header": lambda me, other: "",
    "scheme only": lambda me, other: "Basic",
    "not base64": lambda me, other: "Basic !!!not-base64!!!",
    "not utf-8": lambda me, other: "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "no colon": lambda me, other: (
        "Basic " + base64.b64encode((me.email + me.developer_key).encode()).decode()
    ),
    "empty key": lambda me, other: header(me.email, ""),
    "bearer scheme": lambda me, other: f"Bearer {me.developer_key}",
    "digest scheme": lambda me, other: "Digest " + header(*basic(me)).removeprefix("Basic "),
    "wrong key": lambda me, other: header(me.email, "ivk_" + "x" * 32),
    "key of another account": lambda me, other: header(me.email, other.developer_key),
    "unknown email": lambda me, other: header("nobody@example.com", me.developer_key),
    "ingest token as password": lambda me, other: header(me.email, me.ingest_token),
    "key as user": lambda me, other: header(me.developer_key, me.email),
}


@pytest.mark.parametrize("path", ALL_PATHS)
def test_no_authorization_header_is_401(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert_json_error(response, 401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("path", ALL_PATHS)
@pytest.mark.parametrize("case", list(BAD_CREDENTIALS))
def test_bad_credentials_are_401_with_www_authenticate(
    client: TestClient,
    account: Credentials,
    other_account: Credentials,
    path: str,
    case: str,
) -> None:
    stored(client, account, [call()])
    authorization = BAD_CREDENTIALS[case](account, other_account)

    response = client.get(path, headers={"Authorization": authorization})

    assert_json_error(response, 401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("path", ALL_PATHS)
def test_401_in_xml(client: TestClient, account: Credentials, path: str) -> None:
    response = client.get(path, headers={**XML, "Authorization": header(account.email, "nope")})

    assert_xml_error(response, 401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("path", ALL_PATHS)
def test_disabled_account_is_401(
    client: TestClient, store: Store, account: Credentials, path: str
) -> None:
    stored(client, account, [call()])
    store.set_account_active(account.email, False)

    response = client.get(path, auth=basic(account))

    assert_json_error(response, 401, UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("email", ["DEV@EXAMPLE.COM", "Dev@Example.com", "dev@example.com"])
@pytest.mark.parametrize("path", ALL_PATHS)
def test_email_is_matched_case_insensitively(
    client: TestClient, account: Credentials, email: str, path: str
) -> None:
    stored(client, account, [call()])

    response = client.get(path, headers={"Authorization": header(email, account.developer_key)})

    assert response.status_code == 200, response.text


def test_basic_scheme_name_is_case_insensitive(client: TestClient, account: Credentials) -> None:
    scheme_lower = "basic " + header(*basic(account)).removeprefix("Basic ")

    response = client.get(PAGE_PATHS[0], headers={"Authorization": scheme_lower})

    assert response.status_code == 200, response.text


# account changes reach a running app within a second


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked_client(settings: Settings, store: Store, clock: Clock) -> Iterator[TestClient]:
    """The app as create_app builds it (its own cache ttls), its caches aging by `clock`
    instead of the real monotonic clock."""
    app = create_app(settings, store=store, clock=lambda: NOW, cache_clock=clock)
    with TestClient(app, raise_server_exceptions=False) as the_client:
        yield the_client


def test_disable_and_enable_take_effect_within_a_second(
    clocked_client: TestClient, store: Store, account: Credentials, clock: Clock
) -> None:
    assert clocked_client.get(PAGE_PATHS[0], auth=basic(account)).status_code == 200

    store.set_account_active(account.email, False)
    clock.advance(1.0)
    disabled = clocked_client.get(PAGE_PATHS[0], auth=basic(account))
    store.set_account_active(account.email, True)
    clock.advance(1.0)
    enabled = clocked_client.get(PAGE_PATHS[0], auth=basic(account))

    assert_json_error(disabled, 401, UNAUTHORIZED)
    assert enabled.status_code == 200


def test_rotation_takes_effect_within_a_second(
    clocked_client: TestClient, store: Store, account: Credentials, clock: Clock
) -> None:
    assert clocked_client.get(CALL_PATH, auth=basic(account)).status_code == 404

    rotated = rotate_account(store, account.email)
    clock.advance(1.0)

    assert_json_error(clocked_client.get(CALL_PATH, auth=basic(account)), 401, UNAUTHORIZED)
    assert_json_error(clocked_client.get(CALL_PATH, auth=basic(rotated)), 404, NO_CALL)


def test_account_changes_reach_the_default_app_within_a_second(
    clocked_client: TestClient, store: Store, account: Credentials, clock: Clock
) -> None:
    assert clocked_client.get(PAGE_PATHS[0], auth=basic(account)).status_code == 200

    rotated = rotate_account(store, account.email)
    cached = clocked_client.get(PAGE_PATHS[0], auth=basic(account))
    clock.advance(1.0)
    old_key = clocked_client.get(PAGE_PATHS[0], auth=basic(account))
    new_key = clocked_client.get(PAGE_PATHS[0], auth=basic(rotated))
    store.set_account_active(account.email, False)
    clock.advance(1.0)
    disabled = clocked_client.get(PAGE_PATHS[0], auth=basic(rotated))

    assert cached.status_code == 200  # the app does cache: the change waits for the clock
    assert_json_error(old_key, 401, UNAUTHORIZED)
    assert new_key.status_code == 200
    assert_json_error(disabled, 401, UNAUTHORIZED)
