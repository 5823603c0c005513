"""`ivrlog sync`: a Fuse-compatible account's calls and their detail copied into a local
account, resumable and idempotent.

The walk. From where the last run got to (its checkpoint, less `overlap`, so that calls
that finished or gained their detail late are seen again), or from `since` on the first
run, to now, in time windows oldest first. Each window is read with GET /api/calls in
one page: a window that holds more calls than a page (`page_limit`) is halved until it
fits (a single second that still holds more is read page by page with `offset`), and a
window that held few is doubled for the next one (at most LONGEST_WINDOW). Windows never
move under the reader, so offset paging's weakness (a page shifted by new calls) only
touches a single crowded second.

Each window's calls are compared with the local ones (Store.search_calls):
- a call the account lacks is added; one whose summary differs is replaced;
- a call listed without detail and since readable at the source (`log` turned true) is
  completed with it: fetched, stored, never duplicated (a session id is one call);
- a call the same on both sides is left alone: a second run writes nothing, and the
  account's change sequence does not move;
- local detail is never lost: a source call whose detail expired does not replace a
  local call that has it.
Detail is read with GET /api/all_logs over sub-windows of at most `detail_page` calls,
and only for windows with calls that need it. Then the window's checkpoint is saved, so
that an interrupted run starts again at the window it was in."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from ivrlog.core.bringing import Skipped, Target
from ivrlog.core.model import CallFilter, SummaryRow
from ivrlog.core.search import one_call, row_key
from ivrlog.core.sync_source import Listing, Source, SourceCall, source_call, source_detail

DAY: Final = 86_400
PAGE_LIMIT: Final = 10_000  # the largest `limit` of the compatible API (Plum Fuse's too)
DETAIL_PAGE: Final = 200  # calls an /api/all_logs request: their entries can be many
FIRST_WINDOW: Final = DAY
LONGEST_WINDOW: Final = 7 * DAY
# a call is listed once it is complete, which can be hours after its start (an ivrlog
# source completes a call left open after open_call_timeout, 4 hours by default): a run
# reads the day before its checkpoint again, at the cost of one summary request
OVERLAP: Final = DAY
LOCAL_PAGE: Final = 1000


def source_name(url: str, email: str) -> str:
    """A source as its checkpoint is kept: its URL and the account's email (never a key)."""
    return f"{url.rstrip('/')} {email.strip().lower()}"


@dataclass(frozen=True)
class SyncPlan:
    source: str  # source_name(...)
    since: int  # where a first run starts
    until: int  # where this run ends (now)
    overlap: int = OVERLAP
    restart: bool = False  # walk from `since` whatever the checkpoint says
    page_limit: int = PAGE_LIMIT
    detail_page: int = DETAIL_PAGE


@dataclass
class WindowDone:
    """A window walked: [start, end), and what became of its calls."""

    start: int
    end: int
    listed: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class SyncReport:
    """A run: the span walked ([start, until)), its windows and their totals."""

    start: int
    until: int
    windows: int = 0
    listed: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def count(self, window: WindowDone) -> None:
        self.windows += 1
        self.listed += window.listed
        self.added += window.added
        self.updated += window.updated
        self.unchanged += window.unchanged
        self.skipped += len(window.skipped)


