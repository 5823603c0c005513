r"""Redaction: what ivrlog blanks out of call logs before anything is written.

Built-in rules (`Redactor(builtin=True)`, on by default) look at the text in its canonical
spelling (`ivrlog.core.spelling`: digits of any script as ASCII digits, every space,
dash or invisible character as a *strong* separator, `. + / , _` and line breaks as *weak*
ones, percent-encoded characters as what they encode), and apply, in this order:

1. Payment card numbers. A *group* is a stretch of digits with nothing between them; a
   *run* is a stretch of groups in which each two consecutive groups are separated by
   - one to three strong separators (`4111 1111`, `4111 - 1111`, `4 1 1 1`), as SPEC 4
     has it (spaces or dashes between the digits); or
   - four to eight strong separators; or one or two weak ones, alone or after one strong
     one, or a full stop or a plus sign then a strong one, or a weak one between two
     strong ones (`4111.1111`, `4111\r\n1111`, `4111-\n1111`, `4111. 1111`,
     `4111 / 1111`; not `4111, 1111`), when the group before holds 4 to 6 digits and
     the one after 3 to 6.
   In a run of 13 or more digits every window of 13 to 19 consecutive digits is checked
   with Luhn. The windows that pass are widened to the whole groups they touch, and each
   stretch of characters so covered becomes `[redacted]`: `ref 1234 4111 1111 1111 1111`
   loses `1234` too, and what is left holds no digit of a group that lost some
   (redacting again changes nothing). This over-redacts by design: a 13-digit string
   has a one-in-ten chance of passing Luhn, and longer digit strings (order numbers,
   timestamps run together) hold more windows.
2. US social security numbers, 3, 2 and 4 digits each separated by one to three strong
   separators, one full stop or one plus sign (`123-45-6789`, `123 45 6789`,
   `123.45.6789`, `123+45+6789`), with no digit boundary required, in what the card
   rule left; widened to whole groups too.

Text holding percent-encoding is read both as written and decoded; what either reading
shows goes, widened to whole groups in both readings.

Then each of the account's own patterns (checked by `ivrlog.core.pattern_check` and run by
RE2, in time linear in the text), `pattern.sub("[redacted]", text)`, on the text as
written.

An entry of a sensitive module (`ivrlog.core.sensitive`) is stored as a private entry:
`Redactor.sensitive` says which modules are (core.ingest.normalize_entry applies it).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ivrlog.core.sensitive import NONE, SensitiveNames
from ivrlog.core.spelling import Canonical, canonical, decoded

REDACTED: Final = "[redacted]"


class CompiledPattern(Protocol):
    """What the redactor needs of a compiled account pattern (an RE2 regexp)."""

    def sub(self, repl: str, text: str) -> str: ...


# ---------------------------------------------------------------- built-in rules

# In the canonical spelling a strong separator is " ", a weak one "." (a full stop), "+"
# (a plus sign) or ",". Between two digits of a run may stand:
_SHORT: Final = " {1,3}"  # 1. up to three strong separators, between any two groups
MAX_SEPARATOR: Final = 8  # 2. up to eight strong ones, or one or two weak ones, alone or
# after a strong one ("-\n", " \n", " / "), or a full stop or plus sign then a strong one
# (". "), between a group of 4 to 6 digits (at least 4 digits before, not 7) and one of
# 3 to 6. Not a comma then a space: "1000, 2500, 5000, 7500" is a list of amounts.
_WEAK_MIX: Final = "[.,+]{1,2}| [.,+]{1,2}|[.+] | [.,+] "
_LONG: Final = (
    f"(?<=[0-9]{{4}})(?<![0-9]{{7}})(?: {{4,{MAX_SEPARATOR}}}|{_WEAK_MIX})(?=[0-9]{{3,6}}(?![0-9]))"
)
# A run of 13 or more digits. It starts at a digit that follows none (a run's first
# digit), and takes as many digits as it can without giving any back (each step has one
# way to match): linear, and several times faster than letting the engine backtrack.
_RUN: Final = re.compile(f"(?<![0-9])[0-9](?:(?:{_SHORT}|{_LONG})?[0-9]){{12,}}+")
_SSN: Final = re.compile(r"[0-9]{3}(?: {1,3}|[.+])[0-9]{2}(?: {1,3}|[.+])[0-9]{4}")

# Cheap tests that rule out most text before the rules above run:
# 1. nine digits (an SSN's; a card has 13) at most eight characters apart in the text as
#    written (percent-encoded text aside): without them, nothing is spelled out at all.
#    A gap of non-digits is taken whole (possessive: a digit cannot end a shorter one), so
#    a failing start is left at once instead of after every shorter gap is tried: twice
#    as fast on B3's prompts, same matches;
_NINE_DIGITS: Final = re.compile(r"\d(?:\D{0,8}+\d){8}")
# 2. in the canonical spelling reduced to its shape (digits "0", separators kept, all
#    else "|"), 13 digits in a row once separators are dropped, or an SSN's shape.
_SHAPE: Final = bytes(
    byte if byte in b" .,+" else 48 if 48 <= byte <= 57 else 124 for byte in range(256)
)
_THIRTEEN: Final = b"0" * 13
_DIGITS: Final = re.compile("[0-9]*")  # the rest of a group of digits
_GROUP: Final = re.compile("[0-9]+")  # a group: digits with nothing between them
_COVERED: Final = re.compile(b"\x01+")
_SSN_SHAPE: Final = re.compile(rb"000(?: {1,3}|[.+])00(?: {1,3}|[.+])0000")
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


def _widened(spans: list[tuple[int, int]], digits: str) -> list[tuple[int, int]]:
    """Spans (each from a digit to a digit) widened to the whole groups of digits they
    touch, in order, merged where they overlap or touch."""
    widened: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        floor = widened[-1][1] if widened else 0  # no walk goes back over a span twice
        while start > floor and "0" <= digits[start - 1] <= "9":
            start -= 1
        end = _DIGITS.match(digits, end).end()  # type: ignore[union-attr]
        if widened and start <= widened[-1][1]:
            widened[-1] = (widened[-1][0], max(end, widened[-1][1]))
        else:
            widened.append((start, end))
    return widened


def _secrets(spelled: Canonical) -> list[tuple[int, int]]:
    """The spans, in the text, of the secrets its canonical spelling shows, in order."""
    digits = spelled.text
    shape = digits.encode("utf-8", "surrogatepass").translate(_SHAPE)
    if _THIRTEEN not in shape.translate(None, b" .,+") and not _SSN_SHAPE.search(shape):
        return []
    runs = _RUN.finditer(digits)
    cards = _widened([span for run in runs for span in _card_spans(run)], digits)
    if cards:  # SSNs are looked for in what the card rule left (in linear time)
        blanked: list[str] = []
        done = 0
        for start, end in cards:
            blanked += (digits[done:start], "x" * (end - start))
            done = end
        digits = "".join([*blanked, digits[done:]])
    ssns = _widened([m.span() for m in _SSN.finditer(digits)], digits)
    return [spelled.span(start, end) for start, end in _joined([*cards, *ssns])]


def _joined(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans in order, merged where they overlap or touch."""
    joined: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined


