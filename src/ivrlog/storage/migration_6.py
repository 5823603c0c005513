"""Migration 6 (issue 15): call summaries, search words, the change sequence and the
erasure audit, per dialect. docs/architecture.md (ivrlog's own read API) explains the
choices; storage/backfill.py fills the summaries of the calls stored before it.

- `calls` gets the summary's columns (core/summary.py): `app`, `app_version`, `path` (the
  JSON array text /v1/calls serves as is), `modules` (modules_text: every result_variable
  and module_type:result_variable of the path between \\x01 separators, so that `reached`
  is one substring search for module_needle(value)), `ended_in` (the last module's
  `module_type:result_variable`) and `ended_variable` (its result_variable), `has_error`,
  `inputs`. Calls stored before keep the defaults (an empty path) until the backfill
  gives those with stored detail their summary.
- The search words live only while the call's detail is stored, beside it: SQLite keeps
  them in an FTS5 table (rowid = calls.id) that a trigger on call_details empties with the
  detail (the purge, a replacement, an account's deletion, an erasure); PostgreSQL in a
  `tsvector` column of call_details (partitioned by day: dropped with its partition), made
  exactly from the words with no parser and no stemming, with a GIN index. The words are
  already lowercase letters and digits (core/summary.words), so both match exactly what
  tests/search_model.py says.
- `changes` holds each call's latest place in its account's change sequence (one row a
  call); `accounts.change_seq` is the account's last place given, taken with UPDATE ...
  RETURNING inside the writing transaction (see sql_store.take_places on why that orders
  the commits).
- `erasures` is the erasure audit (when, how many, a keyed hash of the selector: never
  the selector); `audit_key` the one row holding the key of that hash.
- `pending_backfills` records a Python step still to run and how far it got.
"""

from __future__ import annotations

from typing import Final

SQLITE_6: Final = """
ALTER TABLE calls ADD COLUMN app TEXT;
ALTER TABLE calls ADD COLUMN app_version TEXT;
ALTER TABLE calls ADD COLUMN path TEXT NOT NULL DEFAULT '[]';
ALTER TABLE calls ADD COLUMN modules TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN ended_in TEXT;
ALTER TABLE calls ADD COLUMN ended_variable TEXT;
ALTER TABLE calls ADD COLUMN has_error INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN inputs INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_account_src_start ON calls (account_id, src, start DESC, session_id DESC);
CREATE INDEX calls_account_app_start ON calls (account_id, app, start DESC, session_id DESC);
CREATE INDEX calls_account_ended_start
    ON calls (account_id, ended_variable, start DESC, session_id DESC);
CREATE INDEX calls_account_error_start
    ON calls (account_id, has_error, start DESC, session_id DESC);
-- the `ascii` tokenizer keeps the words as core/summary made them (non-ASCII characters
-- are word characters, with no folding): unicode61 would fold letters (the long s to s) that
-- model and PostgreSQL keep apart
CREATE VIRTUAL TABLE call_words USING fts5 (words, tokenize = 'ascii');
CREATE TRIGGER call_words_dropped AFTER DELETE ON call_details BEGIN
    DELETE FROM call_words WHERE rowid = OLD.call_id;
END;
ALTER TABLE accounts ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE changes (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('completed', 'replaced', 'erased')),
    start INTEGER NOT NULL,
    PRIMARY KEY (account_id, session_id)
);
CREATE INDEX changes_seq ON changes (account_id, seq);
CREATE INDEX changes_start ON changes (start);
-- every call stored before takes a place, oldest first, so that a mirror reading the
-- sequence from 0 gets it too
INSERT INTO changes (account_id, seq, session_id, change, start)
    SELECT account_id,
        row_number() OVER (PARTITION BY account_id ORDER BY start, session_id),
        session_id, 'completed', start
    FROM calls;
UPDATE accounts SET change_seq = (SELECT count(*) FROM calls WHERE calls.account_id = accounts.id);
CREATE TABLE erasures (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    erased_at INTEGER NOT NULL,
    erased INTEGER NOT NULL,
    selector_hash TEXT NOT NULL
);
CREATE TABLE audit_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);
CREATE TABLE pending_backfills (
    version INTEGER PRIMARY KEY,
    last_id INTEGER NOT NULL
);
INSERT INTO pending_backfills (version, last_id) VALUES (6, 0);
"""

