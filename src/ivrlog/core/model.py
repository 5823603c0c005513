"""Domain types shared by the core, the stores and the renderers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple, Protocol

CALL_TYPES: Final = ("inbound", "outbound", "transfer")
ENTRY_CLASSES: Final = ("info", "event", "debug", "prompt", "error")

DetailFormat = Literal["json", "xml"]


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    email: str
    active: bool
    developer_key_hash: str
    ingest_token_hash: str
    created_at: int


def module_key(module_type: str, result_variable: str) -> str:
    """`module_type:result_variable`, as /v1/calls shows a path's modules."""
    return f"{module_type}:{result_variable}"


class Module(NamedTuple):
    """A module of an application, as its entries name it."""

    module_type: str
    result_variable: str

    @property
    def key(self) -> str:
        """module_key of the module."""
        return module_key(self.module_type, self.result_variable)


@dataclass(frozen=True, slots=True)
class CallSummary:
    """What ivrlog derives from a call's entries when the call completes
    (core/summary.py; docs/api.md, call summaries), kept as long as the call.

    `visits` is the ordered path: one Module per visit (consecutive entries of one module
    are one visit). `words` is the text search indexes: the distinct words of the call's
    non-private entry lines, lowercased, joined by single spaces ("" when none).
    """

    app: str | None
    app_version: str | None
    visits: tuple[Module, ...]
    has_error: bool
    inputs: int
    words: str

    @property
    def ended_in(self) -> Module | None:
        return self.visits[-1] if self.visits else None


NO_SUMMARY: Final = CallSummary(None, None, (), False, 0, "")


class Step(NamedTuple):
    """A module a call reached, in the order it first reached them (core/reports.py):
    the seconds it spent there (every visit: from the visit's first entry to the next
    visit's, or to the call's end), None when unknown; whether it had an `error` entry
    there; whether the call ended there (its last visit)."""

    module: str  # module_type:result_variable
    seconds: int | None
    error: bool
    ended: bool


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A validated call, ready to write: its detail is already rendered text.

    `detail_json` is the JSON array of entries; `detail_xml` the same entries as a
    run of `<item>` elements. Both are None when the call is private or has no entries.
    `summary` is derived from the entries (core/summary.py), `steps` from the entries
    and the end (core/reports.call_steps): what the reports count of the call.
    """

    session_id: str
    src: str
    dest: str
    type: str
    start: int
    end: int
    private: bool
    entry_count: int
    detail_json: str | None
    detail_xml: str | None
    summary: CallSummary = NO_SUMMARY
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True, slots=True)
class CallQuery:
    """One page of one account's calls.

    A call is in the window when `start <= call.start < end`; `detail_cutoff` is the
    oldest call start whose detail may still be read.
    """

    account_id: int
    start: int
    end: int
    number: str | None
    offset: int
    limit: int
    detail_cutoff: int


# A listed call as the store yields it, ready for a renderer:
# (dest, src, start, end, session_id, type, log, detail fragment or None).
# `log` is 1 exactly when the call's detail can be read; the fragment is only
# present when it was asked for and `log` is 1.
#
# A row stays a plain tuple, as the database driver makes it: a NamedTuple built for
# each row made a 100,000-row page 60 to 75 % slower to read and render (B2, B4 in
# docs/performance.md). Its readers name its fields by unpacking it whole
# (`dest, src, start, end, session_id, call_type, log, fragment = row`), which costs
# less than indexing it field by field.
CallRow = tuple[str, str, int, int, str, str, int, str | None]


class CallPage(Protocol):
    """One page of calls read in one consistent snapshot.

    `total` counts every call of the window (and number), not only the page. The rows
    come in batches so that a renderer can stream them; `close` ends the snapshot and
    must be called (it is safe to call twice).
    """

    total: int

    def batches(self) -> Iterator[Sequence[CallRow]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OpenCall:
    """A call in progress (live ingestion): its summary so far.

    `id` is 0 until the store has saved it; `start_given` says whether a client set
    `start` (else it follows the earliest entry); `last_timestamp` is the timestamp of its
    newest entry, None while it has none. Its entries are kept as ready fragments.
    """

    id: int
    session_id: str
    src: str
    dest: str
    type: str
    start: int
    start_given: bool
    private: bool
    entry_count: int
    last_timestamp: int | None


class Fragments(NamedTuple):
    """An entry's stored fragments: its JSON text and its `<item>` element."""

    json: str
    xml: str


