"""B11's bookkeeping (bench/soak.py): what counts as a server error, and which memory
samples are compared."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from bench.soak import MIN_SECONDS, Pace, SoakResult, server_command, server_log_errors, soak


def test_server_log_errors_counts_error_lines_and_tracebacks(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        "INFO:     Started server process [1]\n"
        "WARNING:  retention purge: the journal could not be cleared yet (readers busy)\n"
        "ERROR:    unexpected failure on POST /ingest/v1/calls\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "ValueError: an ERROR inside a line is not a line at ERROR\n"
        '{"level": "error", "message": "in JSON"}\n'
        "CRITICAL: out of memory\n"
    )
    assert server_log_errors(log) == 4
    assert server_log_errors(tmp_path / "absent.log") == 0


def test_memory_is_compared_after_the_warm_up_and_at_the_end() -> None:
    result = SoakResult(seconds=60, warm_up=45)
    result.rss_kb = [(t, (90 + t) * 1024) for t in range(1, 46)]  # warming up
    result.rss_kb += [(t, 200 * 1024) for t in range(46, 60)]
    assert result.rss_warm_mb == 200
    assert result.rss_end_mb == 200
    empty = SoakResult(seconds=60, warm_up=45)
    with pytest.raises(RuntimeError, match="no memory sample"):
        _ = empty.rss_end_mb


def test_errors_include_the_server_log_and_requests_read_by_kind() -> None:
    result = SoakResult(seconds=60, requests=Counter({"read call": 3, "bulk": 1}), errors=1)
    result.server_log_errors = 2
    assert result.total_errors == 3
    assert result.describe_requests() == "bulk 1, read call 3"


def test_the_server_runs_with_the_soak_retention_and_purge_interval() -> None:
    command = server_command(Path("/bin/ivrlog"), "soak.db", 8123, Pace(server_purge_interval=7))
    assert command[:4] == ["/bin/ivrlog", "serve", "--db", "soak.db"]
    flags = dict(zip(command[4::2], command[5::2], strict=True))
    assert flags["--purge-interval"] == "7"
    assert flags["--detail-retention-days"] == "5"
    assert flags["--call-retention-days"] == "30"


def test_a_soak_too_short_to_measure_is_refused() -> None:
    with pytest.raises(ValueError, match=f"{MIN_SECONDS} s or more"):
        soak(1, 1, None, dict, MIN_SECONDS - 1)  # type: ignore[arg-type]
