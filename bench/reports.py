"""B8: the funnel and volume reports over 30 days at each dataset size, largest against
smallest (as B4): kept as aggregates, a report over a million calls should cost about
what one over ten thousand does."""

from __future__ import annotations

from urllib.parse import quote

from tests.pg import free_port

from bench.client import Load, wrk
from bench.databases import Dataset
from bench.dataset import APPS
from bench.processes import ivrlog_server
from bench.results import record

APP = APPS[1][0]  # every dataset's account 0 has calls of each application
REPORTS = {
    "funnel": f"/v1/reports/funnel?app={quote(APP)}&from=-30d",
    "volume": "/v1/reports/volume?from=-30d",
}


def b8_reports(backend: str, datasets: list[Dataset]) -> None:
    """Each report under load on each dataset; the smallest's throughput against the
    largest's."""
    loads: dict[str, list[Load]] = {name: [] for name in REPORTS}
    for data in datasets:
        port = free_port()
        with ivrlog_server(data.database, port):
            for name, path in REPORTS.items():
                loads[name].append(wrk(port, [path], data.authorization))
    small, large = datasets[0].shape.calls, datasets[-1].shape.calls
    for name, measured in loads.items():
        sizes = ", ".join(
            f"{d.shape.calls:,}: {load.rps:,.0f}/s"
            for d, load in zip(datasets, measured, strict=True)
        )
        record(
            f"B8 reports, {name}",
            backend,
            sizes,
            f"{large:,} vs {small:,} calls",
            measured[0].rps / measured[-1].rps,
            "<= 1.3",
        )
