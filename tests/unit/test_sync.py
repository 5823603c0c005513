"""core/sync.py on the in-memory store and a fake source: windows fitted to the page
limit, idempotence, detail completed later, resumption, the source's quirks, skips."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from ivrlog.core.accounts import add_account
from ivrlog.core.bringing import Target
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.model import CallFilter
from ivrlog.core.redact import BUILTIN_RULES
from ivrlog.core.sync import SyncPlan, WindowDone, _groups, source_name, sync
from tests.factories import DAY, NOW, call, entry
from tests.fake_source import FakeSource, SourceDown
from tests.fake_store import MemoryStore

SOURCE = source_name("https://fuse.example.com/", "Ops@Example.com")
SINCE = NOW - 3 * DAY


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def target(store: MemoryStore) -> Target:
    add_account(store, "local@example.com", now=NOW)
    account = store.account_by_email("local@example.com")
    assert account is not None
    return Target(store, account.id, BUILTIN_RULES, NOW - 5 * DAY, NOW - 365 * DAY)


def plan(**changes: Any) -> SyncPlan:
    return SyncPlan(**{"source": SOURCE, "since": SINCE, "until": NOW, **changes})


def source_calls(count: int, start: int = SINCE, step: int = 600, prefix: str = "s") -> list[Any]:
    return [
        call(
            f"{prefix};{n:04d}",
            start + n * step,
            detail=[
                entry('Executing application "Desk"', timestamp=start + n * step),
                entry(f"Prompt {n}", "prompt", start + n * step + 1, "prompt", "welcome"),
            ],
        )
        for n in range(count)
    ]


def stored(target: Target) -> dict[str, tuple[Any, ...]]:
    """Every local call: its summary and its detail (parsed), by session id."""
    query = CallFilter(target.account_id, 0, MAX_TIME + 1, target.detail_cutoff)
    rows = target.store.search_calls(query, None, 100_000, detail=True)
    return {row[0]: (*row[1:6], row[6], orjson.loads(row[12]) if row[12] else None) for row in rows}


def last_change(target: Target) -> int:
    changes = target.store.changes(target.account_id, 0, 100_000, target.detail_cutoff)
    return max((c.seq for c in changes), default=0)


def test_every_call_is_copied_with_its_detail(target: Target) -> None:
    source = FakeSource()
    source.put(*source_calls(30))
    report = sync(source, target, plan(), NOW)
    copied = stored(target)
    assert len(copied) == 30
    assert copied["s;0007"][-1][1]["event"]["line"] == "Prompt 7"
    assert copied["s;0007"][:5] == (
        "6177123000",
        "6177123001",
        "inbound",
        SINCE + 4200,
        SINCE + 4237,
    )
    assert (report.added, report.updated, report.unchanged, report.listed) == (30, 0, 0, 30)
    assert target.store.sync_checkpoint(target.account_id, SOURCE) == NOW
    assert source_name("https://fuse.example.com/", "Ops@Example.com") == (
        "https://fuse.example.com ops@example.com"
    )


def test_a_second_run_writes_nothing(target: Target) -> None:
    source = FakeSource()
    source.put(*source_calls(30))
    sync(source, target, plan(), NOW)
    before, seq = stored(target), last_change(target)
    again = sync(source, target, plan(until=NOW + 60), NOW + 60)
    assert stored(target) == before
    assert last_change(target) == seq  # not even a replacement
    assert (again.added, again.updated, again.skipped) == (0, 0, 0)
    # resumed at the checkpoint less the overlap, not at `since`
    assert again.start == NOW - DAY
    assert all(kind == "calls" for kind, *_ in source.requests[-again.windows :])


def test_a_call_listed_without_detail_is_completed_when_it_has_some(target: Target) -> None:
    source = FakeSource()
    late = source_calls(1, start=NOW - 3600, prefix="late")[0]
    source.put(*source_calls(3), {**late, "log": False})
    sync(source, target, plan(), NOW)
    assert stored(target)["late;0000"][5:] == (0, None)
    source.put(late)  # its detail arrived at the source
    report = sync(source, target, plan(until=NOW + 60), NOW + 60)
    copied = stored(target)
    assert len(copied) == 4
    assert copied["late;0000"][5] == 1
    assert copied["late;0000"][6][1]["event"]["line"] == "Prompt 0"
    assert (report.added, report.updated) == (0, 1)


def test_windows_fit_the_page_limit_however_crowded(target: Target) -> None:
    source = FakeSource()
    crowded = [call(f"same;{n:02d}", NOW - DAY) for n in range(13)]  # 13 calls in one second
    source.put(*source_calls(40, step=1800), *crowded)
    report = sync(source, target, plan(page_limit=5, detail_page=4), NOW)
    assert set(stored(target)) == {
        c["session_id"] for c in [*source_calls(40, step=1800), *crowded]
    }
    assert report.added == 53
    assert all(limit <= 5 for *_, limit in source.requests)
    assert any(end - start == 1 and offset > 0 for _, start, end, offset, _ in source.requests)
    # each detail request holds at most 4 calls, but for the crowded second (paged)
    for kind, start, end, _, _ in source.requests:
        if kind == "all_logs" and end - start > 1:
            assert sum(start <= c["start"] < end for c in source.calls_by_id.values()) <= 4


def test_detail_is_read_only_where_a_call_needs_it(target: Target) -> None:
    source = FakeSource()
    source.put(*source_calls(20))
    sync(source, target, plan(), NOW)
    source.requests.clear()
    changed = source_calls(20)[3]
    source.put({**changed, "end": changed["end"] + 5})
    sync(source, target, plan(restart=True, until=NOW + 1), NOW + 1)
    details = [r for r in source.requests if r[0] == "all_logs"]
    assert len(details) == 1
    assert details[0][1] <= changed["start"] < details[0][2]


def test_an_interrupted_run_resumes_at_its_last_window(target: Target) -> None:
    source = FakeSource(fail_after=4)
    everything = source_calls(3 * 24 * 6, step=600)  # 3 days, a call every 10 minutes
    source.put(*everything)
    windows: list[WindowDone] = []
    with pytest.raises(SourceDown):
        sync(source, target, plan(page_limit=200), NOW, lambda w, r: windows.append(w))
    checkpoint = target.store.sync_checkpoint(target.account_id, SOURCE)
    assert windows
    assert checkpoint == windows[-1].end < NOW
    assert 0 < len(stored(target)) < len(everything)
    source.fail_after = None
    source.requests.clear()
    report = sync(source, target, plan(page_limit=200), NOW)
    assert report.start == checkpoint - DAY
    assert set(stored(target)) == {c["session_id"] for c in everything}


def test_outbound_calls_keep_a_number_the_account_knows(target: Target) -> None:
    source = FakeSource()
    out = call("out;1", NOW - 3600, type="outbound", src="6175550100")
    source.put(out)
    sync(source, target, plan(), NOW)
    assert stored(target)["out;1"][0] == "Outbound"  # the source hides the number
    # the account learns the number elsewhere (its platform's own ingestion)
    ingest_calls(target.store, target.account_id, [out])
    seq = last_change(target)
    sync(source, target, plan(restart=True), NOW)
    assert stored(target)["out;1"][0] == "6175550100"
    assert last_change(target) == seq


def test_local_detail_is_never_lost_to_a_source_that_let_it_expire(target: Target) -> None:
    source = FakeSource()
    kept = source_calls(1, start=NOW - 3600)[0]
    source.put(kept)
    sync(source, target, plan(), NOW)
    source.put({**kept, "log": False})  # expired at the source
    sync(source, target, plan(restart=True), NOW)
    assert stored(target)["s;0000"][6][1]["event"]["line"] == "Prompt 0"
    source.put({**kept, "log": False, "end": kept["end"] + 9})  # and changed
    report = sync(source, target, plan(restart=True), NOW)
    assert report.updated == 1
    assert stored(target)["s;0000"][4] == kept["end"] + 9
    assert stored(target)["s;0000"][6][1]["event"]["line"] == "Prompt 0"


def test_calls_the_local_rules_refuse_are_skipped_with_the_reason(target: Target) -> None:
    source = FakeSource()
    bad_entry = call("bad;1", NOW - 7200, detail=[{"event": {"line": "x"}, "class": "info"}])
    source.put(
        *source_calls(2), call("slash/id", NOW - 7000), bad_entry, call("local;1", NOW - 600)
    )
    source.calls_by_id["local;1"]["type"] = "local"
    windows: list[WindowDone] = []
    sync(source, target, plan(), NOW, lambda w, r: windows.append(w))
    skipped = {s.where: s.reason for w in windows for s in w.skipped}
    assert set(skipped) == {"slash/id", "bad;1", "local;1"}
    assert "session_id" in skipped["slash/id"]
    assert "detail[0]" in skipped["bad;1"]
    assert "type must be one of" in skipped["local;1"]
    assert set(stored(target)) == {"s;0000", "s;0001"}


def test_a_call_erased_at_the_source_meanwhile_is_skipped(target: Target) -> None:
    source = FakeSource()
    source.put(*source_calls(2, start=NOW - 3600))

    def erase_on_detail(kind: str, start: int, end: int) -> None:
        if kind == "all_logs":
            source.calls_by_id.pop("s;0001", None)

    source.on_request = erase_on_detail
    windows: list[WindowDone] = []
    sync(source, target, plan(), NOW, lambda w, r: windows.append(w))
    assert [(s.where, s.reason) for w in windows for s in w.skipped] == [
        ("s;0001", "no longer at the source when its detail was read")
    ]
    assert set(stored(target)) == {"s;0000"}


def test_redaction_applies_to_what_is_brought(target: Target) -> None:
    source = FakeSource()
    card = call(
        "card;1", NOW - 600, detail=[entry("Card 4111 1111 1111 1111 read", timestamp=NOW - 600)]
    )
    source.put(card)
    sync(source, target, plan(), NOW)
    assert stored(target)["card;1"][6][0]["event"]["line"] == "Card [redacted] read"


def test_detail_past_the_local_window_is_not_fetched(target: Target) -> None:
    source = FakeSource()
    source.put(*source_calls(3, start=NOW - 20 * DAY))
    sync(source, target, plan(since=NOW - 30 * DAY), NOW)
    assert [r for r in source.requests if r[0] == "all_logs"] == []
    assert {row[5] for row in stored(target).values()} == {0}
    again = sync(source, target, plan(since=NOW - 30 * DAY, restart=True), NOW)
    assert again.unchanged == 3


def test_sub_windows_of_whole_seconds() -> None:
    assert _groups(Counter({1: 2, 2: 2, 3: 1, 9: 5, 10: 1}), 4) == [
        (1, 2),
        (3, 3),
        (9, 9),
        (10, 10),
    ]
    assert _groups(Counter(), 4) == []


def test_a_call_listed_hours_after_it_started_is_still_copied(target: Target) -> None:
    source = FakeSource()
    source.put(*source_calls(3))
    sync(source, target, plan(), NOW)
    # a call that started 6 hours before the checkpoint, listed only now that it completed
    source.put(call("slow;1", NOW - 6 * 3600, end=NOW - 1800))
    report = sync(source, target, plan(until=NOW + 3600), NOW + 3600)
    assert report.added == 1
    assert "slow;1" in stored(target)


def test_what_a_source_lists_that_is_no_call_is_skipped(target: Target) -> None:
    source = FakeSource()
    source.put(*source_calls(2, start=NOW - 3600))
    real = source.calls

    def with_junk(start: int, end: int, *, offset: int, limit: int) -> Any:
        page = real(start, end, offset=offset, limit=limit)
        if not page.calls:
            return page
        junk: list[Any] = [None, {"session_id": ["not", "a", "string"]}, page.calls[0]]
        return type(page)([*page.calls, *junk], page.total_calls)  # the last one a repeat

    source.calls = with_junk  # type: ignore[method-assign]
    windows: list[WindowDone] = []
    report = sync(source, target, plan(), NOW, lambda w, r: windows.append(w))
    reasons = [s.reason for w in windows for s in w.skipped]
    assert reasons[0] == "not a call object: None"
    assert reasons[1] == "no session_id"
    assert len(reasons) == 2
    assert report.added == 2
    assert set(stored(target)) == {"s;0000", "s;0001"}


def test_detail_expiring_between_the_list_and_its_read_keeps_the_local_one(
    target: Target,
) -> None:
    source = FakeSource()
    kept = source_calls(1, start=NOW - 3600)[0]
    source.put(kept)
    sync(source, target, plan(), NOW)
    source.put({**kept, "end": kept["end"] + 9})  # changed: its detail is read again

    def expire(kind: str, start: int, end: int) -> None:
        if kind == "all_logs":
            source.put({**kept, "end": kept["end"] + 9, "log": False})

    source.on_request = expire
    sync(source, target, plan(restart=True), NOW)
    assert stored(target)["s;0000"][4] == kept["end"] + 9
    assert stored(target)["s;0000"][6][1]["event"]["line"] == "Prompt 0"
