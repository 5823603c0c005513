from __future__ import annotations

import copy
import re
import unicodedata
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivrlog.core import redact
from ivrlog.core.pattern_check import check_pattern
from ivrlog.core.redact import NO_REDACTION, REDACTED, Redactor, luhn_valid

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)
DIGITS = "0123456789"
REDACT = Redactor()


# ------------------------------------------------------------- an independent oracle
# The rule of docs/privacy.md, written out character by character (no regular
# expression for runs), for text without percent-encoding.

FULL_STOP_CHARS = ".\uff0e\u3002\uff61\ufe52\u2024"
PLUS_CHARS = "+\uff0b"
WEAK_CHARS = (
    "/,_\n\r\x0b\x0c\x85\u2028\u2029\uff0f\uff0c\uff3f\uff0b\u3001\uff64\ufe50\u2044"
    "\u2215\u060c\u066b\u066c"
)
STRONG_EXTRA = (
    "\t\u2212\u2052\u207b\u208b\u02d7\u2796\u2043\u2053\u2500\u2501\u23af\u30fc\uff70"
    "\u034f\u115f\u1160\u3164\uffa0"
)


def kind(char: str) -> str:
    """d: a digit, f: a full stop, p: a plus sign, w: another weak separator, s: a strong
    separator, o: anything else."""
    if unicodedata.category(char) == "Nd":
        return "d"
    if char in FULL_STOP_CHARS:
        return "f"
    if char in PLUS_CHARS:
        return "p"
    if char in WEAK_CHARS:
        return "w"
    if char in STRONG_EXTRA or unicodedata.category(char) in ("Zs", "Pd", "Cf", "Mn", "Me"):
        return "s"
    return "o"


def reference_runs(text: str) -> list[list[int]]:
    """The positions of the digits of each run (of any length) of `text`."""
    kinds = [kind(char) for char in text]
    digits = [i for i, k in enumerate(kinds) if k == "d"]

    def group(at: int, step: int) -> int:
        size = 0
        while 0 <= at < len(text) and kinds[at] == "d":
            size, at = size + 1, at + step
        return size

    runs: list[list[int]] = []
    for previous, position in zip([None, *digits], digits, strict=False):
        between = kinds[previous + 1 : position] if previous is not None else ["o"]
        strong = all(k == "s" for k in between)
        joined = previous is not None and (
            not between
            or (strong and len(between) <= 3)
            or (
                4 <= group(previous, -1) <= 6
                and 3 <= group(position, 1) <= 6
                and (
                    (strong and 4 <= len(between) <= 8)
                    or re.fullmatch("[fpw]{1,2}|s[fpw]{1,2}|[fp]s|s[fpw]s", "".join(between))
                    is not None
                )
            )
        )
        if joined:
            runs[-1].append(position)
        else:
            runs.append([position])
    return runs


def value_of(char: str) -> str:
    return str(unicodedata.decimal(char))


def reference_luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def with_check_digit(body: str) -> str:
    return next(body + d for d in DIGITS if reference_luhn(body + d))


def luhn_windows(text: str) -> list[str]:
    """Every Luhn-valid window of 13 to 19 digits in a run of `text`."""
    found = []
    for run in reference_runs(text):
        digits = "".join(value_of(text[i]) for i in run)
        for start in range(len(digits)):
            for size in range(13, 20):
                window = digits[start : start + size]
                if len(window) == size and reference_luhn(window):
                    found.append(window)
    return found


def ssn_shapes(text: str) -> list[tuple[int, int]]:
    """Spans of 3, 2 and 4 digits separated by 1 to 3 strong separators, a full stop or a
    plus sign."""
    kinds = "".join(kind(char) for char in text)
    return [m.span() for m in re.finditer("ddd(?:s{1,3}|[fp])dd(?:s{1,3}|[fp])dddd", kinds)]


def widened(text: str, covered: set[int]) -> set[int]:
    """`covered` with the whole group of digits of each digit it holds."""
    wider = set(covered)
    for i in covered:
        for step in (-1, 1):
            at = i + step
            while 0 <= at < len(text) and kind(text[at]) == "d":
                wider.add(at)
                at += step
    return wider


def reference_redaction(text: str) -> str:
    """The built-in rules by brute force: the characters of every Luhn-valid window and
    of every SSN in what is left, widened to whole groups of digits, each stretch of them
    becoming one REDACTED."""
    cards: set[int] = set()
    for where in reference_runs(text):
        for first in range(len(where)):
            for last in range(first + 12, min(first + 19, len(where))):
                if reference_luhn("".join(value_of(text[i]) for i in where[first : last + 1])):
                    cards.update(range(where[first], where[last] + 1))
    cards = widened(text, cards)
    marked = "".join("\x00" if i in cards else char for i, char in enumerate(text))
    ssns = {i for start, end in ssn_shapes(marked) for i in range(start, end)}
    covered = cards | widened(marked, ssns)
    return "".join(
        (REDACTED if i - 1 not in covered else "") if i in covered else char
        for i, char in enumerate(text)
    )


