"""Cursor paging through HTTP: `next` and the `Link` header lead to the next page with
every filter kept, the last page has neither, and `limit=all` answers what walking the
pages does."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from tests.e2e.api_search.helpers import WIDE, find, flow, ids, relative, stored
from tests.factories import NOW, basic, call


def walk(
    client: TestClient, creds: Credentials, *params: tuple[str, str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Every page from the first, following `next`: the session ids and the answers."""
    response = find(client, creds, *params)
    answers = []
    seen: list[str] = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        answers.append(body)
        seen += ids(body)
        link = response.headers.get("link")
        if body["next"] is None:
            assert link is None
            return seen, answers
        assert link == f'<{body["next"]}>; rel="next"'
        response = client.get(relative(body["next"]), auth=basic(creds))


def test_pages_follow_next_to_the_end_newest_first(
    client: TestClient, account: Credentials
) -> None:
    calls = [call(f"c;{n:02}", NOW - 10 * n) for n in range(23)]
    calls += [call("c;05b", NOW - 50)]  # same start as c;05: after it by session id
    stored(client, account, calls)
    seen, answers = walk(client, account, *WIDE.items(), ("limit", "5"))
    expected = (
        [f"c;{n:02}" for n in range(5)] + ["c;05b", "c;05"] + [f"c;{n:02}" for n in range(6, 23)]
    )
    assert seen == expected
    assert [len(a["calls"]) for a in answers] == [5, 5, 5, 5, 4]
    # every page echoes the same window
    assert {(a["from"], a["to"]) for a in answers} == {(answers[0]["from"], answers[0]["to"])}


def test_the_next_url_keeps_every_filter_exactly(client: TestClient, account: Credentials) -> None:
    stored(
        client,
        account,
        [
            flow(f"s;{n}", NOW - 100 - n, [("menu", "main; é & +")], lines=("pay now",))
            for n in range(3)
        ],
    )
    params = [
        ("q", "pay NOW"),
        ("app", "Card Payments"),
        ("reached", "menu:main; é & +"),
        ("src", "617*"),
        ("number", "6177123001"),
        ("type", "inbound"),
        ("min_duration", "0"),
        ("max_duration", "3600"),
        ("has_error", "false"),
        ("ended_in", "main; é & +"),
        ("include", "detail"),
        ("format", "json"),
        ("from", "-1h"),
        ("limit", "1"),
    ]
    response = find(client, account, *params)
    body = response.json()
    assert ids(body) == ["s;0"]
    url = urlsplit(body["next"])
    assert (url.scheme, url.netloc, url.path) == ("http", "testserver", "/v1/calls")
    given = dict(parse_qsl(url.query, keep_blank_values=True))
    assert given.pop("from") == str(NOW - 3600)  # the relative window, resolved
    assert given.pop("to") == str(NOW + 1)
    assert given.pop("cursor")
    assert given == {k: v for k, v in params if k != "from"}
    seen, _ = walk(client, account, *params)
    assert seen == ["s;0", "s;1", "s;2"]


def test_the_last_page_has_no_next_and_no_link(client: TestClient, account: Credentials) -> None:
    stored(client, account, [call(f"c{n}", NOW - n) for n in range(3)])
    for limit in ("3", "4"):
        response = find(client, account, ("limit", limit))
        assert response.json()["next"] is None
        assert "link" not in response.headers
    response = find(client, account, ("limit", "2"))
    assert response.json()["next"] is not None


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_every_format_carries_the_link(client: TestClient, account: Credentials, fmt: str) -> None:
    stored(client, account, [call(f"c{n}", NOW - n) for n in range(3)])
    first = find(client, account, ("limit", "2"), ("format", fmt))
    link = first.headers["link"]
    assert link.startswith("<http://testserver/v1/calls?")
    assert link.endswith('>; rel="next"')
    last = client.get(relative(link[1 : -len('>; rel="next"')]), auth=basic(account))
    assert last.status_code == 200
    assert "link" not in last.headers
    assert "c2" in last.text
    assert "c0" not in last.text


def test_limit_all_answers_what_walking_the_pages_does(
    client: TestClient, account: Credentials
) -> None:
    stored(
        client,
        account,
        [call(f"c;{n:02}", NOW - 7 * n, type=("inbound", "outbound")[n % 2]) for n in range(40)],
    )
    for params in ([], [("type", "inbound")]):
        walked, answers = walk(client, account, *WIDE.items(), *params, ("limit", "6"))
        export = find(client, account, *WIDE.items(), *params, ("limit", "all"))
        assert export.status_code == 200
        assert "link" not in export.headers
        body = export.json()
        assert ids(body) == walked
        assert body["next"] is None
        assert (body["from"], body["to"]) == (answers[0]["from"], answers[0]["to"])
        assert body["calls"] == [c for a in answers for c in a["calls"]]
