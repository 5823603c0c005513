"""Every setting, declared once: name, type, default and help.

Each one is a field of `Settings`; the CLI turns each into a `--flag` with an
`IVRLOG_<NAME>` environment variable, and docs/settings.md lists them all (a test
checks that it does).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "IVRLOG_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _setting(default: Any, help: str, *, flag: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "flag": flag})


class SettingsError(ValueError):
    """A setting has a value it cannot take; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    database: str = _setting(
        "ivrlog.db",
        "Database: a SQLite file path or sqlite:///path (postgresql:// in a later release).",
        flag="--db",
    )
    host: str = _setting("127.0.0.1", "Address the server listens on.")
    port: int = _setting(8080, "TCP port the server listens on (1 to 65535).")
    detail_retention_days: int = _setting(
        5, "Days a call's detail stays readable, counted from the call's start (1 or more)."
    )
    log_level: str = _setting("info", f"Server log level: {', '.join(LOG_LEVELS)}.")

    def __post_init__(self) -> None:
        if not self.database:
            raise SettingsError("database: must name a SQLite file or a database URL.")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"port: {self.port} is not from 1 to 65535.")
        if self.detail_retention_days < 1:
            raise SettingsError(
                f"detail_retention_days: {self.detail_retention_days} is not 1 or more."
            )
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(
                f"log_level: {self.log_level!r} is not one of {', '.join(LOG_LEVELS)}."
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


def describe() -> list[SettingInfo]:
    """Every setting with its flag and environment variable, in declaration order."""
    types = {"str": str, "int": int}
    return [
        SettingInfo(
            name=f.name,
            type=types[f.type] if isinstance(f.type, str) else f.type,
            default=f.default,
            help=f.metadata["help"],
            flag=f.metadata["flag"] or "--" + f.name.replace("_", "-"),
        )
        for f in dataclasses.fields(Settings)
    ]
