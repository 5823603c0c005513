from __future__ import annotations

import base64

import pytest

from ivrlog.core.accounts import (
    Authenticator,
    add_account,
    hash_secret,
    normalize_email,
    rotate_account,
    set_active,
)
from ivrlog.core.errors import AccountError, IngestUnauthorized, Unauthorized
from ivrlog.core.ports import Store
from tests.factories import NOW


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_credentials_are_random_long_and_stored_hashed(store: Store) -> None:
    first = add_account(store, "A@Example.com", now=NOW)
    second = add_account(store, "b@example.com", now=NOW)
    assert first.email == "a@example.com"
    assert first.developer_key.startswith("ivk_")
    assert first.ingest_token.startswith("ivt_")
    assert len(first.developer_key) >= 4 + 22  # at least 128 bits of base64
    assert first.developer_key != second.developer_key
    stored = store.account_by_email("a@example.com")
    assert stored is not None
    assert stored.developer_key_hash == hash_secret(first.developer_key)
    assert first.developer_key not in repr(stored)


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@b", "a b@c.d", ""])
def test_bad_email_is_refused(email: str) -> None:
    with pytest.raises(AccountError, match="is not an email address"):
        normalize_email(email)


def test_rotate_and_set_active_need_an_account(store: Store) -> None:
    with pytest.raises(AccountError, match="No account"):
        rotate_account(store, "ghost@example.com")
    with pytest.raises(AccountError, match="No account"):
        set_active(store, "ghost@example.com", False)


def test_reader_accepts_the_key_and_any_case_email(store: Store) -> None:
    creds = add_account(store, "dev@example.com", now=NOW)
    auth = Authenticator(store)
    assert auth.reader(basic_header("DEV@example.COM", creds.developer_key)).email == creds.email


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"dev@example.com:").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic \u00e9",  # latin-1 text, not base64 (was a ValueError: a 500)
    ],
)
def test_reader_refuses_malformed_headers(store: Store, header: str | None) -> None:
    add_account(store, "dev@example.com", now=NOW)
    with pytest.raises(Unauthorized):
        Authenticator(store).reader(header)


def test_reader_refuses_ingest_token_and_writer_refuses_key(store: Store) -> None:
    creds = add_account(store, "dev@example.com", now=NOW)
    auth = Authenticator(store)
    with pytest.raises(Unauthorized):
        auth.reader(basic_header(creds.email, creds.ingest_token))
    with pytest.raises(IngestUnauthorized):
        auth.writer(f"Bearer {creds.developer_key}")
    assert auth.writer(f"Bearer {creds.ingest_token}").email == creds.email
    with pytest.raises(IngestUnauthorized):
        auth.writer(basic_header(creds.email, creds.ingest_token))


def test_changes_reach_the_authenticator_after_the_cache_ttl(store: Store) -> None:
    creds = add_account(store, "dev@example.com", now=NOW)
    clock = Clock()
    auth = Authenticator(store, ttl=0.5, clock=clock)
    header = basic_header(creds.email, creds.developer_key)
    auth.reader(header)
    auth.writer(f"Bearer {creds.ingest_token}")
    set_active(store, creds.email, False)
    clock.now = 0.4
    assert auth.reader(header).email == creds.email  # still cached
    clock.now = 0.6
    with pytest.raises(Unauthorized):
        auth.reader(header)
    with pytest.raises(IngestUnauthorized):
        auth.writer(f"Bearer {creds.ingest_token}")
    set_active(store, creds.email, True)
    new = rotate_account(store, creds.email)
    clock.now = 1.2
    with pytest.raises(Unauthorized):
        auth.reader(header)
    assert auth.reader(basic_header(creds.email, new.developer_key)).email == creds.email
    with pytest.raises(IngestUnauthorized):
        auth.writer(f"Bearer {creds.ingest_token}")


def test_a_cached_header_ages_with_the_account_data_it_was_checked_against(store: Store) -> None:
    creds = add_account(store, "dev@example.com", now=NOW)
    clock = Clock()
    auth = Authenticator(store, ttl=0.5, clock=clock)
    with pytest.raises(Unauthorized):  # reads the account at 0
        auth.reader(basic_header(creds.email, "not-the-key"))
    clock.now = 0.4
    header = basic_header(creds.email, creds.developer_key)
    assert auth.reader(header).email == creds.email  # checked against the data read at 0
    set_active(store, creds.email, False)
    clock.now = 0.6  # 0.6 s after the account was read, though 0.2 s after the check
    with pytest.raises(Unauthorized):
        auth.reader(header)


def test_the_cached_reader_answers_only_from_accepted_fresh_entries(store: Store) -> None:
    creds = add_account(store, "dev@example.com", now=NOW)
    clock = Clock()
    auth = Authenticator(store, ttl=0.5, clock=clock)
    header = basic_header(creds.email, creds.developer_key)
    wrong = basic_header(creds.email, "not-the-key")
    assert auth.cached_reader(header) is None  # never checked: a miss, no store read
    assert auth.cached_reader(None) is None
    assert auth.reader(header).email == creds.email
    with pytest.raises(Unauthorized):
        auth.reader(wrong)
    clock.now = 0.4
    cached = auth.cached_reader(header)
    assert cached is not None
    assert cached.email == creds.email
    assert auth.cached_reader(wrong) is None  # a cached refusal is left to `reader`
    clock.now = 0.5  # the entry's data is ttl old: stale
    assert auth.cached_reader(header) is None
