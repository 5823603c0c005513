"""The SQL of ivrlog's own read API (storage/search_sql.py), without a database: a prefix's
upper bound, the places a batch takes, and the statements of every filter shape built
with the same parameters on both backends (tests/integration runs them)."""

from __future__ import annotations

import itertools
import re

from ivrlog.core.ingest import prepare_call
from ivrlog.core.model import CallFilter, CallKey, NumberMatch
from ivrlog.storage.places import completion_places
from ivrlog.storage.search_sql import (
    POSTGRES_DIALECT,
    SQLITE_DIALECT,
    _next_prefix,
    search,
    walk_search,
    without_nul,
)
from tests.factories import call

SQLITE_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
PSYCOPG_PARAM = re.compile(r"%\(([a-z_][a-z0-9_]*)\)s")


def test_a_prefix_bound_is_the_next_code_point() -> None:
    assert _next_prefix("617") == "618"
    assert _next_prefix("6\U0010fffe") == "6\U0010ffff"
    assert _next_prefix("6\U0010ffff") is None
    assert _next_prefix("") is None
    assert _next_prefix("a\ud7ff") == "a\ue000"  # past the surrogates


def test_a_batch_takes_one_place_a_call_in_order() -> None:
    calls = [prepare_call(call(s)) for s in ("a", "b", "c", "b")]
    assert completion_places(calls, {"c"}) == [
        ("a", "completed", calls[0].start),
        ("c", "replaced", calls[2].start),
        ("b", "replaced", calls[3].start),  # given twice: its last, as a replacement
    ]


def test_without_nul() -> None:
    assert without_nul(None) is None
    assert without_nul("ab") == "ab"
    assert without_nul("a\x00b") == "a\ufffdb"


def test_every_filter_shape_binds_the_same_parameters_on_both_backends() -> None:
    values = {
        "src": NumberMatch("617", True),
        "dest": NumberMatch("\U0010ffff", True),
        "type": "inbound",
        "min_duration": 1,
        "max_duration": 9,
        "app": "Bank",
        "reached": "main",
        "ended_in": "menu:main",
        "has_error": False,
        "words": ("pizza", "1"),
        "session_id": "s",
    }
    shapes = 0
    for size in (0, 1, 2, 11):
        for chosen in itertools.islice(itertools.combinations(sorted(values), size), 30):
            query = CallFilter(1, 0, 10, 0, **{k: values[k] for k in chosen})  # type: ignore[arg-type]
            for after, detail in ((None, False), (CallKey(5, "x"), True)):
                lite, lite_params = search(SQLITE_DIALECT, query, after, 10, detail)
                pg, pg_params = search(POSTGRES_DIALECT, query, after, 10, detail)
                # a word search on SQLite is walked a chunk at a time: search_store binds those
                chunked = {"words_from", "words_to", "chunk"} if query.words else set()
                assert set(SQLITE_PARAM.findall(lite)) <= lite_params.keys() | chunked, lite
                assert set(PSYCOPG_PARAM.findall(pg)) <= pg_params.keys(), pg
                if query.words:  # PostgreSQL walks a word search: search_store binds :chunk
                    walk, rest, walk_params = walk_search(
                        POSTGRES_DIALECT, query, after, 10, detail
                    )
                    assert set(PSYCOPG_PARAM.findall(walk)) <= walk_params.keys() | {"chunk"}
                    assert set(PSYCOPG_PARAM.findall(rest)) <= walk_params.keys()
                # PostgreSQL alone finds ended_in's calls by what their variable may be
                assert lite_params.keys() == pg_params.keys() - {"ended_variables"}
                for name in chosen:
                    assert f":{name}" in lite or name in ("src", "dest", "reached"), name
                shapes += 1
    assert shapes > 50


def test_ended_in_is_found_by_what_its_last_module_s_variable_may_be() -> None:
    def searched(value: str) -> tuple[str, str, dict[str, object]]:
        query = CallFilter(1, 0, 10, 0, ended_in=value)
        lite, _ = search(SQLITE_DIALECT, query, None, 10, False)
        pg, params = search(POSTGRES_DIALECT, query, None, 10, False)
        return lite, pg, params

    # without a colon a value is a result_variable: a key (type:variable) has a colon
    lite, pg, params = searched("card_number")
    assert "ended_variables" not in params
    assert "c.ended_in =" not in lite
    assert "c.ended_in =" not in pg
    assert "c.ended_variable = :ended_in" in lite
    # with one, either; PostgreSQL also narrows to the variables it may end in
    lite, pg, params = searched("menu:a:b")
    assert "OR c.ended_in = :ended_in" in lite
    assert "ANY" not in lite
    assert "OR c.ended_in = %(ended_in)s" in pg
    assert "left(c.ended_variable, 200) = ANY(%(ended_variables)s)" in pg
    assert params["ended_variables"] == ["menu:a:b", "a:b", "b"]
    long = "t:" + "v" * 300
    assert searched(long)[2]["ended_variables"] == [long[:200], "v" * 200]
