"""A call's summary as core/summary.py derives it from stored entries, and as bulk and live
ingestion keep it (on the in-memory store)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ivrlog.core import summary
from ivrlog.core.ingest import ingest_calls, prepare_call
from ivrlog.core.live import append_entries
from ivrlog.core.model import NO_SUMMARY, CallFilter, Module
from ivrlog.core.summary import (
    MAX_WORD,
    MAX_WORDS_CHARS,
    module_needle,
    modules_text,
    path_json,
    summarize,
    summarize_detail,
    words,
)
from ivrlog.core.summary import WORD as WORD_PATTERN
from tests.fake_store import MemoryStore


def entry(
    module: str, variable: str, line: str = "", kind: str = "info", t: int = 100, **extra: Any
) -> dict[str, Any]:
    data = {"module_type": module, "result_variable": variable}
    return {"event": {"line": line, "data": data}, "class": kind, "timestamp": t, **extra}


SEED_CALL = [
    entry("start", "start", 'Executing application "Welcome Application" version "1.0"', t=1),
    entry("prompt", "welcome", "Hello, welcome to the Plum Fuse Plus sample.", "prompt", 1),
    entry("number", "X", "Please enter a number.", "prompt", 2),
    entry("number", "X", "User input: 6 (dtmf)", "event", 5),
    entry("number", "Y", "Please enter another number.", "prompt", 5),
    entry("number", "Y", "User input: 9 (dtmf)", "event", 8),
    entry("yes_no", "again", "User input: true (dtmf)", "event", 9),
    entry("number", "X", "User input: 7 (dtmf)", "event", 10),
    entry("address", "city", "Disconnecting call", "event", 12),
]


def test_the_seed_call_summary() -> None:
    summary = summarize(SEED_CALL)
    assert summary.app == "Welcome Application"
    assert summary.app_version == "1.0"
    # a module visited again after another counts once per visit
    assert [m.key for m in summary.visits] == [
        "start:start",
        "prompt:welcome",
        "number:X",
        "number:Y",
        "yes_no:again",
        "number:X",
        "address:city",
    ]
    assert summary.ended_in == Module("address", "city")
    assert summary.inputs == 4
    assert summary.has_error is False
    assert summary.words.split(" ")[:7] == [
        "executing",
        "application",
        "welcome",
        "version",
        "1",
        "0",
        "hello",
    ]
    assert len(summary.words.split(" ")) == len(set(summary.words.split(" ")))


def test_entries_are_taken_by_timestamp_then_as_given() -> None:
    late = entry("b", "second", t=20)
    early = entry("a", "first", t=10)
    tie = entry("c", "tie", t=20)
    summary = summarize([late, early, tie])
    assert [m.result_variable for m in summary.visits] == ["first", "second", "tie"]


def test_application_without_version_and_none_without_the_line() -> None:
    assert summarize([entry("s", "s", 'Executing application "Solo"')]).app == "Solo"
    assert summarize([entry("s", "s", 'Executing application "Solo"')]).app_version is None
    plain = summarize([entry("s", "s", "Executing something else")])
    assert (plain.app, plain.app_version) == (None, None)


def test_private_entries_visit_their_module_but_give_no_words_or_app() -> None:
    hidden = entry("card", "pan", "[private]", "event")
    app = entry("s", "s", "[private]", t=1)
    summary = summarize([app, hidden, entry("card", "pan", "[private]", "error", t=101)])
    assert [m.key for m in summary.visits] == ["s:s", "card:pan"]
    assert summary.words == ""
    assert summary.app is None
    assert summary.has_error is True  # the class of a private entry is kept
    assert summary.inputs == 0


def test_an_error_entry_marks_the_call() -> None:
    assert summarize([entry("ws", "balance", "Web service failed", "error")]).has_error


def test_no_entries_no_summary() -> None:
    assert summarize([]) is NO_SUMMARY
    assert summarize_detail(None) is NO_SUMMARY


def test_words_are_lowercase_letters_and_digits() -> None:
    assert words("Card_number: 4111-1111; ÉTÉ été x" + "y" * MAX_WORD) == [
        "card",
        "number",
        "4111",
        "1111",
        "été",
        "été",
    ]


def test_the_search_text_stops_at_its_bound() -> None:
    many = [entry("m", "v", f"w{i:07d}", t=i) for i in range(MAX_WORDS_CHARS // 8 + 100)]
    text = summarize(many).words
    assert len(text) <= MAX_WORDS_CHARS
    assert text.startswith("w0000000 w0000001")


def test_the_search_text_ends_before_the_word_that_would_pass_its_bound() -> None:
    # 8-character words, a space between: the bound falls inside the last word taken
    count = MAX_WORDS_CHARS // 9 + 1
    many = [entry("m", "v", f"w{i:07d}", t=i) for i in range(count + 5)]
    text = summarize(many).words
    taken = text.split(" ")
    assert len(text) <= MAX_WORDS_CHARS < len(text) + 9
    assert taken == [f"w{i:07d}" for i in range(len(taken))]


_TEXT = st.text(
    st.one_of(
        st.characters(codec="ascii"),
        # case changes that change lengths or depend on the next letter, digits
        st.sampled_from("ÉéİıßẞΣσς\u0307ǅ٣²_-"),
    ),
    max_size=40,
)


@given(_TEXT)
def test_words_are_the_word_pattern_on_the_lowercased_text(text: str) -> None:
    expected = [w for w in WORD_PATTERN.findall(text.lower()) if len(w) <= MAX_WORD]
    assert words(text) == expected


def _reference_words(lines: list[str], bound: int) -> str:
    """The search text as first written: line by line, word by word."""
    seen: dict[str, None] = {}
    size = 0
    for line in lines:
        for word in words(line) if size <= bound else ():
            if word not in seen:
                size += len(word) + (1 if seen else 0)
                if size > bound:
                    break
                seen[word] = None
    return " ".join(seen)


@given(
    st.lists(st.one_of(_TEXT, st.just("[private]")), max_size=8),
    st.one_of(st.just(MAX_WORDS_CHARS), st.integers(min_value=0, max_value=40)),
)
@example(["aΣ", "b"], MAX_WORDS_CHARS)  # a final sigma: lines are lowercased apart
def test_the_search_text_is_each_lines_new_words_in_order(lines: list[str], bound: int) -> None:
    # small bounds too, so that the bound falls anywhere: on a word, a space, the text's end
    entries = [entry("m", "v", line, t=i) for i, line in enumerate(lines)]
    kept = [line for line in lines if line != "[private]"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(summary, "MAX_WORDS_CHARS", bound)
        assert summarize(entries).words == _reference_words(kept, bound)


NAME_TEXT = st.text(max_size=5) | st.sampled_from(['","', "\\", '"', "a\\", ",", "\x01"])


@given(st.lists(st.tuples(NAME_TEXT, NAME_TEXT), max_size=6), st.text())
def test_a_module_is_found_by_its_needle_whatever_its_names(
    modules: list[tuple[str, str]], other: str
) -> None:
    summary = summarize([entry(m, v, t=i) for i, (m, v) in enumerate(modules)])
    text = modules_text(summary)
    for module in summary.visits:
        assert module_needle(module.result_variable) in text
        assert module_needle(module.key) in text
    names = {m.result_variable for m in summary.visits} | {m.key for m in summary.visits}
    assert (module_needle(other) in text) == (other in names)
    assert orjson.loads(path_json(summary)) == [m.key for m in summary.visits]
    # the text as stores have always kept it: each name's JSON between separators
    listed = dict.fromkeys(n for m in summary.visits for n in (m.result_variable, m.key))
    kept = "\x01".join(orjson.dumps(n).decode() for n in listed)
    assert text == (f"\x01{kept}\x01" if listed else "")


def test_bulk_and_live_keep_the_same_summary(fake: MemoryStore, account_id: int) -> None:
    call = {
        "session_id": "bulk",
        "src": "6175550100",
        "dest": "8005550100",
        "type": "inbound",
        "start": 1,
        "end": 20,
        "detail": SEED_CALL,
    }
    ingest_calls(fake, account_id, [call])
    first = {k: call[k] for k in ("src", "dest", "type", "start")}
    append_entries(fake, account_id, "live", {**first, "entries": SEED_CALL[:5]}, now=30)
    append_entries(fake, account_id, "live", {"entries": SEED_CALL[5:], "end": 20}, now=31)
    found = fake.search_calls(CallFilter(account_id, 0, 100, 0), None, 10)
    assert [row[0] for row in found] == ["live", "bulk"]
    assert found[0][7:12] == found[1][7:12]
    assert found[0][9] == path_json(summarize(SEED_CALL))
    assert prepare_call({**call, "private": True}).summary is NO_SUMMARY
