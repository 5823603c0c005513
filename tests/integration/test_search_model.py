"""search_calls on the SQL stores against its meaning in plain Python
(tests/search_model.py): random calls (entries of a small vocabulary of modules, words,
classes and private flags; numbers sharing prefixes; detail past retention or none) and
random filter combinations list exactly the calls `matches` keeps, newest first, as
`summary_row` shows them; and walking them with `after` in pages of random sizes gives
the same list. Each example writes to an account of its own on one database."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrlog.core.ingest import past_detail_retention, prepare_call
from ivrlog.core.model import CallFilter, CallKey, NumberMatch, StoredCall
from ivrlog.core.ports import Store
from tests.conftest import BACKENDS
from tests.factories import NOW, entry
from tests.search_model import matches, summary_row

T0 = NOW - 1000
MODULES = [
    ("menu", "main"),
    ("menu", "a:b"),
    ("menu:a", "b"),
    ("xfer", "agent"),
    ("say", 'q"uote'),
    ("ctl", "tab\tbell\x07"),
]
LINES = [
    'Executing application "Bank" version "2"',
    'Executing application "Shop"',
    "User input 1",
    "Pizza delivery",
    "pizza Margherita",
    "the caller hung up",
    "Ärger über 3 Pizzen",
    # letters a Unicode tokenizer folds together (the long s and s): the words are
    # matched exactly on every backend
    "Stra\u017fe strase",
]
WORDS = [
    "pizza",
    "delivery",
    "margherita",
    "input",
    "1",
    "ärger",
    "über",
    "hung",
    "nothing",
    "stra\u017fe",
    "strase",
]
NUMBERS = ["617", "6171", "61712", "6172", "5", "55"]
NAMES = ["main", "a:b", "menu:a:b", "b", "agent", "xfer:agent", 'q"uote', "tab\tbell\x07", "menu"]
counter = itertools.count()

entries = st.lists(
    st.builds(
        lambda m, line, cls, private, dt: {
            **entry(line, cls, T0 + dt, *m),
            **({"private": True} if private else {}),
        },
        st.sampled_from(MODULES),
        st.sampled_from(LINES),
        st.sampled_from(["info", "event", "error", "debug"]),
        st.booleans(),
        st.integers(0, 20),
    ),
    max_size=6,
)


@st.composite
def calls(draw: st.DrawFn) -> list[StoredCall]:
    made: dict[str, StoredCall] = {}
    for _ in range(draw(st.integers(0, 16))):
        session = draw(st.sampled_from(["s1", "s2", "s3", "s;4", "s5", "t1", "t2", "u", "v", "w"]))
        start = T0 + draw(st.integers(0, 6)) * 100
        raw: dict[str, Any] = {
            "session_id": session,
            "src": draw(st.sampled_from(NUMBERS)),
            "dest": draw(st.sampled_from(NUMBERS)),
            "type": draw(st.sampled_from(["inbound", "outbound", "transfer"])),
            "start": start,
            "end": start + draw(st.integers(0, 60)),
            "private": draw(st.booleans()) and draw(st.booleans()),
            "detail": draw(entries),
        }
        call = prepare_call(raw)
        if draw(st.integers(0, 4)) == 0:  # ingested past detail retention: no detail stored
            call = past_detail_retention(call, NOW)
        made[session] = call
    return list(made.values())


NUMBER = st.builds(NumberMatch, st.sampled_from(NUMBERS), st.booleans())
# the values of each optional filter; an example sets a few of them (all of them at once
# would match nothing)
OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "src": NUMBER,
    "dest": NUMBER,
    "type": st.sampled_from(["inbound", "outbound"]),
    "min_duration": st.integers(0, 60),
    "max_duration": st.integers(0, 60),
    "app": st.sampled_from(["Bank", "Shop", "bank"]),
    "reached": st.sampled_from(NAMES),
    "ended_in": st.sampled_from(NAMES),
    "has_error": st.booleans(),
    "words": st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True).map(tuple),
    "session_id": st.sampled_from(["s1", "s;4", "x"]),
}


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONAL)), max_size=2, unique=True))
    return {
        "start": T0 + draw(st.sampled_from([-1, -1, -1, 1, 3, 5])) * 100,
        "detail_cutoff": T0 + draw(st.integers(-1, 4)) * 100,
        **{name: draw(OPTIONAL[name]) for name in chosen},
    }


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stored=calls(),
    searches=st.lists(
        st.tuples(filters(), st.sampled_from([8, 8, 8, 2, 4, 6]), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    sizes=st.lists(st.integers(1, 4), min_size=1),
)
def test_search_calls_is_the_model(
    store: Store,
    stored: list[StoredCall],
    searches: list[tuple[dict[str, Any], int, bool]],
    sizes: list[int],
) -> None:
    account_id = store.create_account(
        f"m{next(counter)}@example.com", "k", f"t{next(counter)}", NOW
    ).id
    if stored:
        store.put_calls(account_id, stored)
    for chosen, end, detail in searches:
        query = CallFilter(account_id, end=max(chosen["start"], T0 + end * 100), **chosen)
        expected = [
            summary_row(c, query.detail_cutoff, detail)
            for c in sorted(
                (c for c in stored if matches(query, c)),
                key=lambda c: (c.start, c.session_id),
                reverse=True,
            )
        ]
        assert store.search_calls(query, None, 1000, detail=detail) == expected, query
        walked: list[Any] = []
        after: CallKey | None = None
        for size in itertools.cycle(sizes):
            page = store.search_calls(query, after, size, detail=detail)
            walked += page
            if len(page) < size or len(walked) > len(expected):
                break
            after = CallKey(page[-1][4], page[-1][0])
        assert walked == expected, query
