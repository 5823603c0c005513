"""The ports core needs of a database: the Store protocol that every storage adapter
implements (SQLite, PostgreSQL, the tests' in-memory fake), and the error a store raises
when it cannot be opened. Core depends on these; the adapters in ivrlog.storage implement
them, and tests/integration/test_store_contract.py pins what they promise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, TypeVar, runtime_checkable

from ivrlog.core.model import (
    Account,
    CallDetail,
    CallFilter,
    CallKey,
    CallPage,
    CallQuery,
    ChangeRow,
    DetailFormat,
    EntryFragments,
    Erasure,
    ExpiredCounts,
    Fragments,
    KeptAnswer,
    OpenCall,
    RecordChunk,
    RedactionPattern,
    SensitiveModule,
    StaleCall,
    StoredCall,
    SummaryRow,
)
from ivrlog.core.reports import Piece, ReportRow
from ivrlog.core.webhooks import Claimed, DeliveryRecord, Endpoint, Outcome, QueueStats

T = TypeVar("T")


class StoreOpenError(Exception):
    """The database cannot be opened or used by this ivrlog; the message says why."""


class LiveTransaction(Protocol):
    """Calls in progress, read and changed inside one write transaction.

    The store serialises these transactions for each call (PostgreSQL: a lock per call;
    SQLite: one writer at a time), so the core can read a call's state, decide, and write
    without losing a concurrent append.
    """

    def open_call(self, account_id: int, session_id: str) -> OpenCall | None: ...

    def is_completed(self, account_id: int, session_id: str) -> bool:
        """Whether the account has a completed call with this session id."""

    def save_open(self, account_id: int, call: OpenCall, touched_at: int | None) -> OpenCall:
        """Insert (id 0) or update an open call's summary; the call as saved.

        `touched_at` is when it last got an entry (None: unchanged; needed on insert)."""

    def add_entries(self, call_id: int, first_seq: int, entries: Sequence[EntryFragments]) -> None:
        """Add entries (timestamp, JSON text, XML `<item>` text), numbered in arrival
        order from first_seq."""

    def drop_entries(self, call_id: int) -> None: ...

    def entries(self, call_id: int) -> list[Fragments]:
        """An open call's entries by timestamp, then arrival, as (JSON text, XML text)."""

    def finish(self, account_id: int, call_id: int, call: StoredCall) -> None:
        """Store the completed call (with its summary, its search words and its place in
        the change sequence, as put_calls does) and remove its open state."""

    def stale(self, touched_before: int, started_before: int, limit: int) -> list[StaleCall]:
        """Up to `limit` open calls (with their account id) that got no entry since
        `touched_before` or started before `started_before`."""

    def kept_answer(self, account_id: int, session_id: str, key: str) -> KeptAnswer | None:
        """(body SHA-256, answer JSON) kept with an idempotency key for the account's call,
        or None. Serialised with the call's other updates (it takes the call's lock)."""

    def keep_answer(
        self, account_id: int, session_id: str, key: str, body_sha256: str, answer: str, now: int
    ) -> None:
        """Keep an update's answer with its idempotency key (kept_answer was None)."""


