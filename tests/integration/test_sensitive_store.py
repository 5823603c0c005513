"""The sensitive modules of the Store contract, on every backend (the fake's included)."""

from __future__ import annotations

import pytest

from ivrlog.core.accounts import add_account
from ivrlog.core.errors import AccountError
from ivrlog.core.ports import Store
from ivrlog.storage.migrations import LATEST_VERSION
from tests.conftest import STORE_BACKENDS
from tests.factories import NOW


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_sensitive_modules_are_stored_listed_and_removed(store: Store) -> None:
    assert store.schema_version() == LATEST_VERSION
    ops = add_account(store, "ops@example.com", now=NOW)
    dev = add_account(store, "dev@example.com", now=NOW)
    ops_id = store.account_by_email(ops.email).id  # type: ignore[union-attr]
    dev_id = store.account_by_email(dev.email).id  # type: ignore[union-attr]
    assert store.sensitive_modules() == []
    first = store.add_sensitive_module(ops_id, "result_variable", "card_number", NOW)
    assert (first.account_id, first.field, first.name, first.created_at) == (
        ops_id,
        "result_variable",
        "card_number",
        NOW,
    )
    store.add_sensitive_module(ops_id, "module_type", "card_number", NOW + 1)  # other field
    store.add_sensitive_module(ops_id, "result_variable", "Card_Number", NOW + 2)  # exact
    store.add_sensitive_module(dev_id, "result_variable", "pin", NOW + 3)
    with pytest.raises(AccountError, match="already has the result_variable 'card_number'"):
        store.add_sensitive_module(ops_id, "result_variable", "card_number", NOW)
    assert [(m.field, m.name) for m in store.sensitive_modules(ops_id)] == [
        ("result_variable", "card_number"),
        ("module_type", "card_number"),
        ("result_variable", "Card_Number"),
    ]
    assert [m.account_id for m in store.sensitive_modules()] == [ops_id] * 3 + [dev_id]
    assert store.remove_sensitive_module(ops_id, "result_variable", "card_number")
    assert not store.remove_sensitive_module(ops_id, "result_variable", "card_number")
    assert not store.remove_sensitive_module(dev_id, "module_type", "card_number")
    assert not store.remove_sensitive_module(ops_id, "result_variable", "nul\x00name")
    assert [(m.field, m.name) for m in store.sensitive_modules(ops_id)] == [
        ("module_type", "card_number"),
        ("result_variable", "Card_Number"),
    ]
