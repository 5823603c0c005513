"""Every setting, declared once: name, type, default and help.

Each one is a field of `Settings`; the CLI turns each into a `--flag` with an
`IVRLOG_<NAME>` environment variable, and docs/settings.md lists them all (a test
checks that it does).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import orjson

from ivrlog.core.retention import Retention
from ivrlog.core.throttle import parse_rate
from ivrlog.core.webhooks import HOUR_MS, Policy

ENV_PREFIX = "IVRLOG_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("text", "json")
MAX_WORKERS = 64
MAX_TIMEOUT = 3600  # seconds: the longest header_timeout, body_timeout or send_timeout
MAX_HEADER_SIZE = 1024 * 1024
MAX_WEBHOOK_TIMEOUT = 300
_WEBHOOK_RANGES = (
    ("webhook_timeout", 1, MAX_WEBHOOK_TIMEOUT),
    ("webhook_backoff", 1, 3600),
    ("webhook_retry_hours", 1, 720),
    ("webhook_concurrency", 1, 64),
    ("webhook_log_days", 1, 365),
)
# `ivrlog serve --workers N` hands its settings to the worker processes in this variable
SETTINGS_ENV = "IVRLOG__WORKER_SETTINGS"


def _setting(default: Any, help: str, *, flag: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "flag": flag})


class SettingsError(ValueError):
    """A setting has a value it cannot take; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    database: str = _setting(
        "ivrlog.db",
        "Database: a SQLite file path, sqlite:///path, or postgresql://user:password@host/db.",
        flag="--db",
    )
    host: str = _setting("127.0.0.1", "Address the server listens on.")
    port: int = _setting(8080, "TCP port the server listens on (1 to 65535).")
    detail_retention_days: int = _setting(
        5, "Days a call's detail stays readable, counted from the call's start (1 or more)."
    )
    call_retention_days: int = _setting(
        365,
        "Days a call is kept at all, counted from its start; older calls are deleted by the "
        "purge (at least detail_retention_days).",
    )
    purge_interval: int = _setting(
        600,
        "Seconds between two runs of the retention purge inside the server (0 turns it off; "
        "run `ivrlog purge` instead).",
    )
    fold_interval: int = _setting(
        5,
        "Seconds between two folds of the reports' rows that writes appended (PostgreSQL: "
        "docs/architecture.md); 0 turns them off and leaves the rows to the purge.",
    )
    open_call_timeout: int = _setting(
        4 * 3600,
        "Seconds a live call may go without a new entry before the server completes it "
        "(60 or more).",
    )
    redaction: bool = _setting(
        True,
        # the backslash keeps --help (Rich markup) from reading [redacted] as a style tag
        "Replace payment card numbers and US SSNs (in the spellings docs/privacy.md lists) in "
        "ingested entries by \\[redacted] before storing them. Accounts' own patterns and "
        "sensitive modules apply either way.",
    )
    log_level: str = _setting("info", f"Server log level: {', '.join(LOG_LEVELS)}.")
    workers: int = _setting(
        1,
        f"Server processes sharing the port and the database (1 to {MAX_WORKERS}); on SQLite "
        "every process reads at once and writes take turns.",
    )
    auth_failures_per_address: str = _setting(
        "30/minute",
        "Failed authentications a client address may make (e.g. 30/minute, 100 per hour; 0 or "
        "off: no limit); past it, every request of that address that needs credentials is "
        "refused (429) until the oldest failure leaves the window. Counted per process.",
    )
    auth_failures_per_account: str = _setting(
        "10/minute",
        "Failed authentications naming one account's email (e.g. 10/minute; 0 or off: no "
        "limit); past it, failed attempts get 429 instead of 401, while the account's right "
        "credentials still work. Counted per process.",
    )
    metrics: bool = _setting(
        True, "Serve Prometheus metrics at /-/metrics (no authentication, no call data)."
    )
    log_format: str = _setting(
        "text",
        f"Server log format: {' or '.join(LOG_FORMATS)} (one JSON object a line, with a "
        "request id).",
    )
    max_header_size: int = _setting(
        64 * 1024,
        "Bytes of a request's head (request line and headers) the server reads; past it the "
        f"request is refused: 414 while still in the request line, 431 after (1024 to "
        f"{MAX_HEADER_SIZE}).",
    )
    header_timeout: int = _setting(
        10,
        "Seconds a client has to send a whole request head, counted from the connection or "
        f"from the end of its previous response; then the connection is closed (1 to "
        f"{MAX_TIMEOUT}).",
    )
    body_timeout: int = _setting(
        30,
        "Seconds a request body may go without a byte arriving before the server answers 408 "
        f"and closes the connection (1 to {MAX_TIMEOUT}).",
    )
    send_timeout: int = _setting(
        60,
        "Seconds an answer may wait for its client to read any of it before the server drops "
        f"the connection (1 to {MAX_TIMEOUT}).",
    )
    max_connections: int = _setting(
        0,
        "Open connections a server process keeps, idle keep-alive ones included; a new one "
        "past it is answered 503 and closed. 0: the process's open-file limit less a reserve "
        "for the database and logs (see docs/operations.md).",
    )
    ingest_buffer_mib: int = _setting(
        128,
        "MiB of ingest request bodies a server process reads and parses at once; a request "
        "past it waits for its turn, body_timeout seconds at most, then gets 503 (a single "
        "body always proceeds). 1 or more.",
    )

    session_hours: int = _setting(
        12,
        "Hours a sign-in to the web pages lasts (1 to 720); a key rotation or a disabled "
        "account ends it at once.",
    )
    secure_cookies: bool = _setting(
        False,
        "Mark the pages' cookies Secure (sent over HTTPS only): set it when ivrlog is "
        "served behind HTTPS.",
    )
    session_secret: str = _setting(
        "",
        "Key that signs the pages' cookies (32 characters or more). Empty: one derived from "
        "a random key kept in the database, shared by every server on it.",
    )
    webhooks: bool = _setting(
        True,
        "Run the webhook dispatcher beside the server (one process per `ivrlog serve`); "
        "off, deliveries wait in the database for a server that runs it, or for "
        "`ivrlog webhooks deliver`.",
    )
    webhook_allow_private: bool = _setting(
        False,
        "Let webhook endpoints use http:// and hosts that resolve to private, loopback or "
        "link-local addresses (off: https only, public addresses only).",
    )
    webhook_timeout: int = _setting(
        10,
        f"Seconds a webhook attempt may take, connection to answer (1 to {MAX_WEBHOOK_TIMEOUT}).",
    )
    webhook_backoff: int = _setting(
        10,
        "Seconds before a failed webhook delivery is tried again, doubled after each failure "
        "up to an hour, less up to half at random (1 to 3600).",
    )
    webhook_retry_hours: int = _setting(
        24,
        "Hours a webhook delivery is retried before it fails, and an endpoint may fail "
        "without a success before it is disabled (1 to 720).",
    )
    webhook_concurrency: int = _setting(
        4,
        "Webhook attempts in flight at once per endpoint, over every dispatcher on the "
        "database (1 to 64).",
    )
    webhook_log_days: int = _setting(
        7,
        "Days finished webhook deliveries and every attempt stay in the delivery log (1 to 365).",
    )

    def __post_init__(self) -> None:
        if not self.database:
            raise SettingsError("database: must name a SQLite file or a database URL.")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"port: {self.port} is not from 1 to 65535.")
        if self.detail_retention_days < 1:
            raise SettingsError(
                f"detail_retention_days: {self.detail_retention_days} is not 1 or more."
            )
        if self.call_retention_days < self.detail_retention_days:
            raise SettingsError(
                f"call_retention_days: {self.call_retention_days} is less than "
                f"detail_retention_days ({self.detail_retention_days})."
            )
        if self.purge_interval < 0:
            raise SettingsError(f"purge_interval: {self.purge_interval} is not 0 or more.")
        if self.fold_interval < 0:
            raise SettingsError(f"fold_interval: {self.fold_interval} is not 0 or more.")
        if self.open_call_timeout < 60:
            raise SettingsError(f"open_call_timeout: {self.open_call_timeout} is not 60 or more.")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise SettingsError(f"workers: {self.workers} is not from 1 to {MAX_WORKERS}.")
        if not 1024 <= self.max_header_size <= MAX_HEADER_SIZE:
            raise SettingsError(
                f"max_header_size: {self.max_header_size} is not from 1024 to {MAX_HEADER_SIZE}."
            )
        for name in ("header_timeout", "body_timeout", "send_timeout"):
            value = getattr(self, name)
            if not 1 <= value <= MAX_TIMEOUT:
                raise SettingsError(f"{name}: {value} is not from 1 to {MAX_TIMEOUT}.")
        if self.max_connections < 0:
            raise SettingsError(
                f"max_connections: {self.max_connections} is not 0 (automatic) or more."
            )
        if not 1 <= self.session_hours <= 720:
            raise SettingsError(f"session_hours: {self.session_hours} is not from 1 to 720.")
        if self.session_secret and len(self.session_secret) < 32:
            raise SettingsError("session_secret: must be 32 characters or more (or empty).")
        if self.ingest_buffer_mib < 1:
            raise SettingsError(f"ingest_buffer_mib: {self.ingest_buffer_mib} is not 1 or more.")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(
                f"log_level: {self.log_level!r} is not one of {', '.join(LOG_LEVELS)}."
            )
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(
                f"log_format: {self.log_format!r} is not one of {', '.join(LOG_FORMATS)}."
            )
        for name, low, high in _WEBHOOK_RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                raise SettingsError(f"{name}: {value} is not from {low} to {high}.")
        for name in ("auth_failures_per_address", "auth_failures_per_account"):
            try:
                parse_rate(name, getattr(self, name))
            except ValueError as exc:
                raise SettingsError(str(exc)) from None

    def to_json(self) -> str:
        return orjson.dumps(dataclasses.asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**orjson.loads(text))

    @property
    def webhook_policy(self) -> Policy:
        return Policy(
            timeout_ms=self.webhook_timeout * 1000,
            backoff_ms=self.webhook_backoff * 1000,
            retry_ms=self.webhook_retry_hours * HOUR_MS,
            concurrency=self.webhook_concurrency,
        )

    @property
    def retention(self) -> Retention:
        return Retention(
            self.detail_retention_days, self.call_retention_days, self.open_call_timeout
        )


@dataclass(frozen=True, slots=True)
class SettingInfo:
    name: str
    type: type
    default: Any
    help: str
    flag: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _flag(name: str, kind: object) -> str:
    flag = "--" + name.replace("_", "-")
    return f"{flag}/--no-{flag[2:]}" if kind in ("bool", bool) else flag


def describe() -> list[SettingInfo]:
    """Every setting with its flag and environment variable, in declaration order."""
    types = {"str": str, "int": int, "bool": bool}
    return [
        SettingInfo(
            name=f.name,
            type=types[f.type] if isinstance(f.type, str) else f.type,
            default=f.default,
            help=f.metadata["help"],
            flag=f.metadata["flag"] or _flag(f.name, f.type),
        )
        for f in dataclasses.fields(Settings)
    ]


def names() -> tuple[str, ...]:
    """Every setting's name, in declaration order (`ivrlog serve` takes them all)."""
    return tuple(f.name for f in dataclasses.fields(Settings))
