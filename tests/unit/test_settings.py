from __future__ import annotations

import pytest

from ivrlog.settings import Settings, SettingsError, describe


def test_defaults_are_valid() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.detail_retention_days) == ("127.0.0.1", 8080, 5)


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"detail_retention_days": 0}, "detail_retention_days"),
        ({"log_level": "loud"}, "log_level"),
        ({"database": ""}, "database"),
        ({"call_retention_days": 4}, "call_retention_days"),
        ({"detail_retention_days": 30, "call_retention_days": 29}, "call_retention_days"),
        ({"purge_interval": -1}, "purge_interval"),
        ({"fold_interval": -1}, "fold_interval"),
        ({"open_call_timeout": 59}, "open_call_timeout"),
        ({"workers": 0}, "workers"),
        ({"workers": 65}, "workers"),
        ({"log_format": "xml"}, "log_format"),
        ({"auth_failures_per_address": "lots"}, "auth_failures_per_address"),
        ({"auth_failures_per_address": "20/fortnight"}, "auth_failures_per_address"),
        ({"auth_failures_per_account": "0/minute"}, "auth_failures_per_account"),
        ({"auth_failures_per_account": "5/minute;100/day"}, "auth_failures_per_account"),
        ({"max_header_size": 1023}, "max_header_size"),
        ({"max_header_size": 1024 * 1024 + 1}, "max_header_size"),
        ({"header_timeout": 0}, "header_timeout"),
        ({"body_timeout": 3601}, "body_timeout"),
        ({"send_timeout": 0}, "send_timeout"),
        ({"max_connections": -1}, "max_connections"),
        ({"ingest_buffer_mib": 0}, "ingest_buffer_mib"),
        ({"session_hours": 0}, "session_hours"),
        ({"session_hours": 721}, "session_hours"),
        ({"session_secret": "too short"}, "session_secret"),
    ],
)
def test_bad_values_name_the_setting(values: dict[str, object], name: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}:"):
        Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", ["20/minute", "20 per minute", "5/second", "100/hour", "0", "off"])
def test_throttle_rates_take_limits_syntax_or_off(rate: str) -> None:
    settings = Settings(auth_failures_per_address=rate, auth_failures_per_account=rate)
    assert settings.auth_failures_per_address == rate


def test_every_setting_has_flag_env_and_help() -> None:
    infos = describe()
    assert [i.name for i in infos] == [
        "database",
        "host",
        "port",
        "detail_retention_days",
        "call_retention_days",
        "purge_interval",
        "fold_interval",
        "open_call_timeout",
        "redaction",
        "log_level",
        "workers",
        "auth_failures_per_address",
        "auth_failures_per_account",
        "metrics",
        "log_format",
        "max_header_size",
        "header_timeout",
        "body_timeout",
        "send_timeout",
        "max_connections",
        "ingest_buffer_mib",
        "session_hours",
        "secure_cookies",
        "session_secret",
        "webhooks",
        "webhook_allow_private",
        "webhook_timeout",
        "webhook_backoff",
        "webhook_retry_hours",
        "webhook_concurrency",
        "webhook_log_days",
    ]
    for info in infos:
        assert info.env == "IVRLOG_" + info.name.upper()
        assert info.flag.startswith("--")
        assert info.help
        assert isinstance(info.default, info.type)
    assert next(i for i in infos if i.name == "database").flag == "--db"
    assert next(i for i in infos if i.name == "redaction").flag == "--redaction/--no-redaction"


def test_retention_defaults_follow_the_spec() -> None:
    settings = Settings()
    assert (settings.call_retention_days, settings.purge_interval) == (365, 600)
    assert (settings.open_call_timeout, settings.redaction) == (4 * 3600, True)
    retention = settings.retention
    assert retention.cutoffs(1_000_000_000) == (
        1_000_000_000 - 5 * 86_400,
        1_000_000_000 - 365 * 86_400,
    )


def test_settings_travel_to_worker_processes_whole() -> None:
    settings = Settings(
        database="postgresql://u@h/db", port=9000, redaction=False, workers=3, log_level="debug"
    )
    assert Settings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("webhook_timeout", 0, "webhook_timeout: 0 is not from 1 to 300."),
        ("webhook_timeout", 301, "webhook_timeout: 301 is not from 1 to 300."),
        ("webhook_backoff", 3601, "webhook_backoff: 3601 is not from 1 to 3600."),
        ("webhook_retry_hours", 0, "webhook_retry_hours: 0 is not from 1 to 720."),
        ("webhook_concurrency", 65, "webhook_concurrency: 65 is not from 1 to 64."),
        ("webhook_log_days", 366, "webhook_log_days: 366 is not from 1 to 365."),
    ],
)
def test_webhook_settings_are_bounded(name: str, bad: int, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(**{name: bad})  # type: ignore[arg-type]
    assert str(refused.value) == message


def test_the_webhook_policy_is_the_settings() -> None:
    policy = Settings(
        webhook_timeout=3, webhook_backoff=2, webhook_retry_hours=5, webhook_concurrency=7
    ).webhook_policy
    assert (policy.timeout_ms, policy.backoff_ms, policy.retry_ms, policy.concurrency) == (
        3000,
        2000,
        5 * 3_600_000,
        7,
    )
