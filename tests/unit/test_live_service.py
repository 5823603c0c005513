"""core.live on the in-memory store: appending to a call in progress, entries out of
order, completing a call by `end` or by the open-call timeout (at an injected `now`), and
idempotency keys."""

from __future__ import annotations

from typing import Any

import pytest

from ivrlog.core.errors import CallComplete, PayloadTooLarge, ValidationFailed
from ivrlog.core.idempotency import KeyReused, idempotent_request
from ivrlog.core.limits import MAX_ENTRIES
from ivrlog.core.live import LiveResult, append_entries, complete_stale
from tests.factories import NOW, entry
from tests.fake_store import MemoryStore
from tests.unit.conftest import lines, listed

T = NOW - 3600  # when the calls below begin
OPENED = {"src": "6177123000", "dest": "6177123001", "type": "inbound"}


def update(*entries: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**OPENED, "entries": list(entries), **fields}


def test_entries_are_appended_to_a_call_in_progress(fake: MemoryStore, account_id: int) -> None:
    first = append_entries(fake, account_id, "s", update(entry("hello", timestamp=T)), now=T)
    assert first == LiveResult("s", appended=1, out_of_order=0, entries=1, complete=False)
    second = append_entries(
        fake, account_id, "s", {"entries": [entry("menu", timestamp=T + 5)]}, now=T + 5
    )
    assert (second.appended, second.entries, second.complete) == (1, 2, False)
    assert lines(fake, account_id, "s") == ["hello", "menu"]  # readable as it happens
    assert listed(fake, account_id) == {}  # but not listed until complete


def test_a_new_call_needs_its_summary_and_stores_nothing_without_it(
    fake: MemoryStore, account_id: int
) -> None:
    with pytest.raises(ValidationFailed) as failed:
        append_entries(fake, account_id, "s", {"entries": [entry(timestamp=T)]}, now=T)
    assert [e.path for e in failed.value.errors] == ["src", "dest", "type"]
    assert fake.call_detail(account_id, "s", "json", 0) == (False, None)


def test_an_entry_out_of_order_is_placed_by_its_timestamp(
    fake: MemoryStore, account_id: int
) -> None:
    append_entries(fake, account_id, "s", update(entry("b", timestamp=T + 10)), now=T)
    late = append_entries(
        fake,
        account_id,
        "s",
        {"entries": [entry("a", timestamp=T), entry("c", timestamp=T + 10)]},
        now=T + 20,
    )
    assert (late.appended, late.out_of_order, late.entries) == (2, 1, 3)
    # by timestamp, then in arrival order for equal timestamps
    assert lines(fake, account_id, "s") == ["a", "b", "c"]
    # the start follows the earliest entry
    done = append_entries(fake, account_id, "s", {"entries": [], "end": T + 30}, now=T + 30)
    assert done.complete
    assert listed(fake, account_id)["s"][2:4] == (T, T + 30)


def test_end_completes_the_call_and_it_takes_no_more_entries(
    fake: MemoryStore, account_id: int
) -> None:
    append_entries(fake, account_id, "s", update(entry("hello", timestamp=T)), now=T)
    done = append_entries(
        fake, account_id, "s", {"entries": [entry("bye", timestamp=T + 9)], "end": T + 10}, now=T
    )
    assert done == LiveResult("s", appended=1, out_of_order=0, entries=2, complete=True)
    row = listed(fake, account_id)["s"]
    assert row[:7] == ("6177123001", "6177123000", T, T + 10, "s", "inbound", 1)
    assert lines(fake, account_id, "s") == ["hello", "bye"]
    with pytest.raises(CallComplete):
        append_entries(fake, account_id, "s", {"entries": [entry(timestamp=T + 11)]}, now=T)
    assert lines(fake, account_id, "s") == ["hello", "bye"]


def test_a_refused_update_changes_nothing(fake: MemoryStore, account_id: int) -> None:
    append_entries(fake, account_id, "s", update(entry("hello", timestamp=T)), now=T)
    with pytest.raises(ValidationFailed) as failed:
        append_entries(
            fake, account_id, "s", {"entries": [entry("x", timestamp=T)], "end": T - 1}, now=T
        )
    assert failed.value.errors[0].path == "end"
    too_many = {"entries": [entry(timestamp=T)] * MAX_ENTRIES}
    with pytest.raises(PayloadTooLarge, match=f"would hold {MAX_ENTRIES + 1} entries"):
        append_entries(fake, account_id, "s", too_many, now=T)
    assert lines(fake, account_id, "s") == ["hello"]


