"""The benchmarks' dataset generator (bench/dataset.py): deterministic, valid, and shaped
as docs/performance.md says."""

from __future__ import annotations

from collections import Counter

from bench.dataset import DAY, Shape, batches, calls

from ivrlog.core.ingest import prepare_call
from ivrlog.core.validation import validate_batch

NOW = 1_795_000_000


def test_the_same_shape_gives_the_same_calls_and_another_seed_others() -> None:
    shape = Shape(300)
    assert list(calls(shape, NOW)) == list(calls(shape, NOW))
    assert list(calls(shape, NOW)) != list(calls(Shape(300, seed=1), NOW))


def test_calls_are_valid_with_5_to_40_entries_and_detail_only_when_recent() -> None:
    shape = Shape(3000, span_days=10, detail_days=4)
    made = [call for _, call in calls(shape, NOW)]
    validate_batch(made)  # raises on any problem
    assert len({call["session_id"] for call in made}) == len(made)
    recent = [call for call in made if call["start"] >= NOW - 4 * DAY]
    assert all(5 <= len(call["detail"]) <= 40 for call in recent)
    assert {len(call["detail"]) for call in recent} == set(range(5, 41))
    assert not any(call["detail"] for call in made if call["start"] < NOW - 4 * DAY)
    assert all(NOW - 10 * DAY <= call["start"] < NOW for call in made)
    lines = [len(e["event"]["line"]) for call in recent for e in call["detail"]]
    assert 20 <= sum(lines) / len(lines) <= 120  # like a real IVR's lines, not stubs
    stored = prepare_call(recent[0])
    assert stored.entry_count == len(recent[0]["detail"])


def test_account_0_and_its_first_number_take_the_hot_share() -> None:
    shape = Shape(20_000, accounts=20, numbers_per_account=5, hot_share=0.3)
    made = list(calls(shape, NOW))
    per_account = Counter(account for account, _ in made)
    assert len(per_account) == 20
    assert 0.27 < per_account[0] / len(made) < 0.33
    hot = [c for a, c in made if a == 0 and shape.hot_number in (c["src"], c["dest"])]
    assert 0.27 < len(hot) / per_account[0] < 0.33
    assert {c["dest"] for a, c in made if a == 3 and c["type"] == "inbound"} == {
        shape.number(3, index) for index in range(5)
    }


def test_batches_group_calls_by_account_and_keep_every_call_once() -> None:
    shape = Shape(2500, accounts=3)
    grouped = list(batches(shape, NOW, size=100))
    assert all(len(batch) <= 100 for _, batch in grouped)
    assert sorted(c["session_id"] for _, batch in grouped for c in batch) == sorted(
        c["session_id"] for _, c in calls(shape, NOW)
    )
    owner = {c["session_id"]: a for a, c in calls(shape, NOW)}
    assert all(owner[c["session_id"]] == account for account, batch in grouped for c in batch)
