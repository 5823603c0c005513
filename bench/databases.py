"""The databases the read scenarios run on: bench/dataset.py's calls written with ivrlog's
own write path (SQLite's kept in bench/out/ for a day), and fresh empty ones."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass

import psycopg
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from tests.pg import PostgresServer

from bench.client import basic
from bench.config import BIN, OUT, console
from bench.dataset import DAY, Shape, batches
from ivrlog.core.accounts import add_account
from ivrlog.core.ingest import past_detail_retention, prepare_call
from ivrlog.storage import open_store


@dataclass
class Dataset:
    shape: Shape
    now: int
    database: str
    authorization: str  # account 0's reader credentials
    detailed_ids: list[str]  # account 0's calls that carry detail

    @property
    def window(self) -> tuple[int, int]:
        return self.now - self.shape.span_days * DAY, self.now + 1


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def load(shape: Shape, now: int, database: str, what: str) -> tuple[str, list[str]]:
    """Write the dataset with ivrlog's own write path; account 0's authorization and up
    to 5,000 of its calls with detail, spread over the whole set."""
    detailed: list[str] = []
    detail_from = now - shape.detail_days * DAY
    store = open_store(database)
    try:
        store.migrate()
        keys = [add_account(store, shape.account_email(i), now) for i in range(shape.accounts)]
        ids = {i: store.account_by_email(shape.account_email(i)) for i in range(shape.accounts)}
        with _progress() as progress:
            task = progress.add_task(f"{what}: {shape.calls:,} calls", total=shape.calls)
            for account, batch in batches(shape, now):
                account_row = ids[account]
                assert account_row is not None
                # older calls' entries go as retention would have taken them
                stored = [past_detail_retention(prepare_call(c), detail_from) for c in batch]
                store.put_calls(account_row.id, stored)
                progress.advance(task, len(batch))
                if account == 0:
                    detailed += (c.session_id for c in stored if c.detail_json is not None)
        step = max(1, len(detailed) // 5000)
        return basic(keys[0].email, keys[0].developer_key), detailed[::step][:5000]
    finally:
        store.close()


def sqlite_dataset(size: int) -> Dataset:
    shape = Shape(size, old_paths=True)
    path = OUT / f"sqlite-{size}.db"
    meta = OUT / f"sqlite-{size}.json"
    if path.exists() and meta.exists():
        kept = json.loads(meta.read_text())
        if kept["shape"] == asdict(shape) and time.time() - kept["now"] < DAY:
            return Dataset(shape, kept["now"], str(path), kept["authorization"], kept["ids"])
    for stale in OUT.glob(f"sqlite-{size}.db*"):
        stale.unlink()
    now = int(time.time())
    authorization, ids = load(shape, now, str(path), "SQLite")
    kept = {"shape": asdict(shape), "now": now, "authorization": authorization, "ids": ids}
    meta.write_text(json.dumps(kept))
    return Dataset(shape, now, str(path), authorization, ids)


def postgres_dataset(server: PostgresServer, size: int) -> Dataset:
    shape = Shape(size, old_paths=True)
    now = int(time.time())
    url = server.url(server.create_database())
    authorization, ids = load(shape, now, url, "PostgreSQL")
    # as the server's purge schedule would have by now: the hourly counts' rows of changes
    # folded into one an hour (nothing is old enough to delete)
    subprocess.run([str(BIN / "ivrlog"), "purge", "--db", url], capture_output=True, check=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return Dataset(shape, now, url, authorization, ids)


def fresh_sqlite(name: str) -> str:
    for stale in OUT.glob(f"{name}.db*"):
        stale.unlink()
    return str(OUT / f"{name}.db")


def fresh_postgres(server: PostgresServer, _name: str) -> str:
    return server.url(server.create_database())
