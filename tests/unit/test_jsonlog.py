"""web/jsonlog.py's filter and formatter, and web/metrics.py's multiprocess directory, in
process (the real server tests run them in a subprocess)."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

from ivrlog.web.jsonlog import CURRENT, JsonFormatter, RequestFilter
from ivrlog.web.metrics import MULTIPROCESS_ENV, multiprocess_dir


def line(record: logging.LogRecord) -> dict[str, object]:
    RequestFilter().filter(record)
    parsed: dict[str, object] = orjson.loads(JsonFormatter().format(record))
    return parsed


def test_an_access_line_outside_and_inside_a_request() -> None:
    args = ("10.0.0.1:5000", "GET", "/-/health", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", 20, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert line(record)["request_id"] is None
    assert line(record)["duration"] is None
    token = CURRENT.set(("abc", 0.0))
    try:
        inside = line(
            logging.LogRecord(
                "uvicorn.access", 20, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
            )
        )
    finally:
        CURRENT.reset(token)
    assert inside["request_id"] == "abc"
    assert inside["message"] == '10.0.0.1:5000 - "GET /-/health HTTP/1.1" 200'
    assert (inside["method"], inside["path"], inside["status"]) == ("GET", "/-/health", 200)
    assert isinstance(inside["duration"], float)


def test_exceptions_and_stacks_are_fields() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("ivrlog.web", 40, __file__, 1, "failed %s", ("x",), exc_info)
    record.stack_info = "Stack (most recent call last): here"
    parsed = line(record)
    assert parsed["message"] == "failed x"
    assert parsed["level"] == "ERROR"
    assert "ValueError: boom" in str(parsed["exception"])
    assert parsed["stack"] == "Stack (most recent call last): here"
    assert "exception" not in line(logging.LogRecord("ivrlog", 20, __file__, 1, "ok", None, None))


def test_the_multiprocess_directory_lives_as_long_as_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv(MULTIPROCESS_ENV, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)
    with multiprocess_dir() as directory:
        assert os.environ[MULTIPROCESS_ENV] == directory
        assert Path(directory).parent == tmp_path
        assert Path(directory).is_dir()
    assert MULTIPROCESS_ENV not in os.environ
    assert not Path(directory).exists()
    monkeypatch.setenv(MULTIPROCESS_ENV, "/elsewhere")
    with multiprocess_dir():
        pass
    assert os.environ[MULTIPROCESS_ENV] == "/elsewhere"
