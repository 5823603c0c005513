"""A throwaway PostgreSQL server for the test run, and a fresh, empty database for each
test.

Each test gets a schema of its own in one database (tests/conftest.py: `db_url`). The
server is made with `initdb` and started with `pg_ctl` in a temporary directory,
listening on 127.0.0.1 at a free port. PostgreSQL refuses to run as root, so when the tests
run as root (CI), both commands run as the ordinary user `postgres` (IVRLOG_TEST_PG_USER).
Durability settings are off: the server's data lives only as long as the run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

PG_USER = os.environ.get("IVRLOG_TEST_PG_USER", "postgres")
DATABASE = "ivrlog_tests"


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    def __init__(self, *, durable: bool = False) -> None:
        """`durable` keeps PostgreSQL's fsync and synchronous commit (the benchmarks);
        the tests turn them off."""
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("initdb and pg_ctl are not on this machine")
        self._pg_ctl = pg_ctl
        self._as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="ivrlog-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._names = itertools.count(1)
        if self._as_root:
            shutil.chown(self.root, user=PG_USER)
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
        if self._as_root:
            command = ["runuser", "-u", PG_USER, "--", *command]
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
        parts = []
        for table in tables:
            rows = conn.execute(
                sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))
            ).fetchall()
            parts.extend(row[0] for row in rows)
    return "\n".join(parts)
