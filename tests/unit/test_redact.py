from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivrlog.core import redact
from ivrlog.core.pattern_check import check_pattern
from ivrlog.core.redact import NO_REDACTION, REDACTED, Redactor, luhn_valid

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)
DIGITS = "0123456789"
SSN_SHAPE = re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")
RUN = re.compile(
    "[0-9](?:[\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2010-\u2015\u2212-]{0,3}[0-9])*"
)
REDACT = Redactor()


# ------------------------------------------------------------- an independent oracle


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
    for run in RUN.finditer(text):
        digits = re.sub(r"[^0-9]", "", run.group())
        for start in range(len(digits)):
            for size in range(13, 20):
                window = digits[start : start + size]
                if len(window) == size and reference_luhn(window):
                    found.append(window)
    return found


def reference_redaction(text: str) -> str:
    """The built-in rules by brute force: the characters of every Luhn-valid window, each
    stretch of them becoming one REDACTED; then SSNs."""
    covered: set[int] = set()
    for run in RUN.finditer(text):
        where = [run.start() + i for i, char in enumerate(run.group()) if char in DIGITS]
        for first in range(len(where)):
            for last in range(first + 12, min(first + 19, len(where))):
                if reference_luhn("".join(text[i] for i in where[first : last + 1])):
                    covered.update(range(where[first], where[last] + 1))
    kept = [
        REDACTED if i in covered else char
        for i, char in enumerate(text)
        if i not in covered or i - 1 not in covered
    ]
    return SSN_SHAPE.sub(REDACTED, "".join(kept))


def grouped(card: str, separator: str) -> str:
    return separator.join(card[i : i + 4] for i in range(0, len(card), 4))


# ------------------------------------------------------------------------ strategies

card_numbers = st.integers(13, 19).flatmap(
    lambda size: st.text(DIGITS, min_size=size - 1, max_size=size - 1).map(with_check_digit)
)
written_cards = st.builds(grouped, card_numbers, st.sampled_from(["", " ", "-"]))
ssns = st.from_regex(SSN_SHAPE, fullmatch=True)
no_digits = st.text(st.characters(exclude_characters=DIGITS))
digit_heavy = st.text(st.sampled_from(DIGITS + " -x"))
anything = st.text() | digit_heavy
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
        ("ref 1234 4111 1111 1111 1111 end", "ref 1[redacted] end"),  # over-redaction
        ("call +1 555-123-4567", "call +1 555-123-4567"),  # too short to be a card
        ("order 4111111111111113", "order 4111111111111113"),  # no window passes Luhn
        ("4111  1111 1111 1111", "[redacted]"),  # up to three spaces or dashes between
        ("4111 - 1111 - 1111 - 1111", "[redacted]"),
        ("4111\u00a01111\t1111\u20131111", "[redacted]"),  # no-break space, tab, en dash
        ("4111\u20091111\u30001111\u22121111", "[redacted]"),  # thin, ideographic, minus
        ("4111    1111 1111 1111", "4111    1111 1111 1111"),  # four spaces end a run
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
    redacted = REDACT.text(before + card + after)
    assert luhn_windows(redacted) == []
    assert card not in redacted
    assert SSN_SHAPE.search(redacted) is None


# ------------------------------------------------------------------------------ SSNs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssn 123-45-6789.", "ssn [redacted]."),
        ("1123-45-67890", "1[redacted]0"),  # no digit boundary needed
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
    assert SSN_SHAPE.search(redacted) is None


# ------------------------------------------------------------------ the redactor as a whole


@PROPERTY
@given(mixed)
def test_redaction_is_idempotent_and_complete(text: str) -> None:
    once = REDACT.text(text)
    assert REDACT.text(once) == once
    assert luhn_windows(once) == []
    assert SSN_SHAPE.search(once) is None


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
        raise AssertionError(f"the card scan ran on {text!r}")

    # One regex search decides that there is nothing to do: the card scan never runs.
    monkeypatch.setattr(redact, "_redact_cards", slow_path)
    text = "call 555-1234 at 10:30 on 2024-05-01, order 123456789012"
    assert REDACT.text(text) is text
    with pytest.raises(AssertionError, match="the card scan ran"):
        REDACT.text("4111111111111111")


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
