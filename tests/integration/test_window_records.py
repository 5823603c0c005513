"""window_records on the SQL stores: the CSV records kept ready for the export of a time
window are, byte for byte, the records render/calls.csv_rows writes of search_calls' rows
for that window, whatever happened to the calls: replaced (in another second, with other
numbers or another application), erased, their detail purged or never stored (or written
after the purge, before its cutoff), names that need quoting, a path of hundreds of
characters. Random calls and windows (hypothesis), read whole and walked by `after`."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrlog.core.ingest import past_detail_retention, prepare_call
from ivrlog.core.model import CallFilter, Erasure, StoredCall
from ivrlog.core.ports import Store
from ivrlog.render.calls import csv_rows
from tests.conftest import BACKENDS
from tests.factories import NOW, entry
from tests.integration.search_helpers import walk

T0 = NOW - 1000
SESSIONS = ["s1", "s2", "s3", "s;4", 's"5', "t,1", "u"]
APPS = ["Bank", 'Say "hi"', "a,b", "line\r\nbreak", "nul\x00"]
HAN = [chr(c) for c in range(0x4E00, 0x9FFF)]
# the last two: a path too long for PostgreSQL's index of the records (storage/records.py),
# which compression does not shorten (1,500 bytes each, random)
MODULES = [
    ("menu", "main"),
    ("say", 'q"uote'),
    ("ask", "a,b"),
    ("xfer", "line\nfeed"),
    *((f"long{n}", "".join(random.Random(n).choices(HAN, k=500))) for n in range(2)),
]
counter = itertools.count()
# the examples share the test's store (a database each backend)
STORE = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# calls a few hours apart, long ended: PostgreSQL keeps whole hours as blocks
# (storage/record_blocks.py), which other hypothesis examples on the same database (a
# detail purge, say) could make unusable: these hours stay the test's own
HOUR = 3600
H0 = (NOW - 3 * 86400) // HOUR * HOUR
AN_HOUR_S_SECOND = st.sampled_from([0, 1, 1800, HOUR - 1])


def before_t0() -> st.SearchStrategy[int]:
    return st.builds(lambda a, b: T0 + a * 100 + b, st.integers(0, 5), st.sampled_from([0, 0, 1]))


def in_hours() -> st.SearchStrategy[int]:
    return st.builds(lambda h, s: H0 + h * HOUR + s, st.integers(0, 3), AN_HOUR_S_SECOND)


@st.composite
def a_call(draw: st.DrawFn, starts: st.SearchStrategy[int] | None = None) -> StoredCall:
    start = draw(before_t0() if starts is None else starts)
    detail = [
        entry(f'Executing application "{draw(st.sampled_from(APPS))}" version "1,2"', "info", start)
    ] * draw(st.integers(0, 1))
    for module in draw(st.lists(st.sampled_from(MODULES), max_size=4)):
        detail.append(entry("went on", draw(st.sampled_from(["event", "error"])), start, *module))
    raw: dict[str, Any] = {
        "session_id": draw(st.sampled_from(SESSIONS)),
        "src": draw(st.sampled_from(["617", "5550001"])),
        "dest": draw(st.sampled_from(["617", "800"])),
        "type": draw(st.sampled_from(["inbound", "outbound", "transfer"])),
        "start": start,
        "end": start + draw(st.integers(0, 90)),
        "private": draw(st.booleans()) and draw(st.booleans()),
        "detail": detail,
    }
    call = prepare_call(raw)
    if draw(st.integers(0, 4)) == 0:  # ingested past detail retention: no detail stored
        call = past_detail_retention(call, NOW)
    return call


@pytest.mark.parametrize("backend", BACKENDS)
@settings(STORE, max_examples=60)
@given(
    # a batch holds a session id once (ingestion refuses it twice)
    batches=st.lists(
        st.lists(a_call(), max_size=6, unique_by=lambda c: c.session_id), min_size=1, max_size=3
    ),
    erased=st.lists(st.sampled_from(SESSIONS), max_size=2),
    purge=st.sampled_from([None, T0 + 150, T0 + 350]),
    late=st.lists(a_call(), max_size=3, unique_by=lambda c: c.session_id),
    windows=st.lists(
        st.tuples(st.integers(-1, 6), st.integers(0, 7), st.integers(-1, 6)), min_size=1
    ),
    sizes=st.lists(st.integers(1, 4), min_size=1),
)
def test_window_records_are_the_csv_of_the_listed_calls(
    store: Store,
    batches: list[list[StoredCall]],
    erased: list[str],
    purge: int | None,
    late: list[StoredCall],
    windows: list[tuple[int, int, int]],
    sizes: list[int],
) -> None:
    account_id = store.create_account(
        f"r{next(counter)}@example.com", "k", f"t{next(counter)}", NOW
    ).id
    other = store.create_account(f"o{next(counter)}@example.com", "k", f"t{next(counter)}", NOW)
    for batch in batches:  # later batches replace calls of earlier ones
        if batch:
            store.put_calls(account_id, batch)
            store.put_calls(other.id, batch[:1])  # another account's calls are not listed
    for session in erased:
        store.erase(account_id, Erasure(session_id=session), "hash", NOW)
    if purge is not None:
        store.delete_details_before(purge, 1000)
    if late:  # written after the purge, with detail before its cutoff
        store.put_calls(account_id, late)
    for low, span, cutoff in windows:
        start = T0 + low * 100
        query = CallFilter(account_id, start, start + span * 100, T0 + cutoff * 100)
        # a cutoff before the purge's: `log` false for the purged detail all the same
        rows = store.search_calls(query, None, 1000)
        found = store.window_records(account_id, start, query.end, query.detail_cutoff, None, 1000)
        assert found.total == len(rows)
        assert found.last == (None if not rows else (rows[-1][4], rows[-1][0]))
        assert found.records == csv_rows(rows, False), query
        assert walk(store, query, sizes) == found.records


@pytest.mark.parametrize("backend", BACKENDS)
@settings(STORE, max_examples=40)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(
                st.just("put"),
                st.lists(a_call(in_hours()), max_size=5, unique_by=lambda c: c.session_id),
            ),
            st.tuples(st.just("erase"), st.sampled_from(SESSIONS)),
            st.tuples(
                st.just("export"),
                st.integers(-1, 4),  # the window's first hour
                st.integers(0, 5),  # its hours
                st.sampled_from([0, 1, 1800]),  # its ends past the hour
                st.integers(-1, 5),  # the detail cutoff's hour
                AN_HOUR_S_SECOND,  # and second
                st.lists(st.integers(1, 5), min_size=1, max_size=3),
            ),
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_window_records_follow_the_calls_from_export_to_export(
    store: Store, steps: list[tuple[Any, ...]]
) -> None:
    """Exports of whole and partial hours between writes and erasures, each read by
    `after` in chunks of random sizes, each the CSV of search_calls' rows then."""
    account_id = store.create_account(
        f"h{next(counter)}@example.com", "k", f"t{next(counter)}", NOW
    ).id
    for step in [*steps, ("export", -1, 6, 0, -1, 0, [2]), ("export", -1, 6, 0, -1, 0, [1000])]:
        if step[0] == "put" and step[1]:
            store.put_calls(account_id, step[1])
        elif step[0] == "erase":
            store.erase(account_id, Erasure(session_id=step[1]), "hash", NOW)
        elif step[0] == "export":
            _, first, hours, past, cutoff, second, sizes = step
            start = H0 + first * HOUR + past
            query = CallFilter(account_id, start, start + hours * HOUR, H0 + cutoff * HOUR + second)
            rows = store.search_calls(query, None, 1000)
            assert walk(store, query, sizes) == csv_rows(rows, False), query
