"""An in-memory Store for unit tests: the whole ivrlog.core.ports.Store protocol (and its
LiveTransaction) on plain dicts, with no SQL and no file.

It keeps the contract the SQL stores keep (tests/integration/test_store_contract.py runs
on it as the backend "memory"): a write is all or nothing, a page is a snapshot, calls in
progress live apart from completed ones. How: the tables are dicts of immutable records;
every write (one call of a write method, or one `run_live` body) changes a copy of them
under one lock and publishes the copy when it succeeds, so an exception leaves nothing
behind and a reader always sees one committed state. What it has no need of: a schema
(its version is always the latest), durability, scrubbing (nothing is on disk: `scrub()`
is True) and partitions (`retention_floor` is the cutoff itself).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from ivrlog.core.errors import AccountError
from ivrlog.core.model import (
    Account,
    CallSummary,
    ChangeKind,
    EntryFragments,
    ExpiredCounts,
    Fragments,
    KeptAnswer,
    OpenCall,
    RedactionPattern,
    SensitiveModule,
    StaleCall,
    StoredCall,
)
from ivrlog.core.ports import LiveTransaction
from ivrlog.storage.migrations import LATEST_VERSION
from tests.fake_reads import Reads, completed

T = TypeVar("T")

# a StoredCall's fields and the types a column of the SQL stores would take (NOT NULL)
_CALL_TYPES: dict[str, tuple[type, ...]] = {
    "session_id": (str,),
    "src": (str,),
    "dest": (str,),
    "type": (str,),
    "start": (int,),
    "end": (int,),
    "private": (bool,),
    "entry_count": (int,),
    "detail_json": (str, type(None)),
    "detail_xml": (str, type(None)),
    "summary": (CallSummary,),
    "steps": (tuple,),
}


class StoreClosed(RuntimeError):
    """The store was closed: it answers nothing any more."""


@dataclass(frozen=True, slots=True)
class _Open:
    account_id: int
    call: OpenCall
    touched_at: int


@dataclass(frozen=True, slots=True)
class _Entry:
    timestamp: int
    seq: int
    json: str
    xml: str


@dataclass(frozen=True, slots=True)
class _Kept:
    body_sha256: str
    answer: str
    created_at: int


@dataclass(slots=True)
class _Tables:
    """The store's state. Values are immutable, so a shallow copy of each dict is a
    draft that a write can change without touching what readers see."""

    accounts: dict[int, Account] = field(default_factory=dict)
    calls: dict[tuple[int, str], StoredCall] = field(default_factory=dict)
    open_calls: dict[tuple[int, str], _Open] = field(default_factory=dict)
    open_entries: dict[int, tuple[_Entry, ...]] = field(default_factory=dict)
    keys: dict[tuple[int, str, str], _Kept] = field(default_factory=dict)
    patterns: dict[int, RedactionPattern] = field(default_factory=dict)
    sensitive: dict[int, SensitiveModule] = field(default_factory=dict)
    last_id: int = 0
    # the change sequence (tests/fake_search.py): each call's last place, and each
    # account's last place given; erasures' audit rows; the audit key
    changes: dict[tuple[int, str], tuple[int, ChangeKind, int]] = field(default_factory=dict)
    change_seq: dict[int, int] = field(default_factory=dict)
    erasures: list[tuple[int, int, int, str]] = field(default_factory=list)
    audit_key: bytes = b""
    sync: dict[tuple[int, str], int] = field(default_factory=dict)  # sync checkpoints

    def copy(self) -> _Tables:
        return _Tables(
            dict(self.accounts),
            dict(self.calls),
            dict(self.open_calls),
            dict(self.open_entries),
            dict(self.keys),
            dict(self.patterns),
            dict(self.sensitive),
            self.last_id,
            dict(self.changes),
            dict(self.change_seq),
            list(self.erasures),
            self.audit_key,
            dict(self.sync),
        )

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def put_call(self, account_id: int, call: StoredCall) -> None:
        """Store a completed call, replacing the one (completed or in progress) with its
        session id."""
        for name, types in _CALL_TYPES.items():
            if not isinstance(getattr(call, name), types):
                raise TypeError(
                    f"StoredCall.{name} must be {' or '.join(t.__name__ for t in types)}"
                )
        key = (account_id, call.session_id)
        completed(self, account_id, call)
        self.calls[key] = call
        replaced = self.open_calls.pop(key, None)
        if replaced is not None:
            self.open_entries.pop(replaced.call.id, None)

    def open_by_id(self, call_id: int) -> _Open | None:
        return next((o for o in self.open_calls.values() if o.call.id == call_id), None)


class _Live:
    """A LiveTransaction on a draft of the tables (published when the body returns)."""

    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def open_call(self, account_id: int, session_id: str) -> OpenCall | None:
        found = self._t.open_calls.get((account_id, session_id))
        return None if found is None else found.call

    def is_completed(self, account_id: int, session_id: str) -> bool:
        return (account_id, session_id) in self._t.calls

    def save_open(self, account_id: int, call: OpenCall, touched_at: int | None) -> OpenCall:
        key = (account_id, call.session_id)
        if call.id:
            before = self._t.open_calls[key]
            touched = before.touched_at if touched_at is None else touched_at
            self._t.open_calls[key] = _Open(account_id, call, touched)
            return call
        if touched_at is None:
            raise ValueError("a new open call needs touched_at")
        saved = dataclasses.replace(call, id=self._t.new_id())
        self._t.open_calls[key] = _Open(account_id, saved, touched_at)
        return saved

    def add_entries(self, call_id: int, first_seq: int, entries: Sequence[EntryFragments]) -> None:
        added = tuple(
            _Entry(timestamp, seq, json, xml)
            for seq, (timestamp, json, xml) in enumerate(entries, start=first_seq)
        )
        self._t.open_entries[call_id] = self._t.open_entries.get(call_id, ()) + added

    def drop_entries(self, call_id: int) -> None:
        self._t.open_entries.pop(call_id, None)

    def entries(self, call_id: int) -> list[Fragments]:
        ordered = sorted(self._t.open_entries.get(call_id, ()), key=lambda e: (e.timestamp, e.seq))
        return [Fragments(e.json, e.xml) for e in ordered]

    def finish(self, account_id: int, call_id: int, call: StoredCall) -> None:
        done = self._t.open_by_id(call_id)
        if done is not None:
            del self._t.open_calls[(done.account_id, done.call.session_id)]
        self._t.open_entries.pop(call_id, None)
        self._t.put_call(account_id, call)

    def stale(self, touched_before: int, started_before: int, limit: int) -> list[StaleCall]:
        found = sorted(
            (
                o
                for o in self._t.open_calls.values()
                if o.touched_at < touched_before or o.call.start < started_before
            ),
            key=lambda o: o.call.id,
        )
        return [StaleCall(o.account_id, o.call) for o in found[:limit]]

    def kept_answer(self, account_id: int, session_id: str, key: str) -> KeptAnswer | None:
        kept = self._t.keys.get((account_id, session_id, key))
        return None if kept is None else KeptAnswer(kept.body_sha256, kept.answer)

    def keep_answer(
        self, account_id: int, session_id: str, key: str, body_sha256: str, answer: str, now: int
    ) -> None:
        if (account_id, session_id, key) in self._t.keys:
            raise ValueError(f"the key {key!r} is kept already for {session_id!r}")
        self._t.keys[(account_id, session_id, key)] = _Kept(body_sha256, answer, now)


class MemoryStore(Reads):
    """A Store on dicts in this process (tests only)."""

    inline_reads = True  # a read is a dict lookup

    def __init__(self) -> None:
        self._tables = _Tables()
        self._lock = threading.RLock()
        self._closed = False

    def _read(self) -> _Tables:
        """The last committed state (never changed afterwards: writes replace it)."""
        if self._closed:
            raise StoreClosed("the store is closed")
        return self._tables

    @contextlib.contextmanager
    def _writing(self) -> Iterator[_Tables]:
        with self._lock:
            draft = self._read().copy()
            yield draft  # an exception here drops the draft: nothing was written
            self._tables = draft

    # schema and life
    def migrate(self) -> None:
        self._read()

    def schema_version(self) -> int:
        self._read()
        return LATEST_VERSION

    def ping(self) -> None:
        self._read()

    def database_bytes(self) -> int:
        """The text it holds, in characters: what a file would grow with."""
        t = self._read()
        details = sum(len(c.detail_json or "") + len(c.detail_xml or "") for c in t.calls.values())
        entries = sum(len(e.json) + len(e.xml) for es in t.open_entries.values() for e in es)
        return details + entries

    def close(self) -> None:
        self._closed = True

    # accounts
    def create_account(
        self, email: str, developer_key_hash: str, ingest_token_hash: str, now: int
    ) -> Account:
        with self._writing() as t:
            if any(
                a.email == email or a.ingest_token_hash == ingest_token_hash
                for a in t.accounts.values()
            ):
                raise AccountError(f"An account for {email} already exists.")
            account = Account(t.new_id(), email, True, developer_key_hash, ingest_token_hash, now)
            t.accounts[account.id] = account
        return account

    def account_by_email(self, email: str) -> Account | None:
        return next((a for a in self._read().accounts.values() if a.email == email), None)

    def account_by_ingest_hash(self, token_hash: str) -> Account | None:
        accounts = self._read().accounts.values()
        return next((a for a in accounts if a.ingest_token_hash == token_hash), None)

    def list_accounts(self) -> list[Account]:
        return sorted(self._read().accounts.values(), key=lambda a: a.email)

    def _change_account(self, email: str, **changes: object) -> Account | None:
        with self._writing() as t:
            account = next((a for a in t.accounts.values() if a.email == email), None)
            if account is None:
                return None
            changed = dataclasses.replace(account, **changes)  # type: ignore[arg-type]
            t.accounts[account.id] = changed
        return changed

    def set_account_active(self, email: str, active: bool) -> Account | None:
        return self._change_account(email, active=active)

    def set_account_credentials(
        self, email: str, developer_key_hash: str, ingest_token_hash: str
    ) -> Account | None:
        return self._change_account(
            email, developer_key_hash=developer_key_hash, ingest_token_hash=ingest_token_hash
        )

    # calls
    def put_calls(self, account_id: int, calls: Sequence[StoredCall]) -> None:
        with self._writing() as t:
            for call in calls:
                t.put_call(account_id, call)

    def delete_account_calls(self, account_id: int) -> int:
        with self._writing() as t:
            mine = [key for key in t.calls if key[0] == account_id]
            for key in mine:
                del t.calls[key]
            for key, open_call in list(t.open_calls.items()):
                if key[0] == account_id:
                    del t.open_calls[key]
                    t.open_entries.pop(open_call.call.id, None)
            for kept in [key for key in t.keys if key[0] == account_id]:
                del t.keys[kept]
            for place in [key for key in t.changes if key[0] == account_id]:
                del t.changes[place]
        return len(mine)

    @contextlib.contextmanager
    def _live(self) -> Iterator[LiveTransaction]:
        """One live transaction (run_live's; tests/factories.py counts them here)."""
        with self._writing() as t:
            yield _Live(t)

    def run_live(self, body: Callable[[LiveTransaction], T]) -> T:
        with self._live() as tx:
            return body(tx)

    # retention
    def retention_floor(self, cutoff: int, table: Literal["calls", "call_details"]) -> int:
        return cutoff

    def count_expired(self, detail_cutoff: int, call_cutoff: int) -> ExpiredCounts:
        calls = self._read().calls.values()
        details = sum(1 for c in calls if c.entry_count > 0 and c.start < detail_cutoff)
        return ExpiredCounts(details, sum(1 for c in calls if c.start < call_cutoff))

    def delete_details_before(self, cutoff: int, limit: int) -> int:
        with self._writing() as t:
            expired = [k for k, c in t.calls.items() if c.entry_count > 0 and c.start < cutoff]
            for key in expired[:limit]:
                call = t.calls[key]
                t.calls[key] = dataclasses.replace(
                    call,
                    entry_count=0,
                    detail_json=None,
                    detail_xml=None,
                    summary=dataclasses.replace(call.summary, words=""),
                )
        return len(expired[:limit])

    def delete_calls_before(self, cutoff: int, limit: int) -> int:
        with self._writing() as t:
            expired = [key for key, c in t.calls.items() if c.start < cutoff][:limit]
            for key in expired:
                del t.calls[key]
            for key, (_, _, start) in list(t.changes.items()):
                if start < cutoff and key not in t.calls:
                    del t.changes[key]
        return len(expired)

    def delete_keys_before(self, cutoff: int, limit: int) -> int:
        with self._writing() as t:
            expired = [key for key, kept in t.keys.items() if kept.created_at < cutoff][:limit]
            for key in expired:
                del t.keys[key]
        return len(expired)

    def sync_checkpoint(self, account_id: int, source: str) -> int | None:
        return self._read().sync.get((account_id, source))

    def save_sync_checkpoint(self, account_id: int, source: str, synced_to: int, now: int) -> None:
        with self._writing() as t:
            t.sync[(account_id, source)] = synced_to

    def fold_reports(self) -> int:
        return 0  # the aggregates are summed at each read

    def scrub(self, *, only_if_owed: bool = False) -> bool:
        self._read()
        return True  # nothing deleted stays anywhere: there are no files

    # redaction patterns
    def add_redaction_pattern(
        self, account_id: int, label: str, pattern: str, now: int
    ) -> RedactionPattern:
        with self._writing() as t:
            if any(p.account_id == account_id and p.label == label for p in t.patterns.values()):
                raise AccountError(f"The account already has a pattern labelled {label!r}.")
            added = RedactionPattern(t.new_id(), account_id, label, pattern, now)
            t.patterns[added.id] = added
        return added

    def redaction_patterns(self, account_id: int | None = None) -> list[RedactionPattern]:
        patterns = self._read().patterns.values()  # ids grow: insertion order is id order
        return [p for p in patterns if account_id is None or p.account_id == account_id]

    def remove_redaction_pattern(self, account_id: int, label: str) -> bool:
        with self._writing() as t:
            for p in list(t.patterns.values()):
                if p.account_id == account_id and p.label == label:
                    del t.patterns[p.id]
                    return True
        return False

    # sensitive modules
    def add_sensitive_module(
        self, account_id: int, field: str, name: str, now: int
    ) -> SensitiveModule:
        if field not in ("result_variable", "module_type"):
            raise ValueError(f"field must be result_variable or module_type, not {field!r}")
        with self._writing() as t:
            if any(
                (m.account_id, m.field, m.name) == (account_id, field, name)
                for m in t.sensitive.values()
            ):
                raise AccountError(f"The account already has the {field} {name!r}.")
            added = SensitiveModule(t.new_id(), account_id, field, name, now)
            t.sensitive[added.id] = added
        return added

    def sensitive_modules(self, account_id: int | None = None) -> list[SensitiveModule]:
        modules = self._read().sensitive.values()
        return [m for m in modules if account_id is None or m.account_id == account_id]

    def remove_sensitive_module(self, account_id: int, field: str, name: str) -> bool:
        with self._writing() as t:
            for m in list(t.sensitive.values()):
                if (m.account_id, m.field, m.name) == (account_id, field, name):
                    del t.sensitive[m.id]
                    return True
        return False
