"""Fixtures shared by every suite: stores per backend, the app, a client, an account."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials, add_account
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.storage import open_store
from ivrlog.web import create_app
from tests.factories import NOW
from tests.fake_store import MemoryStore
from tests.pg import PostgresServer

BACKENDS = ["sqlite", "postgresql"]
# The store-level suites (tests/integration/*store*) run on the in-memory fake
# too (tests/fake_store.py), as the backend "memory": it has no URL that opens it again.
STORE_BACKENDS = [*BACKENDS, "memory"]
MEMORY_URL = "memory://"


# Row-by-row retention batches and journal scrubbing are SQLite's; PostgreSQL drops whole
# partitions instead (tests/integration/postgres_partitions/). Parametrizing
# `backend` directly overrides the fixture's params.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run (tests/pg.py)."""
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL server could be started: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def fresh_database(request: pytest.FixtureRequest, backend: str, directory: Path) -> Iterator[str]:
    """A fresh, empty database of the backend: a file in `directory`, or a new database
    on the test run's PostgreSQL server (dropped afterwards)."""
    with new_database(
        backend, directory, lambda: request.getfixturevalue("postgres_server")
    ) as url:
        yield url


@contextmanager
def new_database(
    backend: str, directory: Path, postgres: Callable[[], PostgresServer]
) -> Iterator[str]:
    """fresh_database, for tests that cannot ask for fixtures as they run (hypothesis)."""
    if backend == "sqlite":
        yield str(directory / "ivrlog.db")
        return
    if backend == "memory":  # open_store refuses it: only the `store` fixture makes one
        yield MEMORY_URL
        return
    server = postgres()
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(request, backend, tmp_path) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    the_store: Store = MemoryStore() if db_url == MEMORY_URL else open_store(db_url)
    yield the_store
    the_store.close()


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings of the test apps; their in-server purge and folds are off, so that they
    cannot race a test (a fold's pool connection draws on `random`, which hypothesis
    watches; tests/e2e/test_purge.py turns them on where they are the subject)."""
    return Settings(database=db_url, purge_interval=0, fold_interval=0)


@pytest.fixture
def app(settings: Settings, store: Store) -> FastAPI:
    return create_app(settings, store=store, clock=lambda: NOW)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as the_client:
        yield the_client


@pytest.fixture
def account(store: Store) -> Credentials:
    return add_account(store, "Dev@Example.com", now=NOW)


@pytest.fixture
def other_account(store: Store) -> Credentials:
    return add_account(store, "other@example.com", now=NOW)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: a suite that cannot run must not pass quietly."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and reporter is not None:
        reporter.write_line(f"CI=true: {len(skipped)} skipped test(s) count as failures.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