def grouped(card: str, separator: str) -> str:
    return separator.join(card[i : i + 4] for i in range(0, len(card), 4))


# ------------------------------------------------------------------------ strategies

card_numbers = st.integers(13, 19).flatmap(
    lambda size: st.text(DIGITS, min_size=size - 1, max_size=size - 1).map(with_check_digit)
)
written_cards = st.builds(grouped, card_numbers, st.sampled_from(["", " ", "-"]))
ssns = st.from_regex(re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}"), fullmatch=True)
no_digits = st.text(st.characters(exclude_categories=["Nd"], exclude_characters="%"))
digit_heavy = st.text(st.sampled_from(DIGITS + " -x.,/\n\u00a0\u200b\uff0d\u0663"))
anything = st.text(st.characters(exclude_characters="%")) | digit_heavy
mixed = st.lists(anything | written_cards | ssns, max_size=6).map("".join)


# ------------------------------------------------------------------------------ Luhn

NINETEEN_DIGITS = "4000000000000000006"


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",
        "5500005555555559",
        "378282246310005",
        "6011111111111117",
        "4222222222222",
        NINETEEN_DIGITS,
    ],
)
def test_known_card_numbers_pass_luhn(number: str) -> None:
    assert luhn_valid(number)
    assert reference_luhn(number)


@pytest.mark.parametrize("text", ["", "4111-1111-1111-1111", "4111 1111", "٣٣٣٣", "41x1"])
def test_luhn_is_false_for_anything_but_ascii_digits(text: str) -> None:
    assert not luhn_valid(text)


@PROPERTY
@given(st.text(DIGITS, min_size=1, max_size=30))
def test_luhn_agrees_with_the_reference(digits: str) -> None:
    assert luhn_valid(digits) == reference_luhn(digits)


@PROPERTY
@given(card_numbers, st.data())
def test_changing_one_digit_fails_luhn(card: str, data: st.DataObject) -> None:
    where = data.draw(st.integers(0, len(card) - 1))
    digit = data.draw(st.sampled_from(DIGITS.replace(card[where], "")))
    assert luhn_valid(card)
    assert not luhn_valid(card[:where] + digit + card[where + 1 :])


# ---------------------------------------------------------------------- card numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111111111111111 ok", "card [redacted] ok"),
        ("card 4111 1111 1111 1111, ok", "card [redacted], ok"),
        ("card 4111-1111-1111-1111.", "card [redacted]."),
        ("amex 378282246310005 and 5500005555555559", "amex [redacted] and [redacted]"),
        ("7 4111 1111 1111 1111", "[redacted]"),  # the run's 17-digit window passes too
        ("ref 1234 4111 1111 1111 1111 end", "ref [redacted] end"),  # whole groups go
        ("call +1 555-123-4567", "call +1 555-123-4567"),  # too short to be a card
        ("order 4111111111111113", "order 4111111111111113"),  # no window passes Luhn
        ("4111  1111 1111 1111", "[redacted]"),  # up to three spaces or dashes between
        ("4111 - 1111 - 1111 - 1111", "[redacted]"),
        ("4111\u00a01111\t1111\u20131111", "[redacted]"),  # no-break space, tab, en dash
        ("4111\u20091111\u30001111\u22121111", "[redacted]"),  # thin, ideographic, minus
        ("4111    1111 1111 1111", "[redacted]"),  # four to eight between groups of 4-6
        ("4111         1111 1111 1111", "4111         1111 1111 1111"),  # nine end a run
        ("44819183318265016997771523", "[redacted]"),  # windows that touch merge into one
    ],
)
def test_card_numbers(text: str, expected: str) -> None:
    assert REDACT.text(text) == expected


@PROPERTY
@given(no_digits, written_cards, no_digits)
def test_a_card_among_digit_free_text_is_replaced_exactly(
    before: str, card: str, after: str
) -> None:
    assert REDACT.text(before + card + after) == before + REDACTED + after


@PROPERTY
@given(anything, written_cards, anything)
def test_no_card_survives_whatever_surrounds_it(before: str, card: str, after: str) -> None:
    # a space apart (digits glued to a group of the card would make the group another)
    redacted = REDACT.text(f"{before} {card} {after}")
    assert luhn_windows(redacted) == []
    assert card not in redacted
    assert ssn_shapes(redacted) == []


