"""A deterministic dataset for the benchmarks: many accounts and numbers, calls of 5 to 40
entries with line lengths like a real IVR's.

Everything comes from one `random.Random(seed)` and `now`: the same shape gives the same
calls, byte for byte. Calls spread over `span_days` before `now`; those of the last
`detail_days` carry their entries, older ones none (the retention purge has taken their
detail, as it would have on a running service). Account 0 takes `hot_share` of the
calls, and its first number `hot_share` of those, so that a window of one number holds
enough calls for a 1,000-call page.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DAY = 86_400

APPS = (
    ("Acme Wireless Billing", "billing"),
    ("Harbor Bank Card Services", "cards"),
    ("City Clinic Appointments", "appointments"),
    ("Northwind Delivery Status", "delivery"),
    ("Customer Satisfaction Survey", "survey"),
)
_PROMPTS = (
    "Thank you for calling {app}. This call may be recorded for quality purposes.",
    "For billing questions, press 1. For technical support, press 2. "
    "To hear these options again, press 9.",
    "Please enter your 10 digit account number, followed by the pound key.",
    "Please say or enter the date of birth of the account holder, "
    "as two digits for the month, two for the day and four for the year.",
    "Your current balance is {amount} dollars. Your next payment of {amount} dollars "
    "is due on the {day}th.",
    "To make a payment now with the card on file, press 1. To use a different card, press 2.",
    "I'm sorry, I didn't get that.",
    "Please hold while I transfer you to the next available representative.",
    "On a scale of one to five, how satisfied were you with your visit today?",
    "Your package left our {city} facility and is expected to arrive tomorrow before 8 PM.",
)
_CITIES = ("Boston", "Worcester", "Springfield", "Hartford", "Providence", "Albany")
_MODULES = (
    ("prompt", "main_menu"),
    ("dtmf_input", "account_number"),
    ("speech_input", "birth_date"),
    ("web_service", "balance"),
    ("transfer", "agent"),
    ("survey_question", "rating"),
)


@dataclass(frozen=True)
class Shape:
    """What to generate. `calls` is the total over every account."""

    calls: int
    accounts: int = 20
    numbers_per_account: int = 5
    span_days: int = 30
    detail_days: int = 4
    hot_share: float = 0.3
    seed: int = 20261125
    # calls older than detail_days carry the few entries their path and application need
    # (the datasets: a loader drops them as retention would, past_detail_retention, so
    # that their summaries and report steps are kept as in production); else none
    old_paths: bool = False
    # the generator's version: a kept dataset made by another one is made again
    generator: int = 2

    def account_email(self, index: int) -> str:
        return f"bench-{index}@ivrlog.example"

    def number(self, account: int, index: int) -> str:
        return f"800{account:03d}{index:04d}"

    @property
    def hot_number(self) -> str:
        return self.number(0, 0)


def _phone(rng: random.Random) -> str:
    return (
        f"{rng.choice(('617', '508', '781', '212', '415', '312'))}{rng.randint(2000000, 9999999)}"
    )


def _data(rng: random.Random, module: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {**extra, "module_type": module[0], "result_variable": module[1]}


def _entry(rng: random.Random, t: int, app: str, index: int, last: bool) -> dict[str, Any]:
    module = rng.choice(_MODULES)
    if index == 0:
        cls, line = "info", f'Executing application "{app}" version "{rng.randint(3, 41)}"'
        data = _data(rng, ("start", "start"))
    elif last:
        cls, line, data = "event", "Disconnecting call", _data(rng, ("exit", "hangup"))
    else:
        roll = rng.random()
        if roll < 0.45:
            cls = "prompt"
            line = rng.choice(_PROMPTS).format(
                app=app,
                amount=f"{rng.randint(5, 900)}.{rng.randint(0, 99):02d}",
                day=rng.randint(4, 28),
                city=rng.choice(_CITIES),
            )
            data = _data(
                rng,
                module,
                type="static",
                has_audio=rng.random() < 0.3,
                revision_id=str(rng.randint(52000, 62000)),
                prompt_id_type="module",
                prompt_id=str(rng.randint(100000, 999999)),
                language="en-US",
            )
        elif roll < 0.75:
            cls = "event"
            line = f"User input: {rng.randint(0, 9)} (dtmf)"
            if rng.random() < 0.2:
                line = f"User input: {rng.randint(10**9, 10**10 - 1)} (dtmf)"
            data = _data(rng, module, confidence=round(rng.random(), 2))
        elif roll < 0.9:
            cls = "debug"
            path = rng.choice(("accounts", "balances", "orders", "appointments"))
            line = (
                f"Web service call: GET https://api.example.com/v2/{path}/"
                f"{rng.randint(10000, 99999)}?lang=en-US returned 200 in {rng.randint(40, 900)} ms"
            )
            data = _data(rng, ("web_service", path), status=200, method="GET")
            if rng.random() < 0.05:  # one call in ten or so has a failed web service call
                cls = "error"
                line = line.replace("returned 200", "returned 503")
                data["status"] = 503
        else:
            cls, line = "info", f"Entering module {module[1]}"
            data = _data(rng, module)
    return {"event": {"line": line, "data": data}, "class": cls, "timestamp": t}


def _detail(rng: random.Random, start: int, count: int) -> tuple[list[dict[str, Any]], int]:
    app = rng.choice(APPS)[0]
    entries, t = [], start
    for index in range(count):
        entries.append(_entry(rng, t, app, index, index == count - 1))
        t += rng.randint(0, 12)
    return entries, t


def _path(rng: random.Random, start: int, count: int) -> tuple[list[dict[str, Any]], int]:
    """An older call's entries, only as many as its application and path need."""
    app = rng.choice(APPS)[0]
    line = f'Executing application "{app}" version "{rng.randint(3, 41)}"'
    entries = [
        {
            "event": {"line": line, "data": _data(rng, ("start", "start"))},
            "class": "info",
            "timestamp": start,
        }
    ]
    t = start
    for _ in range(min(count, 6)):
        t += rng.randint(0, 12)
        cls = "error" if rng.random() < 0.02 else "info"
        data = _data(rng, rng.choice(_MODULES))
        entries.append({"event": {"line": "step", "data": data}, "class": cls, "timestamp": t})
    t += rng.randint(0, 12)
    entries.append(
        {
            "event": {"line": "Disconnecting call", "data": _data(rng, ("exit", "hangup"))},
            "class": "event",
            "timestamp": t,
        }
    )
    return entries, t


