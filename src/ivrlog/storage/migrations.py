"""The versioned schema. Each migration is applied once, in order, at start-up.

A migration carries its SQL per dialect so that every backend walks the same versions.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivrlog.storage.base import StoreOpenError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    sqlite: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="accounts, calls and their ready-rendered detail",
        sqlite="""
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL DEFAULT 1,
    developer_key_hash TEXT NOT NULL,
    ingest_token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    src TEXT NOT NULL,
    dest TEXT NOT NULL,
    type TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    private INTEGER NOT NULL,
    entry_count INTEGER NOT NULL,
    UNIQUE (account_id, session_id)
);
CREATE INDEX calls_account_start ON calls (account_id, start DESC, session_id DESC);
CREATE INDEX calls_account_dest_start ON calls (account_id, dest, start DESC, session_id DESC);
CREATE TABLE call_details (
    call_id INTEGER PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    json TEXT NOT NULL,
    xml TEXT NOT NULL
);
""",
    ),
    Migration(
        version=2,
        description="calls in progress, redaction patterns, indexes for the retention purge",
        # calls.entry_count counts the entries stored now (0 once the purge deleted them):
        # the partial index finds the calls whose detail is still on disk, without
        # rewriting any row of an existing database
        sqlite="""
CREATE TABLE open_calls (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    src TEXT NOT NULL,
    dest TEXT NOT NULL,
    type TEXT NOT NULL,
    start INTEGER NOT NULL,
    start_given INTEGER NOT NULL,
    private INTEGER NOT NULL,
    entry_count INTEGER NOT NULL,
    last_timestamp INTEGER,
    touched_at INTEGER NOT NULL,
    UNIQUE (account_id, session_id)
);
CREATE INDEX open_calls_touched ON open_calls (touched_at);
CREATE INDEX open_calls_start ON open_calls (start);
CREATE TABLE open_entries (
    call_id INTEGER NOT NULL REFERENCES open_calls(id) ON DELETE CASCADE,
    timestamp INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    json TEXT NOT NULL,
    xml TEXT NOT NULL,
    PRIMARY KEY (call_id, timestamp, seq)
) WITHOUT ROWID;
CREATE TABLE redaction_patterns (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    pattern TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, label)
);
CREATE INDEX calls_detail_start ON calls (start) WHERE entry_count > 0;
CREATE INDEX calls_start ON calls (start)
""",
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


class SchemaTooNew(StoreOpenError):
    """The database was migrated by a newer ivrlog than this one."""


def pending(current: int) -> list[Migration]:
    """The migrations a database at version `current` still needs, in order."""
    if current > LATEST_VERSION:
        raise SchemaTooNew(
            f"The database schema is at version {current}, newer than this ivrlog knows "
            f"({LATEST_VERSION}): upgrade ivrlog."
        )
    return [m for m in MIGRATIONS if m.version > current]