# ------------------------------------------------------------------------------ SSNs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssn 123-45-6789.", "ssn [redacted]."),
        ("1123-45-67890", "[redacted]"),  # no digit boundary needed; whole groups go
        ("411-11-1111-1111111", "[redacted]"),  # a card first, not an SSN and leftovers
        ("123-456-7890", "123-456-7890"),
    ],
)
def test_ssns(text: str, expected: str) -> None:
    assert REDACT.text(text) == expected


@PROPERTY
@given(anything, ssns, anything)
def test_no_ssn_survives(before: str, ssn: str, after: str) -> None:
    redacted = REDACT.text(before + ssn + after)
    assert ssn not in redacted
    assert ssn_shapes(redacted) == []


# ------------------------------------------------------------------ the redactor as a whole


@PROPERTY
@given(mixed)
def test_redaction_is_idempotent_and_complete(text: str) -> None:
    once = REDACT.text(text)
    assert REDACT.text(once) == once
    assert luhn_windows(once) == []
    assert ssn_shapes(once) == []


@PROPERTY
@given(mixed)
def test_redaction_matches_the_brute_force_rule(text: str) -> None:
    assert REDACT.text(text) == reference_redaction(text)


@PROPERTY
@given(no_digits)
def test_text_without_digits_comes_back_as_is(text: str) -> None:
    assert REDACT.text(text) is text


def test_short_digit_runs_come_back_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_path(text: str) -> str:
        raise AssertionError(f"the text was spelled out: {text!r}")

    # One regex search decides that there is nothing to do: the text is not spelled out.
    monkeypatch.setattr(redact, "canonical", slow_path)
    text = "call 555-1234 tomorrow at 10:30, the morning of 2024-05-01, about order 12345678"
    assert REDACT.text(text) is text
    with pytest.raises(AssertionError, match="spelled out"):
        REDACT.text("4111111111111111")


def test_digit_rich_text_without_a_candidate_skips_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow_path(run: re.Match[str]) -> Any:
        raise AssertionError(f"the card rule ran on {run.group()!r}")

    # Timestamps and numbers: spelled out, but their shape holds no 13 digits in a row
    # (separators dropped) and no SSN shape, so the rules themselves never run.
    monkeypatch.setattr(redact, "_card_spans", slow_path)
    text = "2019-12-09T13:46:26.123Z session 100035;000;1575898377 at +1 (555) 123-4567"
    assert REDACT.text(text) is text
    with pytest.raises(AssertionError, match="card rule ran"):
        REDACT.text("2019-12-09 13:46:26 4111 1111 1111 1111")


def test_no_redaction_leaves_everything() -> None:
    data = {"card": 4111111111111111, "text": ["4111111111111111", "123-45-6789"]}
    assert NO_REDACTION.text("4111111111111111 123-45-6789") == "4111111111111111 123-45-6789"
    assert NO_REDACTION.value(data) == {
        "card": 4111111111111111,
        "text": ["4111111111111111", "123-45-6789"],
    }
    assert not NO_REDACTION.active


def test_active() -> None:
    assert Redactor().active
    assert Redactor(builtin=False, custom=(check_pattern("secret"),)).active
    assert not Redactor(builtin=False).active


def test_custom_patterns_run_after_the_builtin_rules() -> None:
    member = check_pattern(r"MEM-\d{6}")
    assert Redactor(custom=(member,)).text("id MEM-123456 ok") == "id [redacted] ok"
    # Run first, `4111` would leave a Luhn-failing tail that the card rule would not catch.
    prefix = Redactor(custom=(check_pattern("4111"),))
    assert prefix.text("card 4111111111111111") == "card [redacted]"
    # Only the account's own patterns when the built-in rules are off.
    own = Redactor(builtin=False, custom=(member, check_pattern("secret")))
    text = "MEM-000001 secret 4111111111111111"
    assert own.text(text) == "[redacted] [redacted] 4111111111111111"


# --------------------------------------------------------------------- JSON values


