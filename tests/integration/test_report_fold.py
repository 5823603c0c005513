"""The reports' rows written and folded (storage/report_sql.py): PostgreSQL appends each
write's rows and folds them into one a key every few seconds; a read sums the folded and
the pending ones, so that it gives the same before and after a fold. SQLite upserts in
place and has nothing to fold."""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
import pytest

from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import Erasure
from ivrlog.core.ports import Store
from ivrlog.core.reports import pieces
from ivrlog.storage.partitions import LOCK_CLASS, LOCK_FOLD
from ivrlog.storage.report_sql import KEYS, PENDING, fold
from tests.conftest import STORE_BACKENDS
from tests.factories import NOW, call, entry

HOUR = NOW - NOW % 3600 - 7200
postgres_only = pytest.mark.parametrize("backend", ["postgresql"])


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _call(session_id: str, app: str, start: int, *modules: str) -> Any:
    detail = [entry(f'Executing application "{app}"', "info", start, "start", "begin")]
    detail += [entry("step", "info", start + 5 * i, "menu", m) for i, m in enumerate(modules)]
    return prepare_call(call(session_id, start, end=start + 40, detail=detail))


def _reports(store: Store, account_id: int) -> list[Any]:
    wanted = pieces(HOUR - 86_400, HOUR + 86_400)
    return [
        store.report_rows(account_id, table, app, wanted, by=by)
        for table in ("volume", "durations", "modules")
        for app in (None, "Bank", "Poll")
        for by in (None, 3600, 86_400)
    ]


def _pending(url: str, where: str = "true") -> int:
    with psycopg.connect(url) as conn:
        rows = [
            conn.execute(f"SELECT count(*) FROM {PENDING[t]} WHERE {where}").fetchone()
            for t in KEYS
        ]
    return sum(row[0] for row in rows if row is not None)


def test_an_application_is_listed_while_its_calls_in_the_window_count(store: Store) -> None:
    account_id = store.create_account("apps@example.com", "k", "t", NOW).id
    wanted = pieces(HOUR - 3600, HOUR + 7200)
    store.put_calls(account_id, [_call("s1", "Bank", HOUR + 60, "a")])
    store.fold_reports()
    assert store.report_apps(account_id, wanted) == ["Bank"]
    # replaced by a call of another application: Bank's rows of that hour now sum to
    # nothing (on PostgreSQL a folded +1 and a pending -1)
    store.put_calls(account_id, [_call("s1", "Poll", HOUR + 60, "a")])
    assert store.report_apps(account_id, wanted) == ["Poll"]
    store.fold_reports()
    assert store.report_apps(account_id, wanted) == ["Poll"]
    store.put_calls(account_id, [_call("s2", "Bank", HOUR + 120, "b")])
    assert store.report_apps(account_id, wanted) == ["Bank", "Poll"]


@postgres_only
def test_a_fold_moves_the_pending_rows_and_the_reports_read_the_same(
    store: Store, db_url: str
) -> None:
    account_id = store.create_account("fold@example.com", "k", "t", NOW).id
    other = store.create_account("other@example.com", "k", "u", NOW).id
    store.put_calls(other, [_call("o1", "Bank", HOUR, "a")])
    store.put_calls(
        account_id,
        [_call(f"s{i}", "Bank" if i % 2 else "Poll", HOUR + 600 * i, "a", "b") for i in range(6)],
    )
    store.fold_reports()
    # more rows of the same keys, replacements (negative rows) and an erasure, pending
    store.put_calls(account_id, [_call("s7", "Bank", HOUR + 30, "a", "c")])
    store.put_calls(account_id, [_call("s1", "Poll", HOUR + 3700, "b")])
    store.erase(account_id, Erasure(session_id="s2"), "h", NOW)
    before = _reports(store, account_id)
    assert _pending(db_url) > 0
    assert any(rows for rows in before)

    assert store.fold_reports() > 0
    assert _pending(db_url) == 0
    assert _reports(store, account_id) == before
    with psycopg.connect(db_url) as conn:
        for table, keys in KEYS.items():
            counted = conn.execute(
                f"SELECT count(*), count(DISTINCT ({', '.join(keys)})) FROM {table}"
            ).fetchone()
            assert counted is not None
            assert counted[0] == counted[1]  # one row a key
            # and the moved rows' space freed: no report reads through their pages
            size = conn.execute("SELECT pg_relation_size(%s)", (PENDING[table],)).fetchone()
            assert size == (0,)
    assert store.fold_reports() == 0  # nothing left to fold


@postgres_only
def test_a_fold_under_way_elsewhere_leaves_the_rows_to_it(store: Store, db_url: str) -> None:
    account_id = store.create_account("turn@example.com", "k", "t", NOW).id
    store.put_calls(account_id, [_call("s1", "Bank", HOUR, "a")])
    before = _reports(store, account_id)
    with psycopg.connect(db_url) as other:  # another process's fold, holding its lock
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, LOCK_FOLD))
        assert store.fold_reports() == 0
        assert _pending(db_url) > 0
    assert store.fold_reports() > 0
    assert _pending(db_url) == 0
    assert _reports(store, account_id) == before


