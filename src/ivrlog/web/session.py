"""The pages' sign-in session and CSRF protection, on itsdangerous (the signing library
of Flask's and Starlette's session cookies) rather than hand-written crypto.

- The session cookie holds the account's email and a fingerprint of its developer key
  hash, signed and timestamped: it expires `session_hours` after sign-in, and a key
  rotation or a disabled account ends every session at once (each request looks the
  account up again). HttpOnly, SameSite=Lax, Secure when `secure_cookies` is set.
- CSRF, by signed double submit: a random nonce in its own signed cookie, and every
  form that changes something carries `csrf_token`, the nonce signed again for forms;
  a POST is accepted only when the two agree. A forged form from another site cannot
  read the cookie, so cannot make the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, Final

from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from starlette.requests import Request
from starlette.responses import Response

from ivrlog.core.model import Account

SESSION_COOKIE: Final = "ivrlog_session"
CSRF_COOKIE: Final = "ivrlog_csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_SECONDS: Final = 24 * 3600  # a form's token is good this long
TOKEN_REUSE: Final = 3600  # a token made less than this ago is given again
CACHED: Final = 4096  # claims and tokens remembered at most
SECRET_CONTEXT: Final = b"ivrlog session cookies v1"


def derived_secret(key: bytes) -> bytes:
    """The session key derived from a key kept in the database (Store.audit_key), so
    that every server process on one database signs alike; never the key itself."""
    return hmac.new(key, SECRET_CONTEXT, hashlib.sha256).digest()


def fingerprint(account: Account) -> str:
    """What a session knows of the account's developer key: a digest of its hash."""
    return hashlib.blake2b(account.developer_key_hash.encode(), digest_size=8).hexdigest()


class Sessions:
    """Signs and reads the pages' cookies with one secret, at the app's clock."""

    def __init__(self, secret: bytes, hours: int, secure: bool, clock: Callable[[], float]) -> None:
        class Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        self._session = URLSafeTimedSerializer(secret, salt="ivrlog-session", signer=Signer)
        self._nonce = URLSafeTimedSerializer(secret, salt="ivrlog-csrf-cookie", signer=Signer)
        self._form = URLSafeTimedSerializer(secret, salt="ivrlog-csrf-form", signer=Signer)
        self._clock = clock
        self.seconds = hours * 3600
        self._secure = secure
        # what was checked or made recently, so that a page does not sign and check
        # again what it did a moment ago (B9): raw cookie -> (claim, its signing time);
        # nonce -> (form token, when made). Bounded: cleared when full.
        self._claims: dict[str, tuple[dict[str, Any], int]] = {}
        self._tokens: dict[str, tuple[str, float]] = {}

    def _cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self._secure,
        )

    # the session
    def sign_in(self, response: Response, account: Account) -> None:
        value = self._session.dumps({"e": account.email, "k": fingerprint(account)})
        self._cookie(response, SESSION_COOKIE, value, self.seconds)

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")

    def claimed(self, request: Request) -> dict[str, Any] | None:
        """The session a request's cookie holds, when its signature holds and it has not
        expired; whether the account still matches is the caller's to check."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        known = self._claims.get(raw)
        if known is not None:
            claim, signed_at = known
            return claim if self._clock() - signed_at <= self.seconds else None
        try:
            value, signed = self._session.loads(raw, max_age=self.seconds, return_timestamp=True)
        except BadSignature:  # expired signatures included
            return None
        if not isinstance(value, dict) or not {"e", "k"} <= value.keys():
            return None
        if len(self._claims) >= CACHED:
            self._claims.clear()
        self._claims[raw] = (value, int(signed.timestamp()))
        return value

    @staticmethod
    def holds(claim: dict[str, Any], account: Account | None) -> bool:
        """Whether a session's claim is still this account's: active, same key."""
        return (
            account is not None
            and account.active
            and hmac.compare_digest(str(claim["k"]), fingerprint(account))
        )

    # CSRF
    def csrf_nonce(self, request: Request) -> str | None:
        raw = request.cookies.get(CSRF_COOKIE)
        if not raw:
            return None
        try:
            nonce = self._nonce.loads(raw)
        except BadSignature:
            return None
        return nonce if isinstance(nonce, str) else None

    def csrf_token(self, request: Request, response_cookies: dict[str, str]) -> str:
        """The token for the forms of a page: of the request's nonce, or of a new one,
        which `response_cookies` gets (the page sets it with set_csrf_cookie)."""
        nonce = self.csrf_nonce(request)
        if nonce is None:
            nonce = secrets.token_urlsafe(24)
            response_cookies[CSRF_COOKIE] = self._nonce.dumps(nonce)
        now = self._clock()
        made = self._tokens.get(nonce)
        if made is not None and now - made[1] < TOKEN_REUSE:
            return made[0]
        token = self._form.dumps(nonce)
        if len(self._tokens) >= CACHED:
            self._tokens.clear()
        self._tokens[nonce] = (token, now)
        return token

    def set_csrf_cookie(self, response: Response, cookies: dict[str, str]) -> None:
        for name, value in cookies.items():
            self._cookie(response, name, value, None)

    def csrf_holds(self, request: Request, token: str | None) -> bool:
        """Whether a posted form's token was made for this browser's nonce."""
        nonce = self.csrf_nonce(request)
        if nonce is None or not token:
            return False
        try:
            made_for = self._form.loads(token, max_age=CSRF_SECONDS)
        except BadSignature:
            return False
        return isinstance(made_for, str) and hmac.compare_digest(made_for, nonce)
