"""Migration 12: webhook endpoints, the outbox of their deliveries, the attempts' log
(core/webhooks.py, storage/webhook_store.py). Times are UNIX milliseconds.

A delivery's id is its `webhook-id` (msg_<id>), and an endpoint's id is what a client
names it by: neither is ever handed out again (AUTOINCREMENT on SQLite, where a plain
INTEGER PRIMARY KEY may give the id of the last row, deleted, again; a sequence on
PostgreSQL). `next_at` is when a waiting delivery is due, and when a finished one
(delivered, failed, gone) last changed: the log's purge reads it."""

from __future__ import annotations

from typing import Final

SQLITE_12: Final = """
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    entries INTEGER NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    failing_since INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    event TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    retry_from INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'waiting';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (next_at) WHERE state <> 'waiting';
CREATE INDEX webhook_deliveries_call ON webhook_deliveries (endpoint_id, session_id, id);
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_at)
    WHERE state = 'waiting';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (endpoint_id, lease_until)
    WHERE state = 'waiting';
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    status INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
"""

POSTGRESQL_12: Final = """
CREATE TABLE webhook_endpoints (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url text NOT NULL,
    events text NOT NULL,
    entries boolean NOT NULL,
    secret text NOT NULL,
    previous_secret text,
    previous_until bigint NOT NULL DEFAULT 0,
    enabled boolean NOT NULL,
    disabled_reason text,
    failing_since bigint,
    created_at bigint NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);
CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    endpoint_id bigint NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    session_id text COLLATE "C" NOT NULL,
    event text NOT NULL,
    state text NOT NULL,
    attempts integer NOT NULL,
    created_at bigint NOT NULL,
    next_at bigint NOT NULL,
    lease_until bigint NOT NULL,
    retry_from bigint NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'waiting';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (next_at) WHERE state <> 'waiting';
CREATE INDEX webhook_deliveries_call ON webhook_deliveries (endpoint_id, session_id, id);
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_at)
    WHERE state = 'waiting';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (endpoint_id, lease_until)
    WHERE state = 'waiting';
CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at bigint NOT NULL,
    status integer,
    latency_ms integer NOT NULL,
    error text
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
"""
