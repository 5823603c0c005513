"""The retention purge end to end: `ivrlog purge` on a database file, and the purge the
server runs at start-up and every `purge_interval` seconds."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from ivrlog.cli import app as cli
from ivrlog.core.accounts import Credentials, add_account
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.live import append_entries
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.storage import open_store
from ivrlog.web import create_app
from tests.conftest import sqlite_only
from tests.factories import DAY, NOW, basic, call, database_text, entry, ingest

T = NOW  # the time every purge here pretends it is
EMAIL = "ops@example.com"
OLD_MARK = "OLDCALLMARK-91d2"  # a call past call retention (365 days)
OLD_SRC = "OLDSRC4471"
MIDDLE_MARK = "MIDDLEMARK-3fa8"  # a call past detail retention (5 days) only
FRESH_MARK = "FRESHMARK-c06e"
LIVE_MARK = "LIVEMARK-a5b1"  # a live call left open for 5 hours (timeout: 4)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def purge_json(db: str, *args: str) -> dict[str, Any]:
    result = run("purge", "--db", db, "--now", str(T), "--json", *args)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = orjson.loads(result.stdout)
    return report


def account_id(store: Store, email: str) -> int:
    account = store.account_by_email(email)
    assert account is not None
    return account.id


def listed(client: TestClient, creds: Credentials, end: int = T + DAY) -> dict[str, bool]:
    response = client.get(f"/api/calls/0/{end}", auth=basic(creds))
    assert response.status_code == 200, response.text
    return {c["session_id"]: c["log"] for c in orjson.loads(response.content)["calls"]}


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def db(db_url: str) -> str:
    """A fresh database of each backend."""
    return db_url


@pytest.fixture
def creds(db: str) -> Credentials:
    """A database with an old, a middle, a fresh and a silent live call, each with its
    own marker; the store is closed again before the test runs a command."""
    store = open_store(db)
    try:
        credentials = add_account(store, EMAIL, now=T - 500 * DAY)
        owner = account_id(store, EMAIL)
        ingest_calls(
            store,
            owner,
            [
                call(
                    "old",
                    T - 400 * DAY,
                    src=OLD_SRC,
                    detail=[entry(OLD_MARK, timestamp=T - 400 * DAY)],
                ),
                call("middle", T - 10 * DAY, detail=[entry(MIDDLE_MARK, timestamp=T - 10 * DAY)]),
                call("fresh", T - DAY, detail=[entry(FRESH_MARK, timestamp=T - DAY)]),
            ],
        )
        live = {"src": "1", "dest": "2", "type": "inbound"}
        started = T - 5 * 3600
        update = {**live, "entries": [entry(LIVE_MARK, timestamp=started)]}
        append_entries(store, owner, "live", update, now=started)
    finally:
        store.close()
    text = database_text(db)
    for marker in (OLD_MARK, OLD_SRC, MIDDLE_MARK, FRESH_MARK, LIVE_MARK):
        assert marker in text
    return credentials


# ivrlog purge


def month_start(moment: int) -> int:
    day = datetime.fromtimestamp(moment, UTC).date().replace(day=1)
    return int(datetime(day.year, day.month, 1, tzinfo=UTC).timestamp())


def purged_before(backend: str, detail_cutoff: int, call_cutoff: int) -> tuple[int, int]:
    """Where the purge cuts: at the cutoffs on SQLite; on PostgreSQL, at the start of the
    day (detail) and month (calls) partitions holding them, which it drops whole."""
    if backend == "sqlite":
        return detail_cutoff, call_cutoff
    return detail_cutoff - detail_cutoff % DAY, month_start(call_cutoff)


def test_purge_json_removes_expired_content_and_the_api_agrees(
    db: str, creds: Credentials, backend: str
) -> None:
    report = purge_json(db)
    details_before, calls_before = purged_before(backend, T - 5 * DAY, T - 365 * DAY)

    # details go first: the old call's detail counts among them, then the call itself
    assert report == {
        "open_calls_completed": 1,
        "details_deleted": 2,
        "calls_deleted": 1,
        "detail_cutoff": details_before,
        "call_cutoff": calls_before,
        "scrubbed": True,
    }
    text = database_text(db)
    for gone in (OLD_MARK, OLD_SRC, MIDDLE_MARK):
        assert gone not in text
    assert FRESH_MARK in text
    assert LIVE_MARK in text  # completed, now a stored call's detail

    app = create_app(Settings(database=db, purge_interval=0), clock=lambda: T)
    with TestClient(app) as client:
        assert listed(client, creds) == {"middle": False, "fresh": True, "live": True}
        live = client.get("/api/call/live", auth=basic(creds))
        assert live.status_code == 200, live.text
        assert [e["event"]["line"] for e in orjson.loads(live.content)] == [LIVE_MARK]
        assert client.get("/api/call/old", auth=basic(creds)).status_code == 404


def test_purge_text_names_the_counts_and_a_second_run_finds_nothing(
    db: str, creds: Credentials
) -> None:
    def counts(output: str) -> tuple[int, ...]:
        found = []
        for label in ("open calls completed", "call details deleted", "calls deleted"):
            match = re.search(rf"^\s*{label}:\s+(\d+)", output, re.MULTILINE)
            assert match is not None, output
            found.append(int(match.group(1)))
        return tuple(found)

    first = run("purge", "--db", db, "--now", str(T))
    assert first.exit_code == 0, first.output
    assert counts(first.stdout) == (1, 2, 1)
    assert db in first.stdout
    assert "cleared" in first.stdout

    second = run("purge", "--db", db, "--now", str(T))
    assert second.exit_code == 0, second.output
    assert counts(second.stdout) == (0, 0, 0)


def test_purge_json_second_run_reports_zeros(db: str, creds: Credentials) -> None:
    assert purge_json(db)["calls_deleted"] == 1
    again = purge_json(db)
    assert (again["open_calls_completed"], again["details_deleted"], again["calls_deleted"]) == (
        0,
        0,
        0,
    )
    assert again["scrubbed"] is True


def test_retention_flags_change_what_is_removed(db: str, creds: Credentials, backend: str) -> None:
    # 11 days of detail, 500 of calls: only the old call loses its detail
    report = purge_json(db, "--detail-retention-days", "11", "--call-retention-days", "500")
    assert (report["details_deleted"], report["calls_deleted"]) == (1, 0)
    assert (report["detail_cutoff"], report["call_cutoff"]) == purged_before(
        backend, T - 11 * DAY, T - 500 * DAY
    )
    text = database_text(db)
    assert OLD_MARK not in text
    assert OLD_SRC in text  # the call is kept, its detail is not
    assert MIDDLE_MARK in text

    # 9 days of both: the middle call loses its detail, then it and the old call go (on
    # PostgreSQL the middle call stays until its month's partition is wholly past)
    report = purge_json(db, "--detail-retention-days", "9", "--call-retention-days", "9")
    middle_kept = backend == "postgresql"
    assert (report["details_deleted"], report["calls_deleted"]) == (1, 1 if middle_kept else 2)
    text = database_text(db)
    assert OLD_SRC not in text
    assert MIDDLE_MARK not in text
    assert FRESH_MARK in text

    store = open_store(db)
    try:
        owner = account_id(store, EMAIL)
        assert store.call_detail(owner, "old", "json", 0) == (False, None)
        assert store.call_detail(owner, "middle", "json", 0) == (middle_kept, None)
        assert store.call_detail(owner, "fresh", "json", 0)[1] is not None
    finally:
        store.close()


def test_call_retention_shorter_than_detail_retention_is_refused(
    db: str, creds: Credentials
) -> None:
    result = run(
        "purge",
        "--db",
        db,
        "--now",
        str(T),
        "--call-retention-days",
        "1",
        "--detail-retention-days",
        "5",
    )
    assert result.exit_code == 2
    assert "call_retention_days" in result.output
    text = database_text(db)  # nothing was purged
    for marker in (OLD_MARK, OLD_SRC, MIDDLE_MARK, FRESH_MARK):
        assert marker in text


# the purge inside the server


def test_the_server_purges_every_purge_interval(
    store: Store, db_url: str, account: Credentials
) -> None:
    marker = "AGINGMARK-6d3e"
    now = [float(NOW)]
    settings = Settings(database=db_url, purge_interval=1)
    app = create_app(settings, store=store, clock=lambda: now[0])
    later = NOW + 2 * DAY
    cutoff_later = later - 5 * DAY
    with TestClient(app) as client:
        start = NOW - 4 * DAY  # within the detail window now, past it two days later
        response = ingest(
            client, account, [call("aging", start, detail=[entry(marker, timestamp=start)])]
        )
        assert response.status_code == 200, response.text
        # the clock has not moved: however often the purge ran, the detail is there
        assert store.count_expired(cutoff_later, 0) == (1, 0)
        assert marker in database_text(db_url)
        assert listed(client, account) == {"aging": True}

        now[0] = later
        assert wait_until(lambda: store.count_expired(cutoff_later, 0)[0] == 0)
        assert wait_until(lambda: marker not in database_text(db_url))
        assert listed(client, account, later + DAY) == {"aging": False}
    assert store.count_expired(later, later) == (0, 1)  # the call itself stays


def ancient_call(store: Store, creds: Credentials, marker: str) -> None:
    start = NOW - 400 * DAY
    ingest_calls(
        store,
        account_id(store, creds.email),
        [call("ancient", start, detail=[entry(marker, timestamp=start)])],
    )
    assert store.count_expired(NOW, NOW) == (1, 1)


def test_the_server_purges_as_soon_as_it_starts(
    store: Store, db_url: str, account: Credentials
) -> None:
    """The first purge starts with the server, in the background (not after an interval)."""
    marker = "STARTUPMARK-0e4f"
    ancient_call(store, account, marker)
    assert marker in database_text(db_url)
    app = create_app(Settings(database=db_url), store=store, clock=lambda: NOW)
    with TestClient(app) as client:
        assert wait_until(lambda: store.count_expired(NOW, NOW) == (0, 0))
        assert wait_until(lambda: marker not in database_text(db_url))
        assert listed(client, account) == {}


def test_purge_interval_zero_purges_nothing_at_start_up(
    store: Store, db_url: str, account: Credentials
) -> None:
    marker = "KEPTMARK-7b19"
    ancient_call(store, account, marker)
    # a retention that keeps the call, so that the API shows it is still stored
    settings = Settings(database=db_url, purge_interval=0, call_retention_days=500)
    app = create_app(settings, store=store, clock=lambda: NOW)
    with TestClient(app) as client:
        assert store.count_expired(NOW, NOW) == (1, 1)
        assert marker in database_text(db_url)
        assert listed(client, account) == {"ancient": False}  # listed, unreadable by age


@pytest.mark.parametrize("now", ["-5", "253402300800", "99999999999999999999"])
def test_purge_refuses_a_time_out_of_range(db: str, creds: Credentials, now: str) -> None:
    result = run("purge", "--db", db, "--now", now)
    assert result.exit_code == 2
    assert "--now" in result.output
    assert FRESH_MARK in database_text(db)


@sqlite_only
def test_purge_exits_3_when_the_journal_could_not_be_cleared(
    db: str, creds: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivrlog.storage.sqlite import SqliteStore

    monkeypatch.setattr(SqliteStore, "scrub", lambda self: False)
    result = run("purge", "--db", db, "--now", str(T), "--json")
    assert result.exit_code == 3
    report = orjson.loads(result.stdout)
    assert (report["scrubbed"], report["details_deleted"]) == (False, 2)
    text = run("purge", "--db", db, "--now", str(T))
    assert text.exit_code == 3
    assert "could not be cleared yet" in text.output


@sqlite_only
def test_the_server_retries_an_owed_scrub_without_waiting_for_a_write(
    store: Store, db_url: str, account: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader kept the checkpoint from clearing a replaced detail; once it is gone, the
    server clears it on its own within a few seconds, with no further write."""
    import ivrlog.web.purge as background
    from ivrlog.core.model import CallQuery

    monkeypatch.setattr(background, "SCRUB_RETRY", 0.05)
    marker = "zq-owed-by-a-reader-2207"
    app = create_app(Settings(database=db_url, purge_interval=0), store=store, clock=lambda: NOW)
    with TestClient(app) as client:
        first = call("r", NOW - 60, detail=[entry(marker, timestamp=NOW - 60)])
        assert ingest(client, account, [first]).status_code == 200
        owner = store.account_by_email(account.email)
        assert owner is not None
        page = store.open_page(CallQuery(owner.id, 0, NOW + DAY, None, 0, 10, 0), "json")
        rows = page.batches()
        next(rows)  # a reader holding its snapshot
        assert ingest(client, account, [call("r", NOW - 60, private=True)]).status_code == 200
        assert marker in database_text(db_url)
        page.close()
        assert wait_until(lambda: marker not in database_text(db_url))


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_server_folds_the_reports_rows_every_fold_interval(
    store: Store, db_url: str, account: Credentials
) -> None:
    """PostgreSQL appends the reports' rows of each write; the server folds them into
    one a key in the background every `fold_interval` seconds, with its purge off."""
    import psycopg

    def pending() -> int:
        with psycopg.connect(db_url) as conn:
            row = conn.execute("SELECT count(*) FROM report_volume_pending").fetchone()
        return -1 if row is None else int(row[0])

    settings = Settings(database=db_url, purge_interval=0, fold_interval=1)
    app = create_app(settings, store=store, clock=lambda: NOW)
    with TestClient(app) as client:
        calls = [
            call(f"f{i}", NOW - 600 * i, detail=[entry(timestamp=NOW - 600 * i)]) for i in range(3)
        ]
        assert ingest(client, account, calls).status_code == 200
        assert wait_until(lambda: pending() == 0)
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT sum(calls) FROM report_volume WHERE span = 86400").fetchone()
    assert row is not None
    assert row[0] == 3
