from __future__ import annotations

from collections import Counter

from ivrlog.core.demo import (
    EMAIL_NUMBER,
    PAYMENT_NUMBER,
    SURVEY_NUMBER,
    WELCOME_NUMBER,
    demo_calls,
)
from ivrlog.core.validation import validate_batch

NOW = 1_795_000_000


def test_same_seed_same_calls_other_seed_other_calls() -> None:
    assert demo_calls(200, seed=3, now=NOW) == demo_calls(200, seed=3, now=NOW)
    assert demo_calls(200, seed=3, now=NOW) != demo_calls(200, seed=4, now=NOW)


def test_demo_calls_are_valid_and_varied() -> None:
    calls = demo_calls(1500, seed=11, now=NOW)
    validate_batch(calls)  # raises on any problem
    assert len({c["session_id"] for c in calls}) == 1500
    apps = Counter(c["detail"][0]["event"]["line"].split('"')[1] for c in calls if c["detail"])
    assert set(apps) == {
        "Welcome Application",
        "email test",
        "Acme Utilities Payments",
        "Acme Payment Reminder",
        "Customer Survey",
    }
    types = Counter(c["type"] for c in calls)
    assert min(types["inbound"], types["outbound"], types["transfer"]) > 0
    assert any(c["private"] for c in calls)
    dests = {c["dest"] for c in calls if c["type"] != "outbound"}
    assert {WELCOME_NUMBER, EMAIL_NUMBER, PAYMENT_NUMBER, SURVEY_NUMBER} <= dests
    assert all(c["src"] == PAYMENT_NUMBER for c in calls if c["type"] == "outbound")


def test_calls_spread_over_the_week_some_past_the_detail_window() -> None:
    calls = demo_calls(1000, seed=5, now=NOW)
    ages = [NOW - c["start"] for c in calls]
    assert min(ages) >= 0
    assert max(ages) <= 7 * 86_400
    assert sum(age > 5 * 86_400 for age in ages) > 100
    assert all(c["end"] >= c["start"] for c in calls)


def test_callers_behave_like_callers() -> None:
    calls = demo_calls(1500, seed=9, now=NOW)
    lines = Counter(e["event"]["line"] for c in calls for e in c["detail"])
    classes = Counter(e["class"] for c in calls for e in c["detail"])
    assert set(classes) == {"info", "event", "debug", "prompt", "error"}
    assert lines["No input received (timeout)"] > 0
    assert lines["Maximum number of retries reached"] > 0
    assert lines["Payment declined by the card issuer"] > 0
    # a caller who hangs up mid-flow never reaches "Exiting application"
    hung_up = [
        c
        for c in calls
        if c["detail"] and c["detail"][-2]["event"]["line"] != "Exiting application"
    ]
    assert len(hung_up) > 50
    # the card number step is private
    card_inputs = [
        e
        for c in calls
        for e in c["detail"]
        if e["event"]["data"]["result_variable"] == "card_number"
        and e["event"]["line"].startswith("User input")
    ]
    assert card_inputs
    assert all(e.get("private") is True for e in card_inputs)
    # some callers try the sum again
    assert any(
        sum(
            e["event"]["data"]["result_variable"] == "try_sum_again" and e["class"] == "prompt"
            for e in c["detail"]
        )
        > 1
        for c in calls
    )
