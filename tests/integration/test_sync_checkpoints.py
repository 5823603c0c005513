"""The store keeps a sync checkpoint per account and source (core/sync.py): the same
promise on every backend."""

from __future__ import annotations

from ivrlog.core.accounts import Credentials
from ivrlog.core.ports import Store
from tests.factories import NOW

SOURCE = "https://fuse.example.com ops@example.com"


def test_a_checkpoint_is_kept_per_account_and_source(
    store: Store, account: Credentials, other_account: Credentials
) -> None:
    mine = store.account_by_email(account.email)
    theirs = store.account_by_email(other_account.email)
    assert mine is not None
    assert theirs is not None
    assert store.sync_checkpoint(mine.id, SOURCE) is None

    store.save_sync_checkpoint(mine.id, SOURCE, NOW - 600, NOW)
    store.save_sync_checkpoint(mine.id, SOURCE + "x", NOW - 60, NOW)
    assert store.sync_checkpoint(mine.id, SOURCE) == NOW - 600
    assert store.sync_checkpoint(mine.id, SOURCE + "x") == NOW - 60
    assert store.sync_checkpoint(theirs.id, SOURCE) is None

    store.save_sync_checkpoint(mine.id, SOURCE, NOW, NOW + 1)  # moved on
    assert store.sync_checkpoint(mine.id, SOURCE) == NOW


def test_a_source_no_checkpoint_can_hold_is_none(store: Store, account: Credentials) -> None:
    mine = store.account_by_email(account.email)
    assert mine is not None
    assert store.sync_checkpoint(mine.id, "nul\x00source") is None
