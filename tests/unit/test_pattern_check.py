"""Account patterns: what check_pattern refuses and why, and how accepted ones run."""

from __future__ import annotations

from typing import Any

import pytest
import re2

from ivrlog.core.pattern_check import (
    MAX_PATTERN_LENGTH,
    PatternRefused,
    check_pattern,
    compile_linear,
    matches_empty,
)
from ivrlog.core.redact import REDACTED, Redactor


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("", "empty"),
        ("a" * (MAX_PATTERN_LENGTH + 1), f"over the limit of {MAX_PATTERN_LENGTH}"),
        ("(", "not a valid regular expression: missing ), unterminated subpattern"),
        ("[a-", "not a valid regular expression"),
        ("a{4294967296}", "not a valid regular expression"),
        ("a*", "can match the empty string"),
        ("x?", "can match the empty string"),
        ("(?:)", "can match the empty string"),
        (r"\b", "can match the empty string"),
        ("(?:x?){1}", "can match the empty string"),
    ],
)
def test_refused_patterns_say_why(pattern: str, words: str) -> None:
    with pytest.raises(PatternRefused) as refused:
        check_pattern(pattern)
    message = str(refused.value)
    assert message.startswith("Pattern refused: ")
    assert words in message
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    "pattern",
    [
        "(?m)^",  # an empty match at a line's start only
        "$",  # at the text's end only
        r"\Bx?",  # inside a word only
        "a|",
        "(?i)(?:AB)*",
        "(?s)(?:.{2})?",
    ],
)
def test_a_pattern_matching_the_empty_string_anywhere_is_refused_in_full(pattern: str) -> None:
    with pytest.raises(PatternRefused) as refused:
        check_pattern(pattern)
    assert str(refused.value) == (
        f"Pattern refused: '{pattern}' can match the empty string, so it would insert "
        f"{REDACTED} between every two characters; make it require at least one character."
    )


@pytest.mark.parametrize(
    "pattern",
    ["a", r"\ba\b", "(?m)^a$", r"\Ba", r"x\z", r"\Ax", "(?:ab|cd)+", r"\b\B"],
)
def test_a_pattern_that_cannot_match_empty_is_not_said_to(pattern: str) -> None:
    assert not matches_empty(pattern)


@pytest.mark.parametrize(
    ("pattern", "text", "empty"),
    [
        # each can match the empty string in one context only: the check finds it there
        ("(?m)^", "a\nb", 2),
        ("$", "ab", 2),
        (r"\B", "ab", 1),
        (r"\b", " a", 1),
        (r"(?m)$", "a\nb", 1),
    ],
)
def test_the_contexts_cover_where_an_empty_match_happens(
    pattern: str, text: str, empty: int
) -> None:
    """The check agrees with RE2 running the pattern: it does match empty there."""
    hits = [m.start() for m in re2.compile(pattern).finditer(text) if m.start() == m.end()]
    assert empty in hits
    assert matches_empty(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"MEM-\d{6}",
        r"(\w|\d)+",  # one-character alternatives: Python makes them a set, no backtracking
        r"[\w\d]+",
        r"(a|\w)+?x",
        r"(\d+-)+\d+",  # the required '-' decides where each pass ends
        r"\w+(?:\.\w+)*@\w+",
        "(?:[a-z]+,)+",
        r"\b[A-Z]{2}\d{6}\b",
        r"acct:\s*\d+",
        r"(\d{3}-)+\d{4}",
        r"(\d{3}-?)+",
        "foo.*bar",
        "foo.*bar.*baz",
        r"\w+@\w+\.com",
        "(?i)secret-[a-z0-9]{8}",
        "(?i)id-[a-zA-Z0-9]+",  # a set's members are only compared as written
        r"PIN:? ?\d{4}",
        "(?:cat|dog)s?",
        "(?:cat|dog)+",
        "[a-z]+[A-Z]+!",
        "(" * 64 + "a" + ")" * 64,
        "(" * 65 + "a" + ")" * 65,  # nesting has no limit of its own: RE2 runs it linearly
        "a" * MAX_PATTERN_LENGTH,
        # shapes a backtracking engine (Python's re, PCRE) can take for ever on: RE2 cannot
        "(a+)+",
        "(a*)*b",
        r"(\w+\s?)*x",
        r"\d+\d+",
        ".*.*=",
        "(a|ab)+c",
        "(?:ab|a)+",
        r"(\d+)(\d+)",
    ],
)
def test_accepted_patterns_compile(pattern: str) -> None:
    compiled: Any = check_pattern(pattern)  # an RE2 regexp (CompiledPattern types only sub)
    assert compiled.pattern == pattern


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?>a+)+b",
        r"(a++)+b",
        r"(?=a)b",
        r"(?<!x)y",
        r"(a)\1",
        "(?P<n>a)(?P=n)",
        "(a)?(?(1)a|b)",
        "(?x) ( a + ) +",
    ],
)
def test_syntax_re2_does_not_have_is_refused_with_its_reason(pattern: str) -> None:
    with pytest.raises(PatternRefused) as refused:
        check_pattern(pattern)
    message = str(refused.value)
    assert "RE2, the linear-time engine" in message
    assert "lookarounds, backreferences, possessive repeats and atomic groups" in message


def test_a_pattern_python_warns_about_is_refused() -> None:
    with pytest.raises(PatternRefused, match="is ambiguous: Possible nested set"):
        check_pattern("[[a]")


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        # each backtracks for a very long time in Python's re
        (".*a.*a.*a.*a.*a.*a.*a.*a.*b", "a" * 200_000),
        ("(a+)+b", "a" * 100_000),
        (r"(\w+\s?)*x", "word " * 20_000),
        (r"\d+\d+x", "1" * 100_000),
        ("(a|ab)+c", "ab" * 50_000),
        (r"\s*\S+\s*=\s*\S+\s*;x", "a=" * 100_000),
        (r"a{1,20}a{1,20}a{1,20}a{1,20}a{1,20}b", "a" * 100_000),
        (r"\w+@example\.com", "a" * 1_000_000),
    ],
)
def test_accepted_patterns_run_in_linear_time(pattern: str, text: str) -> None:
    """RE2 is linear in the text: these finish at once where Python's engine would not
    finish in a test run (no time is asserted: a backtracking engine would hang here)."""
    redactor = Redactor(builtin=False, custom=(check_pattern(pattern),))
    assert redactor.text(text) == text


def test_stored_patterns_compile_the_same_way() -> None:
    assert compile_linear(r"MEM-\d{6}").sub(REDACTED, "id MEM-123456") == f"id {REDACTED}"


def test_a_repeat_re2_would_read_as_text_is_refused() -> None:
    with pytest.raises(PatternRefused, match=r"writes a repeat as \{,4\} \(position 7\)"):
        check_pattern(r"ACCT-\d{,4}X")
    assert check_pattern(r"ACCT-\d{0,4}X").sub(REDACTED, "ACCT-12X") == REDACTED


def test_a_costly_pattern_is_refused() -> None:
    with pytest.raises(PatternRefused, match="too costly to run on every ingested string"):
        check_pattern("a.{490}#")
    check_pattern("a.{40}#")


def test_a_pattern_that_is_not_valid_unicode_is_refused() -> None:
    with pytest.raises(PatternRefused, match="not valid Unicode text"):
        check_pattern("A\udcffB")
