"""core/validation.py and core/limits.py without HTTP: each rule of an ingested document,
the path and message of each problem, and the bounds SPEC 3 states."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivrlog.core import limits
from ivrlog.core.errors import PayloadTooLarge, ValidationFailed
from ivrlog.core.validation import (
    Problems,
    check_call,
    check_entry,
    check_session_id,
    check_summary,
    check_time,
    check_unknown,
    plain_entry,
    too_deep,
    validate_batch,
)
from tests.factories import call, entry


def problems_of(check: Any, *args: Any, **kwargs: Any) -> list[tuple[int, str, str]]:
    """The (index, path, message) of every problem `check` adds."""
    problems = Problems()
    check(*args, problems, **kwargs)
    return [(e.index, e.path, e.message) for e in problems.errors]


def paths(found: list[tuple[int, str, str]]) -> list[str]:
    return [path for _, path, _ in found]


def test_the_limits_are_spec_3_s() -> None:
    assert limits.MAX_BODY_BYTES == 64 * 1024 * 1024
    assert limits.MAX_CALLS == limits.MAX_ENTRIES == 10_000
    assert limits.MAX_SESSION_ID == 128
    assert limits.MAX_NUMBER == 64
    assert limits.MAX_TIME == 253_402_300_799  # 9999-12-31T23:59:59Z
    assert (limits.DEFAULT_LIMIT, limits.MAX_LIMIT) == (1000, 10_000)
    assert limits.MAX_OFFSET == 2**63 - 1


# Problems


def test_no_problem_raises_nothing() -> None:
    Problems().raise_any()


def test_problems_are_raised_together_by_index_and_path() -> None:
    problems = Problems()
    problems.add(0, "src", "must be a string")
    problems.add(3, "detail[1].class", "must be one of: info")
    with pytest.raises(ValidationFailed) as failed:
        problems.raise_any()
    assert failed.value.body() == {
        "error": "2 problems found; nothing was stored.",
        "errors": [
            {"index": 0, "path": "src", "message": "must be a string"},
            {"index": 3, "path": "detail[1].class", "message": "must be one of: info"},
        ],
    }


def test_past_the_reported_limit_problems_are_counted_not_listed() -> None:
    problems = Problems()
    for index in range(limits.MAX_REPORTED_ERRORS + 5):
        problems.add(index, "", "must be a call object")
    with pytest.raises(ValidationFailed) as failed:
        problems.raise_any()
    assert len(failed.value.errors) == limits.MAX_REPORTED_ERRORS
    assert failed.value.message == (
        f"{limits.MAX_REPORTED_ERRORS + 5} problems found "
        f"(the first {limits.MAX_REPORTED_ERRORS} are listed); nothing was stored."
    )


# times, unknown fields, nesting


@pytest.mark.parametrize("value", [0, 1, limits.MAX_TIME])
def test_a_time_is_whole_seconds_from_0_to_max_time(value: int) -> None:
    problems = Problems()
    assert check_time(value, 0, "start", problems)
    assert problems.count == 0


@pytest.mark.parametrize("value", [-1, limits.MAX_TIME + 1, True, False, 1.0, "1", None])
def test_anything_else_is_not_a_time(value: Any) -> None:
    problems = Problems()
    assert not check_time(value, 2, "detail[0].timestamp", problems)
    assert [(e.index, e.path, e.message) for e in problems.errors] == [
        (
            2,
            "detail[0].timestamp",
            f"must be a whole number of UNIX seconds, 0 to {limits.MAX_TIME}",
        )
    ]


def test_an_unknown_field_is_named_with_the_allowed_ones() -> None:
    found = problems_of(check_unknown, {"a": 1, "b": 2, "zz": 3}, ("a", "b"), 1, "detail[0].")
    assert found == [(1, "detail[0].zz", "unknown field; allowed: a, b")]


def test_nesting_counts_the_containers_inside_and_the_value_itself() -> None:
    three: dict[str, Any] = {"k": [{"k": []}]}  # a dict, a list, a dict, a list: four levels
    assert not too_deep(three, 4)
    assert too_deep(three, 3)
    assert not too_deep({"scalar": 1, "text": "[[[["}, 1)
    assert too_deep({}, 0)


# entries


def test_a_valid_entry_has_no_problem() -> None:
    assert problems_of(check_entry, entry(), 0, "detail[0]") == []
    assert problems_of(check_entry, {**entry(), "private": True}, 0, "detail[0]") == []


def test_each_problem_of_an_entry_is_named_by_its_path() -> None:
    bad = {"event": {"line": 1, "data": {"module_type": 2}, "x": 0}, "class": "trace", "y": 1}
    found = problems_of(check_entry, bad, 4, "detail[7]")
    assert found == [
        (4, "detail[7].y", "unknown field; allowed: event, class, timestamp, private"),
        (4, "detail[7].event.x", "unknown field; allowed: line, data"),
        (4, "detail[7].event.line", "must be a string"),
        (4, "detail[7].event.data.module_type", "must be a string"),
        (4, "detail[7].event.data.result_variable", "must be a string"),
        (4, "detail[7].class", "must be one of: info, event, debug, prompt, error"),
        (
            4,
            "detail[7].timestamp",
            f"must be a whole number of UNIX seconds, 0 to {limits.MAX_TIME}",
        ),
    ]


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ("x", "entries[0]", "must be an object"),
        ({"event": "x"}, "entries[0].event", "must be an object with line and data"),
        ({"event": {"line": "", "data": []}}, "entries[0].event.data", "must be an object"),
        ({"private": 1}, "entries[0].private", "must be true or false"),
    ],
)
def test_a_malformed_entry_is_refused(value: Any, path: str, message: str) -> None:
    document = {**entry(), **value} if isinstance(value, dict) else value
    assert (0, path, message) in problems_of(check_entry, document, 0, "entries[0]")


# plain_entry: the quick acceptance of the usual entry

ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-1, limits.MAX_TIME + 1)
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=3)
    | st.sampled_from(["info", "prompt", "trace"]),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=5,
)


DELETED = object()
# a field of the usual entry (by path) and what it may become: anything, or a value
# close to the bounds of its rule; DELETED removes it
CHANGES = st.one_of(
    st.tuples(
        st.just(("timestamp",)),
        st.integers(-2, 1) | st.integers(limits.MAX_TIME - 1, limits.MAX_TIME + 2),
    ),
    st.tuples(st.just(("class",)), st.sampled_from(["info", "error", "trace", "INFO"])),
    st.tuples(st.just(("private",)), st.booleans() | st.integers(0, 1)),
    st.tuples(
        st.sampled_from(
            [
                ("timestamp",),
                ("class",),
                ("private",),
                ("y",),
                ("event",),
                ("event", "line"),
                ("event", "data"),
                ("event", "x"),
                ("event", "data", "module_type"),
                ("event", "data", "result_variable"),
                ("event", "data", "k"),
            ]
        ),
        ANY | st.just(DELETED),
    ),
)


def changed(changes: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    """The usual entry with each change made where its path still leads to an object."""
    value: dict[str, Any] = {**entry(), "private": False}
    value["event"] = {**value["event"], "data": {**value["event"]["data"]}}
    for path, new in changes:
        place: Any = value
        for key in path[:-1]:
            place = place.get(key) if isinstance(place, dict) else None
        if isinstance(place, dict):
            if new is DELETED:
                place.pop(path[-1], None)
            else:
                place[path[-1]] = new
    return value


ENTRIES = st.builds(changed, st.lists(CHANGES, max_size=2))


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(ENTRIES)
def test_an_entry_accepted_at_a_glance_has_no_problem(value: Any) -> None:
    if plain_entry(value):
        assert problems_of(check_entry, value, 0, "detail[0]") == []


@pytest.mark.parametrize(
    "value",
    [
        entry(),
        {**entry(), "private": False},
        {**entry(), "timestamp": limits.MAX_TIME},
        {"event": {"line": "", "data": {"module_type": "", "result_variable": "", "n": 1.5}}}
        | {"class": "error", "timestamp": 0},
    ],
)
def test_the_usual_entry_is_accepted_at_a_glance(value: Any) -> None:
    assert plain_entry(value)


@pytest.mark.parametrize(
    "value",
    [
        {**entry(), "private": 0},
        {**entry(), "timestamp": True},
        {**entry(), "timestamp": limits.MAX_TIME + 1},
        {**entry(), "class": ["info"]},  # unhashable: not a crash
        {**entry(), "event": {**entry()["event"], "data": {**entry()["event"]["data"], "a": []}}},
    ],
)
def test_anything_else_goes_to_the_whole_check(value: Any) -> None:
    assert not plain_entry(value)


def test_an_entry_of_nested_data_is_still_valid() -> None:
    nested = {
        **entry(),
        "event": {**entry()["event"], "data": {**entry()["event"]["data"], "a": [{}]}},
    }
    assert not plain_entry(nested)
    assert problems_of(check_entry, nested, 0, "detail[0]") == []
    validate_batch([call(detail=[entry(), nested])])


def test_data_nested_past_max_depth_is_refused() -> None:
    """`data` is the first of MAX_DEPTH levels (docs/api.md, limits)."""
    deep: Any = "bottom"
    for _ in range(limits.MAX_DEPTH - 1):
        deep = [deep]
    ok = entry(deep=deep)
    assert problems_of(check_entry, ok, 0, "detail[0]") == []
    too = entry(deep=[deep])
    assert problems_of(check_entry, too, 0, "detail[0]") == [
        (0, "detail[0].event.data", f"nests objects and lists deeper than {limits.MAX_DEPTH}")
    ]


# session ids, summaries, calls


SESSION_ID_MESSAGE = (
    f"must be a string of 1 to {limits.MAX_SESSION_ID} printable characters without '/'"
)


@pytest.mark.parametrize(
    ("session_id", "valid"),
    [
        ("100035;000;1575898377", True),
        ("x" * limits.MAX_SESSION_ID, True),
        ("caf\xe9 \u4e2d", True),
        ("", False),
        ("x" * (limits.MAX_SESSION_ID + 1), False),
        ("a/b", False),
        ("tab\t", False),
        ("line\u2028", False),
        (100035, False),
        (None, False),
    ],
)
def test_a_session_id_is_short_printable_text_without_a_slash(session_id: Any, valid: bool) -> None:
    problems = Problems()
    assert check_session_id(session_id, 3, problems) is valid
    expected = [] if valid else [(3, "session_id", SESSION_ID_MESSAGE)]
    assert [(e.index, e.path, e.message) for e in problems.errors] == expected


NUMBER_MESSAGE = f"must be a string of at most {limits.MAX_NUMBER} characters, without NUL"


def test_a_summary_needs_src_dest_and_type() -> None:
    assert paths(problems_of(check_summary, {}, 0)) == ["src", "dest", "type"]
    assert problems_of(check_summary, {"src": "1", "dest": "2", "type": "inbound"}, 0) == []


def test_an_update_s_summary_is_checked_only_where_given() -> None:
    assert problems_of(check_summary, {}, 0, required=False) == []
    found = problems_of(check_summary, {"src": "1\x002", "type": "inboun"}, 0, required=False)
    assert found == [
        (0, "src", NUMBER_MESSAGE),
        (0, "type", "must be one of: inbound, outbound, transfer"),
    ]


@pytest.mark.parametrize(
    ("number", "valid"),
    [("6" * limits.MAX_NUMBER, True), ("", True), ("6" * (limits.MAX_NUMBER + 1), False)],
)
def test_a_number_is_at_most_max_number_characters(number: str, valid: bool) -> None:
    found = problems_of(check_summary, {"src": number, "dest": "1", "type": "outbound"}, 0)
    assert found == ([] if valid else [(0, "src", NUMBER_MESSAGE)])


def test_a_call_ending_before_it_starts_is_refused() -> None:
    found = problems_of(check_call, call(start=20, end=19), 0, {})
    assert found == [(0, "end", "must not be before start (20)")]
    assert problems_of(check_call, call(start=20, end=20), 0, {}) == []


def test_a_call_that_is_not_an_object_is_named_by_index() -> None:
    assert problems_of(check_call, ["x"], 5, {}) == [(5, "", "must be a call object")]


def test_a_call_s_detail_must_be_a_list() -> None:
    assert problems_of(check_call, {**call(), "detail": {}}, 0, {}) == [
        (0, "detail", "must be an array of log entries")
    ]


def test_a_session_id_repeated_in_a_batch_names_the_first() -> None:
    seen: dict[str, int] = {}
    problems = Problems()
    check_call(call(session_id="a"), 0, seen, problems)
    check_call(call(session_id="b"), 1, seen, problems)
    check_call(call(session_id="a"), 2, seen, problems)
    assert [(e.index, e.path, e.message) for e in problems.errors] == [
        (2, "session_id", "repeats the session id of call 0")
    ]
    assert seen == {"a": 0, "b": 1}


def test_a_call_of_too_many_entries_is_too_large() -> None:
    many = call(detail=[entry()] * (limits.MAX_ENTRIES + 1))
    with pytest.raises(PayloadTooLarge, match=f"Call 0 has {limits.MAX_ENTRIES + 1} entries"):
        check_call(many, 0, {}, Problems())
    assert problems_of(check_call, call(detail=[entry()] * limits.MAX_ENTRIES), 0, {}) == []


def test_a_batch_is_valid_or_refused_whole() -> None:
    validate_batch([call(session_id="a"), call(session_id="b")])
    validate_batch([])
    with pytest.raises(ValidationFailed) as failed:
        validate_batch([call(session_id="a"), call(session_id="b", type="other"), 1])
    assert [(e.index, e.path) for e in failed.value.errors] == [(1, "type"), (2, "")]
