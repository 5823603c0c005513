"""The server log: uvicorn's configuration plus ivrlog's logger, and a filter that runs
every record through the redaction rules before any handler writes it.

A request path can carry a card number (a session id, a `number` parameter) and an
exception message can quote data; SPEC 4 says no redacted value reaches the server log.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, unquote_plus

from ivrlog.core.redact import BUILTIN_RULES, Redactor

log = logging.getLogger("ivrlog.web")

# Loggers whose handlers get the filter: a filter on a handler sees every record it
# writes, propagated ones included.
_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "ivrlog")
_URL_SAFE = "/;:?&=@[]!$'()*+,~\""  # kept as they are when a decoded line is encoded again


def redact_log_text(redactor: Redactor, text: str) -> str:
    """`text` redacted. The built-in rules read percent-encoding themselves (a card written
    `4111%201111...`, `4111+1111...`, `4111%25201111...` or `%34%31%31%31...` is caught
    as it stands), so for them this is `redactor.text`, which only ever replaces a span
    by `[redacted]`: it adds no line break or other character to forge a line with. An
    account's own patterns match text as written; in a log line, whose paths and queries
    are percent-encoded, they are also tried on the line decoded (up to three times), and
    when one matches there, the decoded line redacted is encoded again, so that an
    encoded line break stays encoded. It never raises: text an engine cannot take (a
    lone surrogate) is escaped."""
    try:
        return _redact_text(redactor, text)
    except UnicodeError:
        return _redact_text(redactor, text.encode("utf-8", "backslashreplace").decode("utf-8"))


def _redact_text(redactor: Redactor, text: str) -> str:
    clean = redactor.text(text)
    if not redactor.custom:
        return clean
    decoded = clean
    for _ in range(3):
        decoded, before = unquote_plus(decoded), decoded
        if decoded == before:
            break
        redacted = redactor.text(decoded)
        if redacted != decoded:
            return quote(redacted, safe=_URL_SAFE)
    return clean


class RedactingFilter(logging.Filter):
    def __init__(self, source: Callable[[], Redactor]) -> None:
        super().__init__()
        self._source = source

    def _redactor(self) -> Redactor:
        try:
            return self._source()
        except Exception:  # the store may be closing: the built-in rules still apply
            return BUILTIN_RULES

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact(record)
        except Exception:  # a filter must never break the code that logs
            record.msg, record.args = "[a log record that could not be redacted]", ()
            record.exc_info = record.exc_text = record.stack_info = None
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        redactor = self._redactor()
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # uvicorn's access formatter unpacks these five values: redact each in place
            record.args = tuple(
                redact_log_text(redactor, arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        else:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: logging reports msg and args
                message = f"{record.msg} {record.args}"
            clean = redact_log_text(redactor, message)
            if clean != message:
                record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_log_text(redactor, record.exc_text)
        if record.stack_info:
            record.stack_info = redact_log_text(redactor, record.stack_info)


@contextmanager
def redacted_logs(source: Callable[[], Redactor]) -> Iterator[None]:
    """Filter every record of the server's log handlers through `source()` meanwhile."""
    redacting = RedactingFilter(source)
    handlers = {h for name in _LOGGERS for h in logging.getLogger(name).handlers}
    if logging.lastResort is not None:  # where records go when no handler is configured
        handlers.add(logging.lastResort)
    for handler in handlers:
        handler.addFilter(redacting)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(redacting)


def log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging configuration, with ivrlog's own logger on the same handler; in
    `json` format every handler writes web/jsonlog.py's lines, each with its request id."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["ivrlog"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    if log_format == "json":
        json_lines = {"()": "ivrlog.web.jsonlog.JsonFormatter"}
        config["formatters"] = {"default": json_lines, "access": dict(json_lines)}
        config["filters"] = {"request": {"()": "ivrlog.web.jsonlog.RequestFilter"}}
        for handler in config["handlers"].values():
            handler["filters"] = ["request"]
    return config
