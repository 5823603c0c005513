"""Throttling of failed authentication, per client address and per account.

Two budgets of failures, each a `limits` rate such as "20/minute", counted by `limits`'
sliding window counter (the failures of the current fixed window plus the previous one's,
weighted by how much of it still lies in the last minute: N failures in the last minute
spend the budget, give or take one at a window's edge; it keeps two counters a key, where
a moving window keeps every failure):

- **per address**: once an address has spent its budget, every request from it that needs
  credentials is refused (429) *before* they are checked, right or wrong, until its oldest
  failure leaves the window: a 429 must not tell a guesser from that address whether its
  guess was right. IPv6 addresses count by their /64 (one host's usual share).
- **per account** (the email of an HTTP Basic header, normalised; an email no account has
  counts too, so that a 429 does not tell which emails exist): credentials are checked
  first, and only a *failed* attempt is refused (429 instead of 401) once the account's
  budget is spent, so an account under attack keeps working for its real clients. A Bearer
  ingest token names no account: only the address budget applies to it.

State lives in this process's memory (`limits`' MemoryStorage, which expires keys when
their window passes); at most `max_tracked` addresses and as many accounts are tracked at
once, so a flood of invented emails or addresses cannot fill memory: past that, a new
one's failures answer 401 unthrottled until older ones expire.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections.abc import Callable

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from ivrlog.core.accounts import basic_credentials
from ivrlog.core.errors import TooManyRequests

DISABLED = ("0", "off", "")
MAX_TRACKED = 20_000  # addresses, and as many accounts, tracked at once (~16 MB in all)


def parse_rate(name: str, text: str) -> RateLimitItem | None:
    """A `limits` rate ("20/minute", "20 per minute", "5/second"), or None for 0/off.
    Raises ValueError naming the setting."""
    if text.strip().lower() in DISABLED:
        return None
    try:
        rate = parse(text)
    except ValueError:
        rate = None
    if rate is None or rate.amount < 1 or ";" in text or "," in text:
        raise ValueError(
            f"{name}: {text!r} is not a rate such as '20/minute', '20 per minute' or "
            "'100/hour' (0 or off turns it off)."
        )
    return rate


def claimed_email(authorization: str | None) -> str | None:
    """The email an `Authorization: Basic` header names, as accounts compare it, or None."""
    credentials = basic_credentials(authorization)
    return credentials[0] if credentials is not None and credentials[0] else None


def address_key(host: str) -> str:
    """The key of a client address: IPv6 by its /64, anything else as it is."""
    if ":" not in host:
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host  # pragma: no cover - an IPv4 address has no colon


class _Budget:
    """One budget of failures (one rate) over many keys, at most `max_tracked` keys."""

    def __init__(
        self,
        name: str,
        rate: RateLimitItem,
        limiter: SlidingWindowCounterRateLimiter,
        max_tracked: int,
    ) -> None:
        self.name = name
        self._rate = rate
        self._limiter = limiter
        self._max = max_tracked
        # a key with no failure for two windows has none in the current or previous one
        self._memory = 2 * rate.get_expiry()
        self._lock = threading.Lock()
        self._tracked: dict[str, float] = {}  # key -> when its failures are all forgotten
        self._pruned_at = 0.0

    def spent(self, key: str) -> bool:
        until = self._tracked.get(key)  # the hot path: most addresses never failed
        if until is None or until <= time.time():
            return False
        return not self._limiter.test(self._rate, self.name, key)

    def retry_after(self, key: str) -> int:
        reset = self._limiter.get_window_stats(self._rate, self.name, key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def fail(self, key: str) -> bool:
        """Count a failure for `key`; False when its budget was already spent."""
        now = time.time()
        with self._lock:
            if key not in self._tracked and len(self._tracked) >= self._max:
                if now - self._pruned_at >= 1:  # a scan of the table, at most once a second
                    self._pruned_at = now
                    self._tracked = {k: t for k, t in self._tracked.items() if t > now}
                if len(self._tracked) >= self._max:
                    return True  # full: this key's failures go uncounted (docstring)
            self._tracked[key] = now + self._memory
        return self._limiter.hit(self._rate, self.name, key)


class Throttle:
    """The failure budgets of one server process; `None` rates are off."""

    def __init__(
        self,
        per_address: RateLimitItem | None,
        per_account: RateLimitItem | None,
        *,
        max_tracked: int = MAX_TRACKED,
        on_throttle: Callable[[str], None] = lambda _: None,
    ) -> None:
        limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._address = (
            None if per_address is None else _Budget("address", per_address, limiter, max_tracked)
        )
        self._account = (
            None if per_account is None else _Budget("account", per_account, limiter, max_tracked)
        )
        self._on_throttle = on_throttle

    def check_address(self, host: str) -> None:
        """Refuse (TooManyRequests) an address that has spent its budget; before any
        credentials are checked."""
        if self._address is not None:
            key = address_key(host)
            if self._address.spent(key):
                self._refuse(self._address, key)

    def failed(self, host: str, email: str | None) -> None:
        """Count a failed authentication; TooManyRequests instead of the failure when the
        account it names has spent its budget."""
        if self._address is not None:
            self._address.fail(address_key(host))
        if self._account is not None and email is not None:
            key = hashlib.blake2b(email.encode(), digest_size=16).hexdigest()
            if not self._account.fail(key):
                self._refuse(self._account, key)

    def _refuse(self, budget: _Budget, key: str) -> None:
        self._on_throttle(budget.name)
        seconds = budget.retry_after(key)
        raise TooManyRequests(
            f"Too many failed authentication attempts; retry after {seconds} seconds.",
            retry_after=seconds,
        )
