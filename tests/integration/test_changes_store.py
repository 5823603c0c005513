"""Store.changes, erase and audit_key on every backend (sqlite, postgresql, memory): the
places of completions, replacements (bulk and live) and erasures, one per call, in
order; erasure by session id and by number (calls in progress too), its count and audit
row; retention and account deletion dropping places."""

from __future__ import annotations

import threading

import pytest

from ivrlog.core.live import append_entries
from ivrlog.core.model import ChangeRow, Erasure, OpenCall
from ivrlog.core.ports import LiveTransaction, Store
from ivrlog.storage import open_store
from tests.conftest import BACKENDS
from tests.factories import NOW, entry
from tests.integration.search_helpers import (
    account_id,
    audit_rows,
    backend,
    everything,
    found,
    stored,
    visits,
)

__all__ = ["account_id", "backend"]  # fixtures
T0 = NOW - 10_000


def places(store: Store, account_id: int, after: int = 0) -> list[tuple[int, str, str]]:
    return [(c.seq, c.change, c.session_id) for c in store.changes(account_id, after, 100, 0)]


def test_completions_and_replacements_take_places_in_order(store: Store, account_id: int) -> None:
    store.put_calls(account_id, [stored("a", T0), stored("b", T0 + 1)])
    store.put_calls(account_id, [stored("c", T0 + 2), stored("a", T0 + 3)])
    assert places(store, account_id) == [
        (2, "completed", "b"),
        (3, "completed", "c"),
        (4, "replaced", "a"),
    ]
    assert places(store, account_id, after=3) == [(4, "replaced", "a")]
    assert store.changes(account_id, 0, 1, 0)[0].seq == 2  # limit
    assert places(store, account_id, after=4) == []


def test_a_place_holds_the_call_as_it_is_now(store: Store, account_id: int) -> None:
    detail = visits(T0, ("menu", "main"), lines=("hello",))
    store.put_calls(account_id, [stored("a", T0, detail=detail)])
    (change,) = store.changes(account_id, 0, 10, 0)
    (row,) = store.search_calls(everything(account_id), None, 10)
    assert change == ChangeRow(1, "completed", "a", row)
    assert row[6] == 1
    (past,) = store.changes(account_id, 0, 10, T0 + 1)  # the cutoff decides `log`
    assert past.call is not None
    assert past.call[6] == 0


def test_live_completion_takes_a_place(store: Store, account_id: int) -> None:
    update = {"src": "1", "dest": "2", "type": "inbound", "entries": [entry(timestamp=T0)]}
    append_entries(store, account_id, "live", update, now=NOW)
    assert places(store, account_id) == []  # in progress: no place yet
    append_entries(store, account_id, "live", {"end": T0 + 9}, now=NOW)
    ((_, kind, session),) = places(store, account_id)
    assert (kind, session) == ("completed", "live")
    (call,) = [c.call for c in store.changes(account_id, 0, 10, 0)]
    assert call is not None
    assert call[9] == '["start:start"]'


def test_a_live_completion_that_replaces_a_completed_call(store: Store, account_id: int) -> None:
    store.put_calls(account_id, [stored("a", T0)])

    def finish(tx: LiveTransaction) -> None:
        shell = OpenCall(0, "a", "1", "2", "inbound", T0, False, False, 0, None)
        saved = tx.save_open(account_id, shell, NOW)
        tx.finish(account_id, saved.id, stored("a", T0, detail=[entry("again", timestamp=T0)]))

    store.run_live(finish)
    assert places(store, account_id) == [(2, "replaced", "a")]
    assert found(store, everything(account_id, words=("again",))) == ["a"]


def test_concurrent_writers_take_distinct_places(store: Store, account_id: int) -> None:
    def write(n: int) -> None:
        for i in range(5):
            store.put_calls(account_id, [stored(f"w{n}-{i}-{j}", T0 + j) for j in range(3)])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [seq for seq, _, _ in places(store, account_id)] == list(range(1, 61))


def test_erase_one_call_by_session_id(store: Store, account_id: int, db_url: str) -> None:
    detail = visits(T0, ("a", "b"), lines=("pepperoni",))
    store.put_calls(account_id, [stored("a;1", T0, detail=detail), stored("b", T0 + 1)])
    assert store.erase(account_id, Erasure(session_id="a;1"), "hash-1", NOW) == 1
    assert found(store, everything(account_id)) == ["b"]
    assert found(store, everything(account_id, words=("pepperoni",))) == []
    assert store.call_detail(account_id, "a;1", "json", 0) == (False, None)
    assert store.changes(account_id, 2, 10, 0) == [ChangeRow(3, "erased", "a;1", None)]
    assert audit_rows(store, db_url) == [(account_id, NOW, 1, "hash-1")]
    # nothing to erase: 0, and no audit row
    assert store.erase(account_id, Erasure(session_id="a;1"), "hash-2", NOW) == 0
    assert store.erase(account_id, Erasure(session_id="nope"), "hash-3", NOW) == 0
    assert len(audit_rows(store, db_url)) == 1
    # a call ingested again after its erasure is completed anew
    store.put_calls(account_id, [stored("a;1", T0)])
    assert places(store, account_id)[-1] == (4, "completed", "a;1")


