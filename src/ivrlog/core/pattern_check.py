r"""The check of an account's own redaction patterns, and how they are compiled.

Account patterns run on every ingested string, so one that runs away would stall
ingestion. It cannot: patterns are compiled and run by RE2 (google-re2), whose matching
time is linear in the text, whatever the pattern. A nested or overlapping repeat such as
`(a+)+` or `\d+\d+`, which would backtrack catastrophically in Python's `re` or PCRE,
costs RE2 no more than any other pattern of its size, so its shape is not checked.
What `check_pattern` refuses, with the reason, is what still matters under RE2:

- an empty pattern, or one longer than MAX_PATTERN_LENGTH;
- one that is not a valid regular expression (Python's parser names the mistake and its
  place), or that Python and RE2 would read differently (`{,n}`, a `[[` Python warns of);
- syntax RE2 does not have (lookarounds, backreferences, possessive repeats, atomic
  groups): RE2 refuses it, and its reason is given;
- a program of more than MAX_PROGRAM_SIZE RE2 instructions: the cost per character of
  text grows with it (`a.{490}#`);
- one that can match the empty string somewhere (it would insert `[redacted]` between
  characters), found by RE2 itself in every context an empty match can depend on.

How many patterns an account may have is core/patterns.py's MAX_PATTERNS.
"""

from __future__ import annotations

import re
import warnings
from typing import Final

import re2

from ivrlog.core.redact import REDACTED, CompiledPattern

MAX_PATTERN_LENGTH: Final = 500
MAX_PROGRAM_SIZE: Final = 1000  # RE2 instructions: what a match costs per character of text


class PatternRefused(ValueError):
    """A custom pattern ivrlog will not run; str(exc) is a clear message for the operator
    saying what is wrong and, where possible, which part of the pattern."""


# Enough of the syntax to find a quantifier outside sets and escapes.
_TOKEN: Final = re.compile(
    r"""(?P<escape>\\.)
      |(?P<set>\[\^?\]?(?:\\.|[^]\\])*\])
      |(?P<quantifier>\{,[0-9]*\})
      |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)

# An empty match at a position depends only on what is around it: the start or end of
# the text, a word character (RE2's \b is ASCII), a line break ((?m)^ and $) or another
# character. One character of each kind on either side covers every case.
_NEIGHBOURS: Final = {"": "", "a": "a", " ": " ", "\n": r"\n"}  # text -> as RE2 pattern
_CONTEXTS: Final = tuple(
    (before, after, f"{before_re}(?:{{}}){after_re}")
    for before, before_re in _NEIGHBOURS.items()
    for after, after_re in _NEIGHBOURS.items()
)


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


def compile_linear(pattern: str) -> CompiledPattern:
    """An account pattern compiled by RE2 (it passed check_pattern when it was stored)."""
    compiled: CompiledPattern = re2.compile(pattern, _options())
    return compiled


def check_pattern(pattern: str) -> CompiledPattern:
    """Check and compile an account pattern, or raise PatternRefused."""
    if not pattern:
        raise PatternRefused("Pattern refused: the pattern is empty; give a regular expression.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternRefused(
            f"Pattern refused: it is {len(pattern)} characters long, over the limit of "
            f"{MAX_PATTERN_LENGTH}; shorten it."
        )
    _valid_in_python(pattern)
    _same_in_both_engines(pattern)
    compiled = _compiled_by_re2(pattern)
    size = int(getattr(compiled, "programsize", 0))
    if size > MAX_PROGRAM_SIZE:
        raise PatternRefused(
            f"Pattern refused: '{pattern}' is too costly to run on every ingested string "
            f"(its RE2 program has {size} instructions, over the limit of {MAX_PROGRAM_SIZE}); "
            "use smaller repeat counts such as {1,50} instead of {1,500}."
        )
    if matches_empty(pattern):
        raise PatternRefused(
            f"Pattern refused: '{pattern}' can match the empty string, so it would insert "
            f"{REDACTED} between every two characters; make it require at least one character."
        )
    return compiled


def matches_empty(pattern: str) -> bool:
    """Whether RE2 can match `pattern` (valid for RE2) on the empty string somewhere in
    some text: between any two kinds of neighbour, or at either end."""
    options = _options()
    return any(
        re2.compile(template.format(pattern), options).fullmatch(before + after) is not None
        for before, after, template in _CONTEXTS
    )


def _valid_in_python(pattern: str) -> None:
    """Refuse what Python's parser refuses (it says what and where) or warns about."""
    try:
        with warnings.catch_warnings():  # a FutureWarning (such as `[[`) refuses it too
            warnings.simplefilter("error")
            re.compile(pattern)
    except FutureWarning as exc:
        raise PatternRefused(f"Pattern refused: '{pattern}' is ambiguous: {exc}.") from None
    except re.error as exc:
        where = "" if exc.pos is None else f" (position {exc.pos})"
        raise PatternRefused(
            f"Pattern refused: '{pattern}' is not a valid regular expression: {exc.msg}{where}."
        ) from None
    except OverflowError as exc:  # a repeat count too large to compile
        raise PatternRefused(
            f"Pattern refused: '{pattern}' is not a valid regular expression: {exc}."
        ) from None


def _same_in_both_engines(pattern: str) -> None:
    """Refuse what Python and RE2 read differently, so that what runs is what was meant."""
    for token in _TOKEN.finditer(pattern):
        if token.lastgroup == "quantifier":
            raise PatternRefused(
                f"Pattern refused: '{pattern}' writes a repeat as {token.group()} (position "
                f"{token.start()}), which RE2 reads as plain text; write "
                f"{{0,{token.group()[2:]} instead."
            )


def _compiled_by_re2(pattern: str) -> CompiledPattern:
    try:
        return compile_linear(pattern)
    except UnicodeEncodeError:
        raise PatternRefused(
            f"Pattern refused: {pattern!r} holds a character that is not valid Unicode text."
        ) from None
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternRefused(
            f"Pattern refused: '{pattern}' uses syntax that RE2, the linear-time engine "
            f"ivrlog runs patterns with, does not have ({reason}): lookarounds, "
            "backreferences, possessive repeats and atomic groups are not available."
        ) from None
