"""Docs are tested output: the CLI reference, the settings table, the error messages, the
OpenAPI document. The lists checked (commands, settings, errors, pages) are read from the
code and the docs/ folder, never written out here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.core import TyperGroup, TyperOption

import ivrlog.web.app  # noqa: F401 - loads the web layer's errors too
from ivrlog import clidoc
from ivrlog.cli import app
from ivrlog.core import errors
from ivrlog.settings import SettingInfo, describe

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_cli_reference_is_up_to_date() -> None:
    assert (DOCS / "cli.md").read_text() == clidoc.render(), "run `make docs-cli`"


def command_paths(command: Any, path: str = "ivrlog") -> Iterator[str]:
    """Every runnable command under `command`, as typed (`ivrlog accounts add`)."""
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from command_paths(sub, f"{path} {name}")
    else:
        yield path


def leaf(path: str) -> Any:
    command = typer.main.get_command(app)
    for name in path.split()[1:]:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return command


COMMANDS = list(command_paths(typer.main.get_command(app)))


def test_the_command_list_is_the_apps_own() -> None:
    # derived from the Typer app; these few pin that the walk finds what it should
    assert {"ivrlog serve", "ivrlog demo", "ivrlog accounts add", "ivrlog purge"} <= set(COMMANDS)
    assert len(COMMANDS) == len(set(COMMANDS)) > 10


@pytest.mark.parametrize("path", COMMANDS)
def test_cli_reference_covers_every_command(path: str) -> None:
    text = (DOCS / "cli.md").read_text()
    assert f"## `{path}`" in text
    assert leaf(path).help, f"{path} has no help"


@pytest.mark.parametrize("info", describe(), ids=lambda i: i.name)
def test_settings_doc_lists_every_setting(info: SettingInfo) -> None:
    text = (DOCS / "settings.md").read_text()
    for part in (info.name, info.flag, info.env):
        assert f"`{part}`" in text or f"| {part} |" in text, part


@pytest.mark.parametrize("info", describe(), ids=lambda i: i.name)
def test_serve_has_one_option_per_setting_from_its_declaration(info: SettingInfo) -> None:
    options = {p.name: p for p in leaf("ivrlog serve").params if isinstance(p, TyperOption)}
    option = options[info.name]
    assert "/".join([*option.opts, *option.secondary_opts]) == info.flag
    assert option.envvar == info.env
    assert option.help == info.help
    assert option.default == info.default
    assert option.is_bool_flag == (info.type is bool)


def error_classes() -> Iterator[type[errors.IvrlogError]]:
    """Every error a client may see: IvrlogError and its subclasses, wherever defined
    (the app is imported, so the web layer's are loaded too)."""
    found = [errors.IvrlogError]
    while found:
        cls = found.pop()
        yield cls
        found += cls.__subclasses__()


ERRORS = sorted(error_classes(), key=lambda cls: f"{cls.__module__}.{cls.__name__}")


def test_the_error_list_is_the_codes_own() -> None:
    names = {cls.__name__ for cls in ERRORS}
    assert {"CallNotFound", "Unauthorized", "ValidationFailed", "DatabaseError"} <= names
    assert {cls.__module__ for cls in ERRORS} > {"ivrlog.core.errors"}


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_api_doc_gives_every_error_status_and_message(error: type[errors.IvrlogError]) -> None:
    text = (DOCS / "api.md").read_text()
    assert str(error.status) in text, error.status
    if "message" in vars(error):  # a fixed message of its own (the others vary per case)
        assert error.message in text, error.message


def test_readme_gives_the_two_commands_and_links() -> None:
    text = (ROOT / "README.md").read_text()
    assert "make run" in text
    assert "make test" in text
    assert "make bench" in text
    pages = sorted(f"docs/{page.name}" for page in DOCS.glob("*.md"))
    assert len(pages) >= 7
    for page in pages:
        assert page in text, f"the README does not link {page}"
    for linked in re.findall(r"docs/[\w-]+\.md", text):
        assert (ROOT / linked).exists(), linked


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
