"""The server log's redaction (redact_log_text): the built-in rules of Redactor.text,
nothing of its own, catch every spelling in a request line; accounts' patterns are also
tried percent-decoded."""

from __future__ import annotations

import pytest

from ivrlog.core.pattern_check import check_pattern
from ivrlog.core.redact import REDACTED, Redactor
from ivrlog.web.logs import redact_log_text

BUILTIN = Redactor()


@pytest.mark.parametrize(
    "path",
    [
        "/api/call/4111.1111.1111.1111",
        "/api/call/4111%2E1111%2E1111%2E1111",
        "/api/call/4111%2e1111%2e1111%2e1111",
        "/api/call/%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31",
        "/api/call/%EF%BC%94%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91"
        "%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91",
        "/api/call/4111%E2%80%931111%E2%80%931111%E2%80%931111",
        "/api/call/4111%C2%A01111%C2%A01111%C2%A01111",
        "/api/call/4111%0A1111%0A1111%0A1111",
        "/api/call/4111/1111/1111/1111",
        "/api/calls/0/1?number=4111.1111.1111.1111&x=1",
        "/api/calls/0/1?number=4111+1111+1111+1111",
        "/api/calls/0/1?number=4111%252E1111%252E1111%252E1111",
        "/api/call/123.45.6789",
        "/api/call/123%E2%80%9145%E2%80%916789",
    ],
)
def test_the_builtin_rules_alone_catch_every_spelling_in_a_request_line(path: str) -> None:
    line = f'127.0.0.1:1 - "GET {path} HTTP/1.1" 404'
    assert BUILTIN.text(line) == redact_log_text(BUILTIN, line)  # nothing of its own
    clean = redact_log_text(BUILTIN, line)
    assert REDACTED in clean
    assert "1111" not in clean
    assert "%31%31" not in clean
    assert "6789" not in clean
    assert clean.endswith('HTTP/1.1" 404')


def test_an_account_pattern_is_tried_on_the_decoded_line_which_stays_encoded() -> None:
    member = Redactor(custom=(check_pattern(r"MEM-\d{6}"),))
    path = "/api/call/MEM%2D123456%0Afake"  # an access line's path argument
    assert member.text(path) == path  # as written, the pattern does not match
    assert redact_log_text(member, path) == f"/api/call/{REDACTED}%0Afake"
    assert redact_log_text(member, "/api/call/MEM-000001") == f"/api/call/{REDACTED}"
    assert redact_log_text(member, "/api/call/plain%20path") == "/api/call/plain%20path"
