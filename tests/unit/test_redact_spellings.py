"""Every way a card number or an SSN can be written that docs/privacy.md says is caught:
Unicode dashes, spaces and invisible characters, weak separators, long gaps, digits of
any script, percent-encoding; and the limits it states."""

from __future__ import annotations

import sys
import unicodedata
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivrlog.core.redact import REDACTED, Redactor
from ivrlog.core.spelling import DASH_LIKE

REDACT = Redactor()
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True, database=None)

CODE_POINTS = [chr(code) for code in range(sys.maxunicode + 1)]
BY_CATEGORY: dict[str, list[str]] = defaultdict(list)
for _char in CODE_POINTS:
    BY_CATEGORY[unicodedata.category(_char)].append(_char)
DIGITS_OF: dict[int, list[str]] = defaultdict(list)  # every Nd character, by its value
for _char in BY_CATEGORY["Nd"]:
    DIGITS_OF[unicodedata.decimal(_char)].append(_char)
ZEROS = DIGITS_OF[0]  # one per script of decimal digits

CARDS = {  # Luhn-valid, with the grouping they are printed in
    "4111111111111111": (4, 4, 4, 4),
    "5500005555555559": (4, 4, 4, 4),
    "378282246310005": (4, 6, 5),  # American Express
    "30569309025904": (4, 6, 4),  # Diners Club
    "4000000000000000006": (4, 4, 4, 4, 3),  # 19 digits
    "4222222222222": (4, 4, 5),  # 13 digits
}
# what the issue named, besides the whole of categories Pd, Zs and Cf
NAMED_DASHES = (
    "\uff0d\ufe63\ufe58\u058a\u2e3a\u2e3b\u301c\u3030\u30a0\ufe31\ufe32\u2053\U00010ead"
    "\u00ad\u2212\u2011\u2013"
)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
WEAK = [".", "/", ",", "_", "+", "\n", "\r\n", "\r", "\u2028", "\u2029", "\uff0e", "\uff0f"]
WEAK += ["\uff0c", "\u3002", "\u3001", "..", "./"]
PERCENT = {  # an encoded separator, and what it encodes
    "%20": " ",
    "%2D": "-",
    "%2d": "-",
    "%2B": "+",
    "%2b": "+",
    "%2E": ".",
    "%2F": "/",
    "%2C": ",",
    "%5F": "_",
    "%0A": "\n",
    "%0D%0A": "\r\n",
    "%09": "\t",
    "%C2%A0": "\u00a0",
    "%C2%AD": "\u00ad",
    "%E2%80%93": "\u2013",
    "%E2%80%91": "\u2011",
    "%E2%80%8B": "\u200b",
    "%EF%BB%BF": "\ufeff",
    "%EF%BC%8D": "\uff0d",
    "%2520": " ",  # encoded twice
    "%252D": "-",
    "%25252E": ".",  # three times
    "%20%20": "  ",
    "+": " ",  # a space in a query string
}


def grouped(digits: str, sizes: tuple[int, ...], separator: str) -> str:
    groups, at = [], 0
    for size in sizes:
        groups.append(digits[at : at + size])
        at += size
    return separator.join(groups)


def in_script(zero: str, text: str) -> str:
    """`text` with its ASCII digits written in the script whose zero is `zero`."""
    return "".join(chr(ord(zero) + int(c)) if c.isascii() and c.isdigit() else c for c in text)


def caught(written: str) -> bool:
    """Whether `written`, among words, comes back as exactly one REDACTED."""
    return REDACT.text(f"card {written} ok") == f"card {REDACTED} ok"


# ------------------------------------------------------------------ separators


STRONG_SEPARATORS = sorted(
    {*BY_CATEGORY["Pd"], *BY_CATEGORY["Zs"], *BY_CATEGORY["Cf"], "\t"}
    | set(NAMED_DASHES + ZERO_WIDTH + DASH_LIKE)
)


