"""Docs are tested output: the CLI reference, the settings table, the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ivrlog import clidoc
from ivrlog.core import errors
from ivrlog.settings import describe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_cli_reference_is_up_to_date() -> None:
    assert (DOCS / "cli.md").read_text() == clidoc.render(), "run `make docs-cli`"


def test_cli_reference_covers_every_command() -> None:
    text = (DOCS / "cli.md").read_text()
    for command in (
        "serve",
        "demo",
        "accounts add",
        "accounts list",
        "accounts disable",
        "accounts enable",
        "accounts rotate",
    ):
        assert f"## `ivrlog {command}`" in text


@pytest.mark.parametrize("info", describe(), ids=lambda i: i.name)
def test_settings_doc_lists_every_setting(info: object) -> None:
    text = (DOCS / "settings.md").read_text()
    for part in (info.name, info.flag, info.env):  # type: ignore[attr-defined]
        assert f"`{part}`" in text or f"| {part} |" in text, part


def test_api_doc_gives_every_error_message() -> None:
    text = (DOCS / "api.md").read_text()
    for error in (
        errors.Unauthorized,
        errors.CallNotFound,
        errors.DetailUnavailable,
        errors.MethodNotAllowed,
        errors.DatabaseError,
        errors.NotFound,
    ):
        assert error.message in text, error.__name__


def test_readme_gives_the_two_commands_and_links() -> None:
    text = (ROOT / "README.md").read_text()
    assert "make run" in text
    assert "make test" in text
    assert "make bench" in text
    pages = ("api", "cli", "settings", "operations", "privacy", "scaling", "performance")
    for page in (f"docs/{name}.md" for name in pages):
        assert page in text
        assert (ROOT / page).exists()


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_openapi_describes_every_endpoint(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    compat = ["/api/calls/{start}/{end}", "/api/all_logs/{start}/{end}", "/api/call/{session_id}"]
    for path in compat:
        operation = paths[path]["get"]
        assert list(paths[path]) == ["get"]
        assert operation["description"]
        assert {"200", "401", "405", "500"} <= set(operation["responses"])
        assert operation["security"] == [{"developerKey": []}]
        assert "422" not in operation["responses"]  # a bad parameter is 400 here
        assert "application/xml" in operation["responses"]["200"]["content"]
    for path in compat[:2]:
        params = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert set(params) == {"start", "end", "number", "offset", "limit"}
        assert params["limit"]["schema"]["maximum"] == 10000
        assert params["start"]["schema"]["type"] == "integer"
        assert all(p["description"] for p in params.values())
        assert "400" in paths[path]["get"]["responses"]
    assert "404" in paths["/api/call/{session_id}"]["get"]["responses"]
    ingest = paths["/ingest/v1/calls"]["post"]
    assert {"200", "400", "401", "413", "415", "422"} <= set(ingest["responses"])
    assert ingest["security"] == [{"ingestToken": []}]
    body_schema = ingest["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["items"]["$ref"] == "#/components/schemas/IngestCall"
    schemas = document["components"]["schemas"]
    assert {"IngestCall", "CallsPage", "AllLogsPage", "ErrorBody"} <= set(schemas)
    assert list(schemas["CallSummary"]["properties"]) == [
        "dest",
        "src",
        "start",
        "end",
        "session_id",
        "type",
        "log",
    ]
    assert "/-/health" in paths
    assert "HTTPValidationError" not in schemas


def test_swagger_page_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
    assert client.get("/", follow_redirects=False).headers["location"] == "/docs"
