"""Accounts and their credentials.

Developer keys (read, HTTP Basic) and ingest tokens (write, Bearer) are 192 random bits,
shown once and stored only as SHA-256 hashes; a presented secret is hashed and compared
with `hmac.compare_digest`. A slow password hash buys nothing for secrets this long.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ivrlog.core.errors import AccountError, IngestUnauthorized, Unauthorized
from ivrlog.core.model import Account
from ivrlog.core.ports import Store
from ivrlog.core.ttlcache import Stamped, TtlCache

DEVELOPER_KEY_PREFIX = "ivk_"
INGEST_TOKEN_PREFIX = "ivt_"  # noqa: S105 - a prefix, not a secret
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What `accounts add` and `accounts rotate` show, once."""

    email: str
    developer_key: str
    ingest_token: str

    def as_dict(self) -> dict[str, str]:
        return {
            "email": self.email,
            "developer_key": self.developer_key,
            "ingest_token": self.ingest_token,
        }


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(email as accounts compare it, key) of an `Authorization: Basic` header, or None
    when it is not one or does not decode to `email:key`."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):  # ValueError: non-ASCII text
        return None
    email, colon, key = decoded.partition(":")
    return (email.strip().lower(), key) if colon else None


def _header_digest(authorization: str) -> str:
    return hashlib.blake2b(authorization.encode(), digest_size=16).hexdigest()


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email) or not email.isprintable():
        raise AccountError(f"{email!r} is not an email address.")
    return email


class AccountLookup(Protocol):
    """What finding an account by its email needs of a store."""

    def account_by_email(self, email: str) -> Account | None: ...


def account_named(store: AccountLookup, email: str) -> Account:
    """The account of `email` (normalised), or AccountError naming it."""
    email = normalize_email(email)
    account = store.account_by_email(email)
    if account is None:
        raise AccountError(f"No account for {email}.")
    return account


def _new_credentials(email: str) -> tuple[Credentials, str, str]:
    key = DEVELOPER_KEY_PREFIX + secrets.token_urlsafe(24)
    token = INGEST_TOKEN_PREFIX + secrets.token_urlsafe(24)
    return Credentials(email, key, token), hash_secret(key), hash_secret(token)


def add_account(store: Store, email: str, now: int | None = None) -> Credentials:
    email = normalize_email(email)
    credentials, key_hash, token_hash = _new_credentials(email)
    store.create_account(email, key_hash, token_hash, int(time.time()) if now is None else now)
    return credentials


def rotate_account(store: Store, email: str) -> Credentials:
    email = normalize_email(email)
    credentials, key_hash, token_hash = _new_credentials(email)
    if store.set_account_credentials(email, key_hash, token_hash) is None:
        raise AccountError(f"No account for {email}.")
    return credentials


def set_active(store: Store, email: str, active: bool) -> Account:
    email = normalize_email(email)
    account = store.set_account_active(email, active)
    if account is None:
        raise AccountError(f"No account for {email}.")
    return account


class Authenticator:
    """Checks credentials against the store, caching lookups for at most `ttl` seconds,
    so that a change to an account reaches a running server within that time."""

    def __init__(
        self, store: Store, ttl: float = 0.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._clock = clock
        self._by_email: TtlCache[str, Account | None] = TtlCache(ttl, clock)
        self._by_token: TtlCache[str, Account | None] = TtlCache(ttl, clock)
        # an entry here is stamped with the time its account was read (from _by_email), so
        # that it ages with that account's data
        self._by_header: TtlCache[str, Account | None] = TtlCache(ttl, clock)

    def account(self, email: str) -> Account | None:
        """The account of an email (any case), as cached: the pages' session lookup."""
        return self._by_email.entry(email, lambda: self._store.account_by_email(email)).value

    def signed_in(self, email: str, key: str) -> Account:
        """The active account of an email and one of its developer keys (the pages'
        sign-in form), or Unauthorized; compared in constant time, as `reader` does."""
        account = self.account(email) if email and key else None
        if account is None or not account.active:
            raise Unauthorized
        if not hmac.compare_digest(hash_secret(key), account.developer_key_hash):
            raise Unauthorized
        return account

    def reader(self, authorization: str | None) -> Account:
        """The account of an `Authorization: Basic` header, or Unauthorized."""
        if not authorization:
            raise Unauthorized
        # a header checked within the ttl is not decoded and checked again (B1's hot
        # path); the cache keeps a digest of it, not the key it holds
        digest = _header_digest(authorization)
        account = self._by_header.derive(digest, lambda: self._basic_account(authorization))
        if account.value is None:
            raise Unauthorized
        return account.value

    def cached_reader(self, authorization: str | None) -> Account | None:
        """The account of an `Authorization: Basic` header accepted within the cache's
        ttl, without reading the store; None otherwise (then `reader` decides, in a
        worker thread where the store waits on a network)."""
        if not authorization:
            return None
        hit = self._by_header.peek(_header_digest(authorization))
        return None if hit is None else hit.value

    def _basic_account(self, authorization: str) -> Stamped[Account | None]:
        refused: Stamped[Account | None] = Stamped(self._clock(), None)
        credentials = basic_credentials(authorization)
        if credentials is None or not credentials[1]:
            return refused
        email, key = credentials
        found = self._by_email.entry(email, lambda: self._store.account_by_email(email))
        account = found.value
        if account is None or not account.active:
            return Stamped(found.at, None)
        if not hmac.compare_digest(hash_secret(key), account.developer_key_hash):
            return Stamped(found.at, None)
        return found

    def writer(self, authorization: str | None) -> Account:
        """The account of an `Authorization: Bearer` ingest token, or IngestUnauthorized."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise IngestUnauthorized
        token_hash = hash_secret(token)
        account = self._by_token.get(
            token_hash, lambda: self._store.account_by_ingest_hash(token_hash)
        )
        if account is None or not account.active:
            raise IngestUnauthorized
        if not hmac.compare_digest(token_hash, account.ingest_token_hash):
            raise IngestUnauthorized
        return account
