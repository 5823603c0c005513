"""The server log's redacting filter, on records built like the ones uvicorn and ivrlog log."""

from __future__ import annotations

import logging
import re
import sys

import pytest

from ivrlog.core.pattern_check import check_pattern
from ivrlog.core.redact import Redactor
from ivrlog.web.logs import RedactingFilter, log_config, redacted_logs

CARD = "4111111111111111"
SSN = "123-45-6789"


def record(name: str, msg: object, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad value {CARD}")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args or None, exc_info)


def formatted(rec: logging.LogRecord) -> str:
    return logging.Formatter("%(message)s").format(rec)


def builtin() -> Redactor:
    return Redactor()


def test_access_lines_keep_their_five_arguments_with_the_path_redacted() -> None:
    rec = record(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        f"/api/call/{CARD}?number={SSN}",
        "1.1",
        404,
    )
    assert RedactingFilter(builtin).filter(rec) is True
    assert isinstance(rec.args, tuple)
    assert len(rec.args) == 5
    text = formatted(rec)
    assert text == '127.0.0.1:5000 - "GET /api/call/[redacted]?number=[redacted] HTTP/1.1" 404'


@pytest.mark.parametrize(
    "args",
    [(CARD,), (f"card {CARD[:8]} {CARD[8:]}",), (ValueError(SSN),), (int(CARD),)],
)
def test_any_record_is_redacted_whatever_its_arguments(args: tuple[object, ...]) -> None:
    rec = record("ivrlog.web", "failure on %s", *args)
    RedactingFilter(builtin).filter(rec)
    text = formatted(rec)
    assert text.startswith("failure on ")
    assert CARD not in re.sub(r"\D", "", text)
    assert SSN not in text
    assert "[redacted]" in text


def test_a_record_without_secrets_is_left_as_it_was() -> None:
    rec = record("ivrlog.web", "ingested %d calls for %s", 12, "ops@example.com")
    RedactingFilter(builtin).filter(rec)
    assert (rec.msg, rec.args) == ("ingested %d calls for %s", (12, "ops@example.com"))


def test_tracebacks_are_redacted() -> None:
    rec = record("ivrlog.web", "unexpected failure", exc=True)
    RedactingFilter(builtin).filter(rec)
    text = formatted(rec)
    assert "ValueError: bad value [redacted]" in text
    assert CARD not in text


def test_custom_patterns_apply_and_a_failing_source_falls_back_to_builtin_rules() -> None:
    custom = Redactor(custom=(check_pattern(r"MEM-\d{6}"),))
    rec = record("ivrlog.web", "member MEM-123456 card %s", CARD)
    RedactingFilter(lambda: custom).filter(rec)
    assert formatted(rec) == "member [redacted] card [redacted]"

    def broken() -> Redactor:
        raise RuntimeError("store closed")

    rec = record("ivrlog.web", "card %s", CARD)
    RedactingFilter(broken).filter(rec)
    assert formatted(rec) == "card [redacted]"


def test_the_filter_sits_on_the_server_handlers_only_while_the_app_runs() -> None:
    handler = logging.StreamHandler()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        with redacted_logs(builtin):
            assert any(isinstance(f, RedactingFilter) for f in handler.filters)
        assert not any(isinstance(f, RedactingFilter) for f in handler.filters)
    finally:
        logger.removeHandler(handler)


def test_log_config_sends_ivrlog_records_to_uvicorns_handler() -> None:
    config = log_config("warning")
    assert config["loggers"]["ivrlog"] == {
        "handlers": ["default"],
        "level": "WARNING",
        "propagate": False,
    }
    assert "default" in config["handlers"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/call/4111%201111%201111%201111",
        "/api/call/x?number=4111+1111+1111+1111",
        "/api/call/4111%2D1111%2D1111%2D1111",
        "/api/call/123%2D45%2D6789",
    ],
)
def test_secrets_percent_encoded_in_a_path_are_redacted(path: str) -> None:
    rec = record(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 404
    )
    RedactingFilter(builtin).filter(rec)
    text = formatted(rec)
    assert "[redacted]" in text
    assert "1111" not in text
    assert "6789" not in text


def test_an_encoded_path_without_secrets_is_logged_as_it_came() -> None:
    path = "/api/call/100035%3B000%3B1575898377"
    rec = record(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 200
    )
    RedactingFilter(builtin).filter(rec)
    assert path in formatted(rec)


def test_a_decoded_line_break_cannot_forge_a_log_line() -> None:
    path = '/api/call/4111%201111%201111%201111%0AINFO:%20fake%20"DELETE%20/admin"'
    rec = record(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 404
    )
    RedactingFilter(builtin).filter(rec)
    text = formatted(rec)
    assert "\n" not in text
    assert "/api/call/[redacted]%0AINFO:%20fake%20" in text


def test_records_without_a_configured_handler_are_redacted_too() -> None:
    assert logging.lastResort is not None
    with redacted_logs(builtin):
        assert any(isinstance(f, RedactingFilter) for f in logging.lastResort.filters)
    assert not any(isinstance(f, RedactingFilter) for f in logging.lastResort.filters)


def test_a_doubly_encoded_card_is_redacted() -> None:
    path = "/api/call/4111%25201111%25201111%25201111"
    rec = record(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 404
    )
    RedactingFilter(builtin).filter(rec)
    assert "1111" not in formatted(rec)


def test_the_filter_never_raises_into_the_code_that_logs() -> None:
    member = Redactor(custom=(check_pattern(r"MEM-\d{6}"),))  # RE2 takes UTF-8 only
    lone = b"\xff".decode("utf-8", "surrogateescape")
    rec = record("ivrlog.web", "bad bytes %s card %s", lone, CARD)
    assert RedactingFilter(lambda: member).filter(rec) is True
    text = formatted(rec)
    assert "bad bytes \\udcff card [redacted]" in text

    def explode() -> Redactor:
        return Redactor(custom=(None,))  # type: ignore[arg-type]

    rec = record("ivrlog.web", "card %s", CARD)
    assert RedactingFilter(explode).filter(rec) is True
    assert formatted(rec) == "[a log record that could not be redacted]"