def test_erase_by_number_before_a_time(store: Store, account_id: int, db_url: str) -> None:
    other = store.create_account("b@example.com", "k2", "t2", NOW).id
    store.put_calls(
        account_id,
        [
            stored("from", T0, src="5550001"),
            stored("to", T0 + 1, dest="5550001"),
            stored("late", T0 + 100, src="5550001"),
            stored("else", T0 + 2, src="5550002", dest="55500011"),
        ],
    )
    store.put_calls(other, [stored("theirs", T0, src="5550001")])
    live = {"src": "5550001", "dest": "9", "type": "inbound", "entries": [entry(timestamp=T0 + 3)]}
    append_entries(store, account_id, "open", live, now=NOW)
    late = {**live, "entries": [entry(timestamp=T0 + 200)]}
    append_entries(store, account_id, "open-late", late, now=NOW)
    erasure = Erasure(number="5550001", before=T0 + 100)
    assert store.erase(account_id, erasure, "number-hash", NOW) == 3  # from, to, open
    assert found(store, everything(account_id)) == ["late", "else"]
    assert found(store, everything(other)) == ["theirs"]
    assert store.call_detail(account_id, "open", "json", 0) == (False, None)
    assert store.call_detail(account_id, "open-late", "json", 0)[0]
    erased = [(seq, s) for seq, kind, s in places(store, account_id) if kind == "erased"]
    assert sorted(s for _, s in erased) == ["from", "to"]  # calls in progress had none
    assert [seq for seq, _ in erased] == [5, 6]
    ((_, at, count, selector),) = audit_rows(store, db_url)
    assert (at, count, selector) == (NOW, 3, "number-hash")
    assert "5550001" not in repr(audit_rows(store, db_url))  # the hash, never the number
    # without `before`: every call of the number
    assert store.erase(account_id, Erasure(number="5550001"), "again", NOW) == 2
    assert found(store, everything(account_id)) == ["else"]


def test_retention_drops_the_places_of_deleted_calls(store: Store, account_id: int) -> None:
    store.put_calls(
        account_id, [stored("old", T0 - 5000), stored("gone", T0 - 4000), stored("new", T0)]
    )
    store.erase(account_id, Erasure(session_id="gone"), "h", NOW)
    assert [s for _, _, s in places(store, account_id)] == ["old", "new", "gone"]
    assert store.delete_calls_before(T0 - 1, 1000) == 1
    assert [s for _, _, s in places(store, account_id)] == ["new"]


def test_account_deletion_drops_its_places(store: Store, account_id: int) -> None:
    other = store.create_account("b@example.com", "k2", "t2", NOW).id
    store.put_calls(account_id, [stored("a", T0), stored("b", T0)])
    store.put_calls(other, [stored("x", T0)])
    store.delete_account_calls(account_id)
    assert places(store, account_id) == []
    assert places(store, other) == [(1, "completed", "x")]
    store.put_calls(account_id, [stored("c", T0)])
    assert places(store, account_id) == [(3, "completed", "c")]  # places are never reused


def test_the_audit_key_is_made_once(store: Store) -> None:
    key = store.audit_key()
    assert len(key) == 32
    assert store.audit_key() == key


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_audit_key_is_kept_in_the_database(store: Store, db_url: str) -> None:
    key = store.audit_key()
    again = open_store(db_url)
    try:
        assert again.audit_key() == key
    finally:
        again.close()


def test_erasure_forgets_the_calls_idempotency_keys(store: Store, account_id: int) -> None:
    store.put_calls(account_id, [stored("a", T0), stored("b", T0)])

    def keep(tx: LiveTransaction) -> None:
        for session in ("a", "b"):
            tx.keep_answer(account_id, session, "k", "sha", "{}", NOW)

    store.run_live(keep)
    store.erase(account_id, Erasure(session_id="a"), "h", NOW)
    assert store.run_live(lambda tx: tx.kept_answer(account_id, "a", "k")) is None
    assert store.run_live(lambda tx: tx.kept_answer(account_id, "b", "k")) == ("sha", "{}")


def test_a_reader_resuming_after_its_last_place_misses_nothing(
    store: Store, account_id: int
) -> None:
    """Writers of one account commit while a reader follows the sequence `after` the
    last place it saw: it sees every call once, in increasing places."""
    done = threading.Event()
    sessions = [[f"w{n}-{i}" for i in range(20)] for n in range(3)]

    def write(mine: list[str]) -> None:
        for i in range(0, len(mine), 2):
            store.put_calls(account_id, [stored(s, T0) for s in mine[i : i + 2]])

    threads = [threading.Thread(target=write, args=(mine,)) for mine in sessions]
    for t in threads:
        t.start()
    seen: list[tuple[int, str]] = []

    def follow() -> None:
        after = seen[-1][0] if seen else 0
        seen.extend((c.seq, c.session_id) for c in store.changes(account_id, after, 7, 0))

    while not done.is_set():
        follow()
        if not any(t.is_alive() for t in threads):
            done.set()
    for t in threads:
        t.join()
    while len(seen) < 60 and store.changes(account_id, seen[-1][0] if seen else 0, 7, 0):
        follow()
    assert [seq for seq, _ in seen] == list(range(1, 61))
    assert sorted(s for _, s in seen) == sorted(s for mine in sessions for s in mine)
