"""Store.search_calls on every backend (sqlite, postgresql, memory): the summary a row
carries, each filter of CallFilter, prefixes, durations, modules reached and ended in
(names with `:`, quotes, control characters), search words, keyset paging, detail."""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import psycopg
import pytest

from ivrlog.core.model import CallKey, NumberMatch, StoredCall
from ivrlog.core.ports import Store
from ivrlog.storage import search_store
from tests.factories import NOW, entry
from tests.integration.search_helpers import (
    account_id,
    backend,
    everything,
    found,
    stored,
    visits,
)

__all__ = ["account_id", "backend"]  # fixtures
T0 = NOW - 10_000


def test_a_row_carries_the_calls_summary(store: Store, account_id: int) -> None:
    detail = [
        entry('Executing application "Pizza Line" version "3.1"', timestamp=T0),
        entry("User input 2", "event", T0 + 1, "menu", "choice"),
        entry("transfer failed", "error", T0 + 2, "xfer", "agent"),
    ]
    store.put_calls(account_id, [stored("s1", T0, detail=detail, end=T0 + 40)])
    (row,) = store.search_calls(everything(account_id), None, 10)
    assert row == (
        "s1",
        "6177123000",
        "6177123001",
        "inbound",
        T0,
        T0 + 40,
        1,
        "Pizza Line",
        "3.1",
        '["start:start","menu:choice","xfer:agent"]',
        "xfer:agent",
        1,
        None,
    )


def test_a_call_without_application_or_entries(store: Store, account_id: int) -> None:
    store.put_calls(
        account_id,
        [
            stored("plain", T0, detail=[entry("hello", timestamp=T0)]),
            stored("none", T0 + 1, detail=[]),
        ],
    )
    rows = {r[0]: r for r in store.search_calls(everything(account_id), None, 10)}
    assert rows["plain"][7:12] == (None, None, '["start:start"]', "start:start", 0)
    assert rows["none"][6:12] == (0, None, None, "[]", None, 0)


@pytest.fixture
def several(store: Store, account_id: int) -> None:
    """Four calls that differ in every filtered field."""
    store.put_calls(
        account_id,
        [
            stored(
                "a",
                T0,
                src="6171110000",
                dest="800",
                type="inbound",
                end=T0 + 10,
                detail=[
                    entry('Executing application "Bank"', timestamp=T0),
                    *visits(T0 + 1, ("menu", "main"), ("xfer", "agent"), cls="error"),
                ],
            ),
            stored(
                "b",
                T0 + 100,
                src="6172220000",
                dest="801",
                type="outbound",
                end=T0 + 160,
                detail=visits(T0 + 100, ("menu", "main"), ("hangup", "bye")),
            ),
            stored(
                "c",
                T0 + 200,
                src="5081110000",
                dest="800",
                type="transfer",
                end=T0 + 230,
                detail=[
                    entry('Executing application "Bank" version "2"', timestamp=T0 + 200),
                    *visits(T0 + 201, ("survey", "q1")),
                ],
            ),
            stored("d", T0 + 300, src="617", dest="8000", end=T0 + 300, private=True),
        ],
    )


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["d", "c", "b", "a"]),
        ({"src": NumberMatch("6171110000", False)}, ["a"]),
        ({"src": NumberMatch("617", False)}, ["d"]),
        ({"src": NumberMatch("617", True)}, ["d", "b", "a"]),
        ({"src": NumberMatch("6171", True)}, ["a"]),
        ({"src": NumberMatch("6179", True)}, []),
        ({"dest": NumberMatch("800", False)}, ["c", "a"]),
        ({"dest": NumberMatch("800", True)}, ["d", "c", "a"]),
        ({"dest": NumberMatch("80", True)}, ["d", "c", "b", "a"]),
        ({"type": "outbound"}, ["b"]),
        ({"min_duration": 30}, ["c", "b"]),  # inclusive
        ({"max_duration": 30}, ["d", "c", "a"]),
        ({"min_duration": 10, "max_duration": 10}, ["a"]),
        ({"app": "Bank"}, ["c", "a"]),
        ({"app": "bank"}, []),
        ({"reached": "main"}, ["b", "a"]),
        ({"reached": "menu:main"}, ["b", "a"]),
        ({"reached": "menu"}, []),  # a module type alone is not a module
        ({"reached": "xfer:main"}, []),
        ({"ended_in": "agent"}, ["a"]),
        ({"ended_in": "hangup:bye"}, ["b"]),
        ({"ended_in": "main"}, []),  # reached, but not the last
        ({"has_error": True}, ["a"]),
        ({"has_error": False}, ["d", "c", "b"]),
        ({"session_id": "c"}, ["c"]),
        ({"app": "Bank", "dest": NumberMatch("800", False), "has_error": False}, ["c"]),
    ],
)
def test_each_filter(
    store: Store, account_id: int, several: None, filters: dict[str, object], expected: list[str]
) -> None:
    assert found(store, everything(account_id, **filters)) == expected


