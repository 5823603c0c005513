"""The Store contract. Every backend in conftest.STORE_BACKENDS runs these unchanged (the
in-memory fake of tests/fake_store.py included), but for what only a database has."""

from __future__ import annotations

import random
import threading

import pytest

from ivrlog.core.errors import AccountError
from ivrlog.core.ingest import prepare_call
from ivrlog.core.live import append_entries
from ivrlog.core.model import CallQuery, StoredCall
from ivrlog.core.ports import Store
from ivrlog.storage import open_store
from ivrlog.storage.migrations import LATEST_VERSION
from tests.conftest import BACKENDS, STORE_BACKENDS
from tests.factories import NOW, call, entry

# Durability: the fake holds nothing past its object, and has no URL to open it again by.
databases_only = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stored(session_id: str, start: int, **extra: object) -> StoredCall:
    return prepare_call(call(session_id, start, **extra))  # type: ignore[arg-type]


def query(account_id: int, **overrides: object) -> CallQuery:
    values: dict[str, object] = {
        "account_id": account_id,
        "start": 0,
        "end": NOW + 1,
        "number": None,
        "offset": 0,
        "limit": 1000,
        "detail_cutoff": 0,
    }
    values.update(overrides)
    return CallQuery(**values)  # type: ignore[arg-type]


def read_all(store: Store, q: CallQuery, detail: str | None = None) -> tuple[int, list[tuple]]:  # type: ignore[type-arg]
    page = store.open_page(q, detail)  # type: ignore[arg-type]
    rows = [row for batch in page.batches() for row in batch]
    page.close()
    return page.total, rows


@pytest.fixture
def account_id(store: Store) -> int:
    return store.create_account("a@example.com", "keyhash", "tokenhash", NOW).id


def test_migrate_reaches_latest_and_is_idempotent(store: Store) -> None:
    assert store.schema_version() == LATEST_VERSION
    store.migrate()
    assert store.schema_version() == LATEST_VERSION


def test_ping_answers(store: Store) -> None:
    store.ping()  # the database answered: it returns, where a closed store raises
    store.close()
    # /-/health reports any exception of ping as 503: a closed store must raise one
    with pytest.raises(Exception, match="closed"):
        store.ping()


def test_accounts_lifecycle(store: Store) -> None:
    created = store.create_account("a@example.com", "k1", "t1", NOW)
    assert (created.email, created.active, created.created_at) == ("a@example.com", True, NOW)
    assert store.account_by_email("a@example.com") == created
    assert store.account_by_email("b@example.com") is None
    assert store.account_by_ingest_hash("t1") == created
    assert store.account_by_ingest_hash("k1") is None

    disabled = store.set_account_active("a@example.com", False)
    assert disabled is not None
    assert disabled.active is False
    rotated = store.set_account_credentials("a@example.com", "k2", "t2")
    assert rotated is not None
    assert (rotated.developer_key_hash, rotated.ingest_token_hash) == ("k2", "t2")
    assert store.account_by_ingest_hash("t1") is None
    assert store.set_account_active("nobody@example.com", True) is None
    assert store.set_account_credentials("nobody@example.com", "x", "y") is None


def test_duplicate_email_is_refused(store: Store) -> None:
    store.create_account("a@example.com", "k1", "t1", NOW)
    with pytest.raises(AccountError, match="already exists"):
        store.create_account("a@example.com", "k2", "t2", NOW)


def test_list_accounts_sorted_by_email(store: Store) -> None:
    for email in ("c@example.com", "a@example.com", "b@example.com"):
        store.create_account(email, email + "k", email + "t", NOW)
    assert [a.email for a in store.list_accounts()] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]


def test_page_is_newest_first_with_session_id_tiebreak(store: Store, account_id: int) -> None:
    store.put_calls(
        account_id,
        [stored("a", 100), stored("c", 200), stored("b", 200), stored("d", 50)],
    )
    total, rows = read_all(store, query(account_id))
    assert total == 4
    assert [row[4] for row in rows] == ["c", "b", "a", "d"]


def test_window_is_half_open(store: Store, account_id: int) -> None:
    store.put_calls(account_id, [stored(str(t), t) for t in (99, 100, 150, 199, 200)])
    total, rows = read_all(store, query(account_id, start=100, end=200))
    assert total == 3
    assert [row[2] for row in rows] == [199, 150, 100]


def test_paging_and_total(store: Store, account_id: int) -> None:
    store.put_calls(account_id, [stored(f"s{t:03d}", t) for t in range(1, 26)])
    total, rows = read_all(store, query(account_id, offset=5, limit=10))
    assert total == 25
    assert [row[2] for row in rows] == list(range(20, 10, -1))
    total, rows = read_all(store, query(account_id, offset=30))
    assert (total, rows) == (25, [])


