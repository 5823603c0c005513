"""What a benchmark run measures and where it writes, from the environment (the variables
are listed in bench/run.py), and the console its progress goes to."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
LUA = ROOT / "bench" / "paths.lua"
CONNECTIONS = 16  # wrk's connections
console = Console(stderr=True)


def _env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


SIZES = [int(size) for size in _env_list("BENCH_SIZES", "10000,100000,1000000")]
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
BACKENDS = _env_list("BENCH_BACKENDS", "sqlite,postgresql")
PEER = Path(os.environ.get("BENCH_PEER", ROOT / ".venv-peer" / "bin" / "datasette"))
ALL_SCENARIOS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11")
SCENARIOS = {name.upper() for name in _env_list("BENCH_SCENARIOS", ",".join(ALL_SCENARIOS))}
SOAK_SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "600"))
SOAK_CALLS = 20_000  # calls in B11's database before the load starts