# The counting trigger of migration 3 wrote a row of -1s and one of +1s for every UPDATE
# statement on calls, even one that changes no counted column (the backfill updates every
# call): it now writes only the hours whose counts change.
POSTGRESQL_6: Final = """
ALTER TABLE calls ADD COLUMN app text COLLATE "C";
ALTER TABLE calls ADD COLUMN app_version text COLLATE "C";
ALTER TABLE calls ADD COLUMN path text NOT NULL DEFAULT '[]';
ALTER TABLE calls ADD COLUMN modules text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN ended_in text COLLATE "C";
ALTER TABLE calls ADD COLUMN ended_variable text COLLATE "C";
ALTER TABLE calls ADD COLUMN has_error boolean NOT NULL DEFAULT false;
ALTER TABLE calls ADD COLUMN inputs integer NOT NULL DEFAULT 0;
CREATE INDEX calls_account_src_start ON calls (account_id, src, start DESC, session_id DESC);
CREATE INDEX calls_account_app_start ON calls (account_id, app, start DESC, session_id DESC);
CREATE INDEX calls_account_ended_start
    ON calls (account_id, ended_variable, start DESC, session_id DESC);
CREATE INDEX calls_account_error_start
    ON calls (account_id, has_error, start DESC, session_id DESC);
ALTER TABLE call_details ADD COLUMN words tsvector;
CREATE INDEX call_details_words ON call_details USING gin (words);
ALTER TABLE accounts ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
CREATE TABLE changes (
    account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    change text COLLATE "C" NOT NULL CHECK (change IN ('completed', 'replaced', 'erased')),
    start bigint NOT NULL,
    PRIMARY KEY (account_id, session_id)
);
CREATE INDEX changes_seq ON changes (account_id, seq);
CREATE INDEX changes_start ON changes (start);
-- every call stored before takes a place, oldest first, so that a mirror reading the
-- sequence from 0 gets it too
INSERT INTO changes (account_id, seq, session_id, change, start)
    SELECT account_id,
        row_number() OVER (PARTITION BY account_id ORDER BY start, session_id),
        session_id, 'completed', start
    FROM calls;
UPDATE accounts SET change_seq = (SELECT count(*) FROM calls WHERE calls.account_id = accounts.id);
CREATE TABLE erasures (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    erased_at bigint NOT NULL,
    erased bigint NOT NULL,
    selector_hash text NOT NULL
);
CREATE TABLE audit_key (
    id integer PRIMARY KEY CHECK (id = 1),
    key bytea NOT NULL
);
CREATE TABLE pending_backfills (
    version integer PRIMARY KEY,
    last_id bigint NOT NULL
);
INSERT INTO pending_backfills (version, last_id) VALUES (6, 0);
CREATE OR REPLACE FUNCTION ivrlog_count_calls() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO account_hours
            SELECT account_id, hour, sum(n) FROM (
                SELECT account_id, start / 3600 AS hour, -1 AS n FROM old_calls
                UNION ALL SELECT account_id, start / 3600, 1 FROM new_calls) c
            GROUP BY 1, 2 HAVING sum(n) <> 0;
        INSERT INTO number_hours
            SELECT account_id, dest, hour, sum(n) FROM (
                SELECT account_id, dest, start / 3600 AS hour, -1 AS n FROM old_calls
                UNION ALL SELECT account_id, dest, start / 3600, 1 FROM new_calls) c
            GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO account_hours
            SELECT account_id, start / 3600, -count(*) FROM old_calls GROUP BY 1, 2;
        INSERT INTO number_hours
            SELECT account_id, dest, start / 3600, -count(*) FROM old_calls GROUP BY 1, 2, 3;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO account_hours
            SELECT account_id, start / 3600, count(*) FROM new_calls GROUP BY 1, 2;
        INSERT INTO number_hours
            SELECT account_id, dest, start / 3600, count(*) FROM new_calls GROUP BY 1, 2, 3;
    END IF;
    RETURN NULL;
END
$$;
"""
