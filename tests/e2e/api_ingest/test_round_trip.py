"""POST /ingest/v1/calls keeps data exactly (keys, order, JSON types, limits of numbers and
nesting), and what it accepted is durable."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.model import CallQuery
from ivrlog.storage import open_store
from tests.e2e.api_ingest.helpers import (
    all_logs,
    canonical,
    detail_of,
    get_detail,
    post_raw,
)
from tests.factories import NOW, basic, call, entry, ingest

# exact round trip of data


def test_data_keys_order_and_types_are_kept(client: TestClient, account: Credentials) -> None:
    data = {
        "zulu": 1,
        "module_type": "custom",
        "alpha": 1.0,
        "mike": -0.0,
        "result_variable": "answer",
        "big": 9_223_372_036_854_775_807,
        "small": -9_223_372_036_854_775_808,
        "tiny": 5e-324,
        "huge": 1.7976931348623157e308,
        "yes": True,
        "no": False,
        "null": None,
        "text": 'héllo ☎ 𝄞 "quoted" <tag> & \\ \n\t\r\x00',
        "empty_text": "",
        "empty_list": [],
        "empty_object": {},
        "list": [1, "1", 1.5, True, None, [], {}, [[2]], {"b": 1, "a": 2}],
        "nested": {"z": {"y": {"x": [{"w": None}]}}, "a": 0},
        "1": "numeric key",
        "caller id": "space key",
        "": "empty key",
        "número": "unicode key",
    }
    line = 'Executing application "Welcome" version "1.0" — ünïcödé 🎉 <&>'
    sent = {"event": {"line": line, "data": data}, "class": "prompt", "timestamp": NOW - 3500}
    assert ingest(client, account, [call("types", detail=[sent])]).status_code == 200
    (got,) = detail_of(client, account, "types")
    assert canonical(got) == canonical(sent)
    assert list(got["event"]["data"]) == list(data)
    assert list(got["event"]["data"]["list"][8]) == ["b", "a"]
    (listed_call,) = all_logs(client, account)["calls"]
    assert canonical(listed_call["detail"]) == canonical([sent])


def test_entries_keep_their_order(client: TestClient, account: Credentials) -> None:
    entries = [
        entry(line=f"step {i}", cls=cls, timestamp=NOW - 3600 + (7 - i))
        for i, cls in enumerate(["info", "event", "debug", "prompt", "error", "info", "event"])
    ]
    assert ingest(client, account, [call("order", detail=entries)]).status_code == 200
    assert detail_of(client, account, "order") == entries


@pytest.mark.parametrize("literal", [b"18446744073709551616", b"-9223372036854775809"])
def test_integer_beyond_64_bits_is_refused(
    client: TestClient, account: Credentials, literal: bytes
) -> None:
    body = orjson.dumps([call("big", detail=[entry()])]).replace(
        b'"module_type"', b'"big":' + literal + b',"module_type"', 1
    )
    response = post_raw(client, account, body)
    assert response.status_code == 400
    assert "64 bits" in response.json()["error"]
    assert get_detail(client, account, "big").status_code == 404


def test_largest_64_bit_integers_are_kept(client: TestClient, account: Credentials) -> None:
    body = orjson.dumps([call("edge", detail=[entry()])]).replace(
        b'"module_type"', b'"hi":18446744073709551615,"lo":-9223372036854775808,"module_type"', 1
    )
    assert post_raw(client, account, body).status_code == 200
    (got,) = detail_of(client, account, "edge")
    assert (got["event"]["data"]["hi"], got["event"]["data"]["lo"]) == (2**64 - 1, -(2**63))


def test_infinite_float_is_refused_even_beside_long_digit_runs(
    client: TestClient, account: Credentials
) -> None:
    body = orjson.dumps([call("inf", detail=[entry(ref="1234567890123456789012")])]).replace(
        b'"module_type"', b'"x":1e400,"module_type"', 1
    )
    response = post_raw(client, account, body)
    assert response.status_code == 400
    assert get_detail(client, account, "inf").status_code == 404


@pytest.mark.parametrize("depth", [65, 300, 1000, 2000])
def test_data_nested_too_deep_is_422_with_its_path(
    client: TestClient, account: Credentials, depth: int
) -> None:
    nested = b"[" * depth + b"1" + b"]" * depth
    body = orjson.dumps([call("deep", detail=[entry(), entry()])]).replace(
        b'"module_type"', b'"deep":' + nested + b',"module_type"'
    )
    response = post_raw(client, account, body)
    if depth > 1024:  # beyond what the JSON parser itself reads
        assert response.status_code == 400
        return
    assert response.status_code == 422
    problems = [(e["index"], e["path"]) for e in response.json()["errors"]]
    assert problems == [(0, "detail[0].event.data"), (0, "detail[1].event.data")]


def test_data_nested_to_the_limit_is_kept(client: TestClient, account: Credentials) -> None:
    nested = b"[" * 63 + b"1" + b"]" * 63
    body = orjson.dumps([call("deep-ok", detail=[entry()])]).replace(
        b'"module_type"', b'"deep":' + nested + b',"module_type"', 1
    )
    assert post_raw(client, account, body).status_code == 200
    (got,) = detail_of(client, account, "deep-ok")
    assert orjson.dumps(got["event"]["data"]["deep"]) == nested
    xml = client.get(
        "/api/call/deep-ok", auth=basic(account), headers={"Accept": "application/xml"}
    )
    assert xml.status_code == 200


# durable


def test_accepted_calls_are_seen_by_a_fresh_store(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    calls = [call(f"d;{i}", NOW - 100 * i, detail=[entry(line=f"line {i}")]) for i in range(3)]
    assert ingest(client, account, calls).status_code == 200
    fresh = open_store(db_url)
    try:
        owner = fresh.account_by_email(account.email.lower())
        assert owner is not None
        found, fragment = fresh.call_detail(owner.id, "d;1", "json", 0)
        assert found
        assert fragment is not None
        assert orjson.loads(fragment) == calls[1]["detail"]
        page = fresh.open_page(CallQuery(owner.id, 0, NOW + 1, None, 0, 10, detail_cutoff=0), None)
        try:
            assert page.total == 3
            rows = [row for batch in page.batches() for row in batch]
        finally:
            page.close()
        assert [row[4] for row in rows] == ["d;0", "d;1", "d;2"]
    finally:
        fresh.close()