def test_the_window_is_half_open(store: Store, account_id: int, several: None) -> None:
    query = everything(account_id)
    window = type(query)(account_id, T0 + 100, T0 + 300, 0)
    assert found(store, window) == ["c", "b"]


def test_a_prefix_matches_exactly_the_numbers_it_begins(store: Store, account_id: int) -> None:
    # U+D7FF is followed by the surrogates, which are no characters; U+10FFFF by nothing
    numbers = ["12", "129", "12\U0010ffff", "12\U0010ffffa", "13", "1", "\ud7ffx", "\ue000"]
    store.put_calls(account_id, [stored(f"n{i}", T0 + i, src=n) for i, n in enumerate(numbers)])
    for prefix in ("1", "12", "12\U0010ffff", "\ud7ff", "129", "2"):
        expected = sorted(
            (f"n{i}" for i, n in enumerate(numbers) if n.startswith(prefix)), reverse=True
        )
        got = found(store, everything(account_id, src=NumberMatch(prefix, True)))
        assert sorted(got, reverse=True) == expected, prefix


STRANGE = ["a:b", 'say "hi"', "it's", "tab\there", "bell\x07", "semi;colon", "é:ü"]


@pytest.mark.parametrize("name", STRANGE)
def test_modules_with_strange_names(store: Store, account_id: int, name: str) -> None:
    store.put_calls(
        account_id,
        [
            stored("strange", T0, detail=visits(T0, ("x:y", name), ("menu", "main"))),
            stored("last", T0 + 1, detail=visits(T0 + 1, ("menu", "main"), ("x:y", name))),
            stored("near", T0 + 2, detail=visits(T0 + 2, ("x", f"y:{name}"))),
        ],
    )
    key = f"x:y:{name}"  # also the key of "near"'s module (x, y:NAME)
    assert found(store, everything(account_id, reached=name)) == ["last", "strange"]
    assert found(store, everything(account_id, reached=key)) == ["near", "last", "strange"]
    assert found(store, everything(account_id, ended_in=name)) == ["last"]
    assert found(store, everything(account_id, ended_in=key)) == ["near", "last"]
    assert found(store, everything(account_id, reached=f"y:{name}")) == ["near"]
    (row,) = store.search_calls(everything(account_id, session_id="last"), None, 10)
    assert orjson.loads(row[9]) == ["menu:main", key]
    assert row[10] == key


def test_words_match_exactly_with_no_folding(store: Store, account_id: int) -> None:
    """A word is matched as core/summary.words made it: letters a Unicode tokenizer folds
    together (the long s and s, e and é) stay apart on every backend."""
    store.put_calls(
        account_id,
        [
            stored("long", T0, detail=[entry("Stra\u017fe caf\u00e9", timestamp=T0)]),
            stored("plain", T0 + 1, detail=[entry("Strase cafe", timestamp=T0 + 1)]),
        ],
    )
    assert found(store, everything(account_id, words=("stra\u017fe",))) == ["long"]
    assert found(store, everything(account_id, words=("strase",))) == ["plain"]
    assert found(store, everything(account_id, words=("caf\u00e9",))) == ["long"]
    assert found(store, everything(account_id, words=("cafe",))) == ["plain"]


def test_words_match_readable_detail_only(store: Store, account_id: int) -> None:
    lines = ("Caller said Pizza please", "Order taken for delivery")
    private_entry = {**entry("secret pineapple", timestamp=T0 + 5), "private": True}
    store.put_calls(
        account_id,
        [
            stored("new", T0, detail=visits(T0, ("a", "b"), ("c", "d"), lines=lines)),
            stored("old", T0 - 5000, detail=visits(T0 - 5000, ("a", "b"), ("c", "d"), lines=lines)),
            stored("priv", T0 + 1, private=True, detail=visits(T0 + 1, ("a", "b"), lines=lines)),
            stored(
                "part", T0 + 2, detail=[entry("pizza margherita", timestamp=T0 + 2), private_entry]
            ),
        ],
    )

    def words(*w: str, cutoff: int = 0) -> list[str]:
        query = everything(account_id, words=w)
        return found(store, type(query)(account_id, 0, NOW + 1, cutoff, words=w))

    assert words("pizza") == ["part", "new", "old"]  # any case, any entry
    assert words("pizza", "delivery") == ["new", "old"]  # every word
    assert words("pizza", "nothing") == []
    assert words("piz") == []  # whole words
    assert words("margherita") == ["part"]
    assert words("pineapple") == []  # a private entry's words are never indexed
    assert words("secret") == []
    assert words("pizza", cutoff=T0 - 4000) == ["part", "new"]  # detail past retention
    # the purge deletes old detail: its words go with it
    store.delete_details_before(T0 - 4000, 100)
    assert words("pizza") == ["part", "new"]
    # a replacement replaces the words
    store.put_calls(account_id, [stored("new", T0, detail=[entry("calzone", timestamp=T0)])])
    assert words("pizza") == ["part"]
    assert words("calzone") == ["new"]


