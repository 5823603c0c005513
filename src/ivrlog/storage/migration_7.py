"""Migration 7: SQLite's search index in newest-first order, scoped to its account.

Migration 6 keyed each call's FTS5 row by calls.id and indexed its bare words: a search
read the word's whole list of calls (every account's, every day's) before it could take
the newest 100 of them (docs/performance.md, B6 `q`). Here each row's rowid is its
*place*, `start * WORDS_SLOT + n` (n counts the calls with words that started in that
second, from 0), so FTS5 reads a word's calls newest first and stops at the page; the
row keeps its call's id (`call_id`, not indexed); its text is storage/sqlite_words.document
(the account's words and marks of the other filters). call_details.words_id is the place
of its call's row, for the trigger that deletes the words with the detail; calls.words_id
the same, for a search that reads the calls' own indexes and tests their places (it is
NULL for a call without words; after the purge of its detail it is left, and
`entry_count` 0 says it no longer counts).

The existing rows move to the new table in the Python step "words" (storage/backfill.py),
in batches that resume, from the old table renamed call_words_6, which the step drops
when it is empty (and then merges the new index into one segment, FTS5's `optimize`).
The index keeps no positions and no sizes (`detail = none, columnsize = 0`): a search
asks for whole tokens, never a phrase, and never ranks, and the index is a third smaller.

PostgreSQL changes nothing: its version is recorded so that both backends walk the same
versions.
"""

from __future__ import annotations

from typing import Final

# places of search rows in one second of start: start * WORDS_SLOT + n stays below 2**63
# for every start ingestion takes (core/limits.MAX_TIME)
WORDS_SLOT: Final = 2**21

SQLITE_7: Final = """
DROP TRIGGER call_words_dropped;
ALTER TABLE call_details ADD COLUMN words_id INTEGER;
ALTER TABLE calls ADD COLUMN words_id INTEGER;
ALTER TABLE call_words RENAME TO call_words_6;
CREATE VIRTUAL TABLE call_words USING fts5 (
    words, call_id UNINDEXED, tokenize = "ascii tokenchars '_'", detail = none, columnsize = 0
);
CREATE TRIGGER call_words_dropped AFTER DELETE ON call_details
WHEN OLD.words_id IS NOT NULL BEGIN
    DELETE FROM call_words WHERE rowid = OLD.words_id;
END;
INSERT INTO pending_backfills (version, last_id) VALUES (7, 0);
"""

POSTGRESQL_7: Final = "SELECT 1 -- nothing changes: the tsvector column stays as it is"
