"""Sensitive modules: the core functions on a fake store, name matching, and what
normalize_entry stores for an entry of a sensitive module."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ivrlog.core.errors import AccountError
from ivrlog.core.ingest import PRIVATE, normalize_entry
from ivrlog.core.model import Account, SensitiveModule
from ivrlog.core.redact import NO_REDACTION, REDACTED, Redactor
from ivrlog.core.sensitive import (
    MAX_NAME,
    MAX_SENSITIVE,
    NONE,
    SensitiveNames,
    add_sensitive,
    list_sensitive,
    remove_sensitive,
)
from tests.factories import entry

OPS = Account(1, "ops@example.com", True, "", "", 0)
DEV = Account(2, "dev@example.com", True, "", "", 0)


class FakeStore:
    """The store methods sensitive modules use, in memory."""

    def __init__(self) -> None:
        self.modules: list[SensitiveModule] = []
        self._ids = itertools.count(1)

    def account_by_email(self, email: str) -> Account | None:
        return {OPS.email: OPS, DEV.email: DEV}.get(email)

    def list_accounts(self) -> list[Account]:
        return [DEV, OPS]

    def add_sensitive_module(
        self, account_id: int, field: str, name: str, now: int
    ) -> SensitiveModule:
        module = SensitiveModule(next(self._ids), account_id, field, name, now)
        self.modules.append(module)
        return module

    def sensitive_modules(self, account_id: int | None = None) -> list[SensitiveModule]:
        return [m for m in self.modules if account_id in (None, m.account_id)]

    def remove_sensitive_module(self, account_id: int, field: str, name: str) -> bool:
        key = (account_id, field, name)
        kept = [m for m in self.modules if (m.account_id, m.field, m.name) != key]
        removed = len(kept) < len(self.modules)
        self.modules = kept
        return removed


def test_add_list_and_remove() -> None:
    store = FakeStore()
    card = add_sensitive(store, " OPS@example.com", "result_variable", "card_number", now=7)
    assert (card.account_id, card.field, card.name) == (1, "result_variable", "card_number")
    assert card.created_at == 7
    add_sensitive(store, "ops@example.com", "module_type", "Payment")
    add_sensitive(store, "dev@example.com", "result_variable", "card_number")
    listed = [(email, m.field, m.name) for email, m in list_sensitive(store)]
    assert listed == [
        ("ops@example.com", "result_variable", "card_number"),
        ("ops@example.com", "module_type", "Payment"),
        ("dev@example.com", "result_variable", "card_number"),
    ]
    assert [m.name for _, m in list_sensitive(store, "dev@example.com")] == ["card_number"]
    # removed by any case of its name; the stored one is named back
    removed = remove_sensitive(store, "ops@example.com", "module_type", "PAYMENT")
    assert removed.name == "Payment"
    assert [m.name for _, m in list_sensitive(store, "ops@example.com")] == ["card_number"]


@pytest.mark.parametrize(
    ("email", "field", "name", "message"),
    [
        ("nobody@example.com", "result_variable", "x", "No account for nobody@example.com"),
        ("not an email", "result_variable", "x", "is not an email address"),
        ("ops@example.com", "line", "x", "must be one of: result_variable, module_type"),
        ("ops@example.com", "result_variable", "", f"1 to {MAX_NAME} printable characters"),
        ("ops@example.com", "module_type", "a\nb", "printable characters"),
        ("ops@example.com", "module_type", "x" * (MAX_NAME + 1), "printable characters"),
        ("ops@example.com", "result_variable", "CARD_number", "'card_number' already"),
    ],
)
def test_add_refuses_with_the_reason(email: str, field: str, name: str, message: str) -> None:
    store = FakeStore()
    add_sensitive(store, "ops@example.com", "result_variable", "card_number")
    with pytest.raises(AccountError, match=message):
        add_sensitive(store, email, field, name)
    assert len(store.modules) == 1


def test_a_name_in_the_other_field_is_another_module() -> None:
    store = FakeStore()
    add_sensitive(store, "ops@example.com", "result_variable", "payment")
    add_sensitive(store, "ops@example.com", "module_type", "payment")
    assert len(store.modules) == 2


def test_an_account_holds_at_most_max_sensitive() -> None:
    store = FakeStore()
    for n in range(MAX_SENSITIVE):
        add_sensitive(store, "ops@example.com", "result_variable", f"v{n}")
    with pytest.raises(AccountError, match=f"has {MAX_SENSITIVE} sensitive modules"):
        add_sensitive(store, "ops@example.com", "result_variable", "one_more")
    add_sensitive(store, "dev@example.com", "result_variable", "v0")  # per account


@pytest.mark.parametrize(
    ("email", "field", "name", "message"),
    [
        ("ops@example.com", "result_variable", "pin", "has no sensitive result_variable 'pin'"),
        ("ops@example.com", "module_type", "card_number", "has no sensitive module_type"),
        ("ops@example.com", "other", "card_number", "must be one of"),
        ("nobody@example.com", "result_variable", "card_number", "No account for"),
    ],
)
def test_remove_refuses_what_is_not_there(email: str, field: str, name: str, message: str) -> None:
    store = FakeStore()
    add_sensitive(store, "ops@example.com", "result_variable", "card_number")
    with pytest.raises(AccountError, match=message):
        remove_sensitive(store, email, field, name)
    assert len(store.modules) == 1


# ---------------------------------------------------------------- matching


def names(*modules: tuple[str, str]) -> SensitiveNames:
    return SensitiveNames.of(SensitiveModule(0, 1, f, n, 0) for f, n in modules)


def test_names_match_whole_values_ignoring_case() -> None:
    sensitive = names(("result_variable", "Card_Number"), ("module_type", "payment"))
    assert sensitive
    assert not NONE
    assert sensitive.match({"result_variable": "card_number", "module_type": "digits"})
    assert sensitive.match({"result_variable": "CARD_NUMBER", "module_type": "digits"})
    assert sensitive.match({"result_variable": "x", "module_type": "Payment"})
    for kept in ("card_number_confirm", "card", " card_number", "card-number"):
        assert not sensitive.match({"result_variable": kept, "module_type": "digits"})
    # the fields are not interchangeable
    assert not sensitive.match({"result_variable": "payment", "module_type": "card_number"})
    assert not sensitive.match({"module_type": 7})  # no crash on what is not a string
    assert not NONE.match({"result_variable": "card_number", "module_type": "payment"})


def digit_entry(digit: str, **extra: Any) -> dict[str, Any]:
    return entry(
        f"User input: {digit} (dtmf)",
        module_type="digits",
        result_variable="card_number",
        digit=digit,
        nested={"confidence": 0.9, "alternatives": [digit]},
        **extra,
    )


@pytest.mark.parametrize(
    "redactor",
    [
        Redactor(sensitive=names(("result_variable", "card_number"))),
        Redactor(builtin=False, sensitive=names(("result_variable", "card_number"))),
        Redactor(builtin=False, sensitive=names(("module_type", "DIGITS"))),
    ],
    ids=["redaction", "no-redaction", "module-type"],
)
def test_an_entry_of_a_sensitive_module_is_stored_as_a_private_one(redactor: Redactor) -> None:
    stored = normalize_entry(digit_entry("4"), redactor)
    assert stored["event"] == {
        "line": PRIVATE,
        "data": {
            "digit": PRIVATE,
            "nested": PRIVATE,
            "module_type": "digits",
            "result_variable": "card_number",
        },
    }
    assert stored["class"] == "info"
    other = entry("press 1 for 4111 1111 1111 1111", result_variable="menu")
    kept = normalize_entry(other, redactor)["event"]["line"]
    assert kept == ("press 1 for [redacted]" if redactor.builtin else other["event"]["line"])


def test_without_sensitive_modules_entries_are_kept() -> None:
    line = normalize_entry(digit_entry("4"), NO_REDACTION)["event"]["line"]
    assert line == "User input: 4 (dtmf)"
    assert normalize_entry(digit_entry("4"), Redactor())["event"]["data"]["digit"] == "4"
    assert REDACTED not in str(normalize_entry(digit_entry("4"), Redactor()))
