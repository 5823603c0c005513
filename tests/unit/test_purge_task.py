"""The server's purge task: what it logs, and that a failing purge never stops the server."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from ivrlog.core.retention import PurgeReport
from ivrlog.web.metrics import Metrics
from ivrlog.web.purge import fold_reports, purge_once, scrub_owed


def report(**changes: Any) -> PurgeReport:
    values: dict[str, Any] = {
        "open_calls_completed": 0,
        "details_deleted": 0,
        "calls_deleted": 0,
        "detail_cutoff": 100,
        "call_cutoff": 10,
        "scrubbed": True,
    }
    return PurgeReport(**{**values, **changes})


def run(
    result: PurgeReport | Exception,
    caplog: pytest.LogCaptureFixture,
    metrics: Metrics | None = None,
) -> list[str]:
    def purge() -> PurgeReport:
        if isinstance(result, Exception):
            raise result
        return result

    with caplog.at_level(logging.INFO, logger="ivrlog.purge"):
        ctx = SimpleNamespace(
            purge=purge,
            busy=threading.Lock(),
            stopping=threading.Event(),
            metrics=metrics or Metrics(),
        )
        purge_once(ctx)  # type: ignore[arg-type]
    return [f"{r.levelname} {r.getMessage()}" for r in caplog.records]


def test_a_purge_that_removed_something_says_what(caplog: pytest.LogCaptureFixture) -> None:
    lines = run(report(open_calls_completed=1, details_deleted=7, calls_deleted=2), caplog)
    assert lines == [
        "INFO retention purge: 1 open calls completed, detail of 7 calls deleted (started "
        "before 100), 2 calls deleted (started before 10)"
    ]


def test_purge_runs_and_what_they_removed_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    run(report(open_calls_completed=1, details_deleted=7, calls_deleted=2), caplog, metrics)
    run(report(details_deleted=3), caplog, metrics)
    run(RuntimeError("disk full"), caplog, metrics)
    value = metrics.registry.get_sample_value
    assert value("ivrlog_purge_runs_total", {"outcome": "ok"}) == 2
    assert value("ivrlog_purge_runs_total", {"outcome": "failed"}) == 1
    assert value("ivrlog_purge_removed_total", {"what": "details_deleted"}) == 10
    assert value("ivrlog_purge_removed_total", {"what": "calls_deleted"}) == 2
    assert value("ivrlog_purge_removed_total", {"what": "open_calls_completed"}) == 1


def test_a_purge_that_removed_nothing_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    assert run(report(), caplog) == []


def test_an_unfinished_scrub_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    lines = run(report(scrubbed=False), caplog)
    assert lines == ["WARNING retention purge: the journal could not be cleared yet (readers busy)"]


def test_a_failing_purge_is_logged_and_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    lines = run(RuntimeError("disk full"), caplog)
    assert lines == ["ERROR retention purge failed"]
    assert caplog.records[0].exc_info is not None


def test_nothing_runs_once_the_server_is_stopping(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    ctx = SimpleNamespace(
        purge=lambda: calls.append("purge"),
        store=SimpleNamespace(
            scrub=lambda **_: calls.append("scrub"),
            fold_reports=lambda: calls.append("fold"),
        ),
        busy=threading.Lock(),
        stopping=threading.Event(),
    )
    ctx.stopping.set()
    purge_once(ctx)  # type: ignore[arg-type]
    scrub_owed(ctx)  # type: ignore[arg-type]
    fold_reports(ctx)  # type: ignore[arg-type]
    assert calls == []


def test_an_owed_scrub_is_retried_and_a_failure_logged(caplog: pytest.LogCaptureFixture) -> None:
    asked: list[dict[str, Any]] = []

    def scrub(**options: Any) -> bool:
        asked.append(options)
        raise RuntimeError("disk gone")

    ctx = SimpleNamespace(
        store=SimpleNamespace(scrub=scrub), busy=threading.Lock(), stopping=threading.Event()
    )
    with caplog.at_level(logging.INFO, logger="ivrlog.purge"):
        scrub_owed(ctx)  # type: ignore[arg-type]
    assert asked == [{"only_if_owed": True}]
    assert [r.getMessage() for r in caplog.records] == [
        "clearing deleted content from the journal failed"
    ]


def test_the_reports_rows_are_folded_and_a_failure_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    folds: list[str] = []

    def fold() -> int:
        folds.append("fold")
        if len(folds) > 1:
            raise RuntimeError("server gone")
        return 3

    ctx = SimpleNamespace(
        store=SimpleNamespace(fold_reports=fold), busy=threading.Lock(), stopping=threading.Event()
    )
    with caplog.at_level(logging.INFO, logger="ivrlog.purge"):
        fold_reports(ctx)  # type: ignore[arg-type]
        assert caplog.records == []
        fold_reports(ctx)  # type: ignore[arg-type]
    assert folds == ["fold", "fold"]
    assert [r.getMessage() for r in caplog.records] == ["folding the reports' rows failed"]
    assert not ctx.busy.locked()
