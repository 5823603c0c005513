"""SQLite's search index (migration 7): one FTS5 row a call with search words, keyed by
its *place*, `start * WORDS_SLOT + n`, so that FTS5 reads a word's calls newest first and
a page stops at its own calls.

A row's text is its call's words as `ACCOUNT_word`, so that an account's search reads
only its own calls, then *marks* of what else a word search may filter by: its numbers
(`ACCOUNT_s_HASH` and `_d_`, for an exact `src`, `dest` or `number`), the type (`_t_`),
the application (`_a_`), each module reached (`_r_`, one a piece of the `modules` text),
the module it ended in (`_e_`, by result_variable and by module_type:result_variable) and
whether it had an error (`_h_0`, `_h_1`). The filters without a mark (a number's prefix,
durations, a session id) are tested on the calls the index gives; when they take few of
them, search_store asks the calls' own indexes instead (Dialect.words). A word search
matches the marks of its other filters too, so FTS5 intersects them and the calls it
reads are (nearly) those of the answer; the SQL still tests every filter on the call, so
a mark only narrows, and a hash that two values share costs a read, never a wrong
answer. Words hold no `_` (core/summary.words), so no word is a mark; `_` is a word
character of this table's tokenizer.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from ivrlog.core.model import CallFilter, StoredCall
from ivrlog.core.summary import MODULES_SEPARATOR, module_needle
from ivrlog.storage.migration_7 import WORDS_SLOT

_LAST_PLACE = (
    "SELECT rowid FROM call_words WHERE rowid >= ? AND rowid < ? ORDER BY rowid DESC LIMIT 1"
)


def scoped(account_id: int, word: str) -> str:
    """A word as an account's index holds it."""
    return f"{account_id}_{word}"


def _mark(account_id: int, kind: str, value: str) -> str:
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8)
    return f"{account_id}_{kind}_{digest.hexdigest()}"


Marks = dict[tuple[str, str], str]


def document(account_id: int, words: str, row: Sequence[Any], names: Marks | None = None) -> str:
    """A call's index text: its words (single-space separated, core/summary) and its
    marks, from `row` = (type, app, modules, ended_in, ended_variable, has_error, src,
    dest) as the calls table holds them. `names` keeps the marks of names (type,
    application, modules) for the calls of one batch, where they repeat; it lives as
    long as the batch (nothing of a call stays in memory once it is written)."""
    call_type, app, modules, ended_in, ended_variable, has_error, src, dest = row
    known: Marks = {} if names is None else names

    def name_mark(kind: str, value: str) -> str:
        found = known.get((kind, value))
        if found is None:
            found = known[kind, value] = _mark(account_id, kind, value)
        return found

    marks = [scoped(account_id, words.replace(" ", " " + scoped(account_id, "")))]
    marks.append(_mark(account_id, "s", src))
    marks.append(_mark(account_id, "d", dest))
    marks.append(name_mark("t", call_type))
    if app is not None:
        marks.append(name_mark("a", app))
    marks += [name_mark("r", m) for m in modules.split(MODULES_SEPARATOR) if m]
    for name in dict.fromkeys((ended_in, ended_variable)):
        if name is not None:
            marks.append(name_mark("e", name))
    marks.append(f"{account_id}_h_{int(bool(has_error))}")
    return " ".join(marks)


def call_document(
    account_id: int,
    call: StoredCall,
    words: str,
    summary: Sequence[Any],
    names: Marks | None = None,
) -> str:
    """document() of a call being stored, whose summary columns are `summary`
    (search_sql.summary_values, as SQLite keeps them)."""
    app, _, _, modules, ended_in, ended_variable, has_error, _ = summary
    row = (call.type, app, modules, ended_in, ended_variable, has_error, call.src, call.dest)
    return document(account_id, words, row, names)


def match(query: CallFilter) -> str:
    """The FTS5 query of a word search: every word, and the mark of each other filter
    that has one (`"17_w1" "17_w2" "17_a_..."`, all of them). Words are letters and
    digits, marks letters, digits and `_`: the quotes hold each whole."""
    account = query.account_id
    terms = [scoped(account, word) for word in query.words]
    for kind, number in (("s", query.src), ("d", query.dest)):
        if number is not None and not number.prefix:
            terms.append(_mark(account, kind, number.value))
    if query.type is not None:
        terms.append(_mark(account, "t", query.type))
    if query.app is not None:
        terms.append(_mark(account, "a", query.app))
    if query.reached is not None:
        terms.append(_mark(account, "r", module_needle(query.reached)[1:-1]))
    if query.ended_in is not None:
        terms.append(_mark(account, "e", query.ended_in))
    if query.has_error is not None:
        terms.append(f"{account}_h_{int(query.has_error)}")
    return " ".join(f'"{term}"' for term in terms)


def places(conn: sqlite3.Connection, starts: Sequence[int]) -> list[int]:
    """A new place for each of these starts, in order, inside the caller's write
    transaction: after the last place taken in the same second."""
    taken: dict[int, int] = {}
    given = []
    for start in starts:
        place = taken.get(start)
        if place is None:
            bounds = (start * WORDS_SLOT, (start + 1) * WORDS_SLOT)
            row = conn.execute(_LAST_PLACE, bounds).fetchone()
            place = bounds[0] if row is None else row[0] + 1
        if place >= (start + 1) * WORDS_SLOT:
            raise sqlite3.IntegrityError(
                f"more than {WORDS_SLOT:,} calls with search words started in second {start}"
            )
        taken[start] = place + 1
        given.append(place)
    return given