def test_a_call_made_private_drops_its_entries(fake: MemoryStore, account_id: int) -> None:
    append_entries(fake, account_id, "s", update(entry("secret", timestamp=T)), now=T)
    made = append_entries(
        fake, account_id, "s", {"entries": [entry(timestamp=T + 1)], "private": True}, now=T
    )
    assert (made.appended, made.entries) == (0, 0)
    assert fake.call_detail(account_id, "s", "json", 0) == (True, None)
    assert fake.database_bytes() == 0
    append_entries(fake, account_id, "s", {"entries": [], "end": T + 2}, now=T)
    assert listed(fake, account_id)["s"][6:] == (0, None)


def test_a_call_completed_past_the_detail_cutoff_is_stored_without_detail(
    fake: MemoryStore, account_id: int
) -> None:
    append_entries(
        fake, account_id, "s", update(entry(timestamp=T), end=T + 5), now=T, detail_cutoff=T + 1
    )
    assert listed(fake, account_id)["s"][6] == 0
    assert fake.count_expired(NOW, NOW) == (0, 1)  # a summary, no stored detail


def test_complete_stale_completes_calls_without_an_entry_for_the_timeout(
    fake: MemoryStore, account_id: int
) -> None:
    timeout = 600
    append_entries(
        fake,
        account_id,
        "quiet",
        update(entry("a", timestamp=T), entry("b", timestamp=T + 40)),
        now=T,
    )
    append_entries(fake, account_id, "busy", update(entry(timestamp=T)), now=T)
    append_entries(fake, account_id, "busy", {"entries": [entry(timestamp=T + 1)]}, now=T + 300)
    # the timeout counts from the last entry; exactly at it the call is not stale yet
    assert complete_stale(fake, now=T + timeout, timeout=timeout) == 0
    assert complete_stale(fake, now=T + timeout + 1, timeout=timeout) == 1
    assert list(listed(fake, account_id)) == ["quiet"]
    assert listed(fake, account_id)["quiet"][2:4] == (T, T + 40)  # end: the last entry
    assert lines(fake, account_id, "quiet") == ["a", "b"]
    assert complete_stale(fake, now=T + 300 + timeout + 1, timeout=timeout) == 1
    assert set(listed(fake, account_id)) == {"quiet", "busy"}
    assert complete_stale(fake, now=NOW, timeout=timeout) == 0  # none left open


def test_complete_stale_completes_calls_started_before_the_detail_cutoff(
    fake: MemoryStore, account_id: int
) -> None:
    append_entries(fake, account_id, "old", update(entry(timestamp=T)), now=NOW)
    append_entries(fake, account_id, "new", update(entry(timestamp=T + 1)), now=NOW)
    # touched just now, but "old" started before the cutoff: its entries are expired
    assert complete_stale(fake, now=NOW, timeout=3600, started_before=T + 1) == 1
    assert listed(fake, account_id)["old"][6] == 0
    assert fake.call_detail(account_id, "new", "json", 0)[1] is not None
    assert "new" not in listed(fake, account_id)


def test_an_update_sent_again_with_its_key_is_answered_not_applied(
    fake: MemoryStore, account_id: int
) -> None:
    body = update(entry("hello", timestamp=T))
    key = idempotent_request("retry-1", b"the body")
    first = append_entries(fake, account_id, "s", body, now=T, idempotent=key)
    again = append_entries(fake, account_id, "s", body, now=T + 1, idempotent=key)
    assert (first.replayed, again.replayed) == (False, True)
    assert again == first
    assert lines(fake, account_id, "s") == ["hello"]  # applied once
    # another call's update may use the same key
    other = append_entries(fake, account_id, "t", body, now=T, idempotent=key)
    assert not other.replayed


def test_a_key_reused_for_another_body_is_refused(fake: MemoryStore, account_id: int) -> None:
    append_entries(
        fake,
        account_id,
        "s",
        update(entry("hello", timestamp=T)),
        now=T,
        idempotent=idempotent_request("k", b"first"),
    )
    with pytest.raises(KeyReused) as reused:
        append_entries(
            fake,
            account_id,
            "s",
            {"entries": [entry("other", timestamp=T)]},
            now=T,
            idempotent=idempotent_request("k", b"second"),
        )
    assert "'k' was used for another update" in reused.value.errors[0].message
    assert lines(fake, account_id, "s") == ["hello"]


def test_a_refused_update_keeps_no_answer_for_its_key(fake: MemoryStore, account_id: int) -> None:
    key = idempotent_request("k", b"body")
    with pytest.raises(ValidationFailed):
        append_entries(fake, account_id, "s", {"entries": [entry()]}, now=T, idempotent=key)
    # the same key again, now with what a new call needs: applied, not replayed
    result = append_entries(fake, account_id, "s", update(entry()), now=T, idempotent=key)
    assert (result.replayed, result.appended) == (False, 1)
    assert fake.delete_keys_before(T + 1, 10) == 1  # exactly one answer was kept
