"""core/reports.py and core/report_requests.py on the in-memory store: a call's steps,
the scale of seconds and its medians, the pieces a window is read in, the changes a
write makes, and the three reports with their parameters."""

from __future__ import annotations

import pytest

from ivrlog.core.errors import BadRequest
from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import Step
from ivrlog.core.report_requests import (
    durations_report,
    funnel_report,
    parse_report,
    volume_report,
)
from ivrlog.core.reports import (
    BINS,
    DAY,
    HOUR,
    SCALE,
    Piece,
    bin_of,
    call_facts,
    call_steps,
    deltas,
    median_bin,
    path_steps,
    pieces,
    report_window,
    steps_from_json,
    steps_json,
)
from tests.factories import NOW, call, entry
from tests.fake_store import MemoryStore

T = NOW - NOW % DAY - DAY  # midnight UTC, the day before NOW's
APP = 'Executing application "Bank" version "1"'


def test_steps_sum_every_visit_to_the_next_module_or_the_end() -> None:
    entries = [
        entry(APP, "info", T, "start", "start"),
        entry("menu", "prompt", T + 2, "menu", "main"),
        entry("1", "event", T + 5, "menu", "main"),
        entry("card", "prompt", T + 9, "getdigits", "card"),
        entry("fail", "error", T + 10, "getdigits", "card"),
        entry("back", "prompt", T + 30, "menu", "main"),
    ]
    # given in another order: taken by timestamp
    assert call_steps(list(reversed(entries)), T + 40) == (
        Step("start:start", 2, False, False),
        Step("menu:main", 7 + 10, False, True),  # 7 s, then 10 s at the end
        Step("getdigits:card", 21, True, False),
    )
    assert call_steps([], T) == ()
    # an end before the last entry counts 0, never less
    assert call_steps(entries[:1], T - 5) == (Step("start:start", 0, False, True),)


def test_steps_of_a_path_know_the_modules_and_the_last() -> None:
    assert path_steps(["a:b", "c:d", "a:b"]) == (
        Step("a:b", None, False, True),
        Step("c:d", None, False, False),
    )
    assert path_steps([]) == ()
    kept = (Step("a:b", None, True, False), Step("x\u0000:y", 3, False, True))
    assert steps_from_json(steps_json(kept)) == kept


def test_the_scale_is_exact_to_ten_seconds_then_coarser() -> None:
    assert [bin_of(s) for s in range(11)] == list(range(11))
    assert SCALE[bin_of(11)] == 10
    assert SCALE[bin_of(14)] == 12
    assert SCALE[bin_of(3599)] == 1800
    assert bin_of(10**9) == BINS - 1
    assert bin_of(-4) == 0
    assert median_bin([0] * BINS) is None
    assert median_bin([1, 1, 0, 1] + [0] * (BINS - 4)) == 1  # 0, 1, 3: the middle one
    assert median_bin([2, 0, 0, 2] + [0] * (BINS - 4)) == 0  # the lower median


def test_a_window_is_read_as_whole_days_and_the_hours_at_its_edges() -> None:
    assert pieces(T + 3 * HOUR, T + 2 * DAY + HOUR) == [
        Piece(HOUR, T + 3 * HOUR, T + DAY),
        Piece(DAY, T + DAY, T + 2 * DAY),
        Piece(HOUR, T + 2 * DAY, T + 2 * DAY + HOUR),
    ]
    assert pieces(T, T + DAY) == [Piece(DAY, T, T + DAY)]
    assert pieces(T + HOUR, T + 5 * HOUR) == [Piece(HOUR, T + HOUR, T + 5 * HOUR)]
    assert pieces(T, T) == []
    # whole hours, and none that held a call past retention
    assert report_window(T + 10, T + HOUR + 1, 0) == (T, T + 2 * HOUR)
    assert report_window(T + 10, T + 5 * HOUR, T + HOUR + 1) == (T + 2 * HOUR, T + 5 * HOUR)
    assert report_window(T, T + HOUR, T + 9 * HOUR) == (T + HOUR, T + HOUR)


def test_a_replacement_takes_away_what_the_old_call_added() -> None:
    old = call_facts(prepare_call(call("s", T + 5, detail=[entry(APP, "info", T + 5)])))
    new = call_facts(prepare_call(call("s", T + HOUR, detail=[entry(APP, "info", T + HOUR)])))
    changes = deltas(7, [old, None], [new])
    volume = dict(changes.sorted_volume())
    assert {(k.span, k.at, k.app, v[0]) for k, v in volume.items()} == {
        (HOUR, T, "Bank", -1),
        (HOUR, T + HOUR, "Bank", 1),
    }  # the day's row is unchanged: left out
    assert deltas(7, [old], [old]).sorted_modules() == []


