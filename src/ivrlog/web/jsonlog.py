"""`--log-format json`: one JSON object a line, each with the id of the request it was
logged for.

The middleware (web/middleware.py) puts the request's id and arrival time in a context
variable; `RequestFilter` copies them onto every record logged while the request is
handled (in a worker thread too: Starlette runs handlers in a copy of the context), and
`JsonFormatter` writes the record. The redacting filter (web/logs.py) has already run on
the record by then, so a JSON line holds what a text line would: redacted values.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import Any

import orjson

# (request id, perf_counter at arrival) of the request being handled
CURRENT: ContextVar[tuple[str, float] | None] = ContextVar("ivrlog_request", default=None)
ACCESS_LOGGER = "uvicorn.access"


class RequestFilter(logging.Filter):
    """Give every record `request_id` (None outside a request) and, on an access line,
    `duration`: seconds from the request's arrival to the start of its response."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = CURRENT.get()
        if current is None:
            record.request_id = None
        else:
            record.request_id = current[0]
            if record.name == ACCESS_LOGGER:
                record.duration = round(time.perf_counter() - current[1], 6)
        return True


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601 with milliseconds), level, logger, message, request_id; on an
    access line also client, method, path, http_version, status and duration; `exception`
    when the record carries one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        args = record.args
        if record.name == ACCESS_LOGGER and isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            line.update(
                client=client,
                method=method,
                path=path,
                http_version=version,
                status=status,
                duration=getattr(record, "duration", None),
            )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line, default=str).decode()


def _iso(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"
