"""`ivrlog demo`'s core (ivrlog.core.demo_database) on both backends: the demo account
made or rotated, its calls replaced, the sample call; and the curl lines the command
shows (ivrlog.cli)."""

from __future__ import annotations

import shlex
from typing import Any

from ivrlog.cli import curl_lines
from ivrlog.core.accounts import add_account, hash_secret
from ivrlog.core.demo import DEMO_EMAIL, demo_calls
from ivrlog.core.demo_database import fill_demo_database, sample_call
from ivrlog.core.model import CallQuery
from ivrlog.core.ports import Store
from ivrlog.core.report_requests import funnel_report, parse_report
from tests.factories import call, entry

NOW = 1_795_000_000
DAY = 86_400


def stored_calls(store: Store, email: str) -> int:
    account = store.account_by_email(email)
    assert account is not None
    page = store.open_page(CallQuery(account.id, 0, NOW * 2, None, 0, 10000, 0), None)
    try:
        return page.total
    finally:
        page.close()


def test_fill_makes_the_account_stores_the_calls_and_reports_progress(store: Store) -> None:
    told: list[int] = []
    made = fill_demo_database(store, 1200, seed=7, now=NOW, progress=told.append)
    assert (made.seed, made.now) == (7, NOW)
    assert told == [500, 500, 200]  # one report a batch
    assert made.calls == demo_calls(1200, seed=7, now=NOW)
    assert stored_calls(store, DEMO_EMAIL) == 1200
    account = store.account_by_email(DEMO_EMAIL)
    assert account is not None
    assert account.created_at == NOW
    assert account.developer_key_hash == hash_secret(made.credentials.developer_key)
    assert made.sample in made.calls


def test_a_rerun_rotates_and_replaces_only_the_demo_account(store: Store) -> None:
    add_account(store, "real@example.com", now=NOW)
    other = store.account_by_email("real@example.com")
    assert other is not None
    first = fill_demo_database(store, 40, seed=1, now=NOW)
    second = fill_demo_database(store, 30, seed=2, now=NOW + 60)
    assert second.credentials.developer_key != first.credentials.developer_key
    assert second.credentials.ingest_token != first.credentials.ingest_token
    demo = store.account_by_email(DEMO_EMAIL)
    assert demo is not None
    assert demo.created_at == NOW  # the account was kept, its credentials replaced
    assert demo.developer_key_hash == hash_secret(second.credentials.developer_key)
    assert stored_calls(store, DEMO_EMAIL) == 30
    assert stored_calls(store, "real@example.com") == 0
    assert store.account_by_email("real@example.com") == other


def test_without_a_seed_or_a_moment_one_is_chosen_and_reported(store: Store) -> None:
    made = fill_demo_database(store, 5)
    assert made.calls == demo_calls(5, seed=made.seed, now=made.now)
    assert made.now > NOW - 365 * DAY


def shown(session_id: str, start: int, **fields: Any) -> dict[str, Any]:
    entries = [entry(f"line {n}", timestamp=start + n) for n in range(fields.pop("entries", 1))]
    return {**call(session_id, start, detail=entries), "private": False, **fields}


def test_the_sample_is_the_newest_readable_inbound_call_with_ten_entries() -> None:
    calls = [
        shown("long-old", NOW - 3 * DAY, entries=12),
        shown("long-new", NOW - 2 * DAY, entries=10),
        shown("short-newest", NOW - 100, entries=3),
        shown("private", NOW - 50, entries=12, private=True),
        shown("outbound", NOW - 40, entries=12, type="outbound"),
        shown("expired", NOW - 6 * DAY, entries=20),
    ]
    assert sample_call(calls, NOW, 5)["session_id"] == "long-new"
    # none with ten entries: the newest readable one
    assert sample_call(calls[2:], NOW, 5)["session_id"] == "short-newest"
    # nothing readable at all: still a call to show
    assert sample_call(calls[3:], NOW, 5)["session_id"] in {"private", "outbound", "expired"}


def test_curl_lines_cover_the_read_endpoints_over_the_detail_window() -> None:
    lines = curl_lines(
        host="0.0.0.0",
        port=9000,
        email="demo@ivrlog.example",
        key="ivk_k'ey",
        session_id="100035;000;1575898377",
        number="6177123001",
        now=NOW,
        detail_retention_days=2,
    )
    args = [shlex.split(line) for line in lines]
    assert all(a[:3] == ["curl", "-u", "demo@ivrlog.example:ivk_k'ey"] for a in args)
    window = f"{NOW - 2 * DAY}/{NOW + 3600}"
    assert args[0][-1] == f"http://127.0.0.1:9000/api/calls/{window}?limit=5"
    assert args[1][-1] == f"http://127.0.0.1:9000/api/all_logs/{window}?number=6177123001&limit=2"
    assert args[2][-1] == "http://127.0.0.1:9000/api/call/100035%3B000%3B1575898377"
    assert args[3][3:] == ["-H", "Accept: application/xml", args[2][-1]]
    assert args[4][-1] == "http://127.0.0.1:9000/v1/calls?from=-2d&ended_in=card_number&limit=5"
    named = curl_lines(
        host="logs.example",
        port=80,
        email="a@b.c",
        key="k",
        session_id="s",
        number="1",
        now=NOW,
        detail_retention_days=5,
    )
    assert named[2] == "curl -u a@b.c:k http://logs.example:80/api/call/s"


def test_the_demo_s_funnels_show_where_callers_drop_off(store: Store) -> None:
    fill_demo_database(store, 1500, seed=3, now=NOW)
    account = store.account_by_email(DEMO_EMAIL)
    assert account is not None

    def modules(app: str) -> dict[str, dict[str, Any]]:
        asked = parse_report(
            "funnel",
            [("app", app), ("from", str(NOW - 8 * DAY)), ("to", str(NOW + 1))],
            account_id=account.id,
            now=NOW,
            call_cutoff=0,
        )
        return {m["module"]: m for m in funnel_report(store, asked)["modules"]}

    card = modules("Acme Utilities Payments")["digits:card_number"]
    assert card["ended"] / card["reached"] > 0.12  # callers give up at the card number
    second = modules("Customer Survey")["yes_no:recommend"]
    assert second["ended"] / second["reached"] > 0.2  # and at the survey's second question
