"""Account patterns: what check_pattern refuses and why, and how accepted ones run."""

from __future__ import annotations

import pytest

from ivrlog.core.pattern_check import (
    MAX_PATTERN_LENGTH,
    PatternRefused,
    check_pattern,
    compile_linear,
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
        (r"(a)\1", "backreference (position 3)"),
        ("(?P<n>a)(?P=n)", "backreference (position 8)"),
        ("(a)?(?(1)a|b)", "backreference (position 4)"),
        ("(a+)+", "nests a repeated part ('a+' at position 1)"),
        ("(a*)*", "nests a repeated part ('a*' at position 1)"),
        (r"(\w+\s?)*", r"nests a repeated part ('\w+' at position 1)"),
        ("(x+x+)+y", "nests a repeated part ('x+' at position 1)"),
        ("^(([a-z])+.)+[A-Z]([a-z])+$", "nests a repeated part ('([a-z])+' at position 2)"),
        ("(?x) ( a + ) +", "nests a repeated part inside another repeat,"),  # no positions
        (r"(\w+\.?)+", "nests a repeated part"),  # the separator is optional
        ("(a+b?)+", "nests a repeated part"),
        ("(a+[ab])+", "nests a repeated part"),  # the separator can be taken by a+
        (r"\d+-?\d+", "in a row"),
        ("(a?b?)+", "repeats a part that can match the empty string ('(a?b?)+'"),
        ("(a|a)*", "alternatives can match the same text ('(a|a)*' at position 0)"),
        ("(a|ab)+", "alternatives can match the same text"),
        ("(?:ab|a)+", "alternatives can match the same text"),
        (r"\d+\d+", r"in a row that can match the same characters ('\d+' at position 0 and"),
        (".*.*=", "in a row"),
        (r"\w+\s*\w+", r"in a row that can match the same characters ('\w+' at position 0 and"),
        (r"(\d+)(\d+)", "in a row"),
        (r"x(?:a|\d+)\d+", "in a row"),
        ("(?i)a+A+x", "in a row"),
        # Atomic groups and possessive repeats only stop backtracking *into* them.
        ("(?>(a+)+b)", "nests a repeated part ('a+' at position 4)"),
        ("(?:(a+)+b)++", "nests a repeated part ('a+' at position 4)"),
        (r"(?>\d+\d+x)", "in a row"),
        ("(" * 65 + "a" + ")" * 65, "nests groups and repeats 65 deep, over the limit of 64"),
    ],
)
def test_refused_patterns_say_why(pattern: str, words: str) -> None:
    with pytest.raises(PatternRefused) as refused:
        check_pattern(pattern)
    message = str(refused.value)
    assert message.startswith("Pattern refused: ")
    assert words in message
    assert isinstance(refused.value, ValueError)


def test_the_nested_repeat_message_in_full() -> None:
    with pytest.raises(PatternRefused) as refused:
        check_pattern("(a+)+")
    assert str(refused.value) == (
        "Pattern refused: '(a+)+' nests a repeated part ('a+' at position 1) inside another "
        "repeat ('(a+)+' at position 0), which can backtrack catastrophically; rewrite it "
        "without the nested quantifier."
    )


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
        "a" * MAX_PATTERN_LENGTH,
    ],
)
def test_accepted_patterns_compile(pattern: str) -> None:
    assert check_pattern(pattern).pattern == pattern


@pytest.mark.parametrize("pattern", [r"(?>a+)+b", r"(a++)+b", r"(?=a)b", r"(?<!x)y"])
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
        # each passes the static check but backtracks for a very long time in Python's re
        (".*a.*a.*a.*a.*a.*a.*a.*a.*b", "a" * 200_000),
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
