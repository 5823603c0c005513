"""B11 in the table: bench/soak.py's mixed load against one `ivrlog serve`, recorded as
two rows (errors; memory at the end against after the warm-up)."""

from __future__ import annotations

import json
import time

from tests.pg import free_port

from bench import soak
from bench.config import BIN, OUT, SOAK_CALLS, SOAK_SECONDS, console
from bench.processes import running
from bench.results import record


def b11_soak(backend: str, database: str) -> None:
    """SOAK_SECONDS of mixed reads, bulk and live ingestion and purges against one server
    (bench/soak.py): errors, and memory at the end against after the warm-up."""
    now = int(time.time())
    creds = soak.prepare(database, now, SOAK_CALLS)
    pace = soak.Pace()
    port = free_port()
    what = "ivrlog soak server"
    command = soak.server_command(BIN / "ivrlog", database, port, pace)
    with running(command, port, what) as server:
        result = soak.soak(
            port,
            server.pid,
            creds,
            soak.purge_command(BIN / "ivrlog", database),
            SOAK_SECONDS,
            pace,
        )
    result.server_log_errors = soak.server_log_errors(OUT / f"{what.replace(' ', '-')}.log")
    # the server's memory second by second, to tell a plateau from a leak
    (OUT / f"soak-memory-{backend}.json").write_text(json.dumps(result.rss_kb))
    for sample in result.samples:
        console.log(f"[red]B11 error[/] {sample}")
    requests = sum(result.requests.values())
    record(
        "B11 soak, errors",
        backend,
        f"{result.total_errors} errors ({result.server_log_errors} in the server log) in "
        f"{requests:,} requests over {result.seconds:.0f} s ({result.describe_requests()}); "
        f"{result.purges} purges deleted the detail of {result.details_purged:,} calls "
        f"and {result.calls_purged:,} calls",
        "0 errors",
        float(result.total_errors),
        "<= 0",
    )
    record(
        "B11 soak, memory",
        backend,
        f"VmRSS {result.rss_warm_mb:.1f} MB after a {result.warm_up:.0f} s warm-up, "
        f"{result.rss_end_mb:.1f} MB at the end",
        "VmRSS after the warm-up",
        result.rss_end_mb / result.rss_warm_mb,
        "<= 1.1",
    )
