"""storage/sqlite_words.py without a database: a call's search document and its marks."""

from __future__ import annotations

from ivrlog.core.ingest import prepare_call
from ivrlog.storage import sqlite_words
from ivrlog.storage.search_sql import indexed_words, summary_values
from tests.factories import call, entry


def test_a_document_holds_its_words_and_marks_and_a_batch_keeps_no_number() -> None:
    stored = prepare_call(
        call(
            src="6175550123",
            dest="8005550199",
            detail=[entry("Main menu", module_type="menu", result_variable="pick")],
        )
    )
    words = indexed_words(stored)
    assert words == "main menu"
    names: sqlite_words.Marks = {}
    summary = summary_values(stored.summary)
    text = sqlite_words.call_document(7, stored, words, summary, names)
    marks = text.split()
    assert marks[:2] == ["7_main", "7_menu"]
    for kind, value in [
        ("s", "6175550123"),
        ("d", "8005550199"),
        ("t", "inbound"),
        ("r", '"pick"'),
        ("r", '"menu:pick"'),
        ("e", "menu:pick"),
        ("e", "pick"),
    ]:
        assert sqlite_words._mark(7, kind, value) in marks
    assert marks[-1] == "7_h_0"
    # the batch's marks of names are kept for its next calls; the numbers' are not
    assert set(names) == {
        ("t", "inbound"),
        ("r", '"pick"'),
        ("r", '"menu:pick"'),
        ("e", "menu:pick"),
        ("e", "pick"),
    }
    assert sqlite_words.call_document(7, stored, words, summary, names) == text
    assert sqlite_words.call_document(7, stored, words, summary) == text
