"""The calls the browser tests' server holds: 150 calls of the last few hours, of two
applications, whose callers drop off at known steps (so that a funnel has drop-off, and
the calls page a second page)."""

from __future__ import annotations

import time
from typing import Any

from tests.factories import entry

PAY = "Card Payments"
SURVEY = "Customer Survey"
CARD_FLOW = [
    ("prompt", "greeting", "prompt", "Thank you for calling."),
    ("digits", "card_number", "prompt", "Please enter your card number."),
    ("digits", "card_number", "event", "User input: 4111 (dtmf)"),
    ("rest", "charge", "debug", "Web service call: POST https://pay.example.com/charge"),
    ("prompt", "goodbye", "prompt", "Thank you. Goodbye."),
]


def _call(n: int, start: int) -> dict[str, Any]:
    survey = n % 5 == 0
    steps = (
        CARD_FLOW
        if not survey
        else [
            ("prompt", "intro", "prompt", "Three questions."),
            ("number", "q1", "prompt", "How satisfied were you?"),
            ("number", "q1", "event", "User input: 5 (dtmf)"),
            ("yes_no", "q2", "prompt", "Would you recommend us?"),
        ]
    )
    # a third of the card callers hang up at the card number (40 calls), and ten of the
    # others have a web service error
    if not survey and n % 3 == 0:
        steps = steps[:2]
    app = SURVEY if survey else PAY
    detail = [entry(f'Executing application "{app}" version "1"', "info", start, "start", "start")]
    t = start
    for module_type, variable, cls, line in steps:
        t += 3
        detail.append(entry(line, cls, t, module_type, variable))
    if not survey and n % 10 == 1 and n % 3:  # (a caller who went on to pay)
        detail.append(entry("Web service error: 503", "error", t + 1, "rest", "charge"))
    return {
        "session_id": f"call-{n:03d};{start}",
        "src": f"617555{n:04d}",
        "dest": "8005550100" if not survey else "8005550199",
        "type": "inbound" if n % 7 else "outbound",
        "start": start,
        "end": t + 5,
        "detail": detail,
    }


def site_calls(now: int | None = None) -> list[dict[str, Any]]:
    at = int(time.time()) if now is None else now
    return [_call(n, at - 7200 - n * 60) for n in range(150)]