class EntryFragments(NamedTuple):
    """An entry of a call in progress as the store keeps it: its timestamp and fragments."""

    timestamp: int
    json: str
    xml: str


class StaleCall(NamedTuple):
    """A call in progress found by the sweep of stale calls, with its account."""

    account_id: int
    call: OpenCall


class KeptAnswer(NamedTuple):
    """An update's answer kept with its idempotency key, and the body it answered."""

    body_sha256: str
    answer: str


class ExpiredCounts(NamedTuple):
    """What the purge would delete now: calls whose stored detail is past its cutoff,
    and calls past theirs."""

    details: int
    calls: int


class CallDetail(NamedTuple):
    """A call's detail as the store reads it: whether the account has the call, and its
    readable detail fragment (None when there is none to read)."""

    found: bool
    fragment: str | None


@dataclass(frozen=True, slots=True)
class SensitiveModule:
    """A module of an account whose every entry is stored as private: entries whose
    `field` ("result_variable" or "module_type") is `name`."""

    id: int
    account_id: int
    field: str
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class RedactionPattern:
    """An account's own redaction rule: a checked regular expression and its label."""

    id: int
    account_id: int
    label: str
    pattern: str
    created_at: int


# --- ivrlog's own read API (/v1/calls, /v1/changes, erasure) -------------------------


class NumberMatch(NamedTuple):
    """A number filter: the number itself, or (prefix) every number starting with it."""

    value: str
    prefix: bool


class CallKey(NamedTuple):
    """A call's place in the newest-first order: a cursor points past it."""

    start: int
    session_id: str


class RecordChunk(NamedTuple):
    """Consecutive CSV records of a window, newest first (Store.window_records): their
    bytes, how many they are, and the place of the last (None when there is none), from
    which the next chunk goes on."""

    records: bytes
    total: int
    last: CallKey | None


@dataclass(frozen=True, slots=True)
class CallFilter:
    """The calls /v1/calls lists: every field that is set must hold (AND).

    A call matches when `start <= call.start < end` and:
    - `src` / `dest`: the number equals `value` (or starts with it when `prefix`);
    - `type`: the call's type; `min_duration` / `max_duration`: `end - start`, inclusive;
    - `app`: the application's name;
    - `reached`: a module of its path whose `result_variable`, or whose
      `module_type:result_variable`, equals it; `ended_in`: the same of its last module;
    - `has_error`: whether it had an `error` entry;
    - `words`: every one of these words (core/summary.words form: lowercase) is in its
      search words, and its detail is readable (`start >= detail_cutoff`, detail stored).
    - `session_id`: the call's session id (one call: `ivrlog calls show`, the call page).
    `detail_cutoff` also decides each listed call's `log`.
    """

    account_id: int
    start: int
    end: int
    detail_cutoff: int
    src: NumberMatch | None = None
    dest: NumberMatch | None = None
    type: str | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    app: str | None = None
    reached: str | None = None
    ended_in: str | None = None
    has_error: bool | None = None
    words: tuple[str, ...] = ()
    session_id: str | None = None


# A listed call as Store.search_calls yields it, a plain tuple (see CallRow):
# (session_id, src, dest, type, start, end, log, app, app_version, path, ended_in,
#  has_error, detail). `path` is the JSON array text of the path's
# `module_type:result_variable` strings; `ended_in` the last of them or None; `log` and
# `has_error` are 0 or 1; `detail` is the entries' JSON array text when asked for and
# `log` is 1, else None.
SummaryRow = tuple[
    str, str, str, str, int, int, int, str | None, str | None, str, str | None, int, str | None
]

ChangeKind = Literal["completed", "replaced", "erased"]


class ChangeRow(NamedTuple):
    """A position in an account's change sequence: the call as it is now (None once it
    was erased, or when it has since been deleted by retention)."""

    seq: int
    change: ChangeKind
    session_id: str
    call: SummaryRow | None


class Erasure(NamedTuple):
    """What an erasure removes: one call by session id, or every call to or from
    `number` (started before `before` when set)."""

    session_id: str | None = None
    number: str | None = None
    before: int | None = None