@pytest.fixture
def store() -> MemoryStore:
    the_store = MemoryStore()
    account = the_store.create_account("a@example.com", "k", "t", NOW).id
    calls = []
    for n, (modules, end) in enumerate(
        [
            ([("menu", "main"), ("getdigits", "card")], 30),
            ([("menu", "main"), ("getdigits", "card"), ("exit", "bye")], 50),
            ([("menu", "main")], 5),
        ]
    ):
        start = T + n * DAY + 60
        detail = [entry(APP, "info", start)] + [
            entry("step", "info", start + 1 + i, *m) for i, m in enumerate(modules)
        ]
        calls.append(prepare_call(call(f"c{n}", start, end=start + end, detail=detail)))
    the_store.put_calls(account, calls)
    return the_store


def _ask(report: str, **params: str) -> object:
    return parse_report(report, list(params.items()), account_id=1, now=NOW, call_cutoff=0)  # type: ignore[arg-type]


def test_the_three_reports_on_a_store(store: MemoryStore) -> None:
    window = {"from": str(T), "to": str(T + 3 * DAY)}
    funnel = funnel_report(store, _ask("funnel", app="Bank", **window))  # type: ignore[arg-type]
    assert [(m["module"], m["reached"], m["ended"]) for m in funnel["modules"]] == [
        ("start:start", 3, 0),
        ("menu:main", 3, 1),
        ("getdigits:card", 2, 1),
        ("exit:bye", 1, 1),
    ]
    assert funnel["app"] == "Bank"
    volume = volume_report(store, _ask("volume", **window))  # type: ignore[arg-type]
    assert volume["by"] == "day"
    assert [b["calls"] for b in volume["buckets"]] == [1, 1, 1]
    durations = durations_report(store, _ask("durations", **window))  # type: ignore[arg-type]
    assert (durations["calls"], durations["median_seconds"]) == (3, 30)
    assert funnel_report(store, _ask("funnel", app="Other", **window))["modules"] == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("report", "params", "message"),
    [
        ("funnel", {}, "Missing app"),
        ("volume", {"by": "month"}, "Invalid by 'month'"),
        ("volume", {"number": "1"}, "Unknown parameter 'number'"),
        ("volume", {"from": "-1d", "to": "-2d"}, "Invalid from '-1d': must be before to."),
        ("durations", {"app": "x" * 1001}, "Invalid app"),
    ],
)
def test_bad_parameters_are_named(report: str, params: dict[str, str], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        _ask(report, **params)


def test_volume_is_by_hour_below_three_days_by_default() -> None:
    asked = parse_report("volume", [("from", "-2d")], account_id=1, now=NOW, call_cutoff=0)
    assert asked.by == HOUR
    assert parse_report("volume", [("from", "-3d")], account_id=1, now=NOW, call_cutoff=0).by == DAY
    with pytest.raises(BadRequest, match="given more than once"):
        parse_report("volume", [("by", "day"), ("by", "day")], account_id=1, now=NOW, call_cutoff=0)


def test_an_edge_of_more_than_half_a_day_is_its_day_less_the_hours_left_out() -> None:
    # 20 hours of the first day: its day row less its first 4 hours
    assert pieces(T + 4 * HOUR, T + 2 * DAY, whole_from=0) == [
        Piece(DAY, T, T + DAY),
        Piece(HOUR, T, T + 4 * HOUR, -1),
        Piece(DAY, T + DAY, T + 2 * DAY),
    ]
    # within one day, both ends left out; 12 hours or less stays hours
    assert pieces(T + HOUR, T + 23 * HOUR, whole_from=0) == [
        Piece(DAY, T, T + DAY),
        Piece(HOUR, T, T + HOUR, -1),
        Piece(HOUR, T + 23 * HOUR, T + DAY, -1),
    ]
    assert pieces(T + HOUR, T + 13 * HOUR, whole_from=0) == [Piece(HOUR, T + HOUR, T + 13 * HOUR)]
    # a day the purge may have taken calls of (before whole_from) is read by its hours
    assert pieces(T + 4 * HOUR, T + DAY, whole_from=T + 1) == [Piece(HOUR, T + 4 * HOUR, T + DAY)]
