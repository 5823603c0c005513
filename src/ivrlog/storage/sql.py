"""SQL and row handling shared by the two storage adapters (sqlite.py, postgres.py).

Queries here are written once with named parameters; `mark` says how a backend writes
one (SQLite ":{}", psycopg "%({})s")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ivrlog.core.model import DetailFormat

HOUR = 3600


def window_total_sql(by_number: bool, mark: str) -> str:
    """The query of a window's total_calls on either backend (`mark` writes a named
    parameter: ":{}" or "%({})s"): its whole hours summed from the hourly counts
    (migration 3), and the calls of its partial hours at the edges counted one by one, so
    that the cost follows the window's length and not the calls in it
    (docs/performance.md, B4). Its parameters: those of window_total_params() and
    `account`, `start`, `end` and, by number, `number`."""

    def p(name: str) -> str:
        return mark.format(name)

    if by_number:
        hours = f"number_hours WHERE account_id = {p('account')} AND dest = {p('number')}"
        calls = f"calls WHERE account_id = {p('account')} AND dest = {p('number')}"
    else:
        hours = f"account_hours WHERE account_id = {p('account')}"
        calls = f"calls WHERE account_id = {p('account')}"
    return (
        f"SELECT CAST(coalesce(sum(calls), 0) AS BIGINT) FROM {hours}"
        f" AND hour >= {p('first_hour')} AND hour < {p('last_hour')}"
        f" UNION ALL SELECT count(*) FROM {calls}"
        f" AND start >= {p('start')} AND start < {p('edge_start')}"
        f" UNION ALL SELECT count(*) FROM {calls}"
        f" AND start >= {p('edge_end')} AND start < {p('end')}"
    )


def window_total_params(start: int, end: int) -> dict[str, int]:
    """The whole hours of [start, end), [first_hour, last_hour), and the edges counted
    call by call, [start, edge_start) and [edge_end, end)."""
    first, last = -(-start // HOUR), end // HOUR
    if first >= last:  # no whole hour: every call is counted
        return {"first_hour": 0, "last_hour": 0, "edge_start": end, "edge_end": end}
    return {
        "first_hour": first,
        "last_hour": last,
        "edge_start": first * HOUR,
        "edge_end": last * HOUR,
    }


def window_total(conn: Any, params: dict[str, Any], mark: str) -> int:
    """A page's total_calls, read on `conn` (an sqlite3 or psycopg connection) with the
    page's own parameters: `account`, `start`, `end` and `number` (None for every number)."""
    query = window_total_sql(params["number"] is not None, mark)
    parts = conn.execute(query, {**params, **window_total_params(params["start"], params["end"])})
    return sum(part for (part,) in parts)


def joined_entries(parts: Sequence[str], fmt: DetailFormat) -> str | None:
    """A call in progress's detail fragment from its entries' fragments (None if none)."""
    if not parts:
        return None
    return "[" + ",".join(parts) + "]" if fmt == "json" else "".join(parts)
