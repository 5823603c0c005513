"""Erasure over HTTP with the ingest token: what it erases and answers, who may ask (a
developer key is 403), and every refusal (401, 404, 400, 413, 415, 405)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, set_active
from ivrlog.core.erasure import selector_hash
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.limits import MAX_ERASURE_BODY_BYTES
from ivrlog.core.model import Erasure
from ivrlog.core.ports import Store
from tests.e2e.api_ingest.helpers import bearer, error_message, session_ids
from tests.factories import DAY, NOW, basic, call, database_text, entry, ingest
from tests.fake_store import MemoryStore

NUMBER = "6175550123"
OTHER = "6175550999"
SESSION = "100035;000;1575898377"
NOT_FOUND = "No call or call in progress with that session id."
READ_ONLY = (
    "A developer key only reads: erasure needs the account's ingest token (Authorization: Bearer)."
)


def delete(client: TestClient, session_id: str, headers: dict[str, str]) -> httpx.Response:
    return client.delete(f"/v1/calls/{quote(session_id, safe='')}", headers=headers)


def post(
    client: TestClient, body: Any, headers: dict[str, str], content_type: str = "application/json"
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(
        "/v1/erasures", content=raw, headers={**headers, "Content-Type": content_type}
    )


def erased(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = orjson.loads(response.content)
    assert list(body) == ["erased"]
    count: int = body["erased"]
    return count


def detail_status(client: TestClient, creds: Credentials, session_id: str) -> int:
    return client.get(f"/api/call/{quote(session_id, safe='')}", auth=basic(creds)).status_code


def live(client: TestClient, creds: Credentials, session_id: str, src: str = NUMBER) -> None:
    update = {"src": src, "dest": OTHER, "type": "inbound", "entries": [entry(timestamp=NOW)]}
    url = f"/ingest/v1/calls/{quote(session_id, safe='')}/entries"
    assert client.post(url, json=update, headers=bearer(creds)).status_code == 200


def account_id(store: Store, creds: Credentials) -> int:
    account = store.account_by_email(creds.email.lower())
    assert account is not None
    return account.id


def basic_header(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# ---------------------------------------------------------------- what is erased


def test_delete_erases_the_call_and_answers_the_count(
    client: TestClient, account: Credentials
) -> None:
    assert ingest(client, account, [call(SESSION), call("kept")]).status_code == 200
    assert detail_status(client, account, SESSION) == 200
    assert erased(delete(client, SESSION, bearer(account))) == 1
    assert session_ids(client, account) == ["kept"]
    response = client.get(f"/api/call/{quote(SESSION, safe='')}", auth=basic(account))
    assert error_message(response, 404) == "No call log was found."
    # gone: a second erasure finds nothing
    assert error_message(delete(client, SESSION, bearer(account)), 404) == NOT_FOUND


def test_each_erased_call_takes_an_erased_place_in_the_change_sequence(
    client: TestClient, account: Credentials, store: Store
) -> None:
    calls = [call("a", src=NUMBER), call("b", dest=NUMBER), call("kept", src=OTHER, dest=OTHER)]
    assert ingest(client, account, calls).status_code == 200
    live(client, account, "live")  # in progress: it never had a place, and takes none
    owner = account_id(store, account)
    last = store.changes(owner, 0, 100, 0)[-1].seq
    assert erased(post(client, {"number": NUMBER}, bearer(account))) == 3
    places = store.changes(owner, last, 100, 0)
    assert sorted((p.change, p.session_id, p.call) for p in places) == [
        ("erased", "a", None),
        ("erased", "b", None),
    ]
    assert erased(delete(client, "kept", bearer(account))) == 1
    [place] = store.changes(owner, places[-1].seq, 100, 0)
    assert (place.change, place.session_id, place.call) == ("erased", "kept", None)


def test_delete_takes_the_session_id_with_raw_semicolons(
    client: TestClient, account: Credentials
) -> None:
    assert ingest(client, account, [call(SESSION)]).status_code == 200
    assert erased(client.delete(f"/v1/calls/{SESSION}", headers=bearer(account))) == 1
    assert session_ids(client, account) == []


def test_delete_erases_a_call_in_progress(client: TestClient, account: Credentials) -> None:
    live(client, account, "live;1")
    assert detail_status(client, account, "live;1") == 200
    assert erased(delete(client, "live;1", bearer(account))) == 1
    assert detail_status(client, account, "live;1") == 404
    # the session id is free again: a new update starts a new call
    live(client, account, "live;1")
    assert detail_status(client, account, "live;1") == 200


def test_post_erases_every_call_to_or_from_the_number(
    client: TestClient, account: Credentials, store: Store, db_url: str
) -> None:
    calls = [
        call("from", src=NUMBER, dest=OTHER),
        call("to", src=OTHER, dest=NUMBER),
        call("outbound", src=NUMBER, dest=OTHER, type="outbound"),
        call("neither", src=OTHER, dest=OTHER),
        call("longer", src=NUMBER + "1", dest=OTHER),
    ]
    assert ingest(client, account, calls).status_code == 200
    live(client, account, "live", src=NUMBER)
    assert erased(post(client, {"number": NUMBER}, bearer(account))) == 4
    assert sorted(session_ids(client, account)) == ["longer", "neither"]
    assert detail_status(client, account, "live") == 404
    # the audit keeps the keyed hash (and when, and how many), never the number
    digest = selector_hash(store.audit_key(), Erasure(number=NUMBER))
    if isinstance(store, MemoryStore):
        assert store._tables.erasures == [(account_id(store, account), NOW, 4, digest)]
    else:
        assert digest in database_text(db_url)
    assert erased(post(client, {"number": NUMBER}, bearer(account))) == 0


@pytest.mark.parametrize(
    ("before", "left"),
    [
        (NOW - DAY, ["edge", "new"]),
        (str(NOW - DAY), ["edge", "new"]),
        ("-1d", ["edge", "new"]),
        ("2026-11-17T11:06:40Z", ["edge", "new"]),
        ("2026-11-17T12:06:40+01:00", ["edge", "new"]),
        (None, []),
    ],
)
def test_post_before_erases_only_calls_that_started_before_it(
    client: TestClient, account: Credentials, before: Any, left: list[str]
) -> None:
    assert NOW - DAY == 1_794_913_600  # 2026-11-17T11:06:40Z
    calls = [
        call("old", start=NOW - 2 * DAY, src=NUMBER),
        call("edge", start=NOW - DAY, src=NUMBER),
        call("new", start=NOW - 60, dest=NUMBER),
    ]
    assert ingest(client, account, calls).status_code == 200
    count = erased(post(client, {"number": NUMBER, "before": before}, bearer(account)))
    assert count == 3 - len(left)
    assert sorted(session_ids(client, account)) == left


def test_erasure_never_reaches_another_account(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    assert ingest(client, other_account, [call(SESSION, src=NUMBER)]).status_code == 200
    assert error_message(delete(client, SESSION, bearer(account)), 404) == NOT_FOUND
    assert erased(post(client, {"number": NUMBER}, bearer(account))) == 0
    assert session_ids(client, other_account) == [SESSION]


# ---------------------------------------------------------------- who may erase


def test_a_developer_key_is_403_and_erases_nothing(
    client: TestClient, account: Credentials
) -> None:
    assert ingest(client, account, [call(SESSION, src=NUMBER)]).status_code == 200
    reader = basic_header(account.email, account.developer_key)
    for response in (
        delete(client, SESSION, reader),
        post(client, {"number": NUMBER}, reader),
    ):
        assert error_message(response, 403) == READ_ONLY
    assert session_ids(client, account) == [SESSION]


BAD_CREDENTIALS: dict[str, Callable[[Credentials], dict[str, str]]] = {
    "none": lambda c: {},
    "wrong token": lambda c: {"Authorization": "Bearer ivt_not-a-real-token"},
    "developer key as bearer": lambda c: {"Authorization": f"Bearer {c.developer_key}"},
    "wrong developer key": lambda c: basic_header(c.email, c.developer_key + "x"),
    "ingest token as basic": lambda c: basic_header(c.email, c.ingest_token),
    "other scheme": lambda c: {"Authorization": f"Token {c.ingest_token}"},
}


@pytest.mark.parametrize("name", list(BAD_CREDENTIALS))
def test_other_credentials_are_401_and_erase_nothing(
    client: TestClient, account: Credentials, name: str
) -> None:
    assert ingest(client, account, [call(SESSION, src=NUMBER)]).status_code == 200
    headers = BAD_CREDENTIALS[name](account)
    for response in (
        delete(client, SESSION, headers),
        delete(client, "unknown", headers),
        post(client, {"number": NUMBER}, headers),
        post(client, b"not json", headers, "text/plain"),
    ):
        message = error_message(response, 401)
        assert message == "Ingest token invalid or the account is inactive."
        assert response.headers["www-authenticate"] == "Bearer"
    assert session_ids(client, account) == [SESSION]


def test_a_disabled_account_cannot_erase(
    client: TestClient, account: Credentials, store: Store
) -> None:
    # stored without a request, so that no credential is cached before the account is off
    assert ingest_calls(store, account_id(store, account), [call(SESSION)]) == 1
    set_active(store, account.email, False)
    reader = basic_header(account.email, account.developer_key)
    for headers in (bearer(account), reader):  # a disabled developer key is no key: 401
        response = delete(client, SESSION, headers)
        assert error_message(response, 401) == "Ingest token invalid or the account is inactive."
    assert store.call_detail(account_id(store, account), SESSION, "json", 0).found


# ---------------------------------------------------------------- refusals


def test_an_unknown_session_id_is_404(client: TestClient, account: Credentials) -> None:
    for session_id in ("unknown", "a b;c", "x" * 300):
        assert error_message(delete(client, session_id, bearer(account)), 404) == NOT_FOUND


def test_a_session_id_that_is_not_utf8_is_400(client: TestClient, account: Credentials) -> None:
    response = client.delete("/v1/calls/%FF%FE", headers=bearer(account))
    assert error_message(response, 400).startswith("Invalid session_id: its percent-escapes")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "The body is not valid JSON"),
        (b"", "The body is not valid JSON"),
        (b'["6175550123"]', "The body must be a JSON object"),
        (b"{}", "Missing number: must be a non-empty string"),
        (b'{"number": ""}', "Invalid number: must be a non-empty string of at most 64"),
        (b'{"number": 6175550123}', "Invalid number"),
        (b'{"number": "6175550123", "after": 5}', "Unknown field 'after' in the body"),
        (b'{"number": "6175550123", "before": "soon"}', "Invalid before 'soon': must be UNIX"),
        (b'{"number": "6175550123", "before": 1.5}', "Invalid before: must be UNIX seconds"),
    ],
)
def test_a_bad_body_is_400_naming_the_problem(
    client: TestClient, account: Credentials, body: bytes, message: str
) -> None:
    assert ingest(client, account, [call(SESSION, src=NUMBER)]).status_code == 200
    text = error_message(post(client, body, bearer(account)), 400)
    assert text.startswith(message), text
    assert NUMBER not in text
    assert session_ids(client, account) == [SESSION]


def test_a_body_that_is_not_json_is_415(client: TestClient, account: Credentials) -> None:
    response = post(client, {"number": NUMBER}, bearer(account), "text/plain")
    assert error_message(response, 415).startswith("Content-Type 'text/plain' is not accepted")
    form = post(client, b"number=6175550123", bearer(account), "application/x-www-form-urlencoded")
    assert error_message(form, 415)


def test_a_body_past_the_limit_is_413(client: TestClient, account: Credentials) -> None:
    body = {"number": NUMBER, "before": " " * MAX_ERASURE_BODY_BYTES}
    message = error_message(post(client, body, bearer(account)), 413)
    assert message == f"An erasure body is at most {MAX_ERASURE_BODY_BYTES} bytes."


def test_other_methods_are_405_naming_the_allowed_one(
    client: TestClient, account: Credentials
) -> None:
    for method, url, allow in (
        ("GET", "/v1/erasures", "POST"),
        ("PUT", "/v1/erasures", "POST"),
        ("POST", "/v1/calls/x", "DELETE"),
        ("PATCH", "/v1/calls/x", "DELETE"),
    ):
        response = client.request(method, url, headers=bearer(account))
        message = error_message(response, 405)
        assert message == f"Invalid HTTP method supplied (only {allow} allowed)."
        assert response.headers["allow"] == allow


def test_the_openapi_document_asks_for_the_ingest_token(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (("/v1/calls/{session_id}", "delete"), ("/v1/erasures", "post")):
        operation = paths[path][method]
        assert operation["security"] == [{"ingestToken": []}]
        assert {"200", "401", "403", "429", "500"} <= set(operation["responses"])
        assert "422" not in operation["responses"]
    assert "404" in paths["/v1/calls/{session_id}"]["delete"]["responses"]
    assert {"400", "413", "415"} <= set(paths["/v1/erasures"]["post"]["responses"])
    # the compatible API keeps the developer key
    assert paths["/api/call/{session_id}"]["get"]["security"] == [{"developerKey": []}]
