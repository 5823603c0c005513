"""`limit=all`: an export of more than one batch answers every match once, in order, in
each format; the server reads it a batch at a time, one store read a batch, and only as
the answer is taken."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.model import CallFilter, CallKey, SummaryRow
from ivrlog.core.search import EXPORT_BATCH, parse_search
from ivrlog.web.calls import export_chunks
from tests.e2e.api_search.helpers import WIDE, find, ids, stored
from tests.factories import DAY, NOW, call
from tests.fake_store import MemoryStore

CALLS = 2 * EXPORT_BATCH + 345


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


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[int] = []

    def search_calls(
        self, query: CallFilter, after: CallKey | None, limit: int, *, detail: bool = False
    ) -> list[SummaryRow]:
        rows = super().search_calls(query, after, limit, detail=detail)
        self.reads.append(len(rows))
        return rows


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_an_export_reads_a_batch_as_the_answer_is_taken(fmt: str) -> None:
    store = CountingStore()
    account_id = store.create_account("x@example.com", "k", "t", NOW).id
    ingest_calls(store, account_id, [call(f"c{n}", NOW - n) for n in range(CALLS)])
    search = parse_search(
        [("limit", "all"), ("format", fmt)],
        account_id=account_id,
        now=NOW,
        detail_cutoff=NOW - 5 * DAY,
        call_cutoff=NOW - 365 * DAY,
    )
    chunks = export_chunks(store, search, fmt)  # type: ignore[arg-type]
    assert store.reads == []  # nothing is read before the answer is taken
    taken = [next(chunks)]
    while len(store.reads) < 2:
        taken.append(next(chunks))
    assert store.reads == [EXPORT_BATCH, EXPORT_BATCH]
    taken += list(chunks)
    assert store.reads == [EXPORT_BATCH, EXPORT_BATCH, CALLS - 2 * EXPORT_BATCH]
    assert len(b"".join(taken)) > CALLS * 100