@runtime_checkable
class WebhookStore(Protocol):
    """Webhook endpoints, the outbox of their deliveries and its log (core/webhooks.py).
    Times are UNIX milliseconds. The outbox is filled by the writers of completed calls
    themselves (put_calls, a live call's finish, erase), in their transaction."""

    def add_endpoint(
        self,
        account_id: int,
        url: str,
        events: Sequence[str],
        entries: bool,
        secret: str,
        now: int,
    ) -> Endpoint: ...

    def endpoints(self, account_id: int) -> list[Endpoint]:
        """The account's endpoints, oldest first."""

    def endpoint(self, account_id: int, endpoint_id: int) -> Endpoint | None: ...

    def set_endpoint_enabled(
        self, account_id: int, endpoint_id: int, enabled: bool, reason: str | None
    ) -> Endpoint | None:
        """Enable (its failing and reason cleared) or disable (saying why) an endpoint."""

    def rotate_endpoint_secret(
        self, account_id: int, endpoint_id: int, secret: str, previous_until: int
    ) -> Endpoint | None:
        """Give an endpoint a new secret; the old one signs too until `previous_until`."""

    def remove_endpoint(self, account_id: int, endpoint_id: int) -> bool:
        """Delete an endpoint with its deliveries and their log."""

    def next_delivery_at(self) -> int | None:
        """When the earliest waiting delivery of an enabled endpoint is due (leases
        aside: a claim then may find it leased); None when none waits."""

    def claim_deliveries(
        self, now: int, lease_until: int, limit: int, per_endpoint: int
    ) -> list[Claimed]:
        """Lease, until `lease_until`, up to `limit` due deliveries: per endpoint the
        oldest, each the earliest waiting delivery of its call (a call's events go out in
        order), and no more than `per_endpoint` less the endpoint's deliveries leased now
        by any dispatcher (a bound for every process on the database). Endpoints are
        taken in a random order, so that none with a backlog holds up the others. A
        leased delivery is claimed by no one else until its lease runs out or its outcome
        is written (PostgreSQL: FOR UPDATE SKIP LOCKED)."""

    def finish_deliveries(self, outcomes: Sequence[Outcome]) -> None:
        """Write attempts' outcomes in one transaction: the deliveries' states, their log,
        their endpoints' failing or disabling; each only while its claim's lease is still
        on the delivery (else it is left to the lease's new holder)."""

    def deliveries(
        self,
        account_id: int,
        endpoint_id: int | None,
        *,
        failed: bool,
        before: int | None,
        limit: int,
    ) -> list[DeliveryRecord]:
        """The account's deliveries (of one endpoint, or every one), newest first, below
        id `before`, with their attempts; with `failed`, only those with a failed attempt
        or that gave up."""

    def replay_delivery(
        self, account_id: int, delivery_id: int, now: int, endpoint_id: int | None = None
    ) -> bool:
        """Send a delivery again: waiting, due now, retried for a new period. False when
        the account (or its endpoint `endpoint_id`, when given) has no such delivery, or
        an attempt of it is in flight."""

    def replay_calls(
        self, account_id: int, endpoint_id: int, start: int, end: int, now: int, limit: int
    ) -> int:
        """A new call.completed delivery to the endpoint for each of the account's stored
        calls with `start <= call.start < end` (seconds), the oldest `limit` at most;
        how many."""

    def webhook_queue(self, now: int) -> QueueStats:
        """The outbox of the enabled endpoints (a disabled one's deliveries wait for it,
        counted apart: its endpoints are `disabled_endpoints`); the age of a delivery is
        from when it was queued or replayed."""

    def delete_webhook_log_before(self, cutoff: int, limit: int) -> int:
        """Delete up to `limit` finished deliveries (delivered, failed, gone) last touched
        before `cutoff`, with their attempts, and attempts of waiting deliveries older
        than it; how many rows."""


@runtime_checkable
class AsyncLookups(Protocol):
    """A store whose hot read (a call's detail, B1) can be awaited on the event loop:
    one that waits on a network (PostgreSQL, through psycopg's async pool) instead of
    taking a worker thread for it. The server opens the lookups on its event loop as it
    starts and closes them as it stops; elsewhere `lookups_open` is False."""

    async def open_lookups(self) -> None:
        """Make the lookups ready on the running event loop."""

    async def close_lookups(self) -> None:
        """Undo open_lookups (on the loop it ran on)."""

    def lookups_open(self) -> bool:
        """Whether call_detail_async can run on the running loop."""
        ...

    async def call_detail_async(
        self,
        account_id: int,
        session_id: str,
        fmt: DetailFormat,
        detail_cutoff: int,
        *,
        call_cutoff: int = 0,
    ) -> CallDetail:
        """Store.call_detail, awaited."""
        ...