@postgres_only
def test_the_purge_and_an_account_deletion_take_pending_rows_too(
    store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = store.create_account("gone@example.com", "k", "t", NOW).id
    store.put_calls(account_id, [_call("s1", "Bank", HOUR, "a")])
    assert _pending(db_url) > 0
    store.delete_account_calls(account_id)
    assert _pending(db_url) == 0
    store.put_calls(account_id, [_call("s2", "Bank", HOUR, "a")])
    # rows that no fold took (another process's fold was under way): the drop takes them
    monkeypatch.setattr(store, "fold_reports", lambda: 0)
    while store.delete_calls_before(NOW, 1000) >= 1000:
        pass
    # the hour is over and goes; the day it is in is not over yet, and stays
    assert _pending(db_url, "span = 3600") == 0
    assert _pending(db_url, "span = 86400") > 0


@postgres_only
def test_writes_folds_and_reads_at_once_count_every_call_once(store: Store, db_url: str) -> None:
    """Batches written while two stores (two server processes) fold and a third reads:
    a read never sees a row both pending and folded (its total only grows), and at the
    end every call counts once."""
    from ivrlog.storage import open_store

    account_id = store.create_account("busy@example.com", "k", "t", NOW).id
    others = [open_store(db_url) for _ in range(2)]
    wanted = pieces(HOUR - 86_400, HOUR + 86_400)
    done = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def calls_counted() -> int:
        rows = store.report_rows(account_id, "volume", None, wanted, by=None)
        return sum(row.counts[0] for row in rows)

    def fold(folder: Store) -> None:
        try:
            while not done.is_set():
                folder.fold_reports()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def read() -> None:
        try:
            while not done.is_set():
                seen.append(calls_counted())
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=fold, args=(o,)) for o in others]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    try:
        for batch in range(20):
            store.put_calls(
                account_id,
                [_call(f"b{batch}-{i}", "Bank", HOUR + 97 * i, "a", "b") for i in range(5)],
            )
    finally:
        done.set()
        for thread in threads:
            thread.join()
        for other in others:
            other.close()
    assert failures == []
    assert seen == sorted(seen)  # never a row counted twice, then once
    assert calls_counted() == 100
    store.fold_reports()
    assert calls_counted() == 100
    assert _pending(db_url) == 0


def _report_rows_of(url: str, account_id: int) -> int:
    with psycopg.connect(url) as conn:
        rows = [
            conn.execute(
                f"SELECT count(*) FROM {t} WHERE account_id = %s", (account_id,)
            ).fetchone()
            for name in KEYS
            for t in (name, PENDING[name])
        ]
    return sum(row[0] for row in rows if row is not None)


@postgres_only
@pytest.mark.parametrize("deletion", ["account", "purge"])
def test_a_deletion_waits_for_a_fold_under_way_and_leaves_no_row(
    store: Store, db_url: str, deletion: str
) -> None:
    """Another process's fold has moved the rows but not committed: the account's
    deletion (or the purge's drop of the hours it covers) waits for it, then deletes what
    it folded, instead of missing the new rows and finding the pending ones gone."""
    account_id = store.create_account("race@example.com", "k", "t", NOW).id
    store.put_calls(account_id, [_call("s1", "Bank", HOUR - 2 * 86_400, "a")])
    assert _report_rows_of(db_url, account_id) > 0
    failures: list[BaseException] = []

    def delete() -> None:
        try:
            if deletion == "account":
                store.delete_account_calls(account_id)
            else:
                while store.delete_calls_before(NOW, 1000) >= 1000:
                    pass
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    with psycopg.connect(db_url) as other:  # a fold under way, not committed yet
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, LOCK_FOLD))
        assert fold(other) > 0
        deleting = threading.Thread(target=delete)
        deleting.start()
        deleting.join(0.5)
        assert deleting.is_alive()  # waiting for the fold
    deleting.join()
    assert failures == []
    assert _report_rows_of(db_url, account_id) == 0


@postgres_only
def test_a_fold_whose_vacuum_fails_is_still_done_and_says_so(
    store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ivrlog.storage import report_sql

    account_id = store.create_account("vac@example.com", "k", "t", NOW).id
    store.put_calls(account_id, [_call("s1", "Bank", HOUR, "a")])
    before = _reports(store, account_id)
    monkeypatch.setattr(report_sql, "VACUUM_PENDING", "VACUUM no_such_table")
    with caplog.at_level(logging.ERROR, logger="ivrlog.storage"):
        assert store.fold_reports() > 0  # committed before the VACUUM
    assert [r.getMessage() for r in caplog.records] == [
        "vacuuming the reports' pending rows failed"
    ]
    assert _pending(db_url) == 0
    assert _reports(store, account_id) == before