def calls(shape: Shape, now: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every call of the dataset in the ingestion shape, with the index of its account."""
    rng = random.Random(shape.seed)
    callers = [_phone(rng) for _ in range(max(50, shape.calls // 8))]
    detail_from = now - shape.detail_days * DAY
    rest = (1 - shape.hot_share) / max(1, shape.accounts - 1)
    account_weights = [shape.hot_share] + [rest] * (shape.accounts - 1)
    number_rest = (1 - shape.hot_share) / max(1, shape.numbers_per_account - 1)
    number_weights = [shape.hot_share] + [number_rest] * (shape.numbers_per_account - 1)
    accounts = rng.choices(range(shape.accounts), account_weights, k=shape.calls)
    numbers = rng.choices(range(shape.numbers_per_account), number_weights, k=shape.calls)
    for index in range(shape.calls):
        account = accounts[index]
        start = now - 60 - rng.randrange(shape.span_days * DAY - 60)
        inbound = rng.random() < 0.85
        count = rng.randint(5, 40)
        if start >= detail_from:
            detail, end = _detail(rng, start, count)
        elif shape.old_paths:
            detail, end = _path(rng, start, count)
        else:
            detail, end = [], start + count * 6
        number, caller = shape.number(account, numbers[index]), rng.choice(callers)
        yield (
            account,
            {
                "session_id": f"{100000 + index};{rng.randint(0, 3):03d};{start - 9}",
                "src": caller if inbound else number,
                "dest": number if inbound else caller,
                "type": "inbound" if inbound else "outbound",
                "start": start,
                "end": end,
                "detail": detail,
            },
        )


def batches(shape: Shape, now: int, size: int = 1000) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """The calls grouped by account into batches of at most `size`."""
    pending: dict[int, list[dict[str, Any]]] = {}
    for account, call in calls(shape, now):
        batch = pending.setdefault(account, [])
        batch.append(call)
        if len(batch) >= size:
            yield account, pending.pop(account)
    for account, batch in sorted(pending.items()):
        yield account, batch
