"""Idempotency-Key on live updates: a retried update is answered as the first, once."""

from __future__ import annotations

import threading
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.idempotency import KEY_LIFETIME, MAX_KEY_LENGTH
from ivrlog.core.ports import LiveTransaction, Store
from ivrlog.core.retention import Retention, purge_expired
from tests.factories import NOW, basic, database_text, entry

SID = "100035;000;1575898377"
T0 = NOW - 600


def post(
    client: TestClient,
    creds: Credentials,
    body: dict[str, Any],
    key: str | bytes | None = None,
    session_id: str = SID,
) -> httpx.Response:
    headers: dict[str, Any] = {"Authorization": f"Bearer {creds.ingest_token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/ingest/v1/calls/{session_id}/entries", content=orjson.dumps(body), headers=headers
    )


def first_update(*lines: str) -> dict[str, Any]:
    return {
        "src": "6177123000",
        "dest": "6177123001",
        "type": "inbound",
        "entries": [entry(line, timestamp=T0 + n) for n, line in enumerate(lines)],
    }


def lines_of(client: TestClient, creds: Credentials, session_id: str = SID) -> list[str]:
    response = client.get(f"/api/call/{session_id}", auth=basic(creds))
    assert response.status_code == 200, response.text
    return [e["event"]["line"] for e in orjson.loads(response.content)]


def test_a_retry_is_answered_as_the_first_and_stores_nothing_more(
    client: TestClient, account: Credentials
) -> None:
    first = post(client, account, first_update("one", "two"), key="update-1")
    assert first.status_code == 200, first.text
    assert first.json()["entries"] == 2
    retry = post(client, account, first_update("one", "two"), key="update-1")
    assert (retry.status_code, retry.content) == (200, first.content)
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert lines_of(client, account) == ["one", "two"]
    # a new key is a new update, applied
    second = post(client, account, {"entries": [entry("three", timestamp=T0 + 5)]}, key="u-2")
    assert second.json()["entries"] == 3
    assert post(client, account, first_update("one", "two"), key="update-1").content == (
        first.content
    )
    assert lines_of(client, account) == ["one", "two", "three"]


def test_without_a_key_a_retry_appends_again(client: TestClient, account: Credentials) -> None:
    post(client, account, first_update("one"))
    post(client, account, first_update("one"))
    assert lines_of(client, account) == ["one", "one"]


def test_the_retry_of_a_completing_update_gets_its_answer_not_409(
    client: TestClient, account: Credentials
) -> None:
    post(client, account, first_update("one"), key="open")
    completing = {"entries": [entry("bye", timestamp=T0 + 9)], "end": T0 + 10}
    first = post(client, account, completing, key="close")
    assert first.status_code == 200, first.text
    assert first.json()["complete"] is True
    retry = post(client, account, completing, key="close")
    assert (retry.status_code, retry.content) == (200, first.content)
    # without the key (or with another) the call is complete: 409, as before
    assert post(client, account, completing).status_code == 409
    assert post(client, account, completing, key="other").status_code == 409
    assert lines_of(client, account) == ["one", "bye"]
    page = client.get(f"/api/calls/0/{NOW}", auth=basic(account)).json()
    assert page["total_calls"] == 1


def test_the_same_key_with_another_body_is_refused_and_stores_nothing(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    post(client, account, first_update("one"), key="k")
    other = post(client, account, {"entries": [entry("not stored", timestamp=T0)]}, key="k")
    assert other.status_code == 422
    [problem] = other.json()["errors"]
    assert problem["path"] == "Idempotency-Key"
    assert "another update" in problem["message"]
    assert lines_of(client, account) == ["one"]
    assert "not stored" not in database_text(db_url)


def test_a_key_belongs_to_one_call_of_one_account(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    body = first_update("one")
    assert post(client, account, body, key="k").json()["session_id"] == SID
    elsewhere = post(client, account, body, key="k", session_id="another")
    assert elsewhere.json()["session_id"] == "another"
    assert post(client, other_account, body, key="k").json()["entries"] == 1
    assert lines_of(client, account, "another") == ["one"]
    assert lines_of(client, other_account) == ["one"]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "x" * (MAX_KEY_LENGTH + 1),
        "caf\xe9".encode("latin-1"),
        b"tab\there",
        b"bell\x07",
        b" leading",
        b"trailing ",
    ],
)
def test_a_malformed_key_is_refused(
    client: TestClient, account: Credentials, key: str | bytes
) -> None:
    response = post(client, account, first_update("one"), key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]
    assert client.get(f"/api/call/{SID}", auth=basic(account)).status_code == 404