def test_keyset_after(store: Store, account_id: int) -> None:
    calls = [stored(f"s{i}", T0 + i // 3) for i in range(9)]  # ties on start
    store.put_calls(account_id, calls)
    order = found(store, everything(account_id))
    assert order == ["s8", "s7", "s6", "s5", "s4", "s3", "s2", "s1", "s0"]
    seen: list[str] = []
    after: CallKey | None = None
    while page := store.search_calls(everything(account_id), after, 2):
        seen += [row[0] for row in page]
        after = CallKey(page[-1][4], page[-1][0])
    assert seen == order
    assert found(store, everything(account_id)) == order
    rows = store.search_calls(everything(account_id), CallKey(T0 + 1, "s4"), 10)
    assert [r[0] for r in rows] == ["s3", "s2", "s1", "s0"]


def test_detail_is_the_readable_calls_entries(store: Store, account_id: int) -> None:
    detail = visits(T0, ("a", "b"), lines=("hello there",))
    store.put_calls(
        account_id,
        [
            stored("yes", T0, detail=detail),
            stored("old", T0 - 5000, detail=detail),
            stored("priv", T0 + 1, private=True),
        ],
    )
    query = everything(account_id)
    cut = type(query)(account_id, 0, NOW + 1, T0 - 4000)
    rows = {r[0]: r for r in store.search_calls(cut, None, 10, detail=True)}
    assert orjson.loads(rows["yes"][12] or "null") == detail
    assert (rows["yes"][6], rows["old"][6], rows["priv"][6]) == (1, 0, 0)
    assert rows["old"][12] is None
    assert rows["priv"][12] is None
    assert all(r[12] is None for r in store.search_calls(cut, None, 10))


def test_accounts_are_apart(store: Store, account_id: int) -> None:
    other = store.create_account("b@example.com", "k2", "t2", NOW).id
    store.put_calls(other, [stored("theirs", T0, detail=visits(T0, ("a", "b"), lines=("x",)))])
    assert found(store, everything(account_id)) == []
    assert found(store, everything(account_id, words=("x",))) == []


def test_a_value_no_stored_text_can_hold_matches_nothing(store: Store, account_id: int) -> None:
    store.put_calls(account_id, [stored("a", T0)])
    for filters in ({"app": "a\x00"}, {"src": NumberMatch("6\x00", True)}, {"words": ("a\x00",)}):
        assert found(store, everything(account_id, **filters)) == []


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_keeps_exactly_the_words_tsvector(
    store: Store, account_id: int, db_url: str
) -> None:
    """COPY writes the words in tsvector's binary form: the very value that
    array_to_tsvector(string_to_array(words, ' ')) makes, lexemes unparsed, unstemmed."""
    line = "Zebra ärger running ran the 42 a1b2 über"
    call = stored("w", T0, detail=[entry(line, timestamp=T0)])
    store.put_calls(account_id, [call])
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT words = array_to_tsvector(string_to_array(%s, ' ')), words::text"
            " FROM call_details",
            (call.summary.words,),
        ).fetchone()
    assert row is not None
    assert row[0], row[1]
    assert "'running'" in row[1]
    assert "'ärger'" in row[1]


def test_names_holding_nul(store: Store, account_id: int, backend: str) -> None:
    """Application and module names may hold NUL (free-form data): such a call is stored
    and found on every backend; PostgreSQL, whose text cannot hold NUL, shows it as
    U+FFFD in `app` and `ended_in` (the path, JSON text, keeps it escaped)."""
    detail = [
        entry('Executing application "A\x00B"', timestamp=T0),
        *visits(T0 + 1, ("m\x00", "r\x00x")),
    ]
    store.put_calls(account_id, [stored("nul", T0, detail=detail), stored("plain", T0 + 1)])
    for filters in (
        {"reached": "r\x00x"},
        {"reached": "m\x00:r\x00x"},
        {"ended_in": "r\x00x"},
        {"app": "A\x00B"},
    ):
        assert found(store, everything(account_id, **filters)) == ["nul"], filters
    (row,) = store.search_calls(everything(account_id, session_id="nul"), None, 10)
    assert orjson.loads(row[9]) == ["start:start", "m\x00:r\x00x"]
    shown = "\ufffd" if backend == "postgresql" else "\x00"
    assert (row[7], row[10]) == (f"A{shown}B", f"m{shown}:r{shown}x")


@pytest.mark.parametrize("budget", [0, 1_000])
def test_a_word_search_pages_alike_however_it_reads_the_index(
    store: Store, account_id: int, budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word search read newest first by chunks (SQLite's index; PostgreSQL walking the
    newest calls) or, past the walk's budget, by the word index: the same calls, in the
    same order, page after page, with ties on start and other filters."""
    monkeypatch.setattr(search_store, "WALK_BUDGET", budget)
    calls = []
    for i in range(40):
        line = "pizza order" if i % 7 == 0 else "pasta order"
        app = "Bank" if i % 2 else "Shop"
        detail = [entry(f'Executing application "{app}"', timestamp=T0 + i), entry(line)]
        dest = f"6177123{i % 3}"
        calls.append(stored(f"s{i:02}", T0 + i // 4, detail=detail, end=T0 + i, dest=dest))
    store.put_calls(account_id, calls)
    newest = range(39, -1, -1)
    for filters, expected in (
        ({"words": ("pizza",)}, [f"s{i:02}" for i in newest if i % 7 == 0]),
        ({"words": ("order",), "app": "Bank"}, [f"s{i:02}" for i in newest if i % 2]),
        ({"words": ("pizza", "order"), "app": "Shop"}, ["s28", "s14", "s00"]),
        # filters SQLite's index has a mark of (a number), and has none of
        (
            {"words": ("order",), "dest": NumberMatch("61771232", False)},
            [f"s{i:02}" for i in newest if i % 3 == 2],
        ),
        (
            {"words": ("pizza",), "dest": NumberMatch("6177123", True)},
            [f"s{i:02}" for i in newest if i % 7 == 0],
        ),
        ({"words": ("pizza",), "dest": NumberMatch("61771231", True)}, ["s28", "s07"]),
        ({"words": ("order",), "max_duration": 0}, ["s00"]),
        ({"words": ("pasta",), "session_id": "s01"}, ["s01"]),
    ):
        query = everything(account_id, **filters)
        assert found(store, query) == expected
        for size in (1, 2, 3):
            seen: list[str] = []
            after: CallKey | None = None
            while page := store.search_calls(query, after, size):
                seen += [row[0] for row in page]
                after = CallKey(page[-1][4], page[-1][0])
            assert seen == expected, (filters, size)


class _WritesAfterFirstRead:
    """A connection whose first statement is followed by a write from elsewhere."""

    def __init__(self, conn: Any, write: Callable[[], None]) -> None:
        self._conn = conn
        self._write: Callable[[], None] | None = write

    def execute(self, *args: Any) -> Any:
        rows = self._conn.execute(*args).fetchall()
        write = self._write
        if write is not None:
            self._write = None
            write()
        return types.SimpleNamespace(fetchall=lambda: rows)


def _write_during_search(
    store: Store, monkeypatch: pytest.MonkeyPatch, write: Callable[[], None]
) -> None:
    real = store._snapshot  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def snapshot() -> Iterator[Any]:
        with real() as conn:
            yield _WritesAfterFirstRead(conn, write)

    monkeypatch.setattr(store, "_snapshot", snapshot)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_word_search_is_one_snapshot_of_calls_written_meanwhile(
    store: Store, account_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word search that reads in several statements reads them in one snapshot: a call
    written between two of them is neither passed over (SQLite: a call sent again takes a
    new place, above the chunks already read) nor listed twice (PostgreSQL: sent again
    with an older start, below the calls already walked)."""

    def order(session: str, start: int = T0, line: str = "order taken") -> StoredCall:
        return stored(session, start, detail=[entry(line, timestamp=start)])

    # s4 takes the lowest place of the second: the last a chunk reaches
    store.put_calls(account_id, [order(f"s{i}") for i in range(4, -1, -1)])
    query = everything(account_id, words=("order",))
    _write_during_search(
        store, monkeypatch, lambda: store.put_calls(account_id, [order("s4", line="order again")])
    )
    assert [row[0] for row in store.search_calls(query, None, 2)] == ["s4", "s3"]
    monkeypatch.undo()

    other = store.create_account("b@example.com", "k2", "t2", NOW).id
    lines = {0: "order", 9: "order"}
    store.put_calls(other, [order(f"t{i}", line=lines.get(i, "pasta")) for i in range(10)])
    query = everything(other, words=("order",))
    _write_during_search(store, monkeypatch, lambda: store.put_calls(other, [order("t9", T0 - 10)]))
    assert [row[0] for row in store.search_calls(query, None, 3)] == ["t9", "t0"]
    monkeypatch.undo()
    store.put_calls(other, [order("t9", T0 - 10)])  # (again, where one statement answered)
    assert [row[0] for row in store.search_calls(query, None, 3)] == ["t0", "t9"]
