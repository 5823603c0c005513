"""The rows that cross the Store port carry named fields (core/model.py), on every
backend: a call's detail, the purge's counts, and a live transaction's entries, kept
answers and stale calls. A page's row stays a plain tuple, read by its named positions."""

from __future__ import annotations

from typing import Any

import pytest

from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import (
    CallDetail,
    CallQuery,
    EntryFragments,
    ExpiredCounts,
    Fragments,
    KeptAnswer,
    OpenCall,
    StaleCall,
    StoredCall,
)
from ivrlog.core.ports import LiveTransaction, Store
from tests.factories import DAY, NOW, call, entry


def stored(session_id: str, start: int, **extra: Any) -> StoredCall:
    return prepare_call(call(session_id, start, **extra))


@pytest.fixture
def account_id(store: Store) -> int:
    return store.create_account("rows@example.com", "k", "t", NOW).id


def test_call_detail_names_whether_the_call_is_there_and_its_fragment(
    store: Store, account_id: int
) -> None:
    store.put_calls(account_id, [stored("s;1", NOW - 60, detail=[entry(line="hello")])])
    found = store.call_detail(account_id, "s;1", "json", 0)
    assert isinstance(found, CallDetail)
    assert found.found is True
    assert found.fragment is not None
    assert '"line":"hello"' in found.fragment
    hidden = store.call_detail(account_id, "s;1", "xml", NOW)  # past the detail cutoff
    assert (hidden.found, hidden.fragment) == (True, None)
    missing = store.call_detail(account_id, "nope", "json", 0)
    assert (missing.found, missing.fragment) == (False, None)


def test_count_expired_names_details_and_calls(store: Store, account_id: int) -> None:
    store.put_calls(
        account_id,
        [
            stored("old", NOW - 10 * DAY),
            stored("old-private", NOW - 10 * DAY + 1, private=True),
            stored("new", NOW - 60),
        ],
    )
    counts = store.count_expired(NOW - DAY, NOW - 5 * DAY)
    assert isinstance(counts, ExpiredCounts)
    assert (counts.details, counts.calls) == (1, 2)


def test_a_page_row_holds_the_fields_in_the_order_its_readers_unpack(
    store: Store, account_id: int
) -> None:
    store.put_calls(
        account_id,
        [stored("out;1", NOW - 60, type="outbound", src="5550001", dest="5550002")],
    )
    page = store.open_page(CallQuery(account_id, 0, NOW, None, 0, 10, 0), "json")
    try:
        [row] = [row for batch in page.batches() for row in batch]
    finally:
        page.close()
    dest, src, start, end, session_id, call_type, log, fragment = row
    assert (dest, src, call_type) == ("5550002", "5550001", "outbound")
    assert (start, end, session_id) == (NOW - 60, NOW - 23, "out;1")
    assert log == 1
    assert fragment is not None
    assert fragment.startswith("[")


def open_call(session_id: str, start: int) -> OpenCall:
    return OpenCall(0, session_id, "1", "2", "inbound", start, False, False, 0, None)


def test_a_live_transaction_names_its_rows(store: Store, account_id: int) -> None:
    def write(tx: LiveTransaction) -> int:
        saved = tx.save_open(account_id, open_call("live;1", NOW - 100), NOW - 90)
        tx.add_entries(
            saved.id,
            0,
            [
                EntryFragments(NOW - 50, '{"n":2}', "<item>2</item>"),
                EntryFragments(NOW - 80, '{"n":1}', "<item>1</item>"),
            ],
        )
        tx.keep_answer(account_id, "live;1", "key-1", "sha", '{"appended":2}', NOW)
        return saved.id

    call_id = store.run_live(write)

    def read(tx: LiveTransaction) -> tuple[list[Fragments], KeptAnswer | None, list[StaleCall]]:
        return (
            tx.entries(call_id),
            tx.kept_answer(account_id, "live;1", "key-1"),
            tx.stale(NOW, 0, 10),
        )

    entries, kept, stale = store.run_live(read)
    assert [type(e) for e in entries] == [Fragments, Fragments]
    assert [(e.json, e.xml) for e in entries] == [  # by timestamp, not arrival
        ('{"n":1}', "<item>1</item>"),
        ('{"n":2}', "<item>2</item>"),
    ]
    assert isinstance(kept, KeptAnswer)
    assert (kept.body_sha256, kept.answer) == ("sha", '{"appended":2}')
    assert store.run_live(lambda tx: tx.kept_answer(account_id, "live;1", "other")) is None
    [found] = stale
    assert isinstance(found, StaleCall)
    assert found.account_id == account_id
    assert (found.call.id, found.call.session_id, found.call.start) == (
        call_id,
        "live;1",
        NOW - 100,
    )