class Store(Protocol):
    """Accounts and calls, behind one interface for SQLite and PostgreSQL."""

    # True when a one-row read (an account, a call's detail) takes microseconds and never
    # waits on a network: the server then runs it on its event loop instead of a worker
    # thread, which costs more than the read (docs/performance.md, B1).
    inline_reads: bool

    def migrate(self) -> None:
        """Bring the schema to the latest version (a no-op when it is there)."""

    def schema_version(self) -> int: ...

    def ping(self) -> None:
        """Raise when the database does not answer."""

    def database_bytes(self) -> int:
        """The database's size on disk (SQLite: the file and its write-ahead log)."""
        ...

    def close(self) -> None: ...

    # accounts
    def create_account(
        self, email: str, developer_key_hash: str, ingest_token_hash: str, now: int
    ) -> Account:
        """Add an account; raise AccountError when the email is taken."""

    def account_by_email(self, email: str) -> Account | None: ...

    def account_by_ingest_hash(self, token_hash: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def set_account_active(self, email: str, active: bool) -> Account | None: ...

    def set_account_credentials(
        self, email: str, developer_key_hash: str, ingest_token_hash: str
    ) -> Account | None: ...

    # calls
    def put_calls(self, account_id: int, calls: Sequence[StoredCall]) -> None:
        """Store all calls in one transaction, replacing any with the same session id.

        Either every call is stored and durable when this returns, or none is. Each call
        keeps its summary, its search words (while its detail is stored) and a new place
        in the account's change sequence: `replaced` when it replaced a completed call,
        else `completed`.
        """

    def delete_account_calls(self, account_id: int) -> int: ...

    def run_live(self, body: Callable[[LiveTransaction], T]) -> T:
        """Run `body` in one write transaction over calls in progress and return what it
        returns: committed when it returns, rolled back on any exception. The store may
        roll back and run `body` again (PostgreSQL, when a partition must be made outside
        any transaction first), so `body` must change nothing outside the transaction."""

    # sync (core/sync.py)
    def sync_checkpoint(self, account_id: int, source: str) -> int | None:
        """Where the account's sync from `source` (its URL and email, never its key) got
        to: every call of the source that started before it was copied. None before the
        first window of the first run."""

    def save_sync_checkpoint(self, account_id: int, source: str, synced_to: int, now: int) -> None:
        """Keep `synced_to` as the checkpoint of the account's sync from `source`."""

    # retention
    def retention_floor(self, cutoff: int, table: Literal["calls", "call_details"]) -> int:
        """The cutoff the purge deletes before, for a retention `cutoff`: the cutoff itself,
        or (PostgreSQL) the start of the partition holding it, so that the purge drops
        whole partitions and the rest goes with its partition later. Reads still hide
        detail by the exact cutoff."""

    def count_expired(self, detail_cutoff: int, call_cutoff: int) -> ExpiredCounts:
        """(calls started before detail_cutoff whose detail is stored, calls started
        before call_cutoff)."""

    def delete_details_before(self, cutoff: int, limit: int) -> int:
        """Delete the stored detail of up to `limit` calls started before `cutoff`, in one
        short transaction (their entry_count becomes 0); how many calls lost theirs."""

    def delete_calls_before(self, cutoff: int, limit: int) -> int:
        """Delete up to `limit` calls started before `cutoff` with their detail."""

    def delete_keys_before(self, cutoff: int, limit: int) -> int:
        """Delete up to `limit` idempotency keys kept before `cutoff` (with their answers)."""

    def fold_reports(self) -> int:
        """Fold the report rows written since the last fold into one a key, for the reads
        that sum them; how many keys changed. A store whose writes keep them folded
        (SQLite) has nothing to do. The server calls it every `fold_interval`; reports read
        the same before and after."""

    def scrub(self, *, only_if_owed: bool = False) -> bool:
        """Make deleted content unreadable in the database's files (journal included);
        False when it could not finish now (readers busy) and should be retried. With
        `only_if_owed`, do it only if a deletion since the last scrub asks for it."""

    # redaction patterns
    def add_redaction_pattern(
        self, account_id: int, label: str, pattern: str, now: int
    ) -> RedactionPattern:
        """Add a pattern; raise AccountError when the account has the label already."""

    def redaction_patterns(self, account_id: int | None = None) -> list[RedactionPattern]:
        """One account's patterns (every account's when None), oldest first."""

    def remove_redaction_pattern(self, account_id: int, label: str) -> bool: ...

    # sensitive modules
    def add_sensitive_module(
        self, account_id: int, field: str, name: str, now: int
    ) -> SensitiveModule:
        """Add one; raise AccountError when the account has it already."""

    def sensitive_modules(self, account_id: int | None = None) -> list[SensitiveModule]:
        """One account's sensitive modules (every account's when None), oldest first."""

    def remove_sensitive_module(self, account_id: int, field: str, name: str) -> bool: ...

    def open_page(self, query: CallQuery, detail: DetailFormat | None) -> CallPage:
        """Count and read one page, newest first (start, then session id, descending).

        A row's `log` is 1 exactly when the call has stored detail and
        `start >= query.detail_cutoff`; its fragment is the detail in `detail` format
        then, and None otherwise (or when `detail` is None).
        """

    def call_detail(
        self,
        account_id: int,
        session_id: str,
        fmt: DetailFormat,
        detail_cutoff: int,
        *,
        call_cutoff: int = 0,
    ) -> CallDetail:
        """(whether the account has the call, its readable detail fragment or None).

        A call in progress counts: its entries so far are its detail. A call started
        before `call_cutoff` (past retention, not yet purged) is as if it were not there."""

    def call_in_progress(self, account_id: int, session_id: str) -> OpenCall | None:
        """The account's call in progress of this session id (its summary so far), read
        outside any write transaction (the call page); None when there is none."""

    # ivrlog's own read API
    def search_calls(
        self, query: CallFilter, after: CallKey | None, limit: int, *, detail: bool = False
    ) -> list[SummaryRow]:
        """Up to `limit` calls matching `query`, newest first (start, then session id,
        descending), strictly after `after` in that order when it is set. With `detail`,
        each row with `log` 1 carries its entries' JSON array text.

        A page costs about the same however deep `after` is (a keyset read)."""

    def window_records(
        self,
        account_id: int,
        start: int,
        end: int,
        detail_cutoff: int,
        after: CallKey | None,
        limit: int,
    ) -> RecordChunk:
        """The next records of the account's calls with `start <= call.start < end`,
        newest first and strictly after `after` (as search_calls lists them for a filter
        of that window alone): each the record that core/records.call_fields gives of the
        call's row (`detail_cutoff` decides its `log`), ended by CRLF, in UTF-8. Kept
        ready by the store (core/records.record_stem).

        At least `limit` records while the window holds them (a store may give more,
        records it keeps together): fewer only when none is left after them."""

    def changes(
        self, account_id: int, after: int, limit: int, detail_cutoff: int
    ) -> list[ChangeRow]:
        """Up to `limit` places of the account's change sequence after `after`, in order.

        Every completion, replacement and erasure of a call takes the next place, and the
        call's earlier place is given up: a call appears once, at its latest change. The
        places are handed out in commit order, so a reader resuming after the last place
        it saw misses nothing. A place holds the call as it is now (`detail_cutoff`
        decides its `log`), None for an erasure. Places of calls past call retention are
        deleted with them by the purge (delete_calls_before)."""

    def erase(self, account_id: int, erasure: Erasure, selector_hash: str, now: int) -> int:
        """Delete, in one transaction, the account's calls that `erasure` selects (their
        detail and search words) and its calls in progress that it selects (with their
        entries); give each erased completed call an `erased` place in the change
        sequence; and keep an audit row (`now`, the count, `selector_hash`, never the
        selector). The number of calls erased, completed and in progress; with nothing
        to erase, no audit row and 0. Then make the deleted content unreadable in the
        database's files, as scrub() does."""

    def audit_key(self) -> bytes:
        """The key of the erasure audit's keyed hashes: made at random on first use and
        kept in the database (docs/privacy.md, erasure)."""

    # reports (core/reports.py)
    def report_rows(
        self,
        account_id: int,
        table: Literal["volume", "durations", "modules"],
        app: str | None,
        wanted: Sequence[Piece],
        *,
        by: int | None,
    ) -> list[ReportRow]:
        """The account's aggregate rows of `wanted` summed: of one application (every
        one when None), by call type ("volume": calls alone; "durations": calls and
        their duration bins) or module ("modules"), and by buckets of `by` seconds
        (`at` the bucket's start; 0 for every row when None). The counts are as
        core/reports.Deltas keeps them. Rows of hours past call retention may have lost
        calls to the purge: a report asks for none (core/reports.report_window)."""

    def report_apps(self, account_id: int, wanted: Sequence[Piece]) -> list[str]:
        """The applications (by name, sorted) of the account's calls in the aggregate
        rows of `wanted`; the calls that name none are left out."""


class Database(Store, WebhookStore, Protocol):
    """A whole database (what the SQL stores are): its calls and its webhooks. Core's
    services ask for the part they use; the tests' in-memory fake is a Store alone."""
