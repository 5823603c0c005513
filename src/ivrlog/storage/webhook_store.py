"""The WebhookStore half of a SQL store (core/ports.py), written once for SQLite and
PostgreSQL: endpoints, the outbox's claims and outcomes, the delivery log. The outbox
itself is filled by take_places (storage/places.py), in the writers' transactions.

Claims are safe with any number of dispatchers on one database: a claim is one write
transaction that leases the rows it takes (`lease_until`), and a leased row is not due.
SQLite has one writer at a time; PostgreSQL locks the rows it takes FOR UPDATE SKIP
LOCKED, so a second dispatcher passes over them instead of waiting, and re-reads a row
it finds leased meanwhile (READ COMMITTED re-checks the WHERE on the locked row)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import orjson

from ivrlog.core.webhooks import (
    Attempt,
    Claimed,
    DeliveryRecord,
    Endpoint,
    Outcome,
    QueueStats,
)
from ivrlog.storage.sql import postgres_style

_ENDPOINT = (
    "id, account_id, url, events, entries, enabled, disabled_reason, failing_since, created_at"
)
_GONE = "the call is no longer stored (erased, or past retention): nothing was sent"
_FAILED_ATTEMPT = "a.status IS NULL OR a.status < 200 OR a.status >= 300"


# what an outcome makes of its endpoint, written only when it changes something
_ENDPOINT_CHANGES = {
    "ok": "failing_since = NULL WHERE id = :id AND failing_since IS NOT NULL",
    "failing": "failing_since = :at WHERE id = :id AND failing_since IS NULL",
    "disable": "enabled = FALSE, disabled_reason = :reason,"
    " failing_since = COALESCE(failing_since, :at) WHERE id = :id",
}


def _endpoint_changes(outcomes: Sequence[Outcome]) -> dict[int, Outcome]:
    """The outcome that decides each endpoint's change: a disabling one if any, else the
    latest that changes something."""
    decided: dict[int, Outcome] = {}
    for o in sorted(outcomes, key=lambda o: o.at):
        earlier = decided.get(o.endpoint_id)
        if o.endpoint == "same" or (earlier is not None and earlier.endpoint == "disable"):
            continue
        decided[o.endpoint_id] = o
    return decided


def _endpoint(row: Sequence[Any] | None) -> Endpoint | None:
    if row is None:
        return None
    return Endpoint(
        id=row[0],
        account_id=row[1],
        url=row[2],
        events=tuple(row[3].split(",")),
        entries=bool(row[4]),
        enabled=bool(row[5]),
        disabled_reason=row[6],
        failing_since=row[7],
        created_at=row[8],
    )


class WebhookSql:
    """WebhookStore on the adapter's connections (`_read`, `_write`)."""

    _postgres: ClassVar[bool]

    def _read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _q(self, query: str) -> str:
        return postgres_style(query) if self._postgres else query

    def _ids(self, column: str) -> str:
        """`column` is one of the ids bound as :ids."""
        if self._postgres:
            return f"{column} = ANY(CAST(:ids AS bigint[]))"
        return f"{column} IN (SELECT value FROM json_each(:ids))"

    def _bind_ids(self, ids: Sequence[int]) -> Any:
        return list(ids) if self._postgres else orjson.dumps(list(ids)).decode()

    # endpoints
    def add_endpoint(
        self,
        account_id: int,
        url: str,
        events: Sequence[str],
        entries: bool,
        secret: str,
        now: int,
    ) -> Endpoint:
        params = {
            "account": account_id,
            "url": url,
            "events": ",".join(events),
            "entries": entries,
            "secret": secret,
            "now": now,
        }
        with self._write() as conn:
            row = conn.execute(
                self._q(
                    "INSERT INTO webhook_endpoints (account_id, url, events, entries, secret,"
                    " enabled, created_at) VALUES (:account, :url, :events, :entries, :secret,"
                    f" TRUE, :now) RETURNING {_ENDPOINT}"
                ),
                params,
            ).fetchone()
        endpoint = _endpoint(row)
        assert endpoint is not None
        return endpoint

    def endpoints(self, account_id: int) -> list[Endpoint]:
        with self._read() as conn:
            rows = conn.execute(
                self._q(
                    f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE account_id = :account"
                    " ORDER BY id"
                ),
                {"account": account_id},
            ).fetchall()
        return [e for e in map(_endpoint, rows) if e is not None]

    def endpoint(self, account_id: int, endpoint_id: int) -> Endpoint | None:
        with self._read() as conn:
            row = conn.execute(
                self._q(
                    f"SELECT {_ENDPOINT} FROM webhook_endpoints"
                    " WHERE account_id = :account AND id = :id"
                ),
                {"account": account_id, "id": endpoint_id},
            ).fetchone()
        return _endpoint(row)

    def _change_endpoint(
        self, account_id: int, endpoint_id: int, assignments: str, params: dict[str, Any]
    ) -> Endpoint | None:
        with self._write() as conn:
            row = conn.execute(
                self._q(
                    f"UPDATE webhook_endpoints SET {assignments}"
                    f" WHERE account_id = :account AND id = :id RETURNING {_ENDPOINT}"
                ),
                {**params, "account": account_id, "id": endpoint_id},
            ).fetchone()
        return _endpoint(row)

    def set_endpoint_enabled(
        self, account_id: int, endpoint_id: int, enabled: bool, reason: str | None
    ) -> Endpoint | None:
        if enabled:
            assignments = "enabled = TRUE, disabled_reason = NULL, failing_since = NULL"
        else:
            assignments = "enabled = FALSE, disabled_reason = :reason"
        return self._change_endpoint(account_id, endpoint_id, assignments, {"reason": reason})

    def rotate_endpoint_secret(
        self, account_id: int, endpoint_id: int, secret: str, previous_until: int
    ) -> Endpoint | None:
        return self._change_endpoint(
            account_id,
            endpoint_id,
            "previous_secret = secret, previous_until = :until, secret = :secret",
            {"secret": secret, "until": previous_until},
        )

    def remove_endpoint(self, account_id: int, endpoint_id: int) -> bool:
        # its deliveries and their attempts go with it (ON DELETE CASCADE)
        with self._write() as conn:
            removed = conn.execute(
                self._q("DELETE FROM webhook_endpoints WHERE account_id = :account AND id = :id"),
                {"account": account_id, "id": endpoint_id},
            ).rowcount
        return bool(removed)

    # the dispatcher
    def next_delivery_at(self) -> int | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT d.next_at FROM webhook_deliveries d"
                " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                " WHERE d.state = 'waiting' AND e.enabled ORDER BY d.next_at LIMIT 1"
            ).fetchone()
        return None if row is None else int(row[0])

    def claim_deliveries(
        self, now: int, lease_until: int, limit: int, per_endpoint: int
    ) -> list[Claimed]:
        taken: list[Claimed] = []
        with self._write() as conn:
            due = [
                row[0]
                for row in conn.execute(
                    self._q(
                        "SELECT e.id FROM webhook_endpoints e WHERE e.enabled AND EXISTS"
                        " (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id"
                        " AND d.state = 'waiting' AND d.next_at <= :now)"
                    ),
                    {"now": now},
                ).fetchall()
            ]
            random.shuffle(due)  # no endpoint goes first every time
            for endpoint_id in due:
                if len(taken) >= limit:
                    break
                room = min(per_endpoint, limit - len(taken))
                taken += self._claim_of(conn, endpoint_id, now, lease_until, room, per_endpoint)
        return taken

    def _claim_of(
        self, conn: Any, endpoint_id: int, now: int, lease_until: int, room: int, per: int
    ) -> list[Claimed]:
        """Lease up to `room` due deliveries of one endpoint, fewer if the endpoint has
        attempts in flight (leases of any dispatcher): at most `per` in all. PostgreSQL
        locks the endpoint's row first (NO KEY UPDATE: ingestion's KEY SHARE does not
        wait for it), and passes over an endpoint another dispatcher is claiming for."""
        params = {"endpoint": endpoint_id, "now": now}
        if self._postgres:
            locked = conn.execute(
                self._q(
                    "SELECT id FROM webhook_endpoints WHERE id = :endpoint AND enabled"
                    " FOR NO KEY UPDATE SKIP LOCKED"
                ),
                params,
            ).fetchone()
            if locked is None:
                return []
        (busy,) = conn.execute(
            self._q(
                "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :endpoint"
                " AND state = 'waiting' AND lease_until > :now"
            ),
            params,
        ).fetchone()
        room = min(room, per - int(busy))
        if room <= 0:
            return []
        rows = conn.execute(
            self._q(
                "SELECT d.id, d.endpoint_id, e.account_id, e.url, e.secret, e.previous_secret,"
                " e.previous_until, e.entries, d.session_id, d.event, d.created_at,"
                " d.attempts, d.retry_from, e.failing_since"
                " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                " WHERE d.endpoint_id = :endpoint AND d.state = 'waiting'"
                " AND d.next_at <= :now AND d.lease_until <= :now"
                " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p"
                " WHERE p.endpoint_id = d.endpoint_id AND p.session_id = d.session_id"
                " AND p.state = 'waiting' AND p.id < d.id)"
                " ORDER BY d.next_at, d.id LIMIT :room"
                + (" FOR UPDATE OF d SKIP LOCKED" if self._postgres else "")
            ),
            {**params, "room": room},
        ).fetchall()
        if not rows:
            return []
        conn.execute(
            self._q(f"UPDATE webhook_deliveries SET lease_until = :until WHERE {self._ids('id')}"),
            {"until": lease_until, "ids": self._bind_ids([r[0] for r in rows])},
        )
        return [
            Claimed(
                id=r[0],
                endpoint_id=r[1],
                account_id=r[2],
                url=r[3],
                secrets=(r[4], r[5]) if r[5] and r[6] > now else (r[4],),
                entries=bool(r[7]),
                session_id=r[8],
                event=r[9],
                created_at=r[10],
                attempts=r[11],
                retry_from=r[12],
                failing_since=r[13],
                lease_until=lease_until,
            )
            for r in rows
        ]

    def finish_deliveries(self, outcomes: Sequence[Outcome]) -> None:
        """Each outcome is written only while its claim's lease is still on the delivery
        (not run out and taken by another dispatcher, nor the delivery replayed or removed
        meanwhile): a late outcome changes nothing, and the delivery's new holder decides.
        The endpoints' changes are then made once each, in id order (two dispatchers on
        PostgreSQL lock them in the same order)."""
        if not outcomes:
            return
        with self._write() as conn:
            kept: list[Outcome] = []
            for o in outcomes:
                matched = conn.execute(
                    self._q(
                        "UPDATE webhook_deliveries SET state = :state,"
                        " attempts = attempts + :tried, next_at = :next_at, lease_until = 0"
                        " WHERE id = :id AND lease_until = :lease AND state = 'waiting'"
                    ),
                    {
                        "id": o.delivery_id,
                        "lease": o.lease_until,
                        "state": o.state,
                        "tried": 0 if o.sent is None else 1,
                        "next_at": o.next_at if o.state == "waiting" else o.at,
                    },
                ).rowcount
                if matched:
                    kept.append(o)
            if not kept:
                return
            conn.cursor().executemany(
                self._q(
                    "INSERT INTO webhook_attempts (delivery_id, at, status, latency_ms, error)"
                    " VALUES (:id, :at, :status, :latency, :error)"
                ),
                [
                    {
                        "id": o.delivery_id,
                        "at": o.at,
                        "status": None if o.sent is None else o.sent.status,
                        "latency": 0 if o.sent is None else o.sent.latency_ms,
                        "error": _GONE if o.sent is None else o.sent.error,
                    }
                    for o in kept
                ],
            )
            for endpoint_id, o in sorted(_endpoint_changes(kept).items()):
                conn.execute(
                    self._q(f"UPDATE webhook_endpoints SET {_ENDPOINT_CHANGES[o.endpoint]}"),
                    {"id": endpoint_id, "at": o.at, "reason": o.reason},
                )

    # the log
    def deliveries(
        self,
        account_id: int,
        endpoint_id: int | None,
        *,
        failed: bool,
        before: int | None,
        limit: int,
    ) -> list[DeliveryRecord]:
        where = ["e.account_id = :account"]
        if endpoint_id is not None:
            where.append("d.endpoint_id = :endpoint")
        if before is not None:
            where.append("d.id < :before")
        if failed:
            where.append(
                "(d.state = 'failed' OR (d.state <> 'gone' AND EXISTS (SELECT 1 FROM"
                f" webhook_attempts a WHERE a.delivery_id = d.id AND ({_FAILED_ATTEMPT}))))"
            )
        params = {"account": account_id, "endpoint": endpoint_id, "before": before}
        with self._read() as conn:
            rows = conn.execute(
                self._q(
                    "SELECT d.id, d.endpoint_id, d.session_id, d.event, d.state, d.created_at,"
                    " d.next_at FROM webhook_deliveries d"
                    " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                    f" WHERE {' AND '.join(where)} ORDER BY d.id DESC LIMIT :limit"
                ),
                {**params, "limit": limit},
            ).fetchall()
            tried: dict[int, list[Attempt]] = {row[0]: [] for row in rows}
            if rows:
                for a in conn.execute(
                    self._q(
                        "SELECT delivery_id, at, status, latency_ms, error FROM webhook_attempts"
                        f" WHERE {self._ids('delivery_id')} ORDER BY delivery_id, at, id"
                    ),
                    {"ids": self._bind_ids(list(tried))},
                ).fetchall():
                    tried[a[0]].append(Attempt(a[1], a[2], a[3], a[4]))
        return [
            DeliveryRecord(
                id=r[0],
                endpoint_id=r[1],
                session_id=r[2],
                event=r[3],
                state=r[4],
                created_at=r[5],
                next_at=r[6] if r[4] == "waiting" else None,
                attempts=tuple(tried[r[0]]),
            )
            for r in rows
        ]

    def replay_delivery(
        self, account_id: int, delivery_id: int, now: int, endpoint_id: int | None = None
    ) -> bool:
        of_endpoint = "" if endpoint_id is None else " AND id = :endpoint"
        with self._write() as conn:
            changed = conn.execute(
                self._q(
                    "UPDATE webhook_deliveries SET state = 'waiting', attempts = 0,"
                    " next_at = :now, retry_from = :now WHERE id = :id AND lease_until <= :now"
                    " AND endpoint_id IN (SELECT id FROM webhook_endpoints"
                    f" WHERE account_id = :account{of_endpoint})"
                ),
                {"id": delivery_id, "now": now, "account": account_id, "endpoint": endpoint_id},
            ).rowcount
        return bool(changed)

    def replay_calls(
        self, account_id: int, endpoint_id: int, start: int, end: int, now: int, limit: int
    ) -> int:
        params = {
            "limit": limit,
            "account": account_id,
            "endpoint": endpoint_id,
            "start": start,
            "end": end,
            "now": now,
        }
        with self._write() as conn:
            count = conn.execute(
                self._q(
                    "INSERT INTO webhook_deliveries (endpoint_id, session_id, event, state,"
                    " attempts, created_at, next_at, lease_until, retry_from)"
                    " SELECT e.id, c.session_id, 'call.completed', 'waiting', 0, :now, :now, 0,"
                    " :now FROM calls c JOIN webhook_endpoints e ON e.id = :endpoint"
                    " AND e.account_id = :account WHERE c.account_id = :account"
                    " AND c.start >= :start AND c.start < :end ORDER BY c.start, c.session_id"
                    " LIMIT :limit"
                ),
                params,
            ).rowcount
        return max(int(count), 0)

    def webhook_queue(self, now: int) -> QueueStats:
        with self._read() as conn:
            waiting, failing, oldest = conn.execute(
                "SELECT count(*), coalesce(sum(CASE WHEN d.attempts > 0 THEN 1 ELSE 0 END), 0),"
                " min(d.retry_from) FROM webhook_deliveries d"
                " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                " WHERE d.state = 'waiting' AND e.enabled"
            ).fetchone()
            (disabled,) = conn.execute(
                "SELECT count(*) FROM webhook_endpoints WHERE NOT enabled"
            ).fetchone()
        return QueueStats(
            waiting=int(waiting),
            failing=int(failing),
            oldest_ms=0 if oldest is None else max(0, now - int(oldest)),
            disabled_endpoints=int(disabled),
        )

    def delete_webhook_log_before(self, cutoff: int, limit: int) -> int:
        params = {"cutoff": cutoff, "limit": limit}
        with self._write() as conn:
            # a finished delivery's attempts go with it (ON DELETE CASCADE)
            deliveries = conn.execute(
                self._q(
                    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM"
                    " webhook_deliveries WHERE state <> 'waiting' AND next_at < :cutoff"
                    " LIMIT :limit)"
                ),
                params,
            ).rowcount
            attempts = conn.execute(
                self._q(
                    "DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts"
                    " WHERE at < :cutoff LIMIT :limit)"
                ),
                params,
            ).rowcount
        return max(int(attempts), 0) + max(int(deliveries), 0)
