"""The SQL of ivrlog's own read API (search_calls, changes, erase), written once for both
adapters: a Dialect says the few things each database does its own way, and a search's
statement is built from which filters are set (every value is a bound parameter, never
text in the SQL), once per shape and backend (an lru_cache).

Numbers with a prefix are a range of the column, `[prefix, prefix with its last
character's next code point)`: both databases compare these columns in code point order
(SQLite BINARY, PostgreSQL COLLATE "C" over UTF-8), where that range holds exactly the
strings that start with the prefix, and an index on the number can read it; a prefix
ending in the last code point, which has no next one, is tested character by character.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ivrlog.core.model import CallFilter, CallKey, CallSummary, StoredCall
from ivrlog.core.summary import module_needle, modules_text, path_json
from ivrlog.storage import sqlite_words
from ivrlog.storage.migration_7 import WORDS_SLOT
from ivrlog.storage.sql import postgres_style

SUMMARY_COLUMNS: Final = (
    "app, app_version, path, modules, ended_in, ended_variable, has_error, inputs"
)


def same(value: str | None) -> str | None:
    return value


def without_nul(value: str | None) -> str | None:
    """A name as PostgreSQL keeps it in a text column, which cannot hold NUL: each NUL
    as U+FFFD (an application or module name holding NUL; the path and the detail,
    JSON text, keep it escaped)."""
    return value if value is None or "\x00" not in value else value.replace("\x00", "\ufffd")


def summary_values(
    s: CallSummary, name: Callable[[str | None], str | None] = same
) -> tuple[Any, ...]:
    """A call's summary columns, in the order of SUMMARY_COLUMNS; `name` is how the
    backend keeps the application's and the last module's names."""
    ended = s.ended_in
    return (
        name(s.app),
        name(s.app_version),
        path_json(s),
        modules_text(s),
        None if ended is None else name(ended.key),
        None if ended is None else name(ended.result_variable),
        s.has_error,
        s.inputs,
    )


def indexed_words(call: StoredCall) -> str | None:
    """The words a call's search index row holds: None when it has none, or no stored
    detail (a private call, detail past retention)."""
    return call.summary.words or None if call.detail_json is not None else None


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the backends in these statements.

    `named` writes a `:name` parameter the backend's way; `log` is the expression of a
    row's `log` (0 or 1); `detail_join` joins a call's stored detail as `d` (always on
    PostgreSQL, which decides `log` by it); `has_error` reads the column as 0 or 1;
    `words` matches the search words against :words (its `match_text`) and is readable;
    `word_match` is its part that reads `d` (PostgreSQL: a walked search joins it);
    `name_prefix`: the characters of `app` and `ended_variable` the indexes hold
    (PostgreSQL: the first 200, migration 8; None: the whole name);
    `contains` finds :reached in `modules`; `starts` tests a prefix character by
    character; `prefix_range` says whether a prefix is also read as a range of the
    number (which lets the planner take the number's index); `ordered_words` says that
    a word search reads an index of words in newest-first order, a chunk at a time
    (SQLite, migration 7; `words` then tests the word's places as a set, for the rest of a
    search whose other filters take few of its calls); without it, a word search walks
    the newest-first index of calls, a chunk at a time, each call's words tested
    (walk_search), and `words` is the word index's own test, for a rare word."""

    name: str
    log: str
    detail_join: str
    always_join: bool
    has_error: str
    words: str
    word_match: str
    name_prefix: int | None
    contains: str
    starts: str
    prefix_range: bool
    ordered_words: bool


@dataclass(frozen=True, slots=True)
class Shape:
    """Which filters of a search are set: one statement per shape."""

    src: str  # "" (not set), "=" (equal), "^" (prefix with an upper bound), "^^" (without)
    dest: str
    type: bool
    min_duration: bool
    max_duration: bool
    app: bool
    reached: bool
    ended_in: bool
    has_error: bool
    words: bool
    session_id: bool
    after: bool
    detail: bool
    walk: bool = False  # the words tested on a chunk of the newest calls (walk_search)
    long_names: bool = False  # `app` or `ended_in` of Dialect.name_prefix characters or more
    ended_key: bool = False  # `ended_in` holds a colon: it may be a module_type:result_variable