def test_the_longest_key_and_every_printable_character_are_accepted(
    client: TestClient, account: Credentials
) -> None:
    printable = "".join(map(chr, range(0x21, 0x7F)))
    for key in ("x" * MAX_KEY_LENGTH, printable, "a key with spaces"):
        assert post(client, account, first_update(key[:5]), key=key).status_code == 200
    for key in ("x" * MAX_KEY_LENGTH, printable, "a key with spaces"):
        assert post(client, account, first_update(key[:5]), key=key).status_code == 200
    assert len(lines_of(client, account)) == 3


def race(
    client: TestClient, creds: Credentials, update: dict[str, Any], key: str, threads: int
) -> list[tuple[int, bytes]]:
    """The answers (status, body) of `threads` identical requests sent at once."""
    barrier = threading.Barrier(threads)
    answers: list[tuple[int, bytes]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            response = post(client, creds, update, key=key)
            answers.append((response.status_code, response.content))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    return answers


def test_identical_requests_racing_store_once_and_get_the_first_answer(
    client: TestClient, account: Credentials
) -> None:
    post(client, account, first_update("start"))
    expected = ["start"]
    for round_ in range(5):  # a race lost once in a while would show in one of them
        lines = [f"once {round_}", f"twice {round_}?"]
        update = {"entries": [entry(line, timestamp=T0 + 1 + round_) for line in lines]}
        answers = race(client, account, update, f"racing-{round_}", threads=8)
        assert len(answers) == 8
        assert len(set(answers)) == 1, answers
        status, body = answers[0]
        assert status == 200
        expected += lines
        assert orjson.loads(body)["entries"] == len(expected)
    assert lines_of(client, account) == expected


def test_keys_are_kept_for_their_lifetime_then_purged(
    client: TestClient, account: Credentials, store: Store
) -> None:
    body = first_update("one")
    post(client, account, body, key="old")
    stored = store.account_by_email(account.email)
    assert stored is not None
    # an hour-long open-call timeout would complete the call: make it longer than the test
    retention = Retention(
        detail_retention_days=5, call_retention_days=365, open_call_timeout=KEY_LIFETIME * 2
    )

    def kept() -> bool:
        return store.run_live(lambda tx: tx.kept_answer(stored.id, SID, "old") is not None)

    purge_expired(store, retention, now=NOW + KEY_LIFETIME)
    assert kept()
    assert post(client, account, body, key="old").json()["entries"] == 1
    purge_expired(store, retention, now=NOW + KEY_LIFETIME + 1)
    assert not kept()
    # the key is forgotten: the same update is applied again
    assert post(client, account, body, key="old").json()["entries"] == 2


def test_the_purge_deletes_keys_in_batches(store: Store, account: Credentials) -> None:
    stored = store.account_by_email(account.email)
    assert stored is not None

    def keep(tx: LiveTransaction) -> None:
        for n in range(5):
            tx.keep_answer(stored.id, SID, f"k{n}", "0" * 64, "{}", NOW + n)

    store.run_live(keep)
    assert store.delete_keys_before(NOW + 3, 2) == 2
    assert store.delete_keys_before(NOW + 3, 2) == 1
    assert store.delete_keys_before(NOW + 3, 2) == 0
    forgotten = store.run_live(
        lambda tx: [tx.kept_answer(stored.id, SID, f"k{n}") is None for n in range(5)]
    )
    assert forgotten == [True, True, True, False, False]


def test_deleting_an_account_s_calls_forgets_its_keys(
    client: TestClient, account: Credentials, store: Store
) -> None:
    post(client, account, first_update("one"), key="k")
    stored = store.account_by_email(account.email)
    assert stored is not None
    store.delete_account_calls(stored.id)
    assert post(client, account, first_update("one"), key="k").json()["entries"] == 1
