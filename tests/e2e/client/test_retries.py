"""ivrlog.client against a real server that fails on purpose: what it retries, how long
it waits (Retry-After, backoff), and the one exception of each failure."""

from __future__ import annotations

import socket
from email.utils import formatdate

import orjson
import pytest

from ivrlog.client import (
    Client,
    ConnectionFailed,
    NotFound,
    RequestTimeout,
    Retry,
    ServerError,
    Throttled,
    UnexpectedAnswer,
)
from ivrlog.client.retry import retry_after
from tests.e2e.scripted import Answer, scripted_server

LISTING = orjson.dumps({"calls": [], "total_calls": 0})
DATABASE_ERROR = orjson.dumps({"error": "Database error."})
THROTTLED = orjson.dumps({"error": "Too many requests."})


class Waits(list[float]):
    """A Retry's sleep that records each wait instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_of(url: str, waits: Waits, **policy: object) -> Client:
    retry = Retry(jitter=False, sleep=waits, **policy)  # type: ignore[arg-type]
    return Client(url, email="ops@example.com", key="k", token="t", retry=retry, timeout=2)


def test_server_errors_are_retried_with_exponential_backoff() -> None:
    script = [Answer(500, DATABASE_ERROR), Answer(503, b"<html>busy</html>"), Answer(200, LISTING)]
    waits = Waits()
    with scripted_server(script) as server, client_of(server.url, waits) as client:
        assert client.calls(0, 10).total_calls == 0
    assert waits == [0.5, 1.0]
    assert len(server.received) == 3


def test_a_server_that_keeps_failing_gives_one_server_error() -> None:
    waits = Waits()
    with (
        scripted_server([Answer(500, DATABASE_ERROR)]) as server,
        client_of(server.url, waits, attempts=4, max_backoff=1.5) as client,
        pytest.raises(ServerError) as failed,
    ):
        client.calls(0, 10)
    assert waits == [0.5, 1.0, 1.5]  # capped at max_backoff
    assert len(server.received) == 4
    assert (failed.value.status, failed.value.message) == (500, "Database error.")


def test_jitter_waits_a_random_time_up_to_the_backoff() -> None:
    waits = Waits()
    retry = Retry(attempts=6, backoff=1.0, max_backoff=8.0, sleep=waits)
    with (
        scripted_server([Answer(502, b"")]) as server,
        Client(server.url, email="e", key="k", retry=retry) as client,
        pytest.raises(ServerError),
    ):
        client.calls(0, 10)
    assert len(waits) == 5
    assert all(0 <= wait <= cap for wait, cap in zip(waits, [1, 2, 4, 8, 8], strict=True))


def test_429_waits_what_retry_after_says() -> None:
    script = [Answer(429, THROTTLED, {"Retry-After": "3"}), Answer(200, LISTING)]
    waits = Waits()
    with scripted_server(script) as server, client_of(server.url, waits) as client:
        client.calls(0, 10)
    assert waits == [3.0]


def test_retry_after_as_an_http_date() -> None:
    assert retry_after(formatdate(1_000_030, usegmt=True), now=1_000_000) == pytest.approx(30)
    assert retry_after("7") == 7.0
    assert retry_after("soon") is None
    assert retry_after(None) is None


def test_a_retry_after_beyond_the_limit_fails_at_once_with_it() -> None:
    script = [Answer(429, THROTTLED, {"Retry-After": "3600"})]
    waits = Waits()
    with (
        scripted_server(script) as server,
        client_of(server.url, waits, max_retry_after=60) as client,
        pytest.raises(Throttled) as throttled,
    ):
        client.calls(0, 10)
    assert waits == []
    assert throttled.value.retry_after == 3600
    assert throttled.value.message == "Too many requests."


def test_client_errors_are_not_retried() -> None:
    waits = Waits()
    script = [Answer(404, orjson.dumps({"error": "No call log was found."}))]
    with (
        scripted_server(script) as server,
        client_of(server.url, waits) as client,
        pytest.raises(NotFound),
    ):
        client.call("1;2")
    assert len(server.received) == 1
    assert waits == []
    assert server.received[0].path == "/api/call/1%3B2"


def test_a_retried_live_update_keeps_its_idempotency_key() -> None:
    answer = orjson.dumps(
        {"session_id": "s", "appended": 1, "out_of_order": 0, "entries": 1, "complete": False}
    )
    waits = Waits()
    with (
        scripted_server([Answer(503, b""), Answer(200, answer)]) as server,
        client_of(server.url, waits) as client,
    ):
        assert client.append("s", [], src="1", dest="2", type="inbound")["appended"] == 1
    keys = [request.headers["idempotency-key"] for request in server.received]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert [r.headers["authorization"] for r in server.received] == ["Bearer t", "Bearer t"]


def test_nobody_listening_is_a_connection_failure_after_every_attempt() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]  # bound, not listening: connections are refused
        waits = Waits()
        with (
            client_of(f"http://127.0.0.1:{port}", waits, attempts=3) as client,
            pytest.raises(ConnectionFailed) as failed,
        ):
            client.calls(0, 10)
    assert waits == [0.5, 1.0]
    assert "3 attempts" in failed.value.message


def test_a_slow_server_is_a_timeout() -> None:
    waits = Waits()
    with (
        scripted_server([Answer(200, LISTING, delay=1.5)]) as server,
        Client(
            server.url, email="e", key="k", timeout=0.3, retry=Retry(attempts=2, sleep=waits)
        ) as client,
        pytest.raises(RequestTimeout),
    ):
        client.calls(0, 10)
    assert len(waits) == 1


def test_an_answer_that_is_not_the_documented_json_is_unexpected() -> None:
    waits = Waits()
    with (
        scripted_server([Answer(200, b"<html>login</html>")]) as server,
        client_of(server.url, waits) as client,
    ):
        with pytest.raises(UnexpectedAnswer, match="not JSON"):
            client.calls(0, 10)
        with pytest.raises(UnexpectedAnswer):
            client.changes()


def test_every_5xx_but_501_is_retried() -> None:
    waits = Waits()
    with (
        scripted_server([Answer(507, b""), Answer(522, b""), Answer(200, LISTING)]) as server,
        client_of(server.url, waits) as client,
    ):
        client.calls(0, 10)
    assert len(server.received) == 3
    with (
        scripted_server([Answer(501, b"")]) as server,
        client_of(server.url, waits) as client,
        pytest.raises(ServerError),
    ):
        client.calls(0, 10)
    assert len(server.received) == 1


def test_a_redirect_is_not_followed_but_named() -> None:
    waits = Waits()
    moved = [Answer(301, b"", {"Location": "https://logs.example.com/api/calls/0/10"})]
    with (
        scripted_server(moved) as server,
        client_of(server.url, waits) as client,
        pytest.raises(UnexpectedAnswer, match=r"a redirect to https://logs\.example\.com/api"),
    ):
        client.calls(0, 10)
    assert len(server.received) == 1


def test_a_next_page_on_another_host_is_not_followed() -> None:
    elsewhere = orjson.dumps(
        {"from": "", "to": "", "calls": [], "next": "http://evil.example.com/v1/calls?cursor=x"}
    )
    with (
        scripted_server([Answer(200, elsewhere)]) as server,
        client_of(server.url, Waits()) as client,
        pytest.raises(UnexpectedAnswer, match="another server"),
    ):
        list(client.iter_search())
    assert len(server.received) == 1


def test_a_next_page_keeps_the_clients_scheme_and_host() -> None:
    first: dict[str, object] = {"from": "", "to": "", "calls": [], "next": None}
    script = [
        Answer(200, b"{}"),  # made below, once the server's address is known
        Answer(200, orjson.dumps(first)),
    ]
    with scripted_server(script) as server, client_of(server.url, Waits()) as client:
        host = server.url.removeprefix("http://")
        script[0] = Answer(
            200, orjson.dumps({**first, "next": f"https://{host}/v1/calls?cursor=abc"})
        )
        assert list(client.iter_search()) == []
    assert server.received[1].path == "/v1/calls?cursor=abc"


def test_a_body_that_cannot_be_decoded_is_unexpected() -> None:
    broken = [Answer(200, b"not gzip at all", {"Content-Encoding": "gzip"})]
    with (
        scripted_server(broken) as server,
        client_of(server.url, Waits()) as client,
        pytest.raises(UnexpectedAnswer, match="cannot be decoded"),
    ):
        client.calls(0, 10)