def _next_prefix(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (None when
    its last character has no next code point, or it is empty)."""
    if not prefix or prefix[-1] == "\U0010ffff":
        return None
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters: skip them
        following = 0xE000
    return prefix[:-1] + chr(following)


def columns(dialect: Dialect, detail: bool) -> str:
    """The columns of a SummaryRow (core/model.py) of `c` (and `d`)."""
    fragment = f"CASE WHEN {dialect.log} THEN d.json END" if detail else "NULL"
    return (
        'c.session_id, c.src, c.dest, c.type, c.start, c."end",'
        f" CAST({dialect.log} AS INTEGER), c.app, c.app_version, c.path, c.ended_in,"
        f" {dialect.has_error}, {fragment}"
    )


def _same_name(dialect: Dialect, column: str, name: str, long: bool) -> str:
    """`c.column` equals :name, tested as the backend's index of it can serve: its first
    Dialect.name_prefix characters, which are the whole name when :name is shorter (a
    statement that says so once, so that the planner counts the matches right)."""
    prefix = dialect.name_prefix
    if prefix is None:
        return f"c.{column} = :{name}"
    if not long:
        return f"left(c.{column}, {prefix}) = :{name}"
    return f"left(c.{column}, {prefix}) = left(:{name}, {prefix}) AND c.{column} = :{name}"


@functools.lru_cache(maxsize=512)
def search_sql(dialect: Dialect, shape: Shape) -> str:
    """The statement of a search of this shape on this backend."""
    where = ["c.account_id = :account", "c.start >= :start", "c.start < :end"]
    for name, how in (("src", shape.src), ("dest", shape.dest)):
        if how == "=":
            where.append(f"c.{name} = :{name}")
        elif how and not dialect.prefix_range:
            # PostgreSQL's planner takes a prefix's range to the (account, src) index and
            # sorts every call of the prefix (0.06 of the unfiltered page for 617*, B6);
            # walking the newest-first index and testing each call reads far fewer rows
            # for the prefixes people ask for (an area code, a country)
            where.append(dialect.starts.format(f"c.{name}", name))
        elif how:
            where.append(f"c.{name} >= :{name}")
            where.append(
                f"c.{name} < :{name}_end"
                if how == "^"
                else dialect.starts.format(f"c.{name}", name)
            )
    if shape.type:
        where.append("c.type = :type")
    if shape.min_duration:
        where.append('c."end" - c.start >= :min_duration')
    if shape.max_duration:
        where.append('c."end" - c.start <= :max_duration')
    if shape.app:
        where.append(_same_name(dialect, "app", "app", shape.long_names))
    if shape.reached:
        where.append(dialect.contains)
    if shape.ended_in:
        # a module's key (module_type:result_variable) always holds a colon: a value without
        # one is a result_variable, which the index of ended_variable finds in order
        ended = _same_name(dialect, "ended_variable", "ended_in", shape.long_names)
        if shape.ended_key:
            ended = f"({ended} OR c.ended_in = :ended_in)"
        if shape.ended_key and dialect.name_prefix is not None:
            # the result_variable is the value or what follows one of its colons: the index
            # finds a rare one's calls (SQLite's planner has no statistics to weigh it)
            any_end = f"left(c.ended_variable, {dialect.name_prefix}) = ANY(:ended_variables)"
            ended = f"{any_end} AND {ended}"
        where.append(ended)
    if shape.has_error:
        where.append("c.has_error = :has_error")
    if shape.words:  # a chunk tests the words itself (the index it reads, or a join)
        where.append("c.start >= :cutoff" if shape.walk else dialect.words)
    if shape.session_id:
        where.append("c.session_id = :session_id")
    if shape.after:
        where.append(
            "(c.start < :after_start OR (c.start = :after_start AND c.session_id < :after_session))"
        )
    if shape.walk and dialect.ordered_words:
        return _newest_words_sql(dialect, shape, where)
    if shape.walk:
        return _walk_words_sql(dialect, shape, where)
    joined = dialect.always_join or shape.detail
    return dialect_named(dialect)(
        f"SELECT {columns(dialect, shape.detail)} FROM calls c"
        + (f" LEFT JOIN call_details d ON {dialect.detail_join}" if joined else "")
        + " WHERE "
        + " AND ".join(where)
        + " ORDER BY c.start DESC, c.session_id DESC LIMIT :limit"
    )


def _newest_words_sql(dialect: Dialect, shape: Shape, where: list[str]) -> str:
    """A chunk of a word search on an index read newest first (Dialect.ordered_words):
    the index's next :chunk calls with every word whose places are in [:words_from,
    :words_to), each as (place, SummaryRow columns), the columns NULL for a call that
    fails another filter (search_store goes on below the least place read)."""
    detail = " LEFT JOIN call_details d ON d.call_id = c.id" if shape.detail else ""
    return (
        f"SELECT w.rowid, {columns(dialect, shape.detail)} FROM (SELECT rowid, call_id"
        " FROM call_words WHERE call_words MATCH :words AND rowid >= :words_from"
        " AND rowid < :words_to ORDER BY rowid DESC LIMIT :chunk) w"
        f" LEFT JOIN calls c ON c.id = w.call_id AND {' AND '.join(where)}{detail}"
    )


def _walk_words_sql(dialect: Dialect, shape: Shape, where: list[str]) -> str:
    """A chunk of a walked word search: the next :chunk calls, newest first, after
    (:after_start, :after_session), that pass every filter but the words, each as
    (whether its words match, SummaryRow columns). The planner reads them along the
    newest-first index and probes each one's detail (a partition found at run time)."""
    return dialect_named(dialect)(
        f"SELECT d.call_id IS NOT NULL, {columns(dialect, shape.detail)} FROM"
        f" (SELECT * FROM calls c WHERE {' AND '.join(where)}"
        " ORDER BY c.start DESC, c.session_id DESC LIMIT :chunk) c"
        f" LEFT JOIN call_details d ON {dialect.detail_join} AND {dialect.word_match}"
        " ORDER BY c.start DESC, c.session_id DESC"
    )


