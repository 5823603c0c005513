"""`ivrlog demo`'s work: the demo account (made or given new credentials), its calls
replaced by fresh demo calls, and the call to show it with.

Only the demo account is touched. The calls are made by `ivrlog.core.demo.demo_calls`
and ingested as the server would, with the account's redaction rules.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ivrlog.core.accounts import Credentials, add_account, rotate_account
from ivrlog.core.demo import DAY, DEMO_EMAIL, demo_calls
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.patterns import Redactors
from ivrlog.core.ports import Store

DEMO_DATABASE: Final = "ivrlog-demo.db"  # `ivrlog demo`'s database unless told another
INGEST_BATCH: Final = 500  # calls ingested in one transaction


@dataclass(frozen=True, slots=True)
class DemoDatabase:
    """What a demo run made: its seed and moment, the demo account's new credentials,
    the calls stored, and one of them to show (`sample_call`)."""

    seed: int
    now: int
    credentials: Credentials
    calls: list[dict[str, Any]]
    sample: dict[str, Any]


def fill_demo_database(
    store: Store,
    count: int,
    *,
    seed: int | None = None,
    now: int | None = None,
    redaction: bool = True,
    detail_retention_days: int = 5,
    progress: Callable[[int], None] | None = None,
) -> DemoDatabase:
    """Make (or rotate) the demo account, replace its calls by `count` demo calls of
    `seed` (a random one when None) around `now` (default: the current time), and say
    what was done; `progress(n)` is told of every `n` calls stored."""
    moment = int(time.time()) if now is None else now
    the_seed = secrets.randbits(32) if seed is None else seed
    generated = demo_calls(count, seed=the_seed, now=moment)
    if store.account_by_email(DEMO_EMAIL) is None:
        credentials = add_account(store, DEMO_EMAIL, now=moment)
    else:
        credentials = rotate_account(store, DEMO_EMAIL)
    account = store.account_by_email(DEMO_EMAIL)
    assert account is not None
    store.delete_account_calls(account.id)
    rules = Redactors(store, builtin=redaction).for_account(account.id)
    for first in range(0, len(generated), INGEST_BATCH):
        batch = generated[first : first + INGEST_BATCH]
        ingest_calls(store, account.id, batch, rules)
        if progress is not None:
            progress(len(batch))
    sample = sample_call(generated, moment, detail_retention_days)
    return DemoDatabase(the_seed, moment, credentials, generated, sample)


def sample_call(
    calls: list[dict[str, Any]], now: int, detail_retention_days: int
) -> dict[str, Any]:
    """The call to show: an inbound, public one whose detail is readable at `now`, the
    newest of those with ten entries or more (or else the newest); any call when none
    is readable."""
    cutoff = now - detail_retention_days * DAY
    readable = [
        c
        for c in calls
        if not c["private"] and c["detail"] and c["start"] >= cutoff and c["type"] == "inbound"
    ]
    return max(readable or calls, key=lambda c: (len(c["detail"]) >= 10, c["start"]))