def shape(value: Any) -> Any:
    """`value` with every type and every key order made visible to ==."""
    if isinstance(value, dict):
        return ("dict", [(key, shape(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [shape(item) for item in value])
    return (type(value).__name__, value)


def strings(value: Any) -> list[str]:
    """Every string in `value`, object keys included."""
    if isinstance(value, dict):
        return [*value, *(s for item in value.values() for s in strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def replaced(value: Any, secret: str) -> Any:
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():  # a key holding the secret: redacted, kept unique
            clean = key.replace(secret, REDACTED)
            if clean != key and (clean in result or clean in value):
                clean = next(
                    f"{clean}#{n}"
                    for n in range(2, 99)
                    if f"{clean}#{n}" not in result and f"{clean}#{n}" not in value
                )
            result[clean] = replaced(item, secret)
        return result
    if isinstance(value, list):
        return [replaced(item, secret) for item in value]
    return value.replace(secret, REDACTED) if isinstance(value, str) else value


@st.composite
def data_with_secret(draw: st.DrawFn) -> tuple[str, Any]:
    secret = draw(written_cards | ssns)
    words = st.text(st.characters(exclude_characters=DIGITS), max_size=8)
    carrier = st.builds(lambda a, b: a + secret + b, words, words)
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(-(10**12) + 1, 10**12 - 1)
        # whole floats of 13+ digits may be card numbers: test_card_number_ints... covers them
        | st.floats(allow_nan=False).filter(lambda f: not (f.is_integer() and abs(f) >= 1e12))
        | words
        | carrier
    )
    keys = words | st.just(secret)
    tree = draw(
        st.recursive(
            leaves,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
            max_leaves=20,
        )
    )
    if not any(secret in s for s in strings(tree)):
        tree = {"data": [tree, draw(carrier)]}
    return secret, tree


@PROPERTY
@given(data_with_secret())
def test_values_are_redacted_at_any_depth(case: tuple[str, Any]) -> None:
    secret, data = case
    before = copy.deepcopy(data)
    redacted = REDACT.value(data)
    assert not any(secret in s for s in strings(redacted))
    assert shape(redacted) == shape(replaced(before, secret))  # keys, order, scalars kept
    assert shape(data) == shape(before)  # the input is not mutated


def test_card_number_ints_are_redacted_but_not_other_numbers() -> None:
    data = {
        "card": 4111111111111111,
        "negative": -4111111111111111,
        "short": 424242424242,  # 12 digits
        "failing": 4111111111111112,
        "flag": True,
        "float": 4111111111111111.0,
        "ratio": 0.4111111111111111,  # a fraction's digits are never a card
        "inside": 41111111111111112,  # a number is redacted when it is a card, not contains one
        "4111111111111111": [378282246310005, None],
        "[redacted]": "a key that happens to read like the mark",
    }
    assert REDACT.value(data) == {
        "card": REDACTED,
        "negative": REDACTED,
        "short": 424242424242,
        "failing": 4111111111111112,
        "flag": True,
        "float": REDACTED,
        "ratio": 0.4111111111111111,
        "inside": 41111111111111112,
        f"{REDACTED}#2": [REDACTED, None],  # keys are redacted too and stay unique
        REDACTED: "a key that happens to read like the mark",
    }
    assert REDACT.value(True) is True


def nine_digits_close(text: str) -> bool:
    """The definition of the cheap test: nine digits (any decimal digit, as `\\d` reads
    them) with at most eight other characters between each and the next."""
    places = [i for i, char in enumerate(text) if char.isdecimal()]
    return any(
        all(places[j + 1] - places[j] <= 9 for j in range(i, i + 8)) for i in range(len(places) - 8)
    )


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(
    st.lists(  # digits, each followed by a gap of 0 to 10 other characters
        st.tuples(st.sampled_from("0123456789٣"), st.integers(0, 10), st.sampled_from(" -./a")),
        max_size=14,
    ).map(lambda parts: "".join(digit + char * gap for digit, gap, char in parts))
)
def test_the_cheap_test_finds_nine_close_digits_exactly(text: str) -> None:
    assert bool(redact._NINE_DIGITS.search(text)) is nine_digits_close(text)


FLAT_TEXT = st.text(st.sampled_from("0123456789 -%ab"), max_size=20)
FLAT_OBJECTS = st.dictionaries(
    FLAT_TEXT,
    FLAT_TEXT
    | st.integers(-(10**13), 10**13)
    | st.sampled_from([4111111111111111, 10**12 - 1, -(10**12) + 1, 10**12])
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.none()
    | st.lists(FLAT_TEXT, max_size=2),
    max_size=4,
)


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(FLAT_OBJECTS)
def test_an_object_told_clean_at_a_glance_is_what_the_rules_leave(value: dict[str, Any]) -> None:
    rules = Redactor()
    with mock.patch.object(redact, "_builtin_finds_nothing", return_value=False):
        looked_at = rules.value(value)
    if redact._builtin_finds_nothing(value):
        assert looked_at == value
    assert rules.value(value) == looked_at


def test_objects_the_glance_leaves_to_the_rules() -> None:
    assert redact._builtin_finds_nothing({"module_type": "start", "n": 10**12 - 1, "ok": None})
    others: list[dict[str, Any]] = [
        {"n": 10**12},
        {"x": 1.0},
        {"x": []},
        {"pan": "4111 1111 1111 1111"},
    ]
    for value in others:
        assert not redact._builtin_finds_nothing(value)
