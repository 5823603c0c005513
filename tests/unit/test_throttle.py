"""core/throttle.py on its own: rates, the email a header names, address keys, the bound
on what is tracked."""

from __future__ import annotations

import base64

import pytest

from ivrlog.core.errors import TooManyRequests
from ivrlog.core.throttle import Throttle, address_key, claimed_email, parse_rate


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "email"),
    [
        (basic(" Dev@Example.COM :ivk_x"), "dev@example.com"),
        (basic("a@b:"), "a@b"),
        (basic("no-colon"), None),
        (basic(":ivk_x"), None),
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"\xff:x").decode(), None),
        ("Bearer ivt_x", None),
        (None, None),
        ("", None),
    ],
)
def test_claimed_email(header: str | None, email: str | None) -> None:
    assert claimed_email(header) == email


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
        ("not:an:address", "not:an:address"),
    ],
)
def test_address_keys(host: str, key: str) -> None:
    assert address_key(host) == key


def test_off_rates_are_none() -> None:
    assert parse_rate("x", "off") is None
    assert parse_rate("x", " 0 ") is None
    rate = parse_rate("x", "20 per minute")
    assert rate is not None
    assert (rate.amount, rate.get_expiry()) == (20, 60)
    with pytest.raises(ValueError, match=r"^x: 'twenty' is not a rate"):
        parse_rate("x", "twenty")


def test_one_ipv6_host_cannot_dodge_its_budget_by_changing_address() -> None:
    throttle = Throttle(parse_rate("a", "2/day"), None)
    throttle.failed("2001:db8::1", None)
    throttle.failed("2001:db8::2", None)
    with pytest.raises(TooManyRequests):
        throttle.check_address("2001:db8::3")
    throttle.check_address("2001:db8:0:1::1")  # another /64


def test_what_is_tracked_is_bounded() -> None:
    throttle = Throttle(parse_rate("a", "1/day"), parse_rate("b", "1/day"), max_tracked=3)
    for n in range(3):
        throttle.failed(f"10.0.0.{n}", f"user{n}@example.com")
    # the table is full: a new address's and a new email's failures go uncounted
    for _ in range(5):
        throttle.failed("10.0.0.99", "new@example.com")
    throttle.check_address("10.0.0.99")
    # the ones tracked are still throttled
    for n in range(3):
        with pytest.raises(TooManyRequests):
            throttle.check_address(f"10.0.0.{n}")
        with pytest.raises(TooManyRequests):
            throttle.failed("10.0.0.50", f"user{n}@example.com")


def test_throttles_are_reported() -> None:
    seen: list[str] = []
    throttle = Throttle(parse_rate("a", "1/day"), parse_rate("b", "1/day"), on_throttle=seen.append)
    throttle.failed("10.0.0.1", "a@b")
    with pytest.raises(TooManyRequests) as refused:
        throttle.check_address("10.0.0.1")
    assert 1 <= refused.value.retry_after <= 86_400
    with pytest.raises(TooManyRequests):
        throttle.failed("10.0.0.2", "a@b")
    assert seen == ["address", "account"]