def _closed(
    spans: list[tuple[int, int]], text: str, views: tuple[Canonical, ...]
) -> list[tuple[int, int]]:
    """Spans of `text` grown until each group of digits of every view (as written, and
    decoded) lies wholly inside or wholly outside them, merged where they touch: what is
    left then holds no part of a group that lost some, in either view."""
    if not spans:
        return []
    groups = [view.span(*m.span()) for view in views for m in _GROUP.finditer(view.text)]
    covered = bytearray(len(text))
    for start, end in spans:
        covered[start:end] = b"\x01" * (end - start)
    grown = True
    while grown:
        grown = False
        for start, end in groups:
            if covered.find(1, start, end) != -1 and covered.find(0, start, end) != -1:
                covered[start:end] = b"\x01" * (end - start)
                grown = True
    return [m.span() for m in _COVERED.finditer(covered)]


def _redact_builtin(text: str) -> str:
    """`text` with the secrets the built-in rules find replaced (`text` if none). Text
    without nine digits close together (`_NINE_DIGITS`) and without `%` holds none."""
    encoded = decoded(text)
    if encoded is None and not _NINE_DIGITS.search(text):
        return text
    spelled = canonical(text)
    found = _secrets(spelled)
    if encoded is not None:  # secrets as written and as decoded
        found = _closed(_joined([*found, *_secrets(encoded)]), text, (spelled, encoded))
    if not found:
        return text
    pieces: list[str] = []
    done = 0
    for start, end in found:
        pieces += (text[done:start], REDACTED)
        done = end
    return "".join([*pieces, text[done:]])


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
    """Built-in rules (cards, then SSNs) if `builtin`, then each `custom` pattern; and the
    account's sensitive modules, whose entries are stored as private ones."""

    builtin: bool = True
    custom: tuple[CompiledPattern, ...] = ()  # checked by check_pattern, compiled by RE2
    sensitive: SensitiveNames = NONE

    @property
    def active(self) -> bool:
        return self.builtin or bool(self.custom)

    def text(self, value: str) -> str:
        """`value` with every secret replaced by REDACTED (`value` itself if none)."""
        if (
            self.builtin
            and len(value) >= _SHORTEST_CANDIDATE
            and ("%" in value or _NINE_DIGITS.search(value))
        ):
            value = _redact_builtin(value)
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
        if not self.custom and _builtin_finds_nothing(value):  # B3's data, most often
            return dict(value)
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


_NOT_A_CARD: Final = 10**12  # a whole number of fewer than 13 digits is not a card number


def _builtin_finds_nothing(value: dict[str, Any]) -> bool:
    """Whether the built-in rules would leave an object as it is, told at a glance: its
    keys and values are short text or text without nine close digits or `%`, whole
    numbers of fewer than 13 digits, booleans or nulls. False for anything else (a
    float, a container): Redactor._object then looks at each."""
    search = _NINE_DIGITS.search
    for key, item in value.items():
        if len(key) >= _SHORTEST_CANDIDATE and ("%" in key or search(key)):
            return False
        kind = type(item)
        if kind is str:
            if len(item) >= _SHORTEST_CANDIDATE and ("%" in item or search(item)):
                return False
        elif kind is int:
            if not -_NOT_A_CARD < item < _NOT_A_CARD:
                return False
        elif kind is not bool and item is not None:
            return False
    return True


BUILTIN_RULES: Final = Redactor()  # what applies when no account's rules are given
NO_REDACTION: Final = Redactor(builtin=False)