def sync(
    source: Source,
    target: Target,
    plan: SyncPlan,
    now: int,
    on_window: Callable[[WindowDone, SyncReport], None] = lambda window, report: None,
) -> SyncReport:
    """Walk the plan's span window by window (see the module's doc), saving the
    checkpoint after each; `on_window` hears of each window as it ends."""
    store, account_id = target.store, target.account_id
    checkpoint = None if plan.restart else store.sync_checkpoint(account_id, plan.source)
    start = plan.since if checkpoint is None else max(plan.since, checkpoint - plan.overlap)
    start = max(start, target.call_cutoff)  # nothing older could be stored
    report = SyncReport(start, plan.until)
    size = FIRST_WINDOW
    at = start
    while at < plan.until:
        end = min(at + size, plan.until)
        first = source.calls(at, end, offset=0, limit=plan.page_limit)
        if first.total_calls > len(first.calls) and end - at > 1:
            size = max(1, (end - at) // 2)
            continue
        listed = _once([*first.calls, *_rest(source.calls, at, end, first, plan.page_limit)])
        window = _copy_window(source, target, plan, at, end, listed)
        store.save_sync_checkpoint(account_id, plan.source, end, now)
        report.count(window)
        on_window(window, report)
        if first.total_calls * 4 < plan.page_limit:
            size = min(size * 2, LONGEST_WINDOW)
        at = end
    return report


Reader = Callable[..., Listing]  # Source.calls or Source.all_logs


def _once(listed: list[Any]) -> list[Any]:
    """The listed calls, each session id once (offset pages of a crowded second shift when
    calls arrive: a call may be given twice)."""
    seen: set[str] = set()
    kept = []
    for raw in listed:
        session_id = raw.get("session_id") if isinstance(raw, Mapping) else None
        if isinstance(session_id, str):
            if session_id in seen:
                continue
            seen.add(session_id)
        kept.append(raw)
    return kept


def _rest(
    read: Reader, start: int, end: int, first: Listing, limit: int
) -> Iterator[Mapping[str, Any]]:
    """The calls after a first page of a window, page by page (offsets)."""
    offset = len(first.calls)
    while offset < first.total_calls:
        page = read(start, end, offset=offset, limit=limit)
        if not page.calls:
            return
        yield from page.calls
        offset += len(page.calls)


def _local_rows(target: Target, start: int, end: int) -> dict[str, SummaryRow]:
    query = CallFilter(target.account_id, start, end, target.detail_cutoff)
    rows: dict[str, SummaryRow] = {}
    after = None
    while True:
        page = target.store.search_calls(query, after, LOCAL_PAGE)
        rows.update((row[0], row) for row in page)
        if len(page) < LOCAL_PAGE:
            return rows
        after = row_key(page[-1])


def _local_detail(target: Target, session_id: str) -> list[Any]:
    """The local call's readable entries (kept when the source no longer has them)."""
    query = one_call(
        target.account_id, session_id, call_cutoff=0, detail_cutoff=target.detail_cutoff
    )
    rows = target.store.search_calls(query, None, 1, detail=True)
    return list(orjson.loads(rows[0][12])) if rows and rows[0][12] else []


def _copy_window(
    source: Source,
    target: Target,
    plan: SyncPlan,
    start: int,
    end: int,
    listed: list[Mapping[str, Any]],
) -> WindowDone:
    window = WindowDone(start, end, listed=len(listed))
    local = _local_rows(target, start, end)
    ready: list[dict[str, Any]] = []
    wanted: dict[str, SourceCall] = {}  # calls whose detail must be fetched
    starts: Counter[int] = Counter()
    for raw in listed:
        call = source_call(raw)
        if isinstance(call, str):
            named = raw.get("session_id") if isinstance(raw, Mapping) else None
            window.skipped.append(Skipped(named if isinstance(named, str) else "?", call))
            continue
        starts[call.start] += 1
        row = local.get(call.session_id)
        readable = call.start >= target.detail_cutoff
        if row is not None and call.same_as(row) and (row[6] or not (call.log and readable)):
            window.unchanged += 1
        elif call.log and readable:
            wanted[call.session_id] = call
        else:
            kept = _local_detail(target, call.session_id) if row is not None and row[6] else []
            ready.append(call.document(kept, row))
    for raw in _details(source, plan, starts, wanted):
        fetched = wanted.pop(str(raw.get("session_id")), None)
        if fetched is None:  # given twice (an offset page shifted)
            continue
        row = local.get(fetched.session_id)
        detail = source_detail(raw)
        if not detail and row is not None and row[6]:  # expired at the source meanwhile
            detail = _local_detail(target, fetched.session_id)
        ready.append(fetched.document(detail, row))
    for session_id in wanted:  # listed, then gone from the source (erased meanwhile)
        window.skipped.append(
            Skipped(session_id, "no longer at the source when its detail was read")
        )
    checked = []
    for document in ready:
        refusal = target.refusal(document)
        if refusal is None:
            checked.append(document)
            if document["session_id"] in local:
                window.updated += 1
            else:
                window.added += 1
        else:
            window.skipped.append(Skipped(document["session_id"], refusal))
    target.write(checked)
    return window


def _details(
    source: Source, plan: SyncPlan, starts: Counter[int], wanted: Mapping[str, SourceCall]
) -> Iterator[Mapping[str, Any]]:
    """The /api/all_logs calls of `wanted`, read over sub-windows of whole seconds that
    hold at most `detail_page` listed calls (a crowded second alone, paged)."""
    needed = sorted(call.start for call in wanted.values())
    for low, high in _groups(starts, plan.detail_page):
        at = bisect.bisect_left(needed, low)
        if at == len(needed) or needed[at] > high:
            continue  # no call of this sub-window needs its detail
        page = source.all_logs(low, high + 1, offset=0, limit=plan.detail_page)
        every = [*page.calls, *_rest(source.all_logs, low, high + 1, page, plan.detail_page)]
        for raw in every:
            session_id = raw.get("session_id") if isinstance(raw, Mapping) else None
            if isinstance(session_id, str) and session_id in wanted:
                yield raw


def _groups(starts: Counter[int], most: int) -> list[tuple[int, int]]:
    """Runs of whole seconds (first, last), oldest first, each holding at most `most`
    calls of `starts` (a second holding more is a run alone)."""
    groups: list[tuple[int, int]] = []
    first = last = -1
    held = 0
    for second in sorted(starts):
        if held and held + starts[second] > most:
            groups.append((first, last))
            held = 0
        if not held:
            first = second
        last = second
        held += starts[second]
    if held:
        groups.append((first, last))
    return groups
