"""core.patterns on the in-memory store: adding, listing and removing an account's
patterns, their limits, and the Redactors cache refreshed on an injected clock."""

from __future__ import annotations

import pytest

from ivrlog.core.accounts import add_account
from ivrlog.core.errors import AccountError
from ivrlog.core.pattern_check import PatternRefused
from ivrlog.core.patterns import (
    MAX_LABEL,
    MAX_PATTERNS,
    Redactors,
    add_pattern,
    list_patterns,
    remove_pattern,
)
from ivrlog.core.redact import NO_REDACTION, REDACTED
from tests.factories import NOW
from tests.fake_store import MemoryStore

CARD = "4111 1111 1111 1111"
DEV = "dev@example.com"
OPS = "ops@example.com"


@pytest.fixture
def accounts(fake: MemoryStore) -> dict[str, int]:
    """Two accounts, by email: their ids."""
    for email in (DEV, OPS):
        add_account(fake, email, now=NOW)
    return {a.email: a.id for a in fake.list_accounts()}


class Clock:
    """A monotonic clock that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_patterns_are_added_listed_and_removed(fake: MemoryStore, accounts: dict[str, int]) -> None:
    added = add_pattern(fake, "Dev@Example.com", "member", r"MEM-\d{6}", now=NOW)
    assert (added.account_id, added.label, added.pattern, added.created_at) == (
        accounts[DEV],
        "member",
        r"MEM-\d{6}",
        NOW,
    )
    add_pattern(fake, OPS, "member", r"OPS-\d+", now=NOW)  # a label is unique per account
    add_pattern(fake, DEV, "ticket", r"T#\d+", now=NOW + 1)
    assert [(e, p.label) for e, p in list_patterns(fake)] == [
        (DEV, "member"),
        (OPS, "member"),
        (DEV, "ticket"),
    ]
    assert [p.pattern for _, p in list_patterns(fake, DEV)] == [r"MEM-\d{6}", r"T#\d+"]
    remove_pattern(fake, DEV, "member")
    assert [(e, p.label) for e, p in list_patterns(fake)] == [(OPS, "member"), (DEV, "ticket")]
    with pytest.raises(AccountError, match="has no pattern labelled 'member'"):
        remove_pattern(fake, DEV, "member")


def test_an_unknown_account_is_named(fake: MemoryStore, accounts: dict[str, int]) -> None:
    with pytest.raises(AccountError, match=r"No account for nobody@example\.com"):
        add_pattern(fake, "nobody@example.com", "x", "x")
    with pytest.raises(AccountError, match=r"No account for nobody@example\.com"):
        list_patterns(fake, "nobody@example.com")
    with pytest.raises(AccountError, match=r"No account for nobody@example\.com"):
        remove_pattern(fake, "nobody@example.com", "x")


@pytest.mark.parametrize("label", ["", "x" * (MAX_LABEL + 1), "tab\there"])
def test_a_bad_label_is_refused(fake: MemoryStore, accounts: dict[str, int], label: str) -> None:
    with pytest.raises(AccountError, match=f"1 to {MAX_LABEL} printable characters"):
        add_pattern(fake, DEV, label, "x")
    assert fake.redaction_patterns() == []


def test_a_label_taken_or_a_refused_pattern_stores_nothing(
    fake: MemoryStore, accounts: dict[str, int]
) -> None:
    add_pattern(fake, DEV, "x", "first")
    with pytest.raises(AccountError, match="already has a pattern labelled 'x'"):
        add_pattern(fake, DEV, "x", "second")
    with pytest.raises(PatternRefused, match="can match the empty string"):
        add_pattern(fake, DEV, "y", "a*")
    with pytest.raises(PatternRefused, match="contains a NUL character"):
        add_pattern(fake, DEV, "z", "a\x00b")
    assert [p.pattern for p in fake.redaction_patterns()] == ["first"]


def test_an_account_has_at_most_max_patterns(fake: MemoryStore, accounts: dict[str, int]) -> None:
    for n in range(MAX_PATTERNS):
        add_pattern(fake, DEV, f"p{n}", f"x{n}y")
    with pytest.raises(AccountError, match=f"has {MAX_PATTERNS} patterns, the most"):
        add_pattern(fake, DEV, "one-more", "zzz")
    add_pattern(fake, OPS, "theirs", "zzz")  # the limit is per account
    remove_pattern(fake, DEV, "p0")
    add_pattern(fake, DEV, "one-more", "zzz")
    assert len(list_patterns(fake, DEV)) == MAX_PATTERNS


def test_a_redactor_sees_a_change_once_its_ttl_has_passed(
    fake: MemoryStore, accounts: dict[str, int]
) -> None:
    clock = Clock()
    redactors = Redactors(fake, ttl=1.0, clock=clock)
    dev = accounts[DEV]
    assert redactors.for_account(dev).text("MEM-123456") == "MEM-123456"
    add_pattern(fake, DEV, "member", r"MEM-\d{6}")
    clock.now += 0.5
    assert redactors.for_account(dev).text("MEM-123456") == "MEM-123456"  # cached
    clock.now += 0.5
    assert redactors.for_account(dev).text("MEM-123456") == REDACTED
    remove_pattern(fake, DEV, "member")
    clock.now += 0.9
    assert redactors.for_account(dev).text("MEM-123456") == REDACTED
    clock.now += 0.1
    assert redactors.for_account(dev).text("MEM-123456") == "MEM-123456"


def test_each_account_gets_its_own_rules_and_the_log_gets_them_all(
    fake: MemoryStore, accounts: dict[str, int]
) -> None:
    add_pattern(fake, DEV, "member", r"MEM-\d{6}")
    redactors = Redactors(fake, builtin=False, clock=Clock())
    dev, ops = redactors.for_account(accounts[DEV]), redactors.for_account(accounts[OPS])
    assert dev.text(f"MEM-123456 {CARD}") == f"{REDACTED} {CARD}"  # built-in rules off
    assert ops is NO_REDACTION  # nothing of its own, built-in rules off
    # the log: built-in rules always, and every account's patterns
    assert redactors.for_log().text(f"MEM-123456 and {CARD}") == f"{REDACTED} and {REDACTED}"


def test_an_accounts_sensitive_modules_reach_its_redactor(
    fake: MemoryStore, accounts: dict[str, int]
) -> None:
    fake.add_sensitive_module(accounts[OPS], "module_type", "payment", NOW)
    redactors = Redactors(fake, builtin=False, clock=Clock())
    ops = redactors.for_account(accounts[OPS])
    assert ops.sensitive.match({"module_type": "Payment", "result_variable": "x"})
    assert not redactors.for_account(accounts[DEV]).sensitive
