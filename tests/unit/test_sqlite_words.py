"""storage/sqlite_words.py without a database: a call's search document and its marks."""

from __future__ import annotations

from ivrlog.core.ingest import prepare_call
from ivrlog.storage import sqlite_words
from ivrlog.storage.search_sql import indexed_words, summary_values
from tests.factories import call, entry


def test_a_document_holds_its_words_and_marks_and_caches_no_number() -> None:
    stored = prepare_call(
        call(
            src="6175550123",
            dest="8005550199",
            detail=[entry("Main menu", module_type="menu", result_variable="pick")],
        )
    )
    words = indexed_words(stored)
    assert words == "main menu"
    sqlite_words._name_mark.cache_clear()
    marks = sqlite_words.call_document(7, stored, words, summary_values(stored.summary)).split()
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
    # the names' marks are cached (they repeat from call to call); the numbers' are not
    assert sqlite_words._name_mark.cache_info().currsize == 5
    sqlite_words.call_document(7, stored, words, summary_values(stored.summary))
    assert sqlite_words._name_mark.cache_info().hits == 5
