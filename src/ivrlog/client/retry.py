"""When the client tries a request again, and how long it waits first.

Retried: a connection that failed or broke, a timeout, a 5xx answer (but 501, "not
implemented", which will not change) and a 429. Every
request of ivrlog's API is safe to send twice: reads change nothing, a bulk ingestion
replaces calls by session id, a live update carries an Idempotency-Key (the client makes
one when none is given), and an erasure erases what is left (a retried erasure may count
0 calls the second time). The wait before attempt n+1 is `Retry-After` when the server
sent one (429, 503), else exponential backoff with full jitter: a random time from 0 to
min(max_backoff, backoff * 2**n) (the AWS Architecture Blog's "Exponential Backoff And
Jitter"), so that many clients do not retry in step."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


def retried(status: int) -> bool:
    """Whether an answer of this status is worth trying again."""
    return status == 429 or (status >= 500 and status != 501)


@dataclass(frozen=True)
class Retry:
    """The retry policy of a Client.

    - `attempts`: tries of one request in all (1: never retry);
    - `backoff`, `max_backoff`: the base and the cap of the exponential backoff (seconds);
    - `max_retry_after`: a `Retry-After` longer than this is not waited for: the request
      fails at once (Throttled or ServerError, with `retry_after` set);
    - `jitter`: full jitter (True) or the cap itself (False: predictable, for tests);
    - `sleep`: how to wait (time.sleep; a test passes a recorder).
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0
    jitter: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("Retry.attempts must be at least 1.")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("Retry times must not be negative.")

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt `attempt` (from 0)."""
        if retry_after is not None:
            return retry_after
        cap = min(self.max_backoff, self.backoff * 2**attempt)
        return random.uniform(0, cap) if self.jitter else cap


NO_RETRY = Retry(attempts=1)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """The seconds a `Retry-After` header asks for: delay-seconds or an HTTP date (RFC
    9110 10.2.3); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
