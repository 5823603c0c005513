"""Sensitive modules: an account's result variables and module types whose every entry is
stored as a private entry, whatever its text.

An IVR that collects a card number digit by digit, or a payment step whose inputs are
all secret, is named once (`ivrlog sensitive add EMAIL --result-variable card_number`),
and from then on every entry whose `data.result_variable` (or `data.module_type`) is that
name is stored with `line` = `[private]` and every `data` value but `module_type` and
`result_variable` = `[private]`, in bulk and live ingestion alike, whether built-in
redaction is on or off. A name matches when it equals the entry's value ignoring case
(`str.casefold`): `Card_Number` hides `card_number`; no prefix, substring or pattern.

The names reach ingestion in the account's `Redactor` (`ivrlog.core.patterns.Redactors`,
cached one second), so a change reaches a running server within a second; stored calls
are not rewritten.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ivrlog.core.accounts import account_named
from ivrlog.core.errors import AccountError
from ivrlog.core.model import Account, SensitiveModule

FIELDS: Final = ("result_variable", "module_type")
MAX_NAME: Final = 128
MAX_SENSITIVE: Final = 200  # an account's sensitive modules


class SensitiveStore(Protocol):
    """What these functions need of a store (ivrlog.core.ports.Store has it all)."""

    def account_by_email(self, email: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def add_sensitive_module(
        self, account_id: int, field: str, name: str, now: int
    ) -> SensitiveModule: ...

    def sensitive_modules(self, account_id: int | None = None) -> list[SensitiveModule]: ...

    def remove_sensitive_module(self, account_id: int, field: str, name: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class SensitiveNames:
    """An account's sensitive result variables and module types, casefolded."""

    result_variables: frozenset[str] = frozenset()
    module_types: frozenset[str] = frozenset()

    @classmethod
    def of(cls, modules: Iterable[SensitiveModule]) -> SensitiveNames:
        """The names of `modules`; NONE itself when there are none (ingestion checks
        `is NONE`, which costs nothing, before it looks an entry up)."""
        modules = list(modules)
        if not modules:
            return NONE
        return cls(
            frozenset(m.name.casefold() for m in modules if m.field == "result_variable"),
            frozenset(m.name.casefold() for m in modules if m.field == "module_type"),
        )

    def __bool__(self) -> bool:
        return bool(self.result_variables or self.module_types)

    def match(self, data: Mapping[str, Any]) -> bool:
        """Whether an entry's data names a sensitive result variable or module type."""
        variable, module = data.get("result_variable"), data.get("module_type")
        return (isinstance(variable, str) and variable.casefold() in self.result_variables) or (
            isinstance(module, str) and module.casefold() in self.module_types
        )


NONE: Final = SensitiveNames()


def _check_field(field: str) -> None:
    if field not in FIELDS:
        raise AccountError(f"The field must be one of: {', '.join(FIELDS)} (not {field!r}).")


def _stored(store: SensitiveStore, account: Account, field: str, name: str) -> SensitiveModule:
    """The account's stored module that `name` matches (ignoring case)."""
    folded = name.casefold()
    for module in store.sensitive_modules(account.id):
        if module.field == field and module.name.casefold() == folded:
            return module
    raise AccountError(f"{account.email} has no sensitive {field} {name!r}.")


def add_sensitive(
    store: SensitiveStore, email: str, field: str, name: str, now: int | None = None
) -> SensitiveModule:
    """Store a sensitive module; AccountError (unknown account or field, a bad name, one
    the account has already, ignoring case, or one too many) otherwise."""
    account = account_named(store, email)
    _check_field(field)
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise AccountError(
            f"The {field} must be 1 to {MAX_NAME} printable characters, as entries carry it."
        )
    modules = store.sensitive_modules(account.id)
    for m in modules:
        if m.field == field and m.name.casefold() == name.casefold():
            raise AccountError(
                f"{account.email} has the sensitive {field} {m.name!r} already "
                "(names match ignoring case)."
            )
    if len(modules) >= MAX_SENSITIVE:
        raise AccountError(
            f"{account.email} has {MAX_SENSITIVE} sensitive modules, the most an account may "
            "have: remove one first."
        )
    return store.add_sensitive_module(
        account.id, field, name, int(time.time()) if now is None else now
    )


def list_sensitive(
    store: SensitiveStore, email: str | None = None
) -> list[tuple[str, SensitiveModule]]:
    """(account email, module) for one account, or for every account when email is None."""
    if email is not None:
        account = account_named(store, email)
        return [(account.email, m) for m in store.sensitive_modules(account.id)]
    emails = {a.id: a.email for a in store.list_accounts()}
    return [(emails[m.account_id], m) for m in store.sensitive_modules()]


def remove_sensitive(store: SensitiveStore, email: str, field: str, name: str) -> SensitiveModule:
    """Remove the account's sensitive module that `name` matches (ignoring case), and say
    which; AccountError when there is none."""
    account = account_named(store, email)
    _check_field(field)
    module = _stored(store, account, field, name)
    store.remove_sensitive_module(account.id, module.field, module.name)
    return module