def test_number_filters_on_dest(store: Store, account_id: int) -> None:
    store.put_calls(
        account_id,
        [stored("x", 10, dest="111"), stored("y", 20, dest="222"), stored("z", 30, src="111")],
    )
    total, rows = read_all(store, query(account_id, number="111"))
    assert total == 1
    assert [row[4] for row in rows] == ["x"]


def test_log_and_fragment_follow_detail_and_cutoff(store: Store, account_id: int) -> None:
    store.put_calls(
        account_id,
        [
            stored("old", 100),
            stored("fresh", 300),
            stored("edge", 200),
            stored("private", 300, private=True),
            stored("empty", 300, detail=[]),
        ],
    )
    _, rows = read_all(store, query(account_id, detail_cutoff=200), "json")
    by_id = {row[4]: row for row in rows}
    assert {sid: bool(row[6]) for sid, row in by_id.items()} == {
        "old": False,
        "fresh": True,
        "edge": True,
        "private": False,
        "empty": False,
    }
    assert by_id["old"][7] is None
    assert by_id["fresh"][7] is not None
    assert by_id["fresh"][7].startswith('[{"event":')
    _, xml_rows = read_all(store, query(account_id, detail_cutoff=200), "xml")
    assert {row[4]: row[7] for row in xml_rows}["fresh"].startswith("<item><event>")
    _, summary_rows = read_all(store, query(account_id, detail_cutoff=200))
    assert all(row[7] is None for row in summary_rows)
    assert {row[4]: bool(row[6]) for row in summary_rows} == {
        sid: bool(row[6]) for sid, row in by_id.items()
    }


def test_call_detail_found_unavailable_missing(store: Store, account_id: int) -> None:
    store.put_calls(account_id, [stored("a;1", 300), stored("p", 300, private=True)])
    exists, fragment = store.call_detail(account_id, "a;1", "json", 0)
    assert exists
    assert fragment is not None
    assert fragment.startswith("[")
    assert store.call_detail(account_id, "a;1", "json", 301) == (True, None)
    assert store.call_detail(account_id, "p", "xml", 0) == (True, None)
    assert store.call_detail(account_id, "missing", "json", 0) == (False, None)


def test_call_detail_hides_calls_started_before_the_call_cutoff(
    store: Store, account_id: int
) -> None:
    store.put_calls(account_id, [stored("before", 299), stored("at", 300)])
    opened = {"src": "1", "dest": "2", "type": "inbound"}
    for session_id, t in (("open-before", 299), ("open-at", 300)):  # calls in progress
        append_entries(
            store, account_id, session_id, {**opened, "entries": [entry(timestamp=t)]}, now=t
        )
    for session_id in ("before", "open-before"):
        assert store.call_detail(account_id, session_id, "json", 0, call_cutoff=300) == (
            False,
            None,
        )
        assert store.call_detail(account_id, session_id, "xml", 0)[1] is not None
    for session_id in ("at", "open-at"):
        found, fragment = store.call_detail(account_id, session_id, "json", 0, call_cutoff=300)
        assert found
        assert fragment is not None


def test_accounts_are_isolated(store: Store, account_id: int) -> None:
    other = store.create_account("b@example.com", "k", "t", NOW).id
    store.put_calls(account_id, [stored("same", 100)])
    store.put_calls(other, [stored("same", 200, dest="999")])
    _, mine = read_all(store, query(account_id))
    _, theirs = read_all(store, query(other))
    assert [(r[2], r[0]) for r in mine] == [(100, "6177123001")]
    assert [(r[2], r[0]) for r in theirs] == [(200, "999")]
    assert store.call_detail(other, "only-mine", "json", 0) == (False, None)


def test_put_replaces_by_session_id(store: Store, account_id: int) -> None:
    store.put_calls(account_id, [stored("s", 100, detail=[entry("first")])])
    store.put_calls(account_id, [stored("s", 150, src="555", detail=[entry("second")])])
    total, rows = read_all(store, query(account_id), "json")
    assert total == 1
    assert (rows[0][1], rows[0][2]) == ("555", 150)
    assert "second" in rows[0][7]
    assert "first" not in rows[0][7]
    store.put_calls(account_id, [stored("s", 150, private=True)])
    assert store.call_detail(account_id, "s", "json", 0) == (True, None)


def test_put_is_atomic(store: Store, account_id: int) -> None:
    good = stored("good", 100)
    bad = StoredCall("bad", "1", "2", "inbound", 1, 2, False, 1, None, None)
    object.__setattr__(bad, "start", None)  # violates NOT NULL inside the transaction
    with pytest.raises(Exception):  # noqa: B017, PT011 - each backend raises its own error
        store.put_calls(account_id, [good, bad])
    assert read_all(store, query(account_id))[0] == 0


