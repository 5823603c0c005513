"""The statements both storage adapters share are written once (storage/sql.py) and
built per backend: the same statement, with the same named parameters, in each style."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from ivrlog.storage.sql import POSTGRES, SQLITE, Statements, postgres_style

SQLITE_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
PSYCOPG_PARAM = re.compile(r"%\(([a-z_][a-z0-9_]*)\)s")


def statements(built: Statements) -> Iterator[tuple[str, str]]:
    """(name, SQL) of every statement, those kept in a dict or a tuple included."""
    for name, value in sorted(vars(built).items()):
        if isinstance(value, dict):
            items: Iterable[tuple[Any, str]] = value.items()
        elif isinstance(value, tuple):
            items = enumerate(value)
        else:
            items = [("", value)]
        for key, query in items:
            yield f"{name}[{key}]", query


def test_postgres_style_turns_named_parameters_and_leaves_casts_and_percents() -> None:
    assert postgres_style("SELECT :a::bigint, x % 2 FROM t WHERE b = :b_2") == (
        "SELECT %(a)s::bigint, x %% 2 FROM t WHERE b = %(b_2)s"
    )


def test_each_statement_takes_the_same_parameters_on_both_backends() -> None:
    sqlite, postgres = dict(statements(SQLITE)), dict(statements(POSTGRES))
    assert sqlite.keys() == postgres.keys()
    assert len(sqlite) > 20
    for name, query in sqlite.items():
        assert "%(" not in query, name
        assert not SQLITE_PARAM.findall(postgres[name]), name
        assert SQLITE_PARAM.findall(query) == PSYCOPG_PARAM.findall(postgres[name]), name


def test_the_backends_differ_only_where_their_sql_must() -> None:
    sqlite, postgres = dict(statements(SQLITE)), dict(statements(POSTGRES))
    differing = {
        name for name, query in sqlite.items() if PSYCOPG_PARAM.sub(r":\1", postgres[name]) != query
    }
    assert differing == {
        "completed_detail[json]",  # call_details is partitioned by the call's start too
        "completed_detail[xml]",
        "open_call[]",  # FOR UPDATE
        "delete_keys[]",  # rowid or ctid
        "count_expired[]",  # entry_count or call_details
    }
