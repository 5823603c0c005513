r"""Redaction: what ivrlog blanks out of call logs before anything is written.

Built-in rules (`Redactor(builtin=True)`, on by default), applied in this order:

1. Payment card numbers. A *run* is a maximal stretch of ASCII digits in which consecutive
   digits are separated by at most three spaces or dashes (`_SEPARATOR`). In a run
   of 13 or more digits every window of 13 to 19 consecutive digits is checked with Luhn;
   the characters spanned by the windows that pass, merged where they overlap or touch,
   become `[redacted]`. A card written plain, spaced or dashed is therefore never readable,
   whatever surrounds it. This over-redacts by design: a 13-digit string has a one-in-ten
   chance of passing Luhn, and longer digit strings (order numbers, timestamps run together)
   hold more windows, so often lose part of themselves too.
2. US social security numbers, `ddd-dd-dddd`, with no digit boundary required.

Then each of the account's own patterns (checked by `ivrlog.core.pattern_check` and run by
RE2, in time linear in the text), `pattern.sub("[redacted]", text)`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

REDACTED: Final = "[redacted]"


class CompiledPattern(Protocol):
    """What the redactor needs of a compiled account pattern (an RE2 regexp)."""

    def sub(self, repl: str, text: str) -> str: ...


# ---------------------------------------------------------------- built-in rules

# What may stand between two digits of a card: up to three spaces (a tab, or any Unicode
# space separator: no-break, en, em, thin, narrow, ideographic...) or dashes (hyphen-minus,
# the Unicode dashes, the minus sign), as in `4111 1111`, `4111 - 1111`, `4111\u00a01111`.
_SEPARATOR: Final = "[\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2010-\u2015\u2212-]{0,3}"
_RUN: Final = re.compile(f"[0-9](?:{_SEPARATOR}[0-9]){{12,}}")  # a run holding 13+ digits
_SSN: Final = re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")
_CANDIDATE: Final = re.compile(f"[0-9](?:{_SEPARATOR}[0-9]){{12}}|" + _SSN.pattern)
# an SSN is 11 characters, a card 13 digits or more: nothing shorter holds a candidate
_SHORTEST_CANDIDATE: Final = 11
_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: a digit doubled, digits summed


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn check (False for anything else)."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        total += _DOUBLED[digit] if index % 2 else digit
    return total % 10 == 0


def _card_spans(run: re.Match[str]) -> Iterator[tuple[int, int]]:
    """For each window start in a run, the widest Luhn-valid window's character span."""
    where = [run.start() + i for i, char in enumerate(run.group()) if "0" <= char <= "9"]
    # sums[p][i]: Luhn sum of the run's first i digits with those at parity p doubled. In a
    # window ending before digit `end`, the doubled digits are those of end's parity.
    sums: tuple[list[int], list[int]] = ([0], [0])
    for index, char in enumerate(c for c in run.group() if "0" <= c <= "9"):
        digit = ord(char) - 48
        sums[index % 2].append(sums[index % 2][-1] + _DOUBLED[digit])
        sums[1 - index % 2].append(sums[1 - index % 2][-1] + digit)
    count = len(where)
    for first in range(count - 12):
        for end in range(min(first + 19, count), first + 12, -1):
            if (sums[end % 2][end] - sums[end % 2][first]) % 10 == 0:
                yield where[first], where[end - 1] + 1
                break


def _merged(spans: Iterator[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Spans sorted by start, with overlapping or touching ones merged."""
    current: tuple[int, int] | None = None
    for start, end in spans:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def _redact_cards(text: str) -> str:
    pieces: list[str] = []
    done = 0
    for run in _RUN.finditer(text):
        for start, end in _merged(_card_spans(run)):
            pieces += (text[done:start], REDACTED)
            done = end
    return "".join([*pieces, text[done:]]) if pieces else text


def _is_card_number(value: Any) -> bool:
    """Whether a JSON number is itself a card number: a whole number (an int, or a float
    with nothing after the point) of 13 to 19 digits that passes Luhn. A number's digits
    are not searched for a card inside them, as text is: the number is the token, and
    13+ digit identifiers would lose too much (a fraction's digits are never a card)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer() or abs(value) >= 1e19:
            return False
        value = int(value)
    return 10**12 <= abs(value) < 10**19 and luhn_valid(str(abs(value)))


@dataclass(frozen=True, slots=True)
class Redactor:
    """Built-in rules (cards, then SSNs) if `builtin`, then each `custom` pattern."""

    builtin: bool = True
    custom: tuple[CompiledPattern, ...] = ()  # checked by check_pattern, compiled by RE2

    @property
    def active(self) -> bool:
        return self.builtin or bool(self.custom)

    def text(self, value: str) -> str:
        """`value` with every secret replaced by REDACTED (`value` itself if none)."""
        if self.builtin and len(value) >= _SHORTEST_CANDIDATE and _CANDIDATE.search(value):
            value = _SSN.sub(REDACTED, _redact_cards(value))
        for pattern in self.custom:
            value = pattern.sub(REDACTED, value)
        return value

    def value(self, value: Any) -> Any:
        """A JSON value redacted at any depth: strings and object keys redacted (key order
        kept; a redacted key that would repeat one gets a `#2`, `#3`... suffix), and a
        number that is itself a card number replaced by the string REDACTED. Containers
        are always new (the input is never mutated); with no rule active, `value` itself
        comes back."""
        if not self.active:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return self._object(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if self.builtin and _is_card_number(value):
            return REDACTED
        return value

    def _object(self, value: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        # with only the built-in rules, a string too short to hold a candidate is kept as
        # it is without a call (B3's hot path)
        short = _SHORTEST_CANDIDATE if not self.custom else 0
        for key, item in value.items():
            clean = key if len(key) < short else self.text(key)
            if clean != key and (clean in result or clean in value):
                clean = next(
                    f"{clean}#{n}"
                    for n in itertools.count(2)
                    if f"{clean}#{n}" not in result and f"{clean}#{n}" not in value
                )
            if type(item) is str and len(item) < short:
                result[clean] = item
            else:
                result[clean] = self.value(item)
        return result


BUILTIN_RULES: Final = Redactor()  # what applies when no account's rules are given
NO_REDACTION: Final = Redactor(builtin=False)