def test_every_unicode_dash_space_and_invisible_character_separates_digits() -> None:
    assert len(BY_CATEGORY["Pd"]) >= 26  # the version of Unicode the issue counted
    missed = [
        f"U+{ord(sep):04X}"
        for sep in STRONG_SEPARATORS
        for written in (
            grouped("4111111111111111", (4, 4, 4, 4), sep),
            grouped("4111111111111111", (4, 4, 4, 4), sep * 3),
            sep.join("4111111111111111"),  # digit by digit
            grouped("123456789", (3, 2, 4), sep),  # an SSN
            grouped("123456789", (3, 2, 4), f" {sep} "),
        )
        if not caught(written)
    ]
    assert missed == []


@pytest.mark.parametrize("separator", WEAK, ids=repr)
@pytest.mark.parametrize("card", CARDS)
def test_weak_separators_between_groups_of_a_card(card: str, separator: str) -> None:
    assert caught(grouped(card, CARDS[card], separator))


@pytest.mark.parametrize("gap", ["    ", "     ", "\t\t\t\t", " \u00a0 \u3000 ", " " * 8])
@pytest.mark.parametrize("card", CARDS)
def test_four_to_eight_spaces_between_groups_of_a_card(card: str, gap: str) -> None:
    assert caught(grouped(card, CARDS[card], gap))


@pytest.mark.parametrize(
    "written",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111 - 1111 - 1111 - 1111",
        "4111\u00a01111\u202f1111\u20091111",
        "4111\u20131111\u20141111\u22121111",
        "4111\u00ad1111\u00ad1111\u00ad1111",
        "4111\u200b1111\u200b1111\u200b1111",
        "4111\ufeff1111\u20601111\u200d1111",
        "4111.1111.1111.1111",
        "4111/1111/1111/1111",
        "4111,1111,1111,1111",
        "4111_1111_1111_1111",
        "4111\n1111\n1111\n1111",
        "4111\r\n1111\r\n1111\r\n1111",
        "4111\t1111\t1111\t1111",
        "4111    1111    1111    1111",
        "4111.1111 1111-1111",  # mixed
        "4111-\n1111-\n1111-\n1111",  # a dash at the end of a wrapped line
        "4111 \n1111 \n1111 \n1111",  # a space there
        "4111. 1111. 1111. 1111",
        "4111 / 1111 / 1111 / 1111",
        "41111111111 11111",  # a space anywhere (SPEC 4)
        "4\ufe0f\u20e31\ufe0f\u20e31\ufe0f\u20e31\ufe0f\u20e3 1111 1111 1111",  # keycaps
        "4\u03011\u03011\u03011\u0301 1111 1111 1111",  # combining marks on digits
        "4\u03321\u03321\u03321\u0332111111111111",  # underlined
        "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
        "4-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1",
        in_script("\uff10", "4111 1111 1111 1111"),  # fullwidth
        in_script("\uff10", "4111\uff0d1111\uff0d1111\uff0d1111"),  # and fullwidth dashes
        in_script("\u0660", "4111 1111 1111 1111"),  # Arabic-Indic
        in_script("\u06f0", "4111111111111111"),  # Extended Arabic-Indic (Persian)
        in_script("\u0966", "4111-1111-1111-1111"),  # Devanagari
        "4\u0661\uff111 1111 1111 1111",  # scripts mixed
    ],
    ids=repr,
)
def test_card_spellings(written: str) -> None:
    assert caught(written)


@pytest.mark.parametrize(
    "written",
    [
        "123-45-6789",
        "123 45 6789",
        "123.45.6789",
        "123\u201345\u20136789",  # en dash
        "123\u201145\u20116789",  # no-break hyphen
        "123\uff0d45\uff0d6789",  # fullwidth hyphen-minus
        "123\u00a045\u00a06789",
        "123 - 45 - 6789",
        "123\u200b45\u200b6789",
        in_script("\uff10", "123-45-6789"),  # fullwidth digits
        in_script("\uff10", "123\uff0d45\uff0d6789"),
        in_script("\u0660", "123-45-6789"),
        "123%2D45%2D6789",
        "123%2d45%2d6789",
        "123%2045%206789",
        "123+45+6789",
        "123%E2%80%9345%E2%80%936789",
        "%31%32%33-%34%35-%36%37%38%39",
    ],
    ids=repr,
)
def test_ssn_spellings(written: str) -> None:
    assert caught(written)


