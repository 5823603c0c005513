"""The change sequence (every completion, replacement and erasure of a call takes the
account's next place) and, in the same statement's transaction, the webhook outbox: one
delivery for each of the account's enabled endpoints that asked for the event
(docs/webhooks.md). Both are written by take_places, which every writer of a completed
call calls: bulk ingest, a live call's completion or timeout, a replacement, an erasure.
So no crash can complete or erase a call and lose its event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ivrlog.core.model import ChangeKind, StoredCall
from ivrlog.core.webhooks import event_of, now_ms

Place = tuple[str, ChangeKind, int]


def completion_places(calls: Sequence[StoredCall], existing: set[str]) -> list[Place]:
    """The places a batch of completed calls takes, in order: `replaced` for a session id
    the account had completed already (or one earlier in the batch), else `completed`.
    A session id given twice takes one place, its last."""
    seen = set(existing)
    latest: dict[str, Place] = {}
    for call in calls:
        kind: ChangeKind = "replaced" if call.session_id in seen else "completed"
        seen.add(call.session_id)
        latest.pop(call.session_id, None)  # its later place: the end of the order
        latest[call.session_id] = (call.session_id, kind, call.start)
    return list(latest.values())


def take_places(
    conn: Any, statements: PlaceStatements, account_id: int, places: list[Place]
) -> None:
    """Give `places` the account's next places of its change sequence, inside the
    caller's write transaction.

    The counter is the account's row, taken with UPDATE ... RETURNING as late as the
    transaction allows. On PostgreSQL that row stays locked until the transaction ends,
    so a second writer of the account waits here until the first has committed: places
    are handed out in commit order, and a reader that saw place N never sees a place
    below N commit afterwards (it resumes `after` N and misses nothing). SQLite has one
    writer at a time."""
    if not places:
        return
    params = {"account": account_id, "n": len(places)}
    (last,) = conn.execute(statements.take, params).fetchone()
    first = int(last) - len(places) + 1
    if statements.put_arrays is not None:  # PostgreSQL: the whole batch in one statement
        sessions, kinds, starts = zip(*places, strict=True)
        arrays = {
            "account": account_id,
            "seqs": list(range(first, first + len(places))),
            "sessions": list(sessions),
            "changes": list(kinds),
            "starts": list(starts),
        }
        conn.execute(statements.put_arrays, arrays)
        conn.execute(
            statements.outbox,
            {
                "account": account_id,
                "sessions": arrays["sessions"],
                "events": [event_of(kind) for kind in kinds],
                "now": now_ms(),
            },
        )
        return
    conn.cursor().executemany(
        statements.put,
        [
            {
                "account": account_id,
                "seq": first + i,
                "session": session,
                "change": kind,
                "start": start,
            }
            for i, (session, kind, start) in enumerate(places)
        ],
    )
    events = [[session, event_of(kind)] for session, kind, _ in places]
    conn.execute(
        statements.outbox,
        {"account": account_id, "places": orjson.dumps(events).decode(), "now": now_ms()},
    )


@dataclass(frozen=True, slots=True)
class PlaceStatements:
    """Take n places (`take`); keep a call's place, one (`put`) or, where the backend
    takes arrays, a batch of them (`put_arrays`)."""

    take: str
    put: str
    put_arrays: str | None
    # a batch's webhook deliveries: SQLite binds the places as one JSON array,
    # PostgreSQL as arrays
    outbox: str


_PUT_PLACE = (
    " ON CONFLICT (account_id, session_id) DO UPDATE SET"
    " seq = excluded.seq, change = excluded.change, start = excluded.start"
)


def place_statements(named: Callable[[str], str], *, arrays: bool) -> PlaceStatements:
    """The statements of the change sequence in the backend's style (`arrays`: it binds
    arrays, PostgreSQL)."""
    return PlaceStatements(
        take=named(
            "UPDATE accounts SET change_seq = change_seq + :n WHERE id = :account"
            " RETURNING change_seq"
        ),
        put=named(
            "INSERT INTO changes (account_id, seq, session_id, change, start)"
            " VALUES (:account, :seq, :session, :change, :start)" + _PUT_PLACE
        ),
        put_arrays=named(
            "INSERT INTO changes (account_id, seq, session_id, change, start)"
            " SELECT :account, p.* FROM unnest(CAST(:seqs AS bigint[]), CAST(:sessions AS"
            " text[]), CAST(:changes AS text[]), CAST(:starts AS bigint[])) AS p" + _PUT_PLACE
        )
        if arrays
        else None,
        outbox=named(_OUTBOX_ARRAYS if arrays else _OUTBOX_JSON),
    )


# a delivery per place and per enabled endpoint of the account that asked for its event,
# numbered in the places' order (the dispatcher sends a call's deliveries in id order)
_OUTBOX_COLUMNS = (
    "INSERT INTO webhook_deliveries (endpoint_id, session_id, event, state, attempts,"
    " created_at, next_at, lease_until, retry_from)"
)
_OUTBOX_JSON = (
    _OUTBOX_COLUMNS
    + " SELECT e.id, json_extract(p.value, '$[0]'), json_extract(p.value, '$[1]'), 'waiting',"
    " 0, :now, :now, 0, :now FROM json_each(:places) p JOIN webhook_endpoints e"
    " ON e.account_id = :account AND e.enabled"
    " AND instr(e.events, json_extract(p.value, '$[1]')) > 0"
    " ORDER BY p.key, e.id"
)
_OUTBOX_ARRAYS = (
    _OUTBOX_COLUMNS + " SELECT e.id, p.session, p.event, 'waiting', 0, :now, :now, 0, :now"
    " FROM unnest(CAST(:sessions AS text[]), CAST(:events AS text[]))"
    " WITH ORDINALITY AS p(session, event, n) JOIN webhook_endpoints e"
    " ON e.account_id = :account AND e.enabled AND strpos(e.events, p.event) > 0"
    # an endpoint removed meanwhile is passed over, not a foreign key error
    " ORDER BY p.n, e.id FOR KEY SHARE OF e"
)
