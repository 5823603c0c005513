"""Core imports no other layer (STYLE, the shape of the house): every module under
src/ivrlog/core/ is read with `ast`, and an import of any part of ivrlog outside core
(storage, render, web, the CLI modules, settings, and whatever is added later) fails the
test, in whatever form it is written (at the top, inside a function, under TYPE_CHECKING,
relative, or by name through importlib)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ivrlog.core

CORE = Path(ivrlog.core.__file__).parent
_DYNAMIC = ("import_module", "__import__")


def _outside(module: str, own: str) -> bool:
    """Whether `module` is a part of ivrlog outside the layer `own`: what a layer may
    import is listed (itself, and the package's version), not what it may not."""
    parts = module.split(".")
    if parts[0] != "ivrlog" or len(parts) == 1:
        return False
    return parts[1] not in (own, "__version__")


def _absolute(module: str | None, level: int, package: str) -> str:
    """The absolute name of `from <level dots><module> import ...` in `package`."""
    if not level:
        return module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - level + 1])
    return f"{base}.{module}" if module else base


def forbidden_imports(source: str, package: str = "ivrlog.core") -> list[str]:
    """The other layers' modules that `source` (a module of `package`) imports."""
    own = [*package.split("."), "core"][1]  # the layer `package` is in

    def _is_forbidden(module: str) -> bool:
        return _outside(module, own)

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_forbidden(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module, node.level, package)
            # `from ivrlog import web` names the layer as an imported name
            for name in [module, *(f"{module}.{alias.name}" for alias in node.names)]:
                if _is_forbidden(name):
                    found.append(name)
                    break
        elif isinstance(node, ast.Call):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else None
            if isinstance(function, ast.Name):
                called = function.id
            if called in _DYNAMIC and node.args:
                first = node.args[0]
                named = first.value if isinstance(first, ast.Constant) else None
                if isinstance(named, str) and _is_forbidden(named):
                    found.append(named)
    return found


def _package_of(path: Path) -> str:
    """The package a module's relative imports start from (its own, for __init__.py)."""
    return ".".join(path.relative_to(CORE.parent.parent).parts[:-1])


CORE_MODULES = sorted(CORE.rglob("*.py"))
CLIENT_MODULES = sorted((CORE.parent / "client").rglob("*.py"))


@pytest.mark.parametrize("path", CLIENT_MODULES, ids=lambda path: path.name)
def test_the_client_stands_alone(path: Path) -> None:
    """ivrlog.client imports nothing of ivrlog but itself and the version (docs/client.md):
    a script can use it without the server's dependencies being set up."""
    found = forbidden_imports(path.read_text(encoding="utf-8"), _package_of(path))
    assert not found, f"client/{path.name} imports {', '.join(found)}"


def test_the_walk_finds_the_core_modules() -> None:
    names = {path.name for path in CORE_MODULES}
    assert {"__init__.py", "ingest.py", "validation.py", "limits.py", "xmlwriter.py"} <= names


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda path: path.name)
def test_core_imports_no_other_layer(path: Path) -> None:
    found = forbidden_imports(path.read_text(encoding="utf-8"), _package_of(path))
    assert not found, f"{path.name} imports {', '.join(found)}: core must not (STYLE)"


@pytest.mark.parametrize(
    "source",
    [
        "import ivrlog.web",
        "import ivrlog.storage.sqlite as sqlite",
        "import os, ivrlog.settings",
        "from ivrlog.render.xml import escape_text",
        "from ivrlog.cli import app",
        "from ivrlog.cli_base import fail",
        "from ivrlog import cli_accounts",
        "import ivrlog.clidoc",
        "from ivrlog.__main__ import main",
        "import ivrlog.some_layer_added_later",
        "from ivrlog import web",
        "from ivrlog import core, settings as s",
        "def f():\n    from ivrlog.storage import open_store\n    return open_store",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ivrlog.web import context",
        "from .. import render",
        "from ..storage.sql import CALL_COLUMNS",
        "from ..web import app",
        "import importlib\nimportlib.import_module('ivrlog.storage.postgres')",
        "__import__('ivrlog.cli')",
    ],
)
def test_each_form_of_a_forbidden_import_is_found(source: str) -> None:
    assert forbidden_imports(source, "ivrlog.core")


@pytest.mark.parametrize(
    "source",
    [
        "from ivrlog.core import model",
        "from ivrlog.core.ports import Store",
        "import ivrlog.core.errors",
        "from ivrlog import core",
        "from . import errors",
        "from .limits import MAX_TIME",
        "import webbrowser, storage, ivrlog_web",
        "import ivrlog_web.storage  # a name that only starts like ivrlog",
        "from ivrlog import __version__",
        "import ivrlog",
        "import importlib\nimportlib.import_module(name)",
        "print('ivrlog.web')",
    ],
)
def test_imports_within_core_and_outside_ivrlog_are_allowed(source: str) -> None:
    assert forbidden_imports(source, "ivrlog.core") == []


def test_a_relative_import_is_read_from_the_module_s_package() -> None:
    assert _package_of(CORE / "ingest.py") == "ivrlog.core"
    assert _package_of(CORE / "__init__.py") == "ivrlog.core"
    assert forbidden_imports("from . import web", "ivrlog") == ["ivrlog.web"]
    assert forbidden_imports("from . import web", "ivrlog.core") == []


def _ivrlog_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "ivrlog"]
        elif isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").split(".")[0] == "ivrlog"
        ):
            found.append("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("leaf", ["xmlwriter.py", "limits.py"])
def test_the_leaves_import_nothing_from_ivrlog(leaf: str) -> None:
    """The XML writer and the limits are shared by every layer: they depend on none."""
    assert _ivrlog_imports((CORE / leaf).read_text(encoding="utf-8")) == []
    assert _ivrlog_imports("from ivrlog.core import model\nfrom . import x") == [
        "ivrlog.core",
        ".",
    ]