def test_delete_account_calls(store: Store, account_id: int) -> None:
    other = store.create_account("b@example.com", "k", "t", NOW).id
    store.put_calls(account_id, [stored("a", 1), stored("b", 2)])
    store.put_calls(other, [stored("a", 1)])
    assert store.delete_account_calls(account_id) == 2
    assert read_all(store, query(account_id))[0] == 0
    assert read_all(store, query(other))[0] == 1
    assert store.call_detail(account_id, "a", "json", 0) == (False, None)


def test_page_is_a_snapshot(store: Store, account_id: int) -> None:
    # more calls than a batch of summaries holds, on either store
    store.put_calls(account_id, [stored(f"s{i:04d}", i) for i in range(1, 1201)])
    page = store.open_page(query(account_id, limit=1200), None)
    batches = page.batches()
    first = next(batches)
    store.put_calls(account_id, [stored("late", 1000)])
    rest = [row for batch in batches for row in batch]
    assert rest
    assert page.total == 1200
    assert len(first) + len(rest) == 1200
    assert "late" not in {row[4] for row in rest}
    page.close()
    page.close()


@databases_only
def test_committed_calls_survive_reopen(store: Store, db_url: str, account_id: int) -> None:
    store.put_calls(account_id, [stored("durable", 100)])
    again = open_store(db_url)
    try:
        assert again.call_detail(account_id, "durable", "json", 0)[0]
    finally:
        again.close()


def test_concurrent_writers_lose_nothing(store: Store, account_id: int) -> None:
    def write(worker: int) -> None:
        for n in range(20):
            store.put_calls(account_id, [stored(f"w{worker}-{n}", 100 + n)])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read_all(store, query(account_id))[0] == 80


def test_total_calls_agree_with_the_rows_for_any_window(store: Store, account_id: int) -> None:
    """SQLite sums whole hours from its hourly counts (kept by triggers) and counts the
    edges; the totals must match the rows whatever the window, after inserts, replacements
    that move a call to another hour or number, and purges."""
    rng = random.Random(5)
    hour = 3600
    base = NOW - NOW % hour - 10 * hour

    def some_calls(prefix: str, count: int) -> list[StoredCall]:
        return [
            stored(
                f"{prefix}{i}",
                base + rng.randrange(10 * hour),
                dest=rng.choice(["1", "2", "3"]),
            )
            for i in range(count)
        ]

    other = store.create_account("other@example.com", "k", "t", NOW).id
    store.put_calls(account_id, some_calls("s", 150))
    store.put_calls(other, some_calls("s", 50))  # the same session ids, another account
    store.put_calls(account_id, some_calls("s", 60))  # replaces 60: new hours, new numbers
    assert store.delete_calls_before(base + 2 * hour + 17, 10_000) > 0
    edges = [base + h * hour + d for h in range(-1, 12) for d in (-1, 0, 1)]
    for _ in range(150):
        start = rng.choice([*edges, base + rng.randrange(11 * hour)])
        end = start + rng.choice([1, hour - 1, hour, hour + 1, rng.randrange(12 * hour)])
        for number in (None, "2"):
            total, rows = read_all(
                store, query(account_id, start=start, end=end, number=number, limit=10_000)
            )
            assert total == len(rows), (start - base, end - base, number)
    total, rows = read_all(store, query(other, limit=10_000))
    assert 0 < total == len(rows) < 50  # the purge took the other account's early calls too
    store.delete_account_calls(account_id)
    assert read_all(store, query(account_id, limit=10_000))[0] == 0
    store.put_calls(account_id, some_calls("t", 5))
    assert read_all(store, query(account_id, limit=10_000))[0] == 5


def test_a_call_in_progress_is_read_with_its_summary_so_far(store: Store, account_id: int) -> None:
    other_account_id = store.create_account("other@example.com", "k2", "t2", NOW).id
    opened = {"src": "6175550100", "dest": "8005550100", "type": "inbound"}
    update = {**opened, "entries": [entry(timestamp=NOW - 50)]}
    append_entries(store, account_id, "live;1", update, now=NOW)
    found = store.call_in_progress(account_id, "live;1")
    assert found is not None
    assert (found.session_id, found.src, found.dest, found.type, found.start) == (
        "live;1",
        "6175550100",
        "8005550100",
        "inbound",
        NOW - 50,
    )
    assert store.call_in_progress(other_account_id, "live;1") is None  # another account's
    assert store.call_in_progress(account_id, "missing") is None
    append_entries(store, account_id, "live;1", {"entries": [], "end": NOW}, now=NOW)
    assert store.call_in_progress(account_id, "live;1") is None  # completed: no longer
