"""core/timeline.py: a call's entries as the call page shows them."""

from __future__ import annotations

from ivrlog.core.timeline import missing_note, timeline
from tests.factories import NOW, entry


def test_entries_are_grouped_by_visit_in_the_order_they_ran() -> None:
    shown = timeline(
        [
            entry("User input: 1 (dtmf)", "event", NOW + 7, "menu", "main"),  # given late
            entry('Executing application "Bank"', "info", NOW, "start", "start"),
            entry("Press 1 for billing.", "prompt", NOW + 2, "menu", "main"),
            entry("Web service call: GET /x", "debug", NOW + 8, "web_service", "lookup"),
            entry("lookup failed", "error", NOW + 9, "web_service", "lookup"),
            entry("[private]", "event", NOW + 10, "menu", "main", private=True),
            entry("User input: 2 (dtmf)", "event", NOW + 11, "menu", "main"),
        ],
        in_progress=True,
        note=None,
    )
    assert shown.in_progress
    assert [(v.module, [e.kind for e in v.entries]) for v in shown.visits] == [
        ("start:start", ["other"]),
        ("menu:main", ["prompt", "input"]),
        ("web_service:lookup", ["web_service", "error"]),
        ("menu:main", ["other", "input"]),  # a second visit is a group of its own
    ]
    first_input = shown.visits[1].entries[1]
    assert (first_input.label, first_input.answer_after) == ("Entered", 5)
    # an input answers the last prompt once: the next one has none to answer
    assert shown.visits[3].entries[1].answer_after is None
    assert [e.private for e in shown.visits[3].entries] == [True, False]
    assert shown.visits[2].entries[1].label == "Error"
    assert shown.visits[0].entries[0].utc.endswith(" UTC")


def test_a_call_without_entries_says_why() -> None:
    assert missing_note(NOW).startswith("The detail of this call expired on 2026-")
    assert "private" in missing_note(None)
    assert timeline([], in_progress=False, note="x").visits == ()
