"""The run's results: each measurement recorded as one row of ratio against target, then
printed as one table and written to bench/out/results.json."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from rich.console import Console
from rich.table import Table

from bench.config import OUT, SECONDS, console


@dataclass
class Row:
    scenario: str
    backend: str
    measured: str
    reference: str
    ratio: float
    target: str
    met: bool


ROWS: list[Row] = []


def record(
    scenario: str, backend: str, measured: str, reference: str, ratio: float, target: str
) -> None:
    op, bound = target.split(" ", 1)
    met = ratio >= float(bound) if op == ">=" else ratio <= float(bound)
    row = Row(scenario, backend, measured, reference, ratio, target, met)
    ROWS.append(row)
    console.log(f"{scenario} {backend}: {measured} / {reference} = {ratio:.2f} ({target})")


def print_table() -> None:
    table = Table(title=f"ivrlog benchmarks ({os.cpu_count()} cores, {SECONDS} s a load run)")
    for column in ("Scenario", "Backend", "ivrlog", "Floor or peer", "Ratio", "Target", "Met"):
        table.add_column(column, justify="right" if column == "Ratio" else "left")
    for row in ROWS:
        met = "[green]yes[/]" if row.met else "[red]no[/]"
        table.add_row(
            row.scenario,
            row.backend,
            row.measured,
            row.reference,
            f"{row.ratio:.2f}",
            row.target,
            met,
        )
    Console(width=200).print(table)
    (OUT / "results.json").write_text(json.dumps([asdict(row) for row in ROWS], indent=1))
