"""IVR-shaped text that the built-in rules must leave untouched: phone numbers, session
ids, timestamps, dates, amounts, order numbers, addresses, versions, lists. Each item is
returned unchanged, alone, among words, as a data value and as a data key."""

from __future__ import annotations

import pytest
from bench.dataset import Shape, calls

from ivrlog.core.demo import demo_calls
from ivrlog.core.redact import Redactor

REDACT = Redactor()

PHONE_NUMBERS = [
    "+1 (555) 123-4567",
    "(555) 123-4567",
    "555-123-4567",
    "555.123.4567",
    "555 123 4567",
    "5551234567",
    "+15551234567",  # E.164
    "+1-555-123-4567",
    "+1.555.123.4567",
    "1-800-555-0199",
    "1 (800) 555-0199 ext. 1234",
    "tel:+1-555-123-4567;ext=89",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "020 7946 0958",
    "+442079460958",
    "+33 1 23 45 67 89",
    "+33123456789",
    "+49 30 12345678",
    "+61 2 1234 5678",
    "+81 3-1234-5678",
    "+91 98765 43210",
    "+7 495 123-45-67",
    "call from +15551234567 to +15559876543",
    "transfer to 555-123-4567 then 555-987-6543",
    "ANI 6175551234 DNIS 8005550199",
]
SESSION_IDS = [
    "100035;000;1575898377",
    "100035;001;1575898377",
    "1575898377.123456",  # Asterisk's uniqueid, microseconds
    "1575898377.42",
    "asterisk-1575898377.4217",
    "SIP/trunk-0000a1b2",
    "call-5f3c9a2e-0001",
    "CA1234567890abcdef1234567890abcdef",  # Twilio-style
]
TIMES = [
    "1575898377",
    "1575898377.123",
    "2019-12-09T13:46:26.123Z",
    "2019-12-09T13:46:26+00:00",
    "2019-12-09T13:46:26.123456-05:00",
    "2019-12-09 13:46:26",
    "2019-12-09 13:46:26,123",
    "20191209T134626Z",
    "09/12/2019",
    "12/09/2019 13:46:26",
    "2019/12/09 13:46",
    "09.12.2019",
    "09.12.2019 13:46",
    "Mon, 09 Dec 2019 13:46:26 GMT",
    "13:46:26.123",
    "from 2019-12-09 to 2019-12-10",
    "took 1234 ms (p99 5678 ms)",
    "PT1H23M45S",
]
AMOUNTS = [
    "$1,234.56",
    "$1,234,567.89",
    "1.234.567,89 \u20ac",
    "\u20ac 1 234 567,89",
    "USD 12,345,678.90",
    "balance 123.45 due 456.78 on the 12th",
    "amount=123456 currency=USD",
    "1,234.56 + 7,890.12 = 9,124.68",
]
ORDERS = [
    "order 123456789012",
    "ORD-2019-123456",
    "#100234",
    "PO 4500012345",
    "INV-000123-45",
    "ticket 12345678, ref 987654",
    "tracking 1Z999AA10123456784",
]
ADDRESSES_AND_VERSIONS = [
    "192.168.1.100",
    "10.0.0.1",
    "192.168.100.200",
    "192.168.100.200:8080",
    "192.168.100.200, 192.168.100.201",
    "from 192.168.100.200 to 10.20.30.40",
    "2001:db8:85a3::8a2e:370:7334",
    "1.2.3",
    "v10.15.7",
    "10.0.19041.1234",
    "Chrome/119.0.6045.159",
    "ivrlog 2.31.0 build 2019.12.09",
]
LISTS = [
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15",
    "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
    "1.2.3.4.5.6.7.8.9.10.11.12.13",
    "1/2/3/4/5/6/7/8/9/10/11/12/13",
    "10, 20, 30, 40, 50, 60, 70",
    "options: 1) billing 2) support 3) sales",
    "press 1 for billing, 2 for support, 9 to repeat",
    "digits 1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13",
    "100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000",
    "confidence 0.87 0.91 0.55",
]
CORPUS = PHONE_NUMBERS + SESSION_IDS + TIMES + AMOUNTS + ORDERS + ADDRESSES_AND_VERSIONS + LISTS


@pytest.mark.parametrize("text", CORPUS)
def test_ivr_text_is_left_as_it_is(text: str) -> None:
    assert REDACT.text(text) == text
    line = f"User said {text} (confidence 0.91)"
    assert REDACT.text(line) == line
    data = {"value": text, text: [text, {"nested": text}], "module_type": "x"}
    assert REDACT.value(data) == data


def test_the_benchmark_and_demo_entries_are_left_as_they_are() -> None:
    entries = [e for _, call in calls(Shape(calls=300), 1_700_000_000) for e in call["detail"]]
    entries += [
        e
        for call in demo_calls(300, seed=7, now=1_700_000_000)
        for e in call.get("detail", [])
        if not e.get("private")  # the demo's card numbers are private entries
    ]
    assert len(entries) > 4000
    changed = [e["event"] for e in entries if REDACT.value(e["event"]) != e["event"]]
    assert changed == []
