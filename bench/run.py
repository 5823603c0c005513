"""`make bench`: every scenario of docs/performance.md, on SQLite and PostgreSQL, printed as
one table of ratios against a floor or a peer measured in the same run.

Environment:
  BENCH_SIZES        calls in the datasets, smallest to largest (default 10000,100000,1000000)
  BENCH_SECONDS      seconds of load a wrk measurement (default 5)
  BENCH_BACKENDS     sqlite,postgresql (default both)
  BENCH_SCENARIOS    which scenarios to run (default all: B1,B2,B3,B4,B5,B6,B7,B8,B9,B10,B11)
  BENCH_SOAK_SECONDS seconds of B11's mixed load (default 600)
  BENCH_PEER         the Datasette executable (default .venv-peer/bin/datasette)
It takes no arguments (`--help` prints this).
Datasets are kept in bench/out/ for a day (their detail must stay within retention);
everything else is made and removed by the run.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable

from tests.pg import PostgresServer

from bench import soak
from bench.big_page import b2_big_page
from bench.client import Load
from bench.config import ALL_SCENARIOS, BACKENDS, OUT, PEER, SCENARIOS, SIZES, SOAK_SECONDS
from bench.databases import Dataset, fresh_postgres, fresh_sqlite, postgres_dataset, sqlite_dataset
from bench.ingest import b3_ingest
from bench.lookup import b1_lookup, b4_growth, lookups
from bench.pages import b9_pages
from bench.peer import b5_peer
from bench.reports import b8_reports
from bench.results import print_table
from bench.search import b6_search, b7_export
from bench.soak_scenario import b11_soak
from bench.webhooks import b10_webhooks

# those that read the prepared datasets
DATASET_SCENARIOS = {"B1", "B2", "B4", "B5", "B6", "B7", "B8", "B9"}


def check_arguments(arguments: list[str]) -> None:
    """The environment chooses what runs: `--help` prints how; any other argument is refused
    rather than ignored (a mistyped option must not start a ten-minute run)."""
    if arguments in (["-h"], ["--help"]):
        print(__doc__.strip())
        sys.exit(0)
    if arguments:
        sys.exit(f"bench: {' '.join(arguments)!r}: no arguments; see --help for the variables")


def check_scenarios() -> None:
    unknown = SCENARIOS - set(ALL_SCENARIOS)
    if unknown or not SCENARIOS:
        sys.exit(
            f"bench: BENCH_SCENARIOS {os.environ.get('BENCH_SCENARIOS')!r}: "
            f"give a comma-separated list of {', '.join(ALL_SCENARIOS)}"
        )


def check_soak() -> None:
    if "B11" in SCENARIOS and SOAK_SECONDS < soak.MIN_SECONDS:
        sys.exit(f"bench: BENCH_SOAK_SECONDS {SOAK_SECONDS}: give {soak.MIN_SECONDS} or more")


def check_tools() -> None:
    needed = {
        "wrk": {"B1", "B4", "B5", "B6", "B8", "B9"},
        "nginx": {"B2", "B7"},
        "curl": {"B2", "B7"},
    }
    missing = [
        tool for tool, users in needed.items() if users & SCENARIOS and shutil.which(tool) is None
    ]
    if "B5" in SCENARIOS and "sqlite" in BACKENDS and not PEER.exists():
        missing.append(str(PEER))
    if missing:
        sys.exit(f"bench: missing {', '.join(missing)} (make bench installs them)")


def measure(backend: str, datasets: list[Dataset], new_database: Callable[[str], str]) -> None:
    """The chosen scenarios of one backend; B1, B2, B5, B6, B7 and B9 on the largest
    dataset."""
    loads: list[Load] = []
    if datasets:
        largest = datasets[-1]
        if "B4" in SCENARIOS:
            loads = [lookups(data) for data in datasets[:-1]]
        if "B1" in SCENARIOS:
            loads.append(b1_lookup(backend, largest))
        elif "B4" in SCENARIOS:
            loads.append(lookups(largest))
        if "B2" in SCENARIOS:
            b2_big_page(backend, largest)
        if "B6" in SCENARIOS:
            b6_search(backend, largest)
        if "B7" in SCENARIOS:
            b7_export(backend, largest)
        if "B9" in SCENARIOS:
            b9_pages(backend, largest)
    if "B3" in SCENARIOS:
        b3_ingest(backend, new_database)
    if "B10" in SCENARIOS:
        b10_webhooks(backend, new_database)
    if "B4" in SCENARIOS:
        b4_growth(backend, datasets, loads)
    if "B8" in SCENARIOS and datasets:
        b8_reports(backend, datasets)
    if "B5" in SCENARIOS and backend == "sqlite":  # Datasette reads SQLite files only
        b5_peer(datasets[-1])
    if "B11" in SCENARIOS:
        b11_soak(backend, new_database("soak"))


def main() -> None:
    check_arguments(sys.argv[1:])
    check_scenarios()
    check_soak()
    check_tools()
    OUT.mkdir(exist_ok=True)
    with_datasets = bool(DATASET_SCENARIOS & SCENARIOS)
    for backend in BACKENDS:
        if backend == "sqlite":
            datasets = [sqlite_dataset(size) for size in SIZES] if with_datasets else []
            measure(backend, datasets, fresh_sqlite)
            continue
        server = PostgresServer(durable=True)
        try:
            datasets = [postgres_dataset(server, size) for size in SIZES] if with_datasets else []
            measure(backend, datasets, functools.partial(fresh_postgres, server))
        finally:
            server.stop()
    print_table()


if __name__ == "__main__":
    main()
