"""Names have no bound: an application or a module named with thousands of characters
that compression cannot shorten (more than an index entry of PostgreSQL holds, 2,704
bytes) is stored on every backend, found by `app`, `reached` and `ended_in`, listed as
it is, and exported; a name sharing its first 200 characters with it, or made of them
alone, is another name (PostgreSQL's indexes hold the first 200)."""

from __future__ import annotations

import random

from ivrlog.core.model import CallFilter, StoredCall
from ivrlog.core.ports import Store
from ivrlog.render.calls import csv_rows
from tests.factories import NOW, entry
from tests.integration.search_helpers import account_id, backend, everything, found, stored

__all__ = ["account_id", "backend"]  # fixtures

HAN = [chr(c) for c in range(0x4E00, 0x9FFF)]
LONG = "".join(random.Random(15).choices(HAN, k=1500))  # 4,500 bytes in UTF-8
OTHER = LONG[:200] + "x"  # the same first 200 characters
EXACT = LONG[:200]  # those characters alone
START = NOW - 3600


def _call(session: str, name: str) -> StoredCall:
    detail = [
        entry(f'Executing application "{name}" version "1"', timestamp=START),
        entry("went on", "event", START + 1, "menu", name),
    ]
    return stored(session, START, detail=detail)


def test_a_name_longer_than_an_index_entry_is_stored_and_found(
    store: Store, account_id: int
) -> None:
    calls = [_call("long", LONG), _call("other", OTHER), _call("exact", EXACT)]
    store.put_calls(account_id, calls)
    for name, sessions in ((LONG, ["long"]), (OTHER, ["other"]), (EXACT, ["exact"])):
        assert found(store, everything(account_id, app=name)) == sessions
        assert found(store, everything(account_id, ended_in=name)) == sessions
        assert found(store, everything(account_id, ended_in=f"menu:{name}")) == sessions
        assert found(store, everything(account_id, reached=name)) == sessions
    for name in (LONG[:199], LONG[:201], LONG + "x"):
        assert found(store, everything(account_id, app=name)) == []
        assert found(store, everything(account_id, ended_in=name)) == []
    rows = store.search_calls(everything(account_id, app=LONG), None, 10)
    assert (rows[0][7], rows[0][10]) == (LONG, f"menu:{LONG}")
    window = CallFilter(account_id, 0, NOW + 1, 0)
    records = store.window_records(account_id, 0, NOW + 1, 0, None, 10)
    assert records.records == csv_rows(store.search_calls(window, None, 10), False)
    assert LONG.encode() in records.records