# ------------------------------------------------------------------ digits of any script


def test_a_card_and_an_ssn_in_every_script_of_decimal_digits() -> None:
    assert len(ZEROS) >= 60
    missed = []
    for zero in ZEROS:
        base = ord(zero)
        card = "".join(chr(base + int(d)) for d in "4111111111111111")
        ssn = "".join(chr(base + int(d)) for d in "123456789")
        for written in (card, grouped(card, (4, 4, 4, 4), " "), grouped(ssn, (3, 2, 4), "-")):
            if not caught(written):
                missed.append(f"U+{base:04X} {written!r}")
    assert missed == []


# ------------------------------------------------------------------ percent-encoding


@pytest.mark.parametrize("encoded", PERCENT, ids=repr)
@pytest.mark.parametrize("card", CARDS)
def test_percent_encoded_separators(card: str, encoded: str) -> None:
    assert caught(grouped(card, CARDS[card], encoded))
    if encoded != "+":  # as it encodes, what stands for it stands between the digits
        assert caught(grouped(card, CARDS[card], PERCENT[encoded]))


@pytest.mark.parametrize(
    "written",
    [
        "".join(f"%{ord(d):02X}" for d in "4111111111111111"),  # %34%31...
        "".join(f"%25{ord(d):02x}" for d in "4111111111111111"),  # %2534...
        "4%311%311 1111%201111 1111",
        "%EF%BC%94%EF%BC%91%EF%BC%91%EF%BC%91" + "1" * 12,  # fullwidth digits, encoded
        "4111%201111%2E1111%2D1111",
    ],
    ids=repr,
)
def test_percent_encoded_digits(written: str) -> None:
    assert caught(written)


def test_a_card_both_written_and_encoded_is_caught_as_written() -> None:
    # %41 is "A": decoded, the card loses two digits; as written, it is all there
    assert REDACT.text("x%4111111111111111 y") == f"x%{REDACTED} y"
    # an encoding that decodes to nothing (a stray byte) separates nothing
    assert REDACT.text("4111%FF1111%FF1111%FF1111") == "4111%FF1111%FF1111%FF1111"
    assert REDACT.text("4111%C21111 %E2%801111") == "4111%C21111 %E2%801111"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /api/call/4111.1111.1111.1111 HTTP/1.1", f"GET /api/call/{REDACTED} HTTP/1.1"),
        (
            "GET /api/calls/0/1?number=4111.1111.1111.1111&x=1 HTTP/1.1",
            f"GET /api/calls/0/1?number={REDACTED}&x=1 HTTP/1.1",
        ),
        ("GET /api/call/4111%2E1111%2E1111%2E1111", f"GET /api/call/{REDACTED}"),
        ("GET /api/call/4111+1111+1111+1111?a=b", f"GET /api/call/{REDACTED}?a=b"),
        ("GET /api/call/123.45.6789 HTTP/1.1", f"GET /api/call/{REDACTED} HTTP/1.1"),
    ],
)
def test_cards_in_request_lines(line: str, expected: str) -> None:
    assert REDACT.text(line) == expected


# ------------------------------------------------------------------ the stated limits


@pytest.mark.parametrize(
    "written",
    [
        "4111         1111 1111 1111",  # nine spaces: two runs of 4 and 12 digits
        "4.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1",  # weak separators join groups of 4 to 6 only
        "4111, 1111, 1111, 1111",  # a comma then a space: a list (1000, 2500, 5000)
        "4111...1111...1111...1111",  # three weak characters
        "41111111.11111111",  # groups of 8
        "4111\u00b71111\u00b71111\u00b71111",  # a middle dot is no separator
        "\u2074\u00b9\u00b9\u00b9 1111 1111 1111",  # superscripts are not decimal digits
        "4111&#32;1111&#32;1111&#32;1111",  # HTML entities are not decoded
        "123456789",  # an SSN needs its separators
        "123/45/6789",  # and they are spaces, dashes or a full stop
    ],
    ids=repr,
)
def test_what_the_rules_do_not_catch(written: str) -> None:
    assert REDACT.text(f"card {written} ok") == f"card {written} ok"


