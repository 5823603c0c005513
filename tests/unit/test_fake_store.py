"""What the in-memory store promises beyond the contract tests it passes
(tests/integration/test_store_contract.py, backend "memory")."""

from __future__ import annotations

import pytest

from ivrlog.core.live import append_entries
from ivrlog.core.model import EntryFragments, Fragments, OpenCall
from ivrlog.core.ports import LiveTransaction, Store
from tests.factories import NOW, entry
from tests.fake_store import MemoryStore, StoreClosed


def test_it_is_a_store() -> None:
    store: Store = MemoryStore()  # mypy checks the protocol here
    assert store.inline_reads is True
    assert store.scrub() is True
    assert store.retention_floor(NOW, "calls") == NOW


def test_a_live_transaction_is_unseen_until_it_commits_and_gone_when_it_fails(
    fake: MemoryStore, account_id: int
) -> None:
    def body(tx: LiveTransaction) -> None:
        opened = OpenCall(0, "s", "1", "2", "inbound", NOW, False, False, 1, NOW)
        saved = tx.save_open(account_id, opened, NOW)
        tx.add_entries(saved.id, 0, [EntryFragments(NOW, '{"n":1}', "<item/>")])
        assert tx.open_call(account_id, "s") == saved  # the transaction sees its writes
        assert fake.call_detail(account_id, "s", "json", 0) == (False, None)  # others do not
        raise RuntimeError("the body fails")

    with pytest.raises(RuntimeError, match="the body fails"):
        fake.run_live(body)
    assert fake.call_detail(account_id, "s", "json", 0) == (False, None)
    assert fake.run_live(lambda tx: tx.stale(NOW + 1, NOW + 1, 10)) == []


def test_a_committed_live_transaction_returns_what_its_body_returns(
    fake: MemoryStore, account_id: int
) -> None:
    update = {"src": "1", "dest": "2", "type": "inbound", "entries": [entry(timestamp=NOW)]}
    append_entries(fake, account_id, "s", update, now=NOW)

    def body(tx: LiveTransaction) -> list[Fragments]:
        call = tx.open_call(account_id, "s")
        assert call is not None
        return tx.entries(call.id)

    [(json_text, xml_text)] = fake.run_live(body)
    assert fake.call_detail(account_id, "s", "json", 0) == (True, f"[{json_text}]")
    assert fake.call_detail(account_id, "s", "xml", 0) == (True, xml_text)


def test_a_closed_store_answers_nothing(fake: MemoryStore) -> None:
    fake.close()
    with pytest.raises(StoreClosed, match="closed"):
        fake.ping()
    with pytest.raises(StoreClosed, match="closed"):
        fake.create_account("a@example.com", "k", "t", NOW)
