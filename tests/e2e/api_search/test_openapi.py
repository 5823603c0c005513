"""The served OpenAPI document describes /v1/calls and /v1/changes whole (every parameter
core/search.py takes, the three formats, every error), and their requests are counted by
route in the metrics like every other endpoint's."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ivrlog.core import search
from ivrlog.core.accounts import Credentials
from ivrlog.core.limits import MAX_LIMIT
from tests.e2e.api_search.helpers import find

# the document does not depend on the store
document_only = pytest.mark.parametrize("backend", ["memory"])


def operation(client: TestClient, path: str) -> dict[str, Any]:
    document = client.get("/openapi.json").json()
    found: dict[str, Any] = document["paths"][path]["get"]
    return found


@document_only
def test_every_parameter_is_documented(client: TestClient) -> None:
    for path, names in (
        ("/v1/calls", search.PARAMETERS),
        ("/v1/changes", search.CHANGES_PARAMETERS),
    ):
        documented = operation(client, path)["parameters"]
        assert [p["name"] for p in documented] == list(names)
        for parameter in documented:
            assert parameter["in"] == "query"
            assert parameter["required"] is False
            assert len(parameter["description"]) > 20
            assert parameter["schema"]


@document_only
def test_the_three_formats_and_every_error_are_documented(client: TestClient) -> None:
    calls = operation(client, "/v1/calls")
    ok = calls["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "application/x-ndjson", "text/csv"}
    assert "Link" in ok["headers"]
    assert {"400", "401", "405", "406", "429", "500"} <= set(calls["responses"])
    assert "422" not in calls["responses"]
    changes = operation(client, "/v1/changes")
    assert set(changes["responses"]["200"]["content"]) == {"application/json"}
    assert {"400", "401", "429"} <= set(changes["responses"])
    for documented in (calls, changes):
        assert documented["security"] == [{"developerKey": []}]
        for status, answer in documented["responses"].items():
            if status != "200":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}


@document_only
def test_the_bounds_are_core_searchs(client: TestClient) -> None:
    schemas = {p["name"]: p["schema"] for p in operation(client, "/v1/calls")["parameters"]}
    assert schemas["limit"]["anyOf"][0]["maximum"] == MAX_LIMIT
    assert schemas["q"]["maxLength"] == search.MAX_Q
    assert schemas["app"]["maxLength"] == search.MAX_NAME
    assert schemas["format"]["enum"] == list(search.FORMATS)


def test_requests_are_counted_by_route(client: TestClient, account: Credentials) -> None:
    assert find(client, account).status_code == 200
    assert find(client, account, ("limit", "0")).status_code == 400
    assert find(client, account, path="/v1/changes").status_code == 200
    exposition = client.get("/-/metrics").text
    for route, status in (("/v1/calls", "200"), ("/v1/calls", "400"), ("/v1/changes", "200")):
        sample = f'ivrlog_http_requests_total{{method="GET",route="{route}",status="{status}"}}'
        assert sample in exposition, sample