# ------------------------------------------------------------------ generated spellings


def check_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str(-total % 10)


LAYOUTS = ((4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 5), (5, 5, 5))
strong = st.sampled_from(STRONG_SEPARATORS)
weak = st.sampled_from([w for w in WEAK if len(w) <= 2])
script = st.sampled_from(ZEROS)
# words around a secret: letters, no digit, separator or percent sign
words = st.text(
    st.characters(categories=("Lu", "Ll", "Lo"), exclude_characters=DASH_LIKE), max_size=8
)


def encode(char: str, times: int) -> str:
    """`char` percent-encoded as UTF-8, its percent signs encoded again `times` times."""
    return "".join("%" + "25" * times + f"{byte:02X}" for byte in char.encode())


@st.composite
def spelled(draw: st.DrawFn, digits: str, gaps: list[str]) -> str:
    """`digits` with `gaps[i]` after digit i, each digit in a script drawn for it, and
    some characters percent-encoded."""
    out = []
    encoded = draw(st.booleans())
    for digit, gap in zip(digits, [*gaps, ""], strict=True):
        for char in (chr(ord(draw(script)) + int(digit)), *gap):
            if encoded and draw(st.integers(0, 3)) == 0:
                out.append(encode(char, draw(st.integers(0, 2))))
            else:
                out.append(char)
    return "".join(out)


@st.composite
def cards(draw: st.DrawFn) -> str:
    layout = draw(st.sampled_from(LAYOUTS))
    payload = draw(st.sampled_from("3456")) + draw(
        st.text("0123456789", min_size=sum(layout) - 2, max_size=sum(layout) - 2)
    )
    digits = payload + check_digit(payload)
    if draw(st.booleans()):  # digit by digit, one to three strong separators each
        gaps = [draw(st.text(strong, min_size=1, max_size=3)) for _ in digits[1:]]
    else:  # by groups, any kind of separator between them
        between = st.one_of(
            st.text(strong, min_size=1, max_size=3),
            st.text(strong, min_size=4, max_size=8),
            weak,
        )
        ends = {sum(layout[: i + 1]) - 1 for i in range(len(layout) - 1)}
        gaps = [draw(between) if i in ends else "" for i in range(len(digits) - 1)]
    return draw(spelled(digits, gaps))


@st.composite
def ssns(draw: st.DrawFn) -> str:
    digits = draw(st.text("0123456789", min_size=9, max_size=9))
    separator = st.text(strong, min_size=1, max_size=3) | st.sampled_from([".", "\uff0e"])
    gaps = ["", "", draw(separator), "", draw(separator), "", "", ""]
    return draw(spelled(digits, gaps))


@PROPERTY
@given(words, cards() | ssns(), words)
def test_every_generated_spelling_is_caught_exactly(before: str, secret: str, after: str) -> None:
    assert REDACT.text(f"{before} {secret} {after}") == f"{before} {REDACTED} {after}"


digit_soup = st.text(st.sampled_from("0123456789 .,+-%2D\u00a0"), max_size=12)


@PROPERTY
@given(st.lists(cards() | ssns() | words | digit_soup, min_size=1, max_size=6))
def test_redaction_of_generated_spellings_is_idempotent(parts: list[str]) -> None:
    once = REDACT.text("".join(parts))
    assert REDACT.text(once) == once


def test_a_group_cut_in_one_view_is_taken_whole_in_both() -> None:
    # As written, the card ends at "0004"; decoded, "%33" joins "0004" to "3544", which a
    # weak separator then joins to more digits: the decoded group goes whole, or what is
    # left of it would make a new run (and redacting again would change the text).
    text = (
        "3000\u00a00000\u00a00000\u00a0\u00a0\u00a0\u00a00004%335\u1044"
        "\u2060\u205f" + " " * 6 + "%2584\u06647  %E0%B7%A6\u09e8%39\u06f2.299 end"
    )
    once = REDACT.text(text)
    assert once.startswith(REDACTED)
    assert "%33" not in once
    assert REDACT.text(once) == once
