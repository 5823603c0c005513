"""An account's own redaction patterns, and the redactor each ingest request uses.

`ivrlog redaction add|list|remove` call the functions here. A pattern is checked by
`check_pattern` before it is stored (invalid, RE2-unsupported, too costly and
empty-matching patterns are refused), so what the store holds always compiles in RE2 and
runs in time linear in the text.
A change reaches a running server within a second: `Redactors` caches an account's
patterns for `ttl` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from ivrlog.core.accounts import account_named
from ivrlog.core.errors import AccountError
from ivrlog.core.model import RedactionPattern
from ivrlog.core.pattern_check import PatternRefused, check_pattern, compile_linear
from ivrlog.core.ports import Store
from ivrlog.core.redact import NO_REDACTION, CompiledPattern, Redactor
from ivrlog.core.sensitive import NONE, SensitiveNames
from ivrlog.core.ttlcache import TtlCache

MAX_LABEL: Final = 64
MAX_PATTERNS: Final = 50  # an account's patterns


def add_pattern(
    store: Store, email: str, label: str, pattern: str, now: int | None = None
) -> RedactionPattern:
    """Check and store a pattern; AccountError (unknown account, bad or taken label) or
    PatternRefused (the pattern cannot be used) otherwise."""
    account = account_named(store, email)
    if not 1 <= len(label) <= MAX_LABEL or not label.isprintable():
        raise AccountError(f"The label must be 1 to {MAX_LABEL} printable characters.")
    check_pattern(pattern)
    if "\x00" in pattern:  # no database text holds NUL; write it as \x00 in the pattern
        raise PatternRefused("The pattern contains a NUL character: write it as \\x00.")
    if len(store.redaction_patterns(account.id)) >= MAX_PATTERNS:
        raise AccountError(
            f"{account.email} has {MAX_PATTERNS} patterns, the most an account may have "
            "(each one runs on every ingested string): remove one first."
        )
    return store.add_redaction_pattern(
        account.id, label, pattern, int(time.time()) if now is None else now
    )


def list_patterns(store: Store, email: str | None = None) -> list[tuple[str, RedactionPattern]]:
    """(account email, pattern) for one account, or for every account when email is None."""
    if email is not None:
        account = account_named(store, email)
        return [(account.email, p) for p in store.redaction_patterns(account.id)]
    emails = {a.id: a.email for a in store.list_accounts()}
    return [(emails[p.account_id], p) for p in store.redaction_patterns()]


def remove_pattern(store: Store, email: str, label: str) -> None:
    account = account_named(store, email)
    if not store.remove_redaction_pattern(account.id, label):
        raise AccountError(f"{account.email} has no pattern labelled {label!r}.")


def _compiled(patterns: list[RedactionPattern]) -> tuple[CompiledPattern, ...]:
    # every stored pattern passed check_pattern when it was added
    return tuple(compile_linear(stored.pattern) for stored in patterns)


class Redactors:
    """The redactor for an account's ingested data (built-in rules if `builtin`, then its
    own patterns, and its sensitive modules whether `builtin` or not), and one for the
    server log (built-in rules and every account's patterns). Lookups are cached for `ttl`
    seconds."""

    def __init__(
        self,
        store: Store,
        *,
        builtin: bool = True,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._builtin = builtin
        self._cache: TtlCache[int | None, Redactor] = TtlCache(ttl, clock)

    def _get(self, account_id: int | None, builtin: bool) -> Redactor:
        return self._cache.get(account_id, lambda: self._build(account_id, builtin))

    def _build(self, account_id: int | None, builtin: bool) -> Redactor:
        custom = _compiled(self._store.redaction_patterns(account_id))
        sensitive = (
            NONE
            if account_id is None
            else SensitiveNames.of(self._store.sensitive_modules(account_id))
        )
        return (
            Redactor(builtin=builtin, custom=custom, sensitive=sensitive)
            if builtin or custom or sensitive
            else NO_REDACTION
        )

    def for_account(self, account_id: int) -> Redactor:
        return self._get(account_id, self._builtin)

    def for_log(self) -> Redactor:
        """Built-in rules always (the log is never a place for a card number) and every
        account's own patterns."""
        return self._get(None, True)