def search(
    dialect: Dialect, query: CallFilter, after: CallKey | None, limit: int, detail: bool
) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of a search."""
    shape, params = _prepared(dialect, query, after, limit, detail)
    return search_sql(dialect, shape), params


def walk_search(
    dialect: Dialect, query: CallFilter, after: CallKey | None, limit: int, detail: bool
) -> tuple[str, str, dict[str, Any]]:
    """A word search read a chunk at a time (search_store): the statement of a chunk
    (_newest_words_sql on SQLite, _walk_words_sql on PostgreSQL), the statement of the
    rest (Dialect.words: the calls' own indexes, the words tested as a set), and their
    parameters, the cursor (:after_start, :after_session) set to `after` or to the
    window's end."""
    shape, params = _prepared(dialect, query, after, limit, detail)
    if after is None:
        params["after_start"], params["after_session"] = query.end, ""
    walked = dataclasses.replace(shape, after=True)
    return (
        search_sql(dialect, dataclasses.replace(walked, walk=True)),
        search_sql(dialect, walked),
        params,
    )


def _prepared(
    dialect: Dialect, query: CallFilter, after: CallKey | None, limit: int, detail: bool
) -> tuple[Shape, dict[str, Any]]:
    params: dict[str, Any] = {
        "account": query.account_id,
        "start": query.start,
        "end": query.end,
        "cutoff": query.detail_cutoff,
        "limit": limit,
    }
    numbers = {}
    for name, match in (("src", query.src), ("dest", query.dest)):
        if match is None:
            numbers[name] = ""
            continue
        params[name] = match.value
        if not match.prefix:
            numbers[name] = "="
            continue
        bound = _next_prefix(match.value)
        numbers[name] = "^^" if bound is None else "^"
        params[f"{name}_end"] = bound
    optional = {
        "type": query.type,
        "min_duration": query.min_duration,
        "max_duration": query.max_duration,
        "app": query.app,
        "ended_in": query.ended_in,
        "has_error": query.has_error,
        "session_id": query.session_id,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    if query.ended_in and ":" in query.ended_in and dialect.name_prefix is not None:
        ends = [query.ended_in.split(":", n)[-1] for n in range(query.ended_in.count(":") + 1)]
        params["ended_variables"] = [end[: dialect.name_prefix] for end in ends]
    if query.reached is not None:
        params["reached"] = module_needle(query.reached)
    if query.words:
        params["words"] = match_text(dialect, query)
        # SQLite: the places of the window's calls whose detail is readable
        params["words_from"] = max(query.start, query.detail_cutoff) * WORDS_SLOT
        params["words_to"] = query.end * WORDS_SLOT
    if after is not None:
        params["after_start"], params["after_session"] = after
        # the window ends at the cursor: the index range starts where it points, so a
        # deep page reads no row of the pages before it
        params["end"] = min(query.end, after.start + 1)
    shape = Shape(
        src=numbers["src"],
        dest=numbers["dest"],
        after=after is not None,
        detail=detail,
        reached=query.reached is not None,
        words=bool(query.words),
        **{k: v is not None for k, v in optional.items()},
        long_names=dialect.name_prefix is not None
        and any(len(v or "") >= dialect.name_prefix for v in (query.app, query.ended_in)),
        ended_key=":" in (query.ended_in or ""),
    )
    return shape, params


def match_text(dialect: Dialect, query: CallFilter) -> str:
    """The search words as the backend's full-text query: every one of them, exactly
    (SQLite: the account's words and the marks of the other filters, sqlite_words.match;
    PostgreSQL: a tsquery `'w1' & 'w2'`). Words are letters and digits only
    (core/summary.words), so the quotes hold them whole."""
    if dialect.name == "sqlite":
        return sqlite_words.match(query)
    return " & ".join(f"'{w}'" for w in query.words)


def dialect_named(dialect: Dialect) -> Callable[[str], str]:
    """The backend's way of writing `:name` parameters."""
    return (lambda q: q) if dialect.name == "sqlite" else postgres_style


def changes_sql(dialect: Dialect) -> str:
    """The account's places after :after, in order, each with its call as it is now."""
    join = f" LEFT JOIN call_details d ON {dialect.detail_join}" if dialect.always_join else ""
    return dialect_named(dialect)(
        f"SELECT ch.seq, ch.change, ch.session_id, c.id IS NOT NULL, {columns(dialect, False)}"
        " FROM changes ch LEFT JOIN calls c"
        " ON c.account_id = ch.account_id AND c.session_id = ch.session_id"
        f"{join} WHERE ch.account_id = :account AND ch.seq > :after ORDER BY ch.seq LIMIT :limit"
    )


SQLITE_DIALECT: Final = Dialect(
    name="sqlite",
    # entry_count is 0 exactly when no detail is stored (private, none, purged)
    log="(c.entry_count > 0 AND c.start >= :cutoff)",
    detail_join="d.call_id = c.id",
    always_join=False,
    has_error="c.has_error",
    # the places of the word's calls, as a set (a chunk reads them newest first instead:
    # _newest_words_sql); a call whose detail was purged keeps its words_id but not its
    # entry_count
    words=(
        "c.words_id IN (SELECT rowid FROM call_words WHERE call_words MATCH :words"
        " AND rowid >= :words_from AND rowid < :words_to)"
        " AND c.entry_count > 0 AND c.start >= :cutoff"
    ),
    word_match="",
    name_prefix=None,
    contains="instr(c.modules, :reached) > 0",
    starts="substr({0}, 1, length(:{1})) = :{1}",
    prefix_range=True,
    ordered_words=True,
)
POSTGRES_DIALECT: Final = Dialect(
    name="postgresql",
    log="(d.call_id IS NOT NULL AND c.start >= :cutoff)",
    detail_join="d.call_id = c.id AND d.start = c.start",
    always_join=True,
    has_error="CAST(c.has_error AS INTEGER)",
    words="d.words @@ CAST(:words AS tsquery) AND c.start >= :cutoff",
    word_match="d.words @@ CAST(:words AS tsquery)",
    # the indexes of migration 8 hold the names' first 200 characters (an index entry
    # holds at most 2,704 bytes, and a name has no bound)
    name_prefix=200,
    contains="strpos(c.modules, :reached) > 0",
    starts="starts_with({0}, :{1})",
    prefix_range=False,
    ordered_words=False,
)
