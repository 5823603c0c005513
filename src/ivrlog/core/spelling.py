r"""How digits and separators can be written: text reduced to a canonical spelling in
which the built-in redaction rules look for card numbers and SSNs.

In the canonical spelling every character of the text becomes one character:

- a decimal digit of any script (Unicode category Nd: ASCII, fullwidth, Arabic-Indic,
  Devanagari, mathematical...) becomes its ASCII digit;
- a *strong* separator becomes a space: any Unicode space (category Zs) or tab, any dash
  (category Pd, soft hyphen, minus signs and dash look-alikes: `DASH_LIKE`), an
  invisible formatting character (category Cf: zero-width space and joiners, word joiner,
  byte order mark, direction marks...), or a combining mark (categories Mn and Me:
  variation selectors, a keycap's enclosing square, accents and underlines on a digit);
- a *weak* separator becomes `.` when it is a full stop (`FULL_STOPS`), `+` when it is a
  plus sign (a space in a URL's query string: `PLUS`), or `,` for the others (`WEAK`:
  `/ , _`, line breaks, their fullwidth forms);
- anything else is kept as it is (so it is neither a digit nor a separator).

`canonical` keeps the text's length: its i-th character is the text's i-th. `decoded`
reads a percent-encoded character (`%2D`, `%2d`, `%20`, `%34`, UTF-8 sequences such as
`%C2%A0` or `%E2%80%93`, and the same encoded again: `%2520`) as the character it
encodes, and says where in the text each of its characters came from.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

# Dash look-alikes outside category Pd: minus signs (U+2212, U+2052, U+207B, U+208B,
# U+02D7, U+2796), the hyphen bullet and swung dash, box-drawing and katakana long
# strokes, the horizontal line extension; and fillers that show nothing (U+034F, Hangul
# fillers).
DASH_LIKE: Final = (
    "\u2212\u2052\u207b\u208b\u02d7\u2796\u2043\u2053\u2500\u2501\u23af\u30fc\uff70"
    "\u034f\u115f\u1160\u3164\uffa0"
)
STRONG: Final = "\t" + DASH_LIKE  # with every character of categories Zs, Pd, Cf, Mn, Me
FULL_STOPS: Final = ".\uff0e\u3002\uff61\ufe52\u2024"
PLUS: Final = "+\uff0b"
WEAK: Final = (
    "/,_\n\r\x0b\x0c\x85\u2028\u2029"  # slash, comma, underscore, plus, line breaks
    "\uff0f\uff0c\uff3f\u3001\uff64\ufe50\u2044\u2215\u060c\u066b\u066c"
)
_STRONG_CATEGORIES: Final = frozenset({"Zs", "Pd", "Cf", "Mn", "Me"})
_CACHED: Final = 4096  # characters whose class is remembered (the text is untrusted)
# one percent-encoded byte, encoded once or more (`%2D`, `%252D`), and runs of them
_BYTE: Final = re.compile(r"%(?:25)*([0-9A-Fa-f]{2})")
ENCODED: Final = re.compile(r"(?:%(?:25)*[0-9A-Fa-f]{2})+")


def canonical_char(char: str) -> str:
    """The canonical form of one character (itself when it is no digit or separator)."""
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return "0123456789"[digit]
    if char in FULL_STOPS:
        return "."
    if char in PLUS:
        return "+"
    if char in WEAK:
        return ","
    if char in STRONG or unicodedata.category(char) in _STRONG_CATEGORIES:
        return " "
    return char


class _Table(dict[int, str]):
    """A `str.translate` table that classifies a character the first time it is seen."""

    def __missing__(self, code: int) -> str:
        value = canonical_char(chr(code))
        if len(self) < _CACHED:
            self[code] = value
        return value


TABLE: Final = _Table({code: canonical_char(chr(code)) for code in range(128)})
_ASCII: Final = bytes(ord(TABLE[code]) for code in range(128)) + bytes(range(128, 256))


@dataclass(frozen=True, slots=True)
class Canonical:
    """A text's canonical spelling; `starts[i]`, `ends[i]`: where its i-th character came
    from in the text (None when every character came from one character, in place)."""

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The text's span for the canonical characters start to end (end excluded)."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def _utf8_length(lead: int) -> int:
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 1


def _decoded(text: str) -> Canonical:
    """The canonical spelling of a text holding percent-encoded bytes: each byte (or UTF-8
    sequence of them) that decodes to a character counts as that character; bytes that
    do not decode count as U+FFFD, neither digit nor separator."""
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    done = 0
    for chunk in ENCODED.finditer(text):
        pieces.append(text[done : chunk.start()].translate(TABLE))
        starts.extend(range(done, chunk.start()))
        ends.extend(range(done + 1, chunk.start() + 1))
        units = [
            (chunk.start() + unit.start(), chunk.start() + unit.end(), int(unit.group(1), 16))
            for unit in _BYTE.finditer(chunk.group())
        ]
        index = 0
        while index < len(units):
            size = _utf8_length(units[index][2])
            sequence = units[index : index + size]
            try:
                char = bytes(byte for _, _, byte in sequence).decode("utf-8")
            except UnicodeDecodeError:  # not UTF-8, or a sequence cut short
                char, sequence = "\ufffd", sequence[:1]
            pieces.append(char.translate(TABLE))
            starts.append(sequence[0][0])
            ends.append(sequence[-1][1])
            index += len(sequence)
        done = chunk.end()
    pieces.append(text[done:].translate(TABLE))
    starts.extend(range(done, len(text)))
    ends.extend(range(done + 1, len(text) + 1))
    return Canonical("".join(pieces), starts, ends)


def canonical(text: str) -> Canonical:
    """`text` in the canonical spelling, character for character (percent-encoding is
    read as the characters it is written with)."""
    if text.isascii():  # a bytes table, ten times faster than a str one
        return Canonical(text.encode("ascii").translate(_ASCII).decode("ascii"))
    return Canonical(text.translate(TABLE))


def decoded(text: str) -> Canonical | None:
    """`text` in the canonical spelling with its percent-encoding decoded, and where each
    of its characters came from; None when it holds no percent-encoded byte."""
    if "%" in text and ENCODED.search(text):
        return _decoded(text)
    return None
