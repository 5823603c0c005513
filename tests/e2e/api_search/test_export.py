"""`limit=all`: an export of more than one batch answers every match once, in order, in
each format; the server reads it a batch at a time, one store read a batch, and only as
the answer is taken."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.model import CallFilter, CallKey, RecordChunk, SummaryRow
from ivrlog.core.search import EXPORT_BATCH, RECORD_BATCH, parse_search
from ivrlog.web.calls import export_chunks
from tests.e2e.api_search.helpers import WIDE, find, ids, stored
from tests.factories import DAY, NOW, call
from tests.fake_store import MemoryStore

CALLS = 2 * EXPORT_BATCH + 345
assert RECORD_BATCH < CALLS < 2 * RECORD_BATCH


@pytest.fixture
def many(client: TestClient, account: Credentials) -> list[str]:
    calls = [
        call(f"c;{n:05}", NOW - 3 * (n // 2), type=("inbound", "outbound")[n % 3 == 0])
        for n in range(CALLS)
    ]
    for chunk in range(0, CALLS, 1000):
        stored(client, account, calls[chunk : chunk + 1000])
    # newest first: start descending, then session id descending (two calls a start)
    return [
        c["session_id"]
        for c in sorted(calls, key=lambda c: (c["start"], c["session_id"]), reverse=True)
    ]


def test_an_export_of_several_batches_in_each_format(
    client: TestClient, account: Credentials, many: list[str]
) -> None:
    body = find(client, account, *WIDE.items(), ("limit", "all")).json()
    assert ids(body) == many
    assert body["next"] is None
    lines = find(client, account, *WIDE.items(), ("limit", "all"), ("format", "ndjson")).text
    assert [json.loads(line)["session_id"] for line in lines.splitlines()] == many
    text = find(client, account, *WIDE.items(), ("limit", "all"), ("format", "csv")).text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["session_id"] for r in rows] == many
    # the filter holds across batches
    outbound = find(client, account, *WIDE.items(), ("limit", "all"), ("type", "outbound"))
    expected = [s for s in many if int(s[2:]) % 3 == 0]
    assert ids(outbound.json()) == expected


def test_a_window_export_answers_the_bytes_of_an_export_of_the_calls_rows(
    client: TestClient, account: Credentials, many: list[str]
) -> None:
    # a window alone reads the records each store keeps ready; `min_duration=0` keeps
    # every call and takes the export through the calls' rows
    window = [*WIDE.items(), ("limit", "all"), ("format", "csv")]
    kept = find(client, account, *window).content
    assert kept == find(client, account, *window, ("min_duration", "0")).content
    assert kept.count(b"\r\n") == len(many) + 1
    # and from a cursor on
    page = find(client, account, *WIDE.items(), ("limit", "1000"), ("format", "csv"))
    link = page.headers["link"]
    cursor = parse_qs(urlsplit(link[1 : link.index(">")]).query)["cursor"][0]
    window.append(("cursor", cursor))
    after = find(client, account, *window).content
    assert after == find(client, account, *window, ("min_duration", "0")).content
    assert [r["session_id"] for r in csv.DictReader(io.StringIO(after.decode(), newline=""))] == (
        many[1000:]
    )


class CountingStore(MemoryStore):
    """Counts the rows of each read: search_calls' in `reads`, window_records' in
    `records`."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[int] = []
        self.records: list[int] = []

    def search_calls(
        self, query: CallFilter, after: CallKey | None, limit: int, *, detail: bool = False
    ) -> list[SummaryRow]:
        rows = super().search_calls(query, after, limit, detail=detail)
        self.reads.append(len(rows))
        return rows

    def window_records(
        self,
        account_id: int,
        start: int,
        end: int,
        detail_cutoff: int,
        after: CallKey | None,
        limit: int,
    ) -> RecordChunk:
        chunk = super().window_records(account_id, start, end, detail_cutoff, after, limit)
        self.records.append(chunk.total)
        return chunk


# each format, CSV by its kept records (a window alone) and by the calls' rows (a
# filter): (format, another filter, the reads expected, the records expected)
READS = {
    "json": ("json", [], [EXPORT_BATCH, EXPORT_BATCH, CALLS - 2 * EXPORT_BATCH], []),
    "ndjson": ("ndjson", [], [EXPORT_BATCH, EXPORT_BATCH, CALLS - 2 * EXPORT_BATCH], []),
    "csv of a window": ("csv", [], [], [RECORD_BATCH, CALLS - RECORD_BATCH]),
    "csv of a filter": (
        "csv",
        [("type", "inbound")],
        [EXPORT_BATCH, EXPORT_BATCH, CALLS - 2 * EXPORT_BATCH],
        [],
    ),
}


@pytest.mark.parametrize("case", READS)
def test_an_export_reads_a_batch_as_the_answer_is_taken(case: str) -> None:
    fmt, params, reads, records = READS[case]
    store = CountingStore()
    account_id = store.create_account("x@example.com", "k", "t", NOW).id
    ingest_calls(store, account_id, [call(f"c{n}", NOW - n) for n in range(CALLS)])
    search = parse_search(
        [("limit", "all"), ("format", fmt), *params],
        account_id=account_id,
        now=NOW,
        detail_cutoff=NOW - 5 * DAY,
        call_cutoff=NOW - 365 * DAY,
    )
    chunks = export_chunks(store, search, fmt)  # type: ignore[arg-type]
    assert store.reads == store.records == []  # nothing is read before the answer is taken
    taken = [next(chunks)]
    while len(store.reads) + len(store.records) < 2:
        taken.append(next(chunks))
    assert (store.reads, store.records) == (reads[:2], records[:2])
    taken += list(chunks)
    assert (store.reads, store.records) == (reads, records)
    assert len(b"".join(taken)) > CALLS * 100
