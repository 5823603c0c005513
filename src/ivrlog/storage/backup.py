"""`ivrlog backup`: a consistent copy of a SQLite database, taken while servers use it.

The copy is SQLite's online backup (`sqlite3.Connection.backup`), a few pages a step so
that its progress can be shown. The steps run inside one read transaction on the source:
in WAL mode that transaction is a snapshot, so every step reads the same database state
(the copy is the database as it was when the backup began, every call acknowledged
before then included) and writers go on meanwhile. Without it, SQLite restarts a
stepped backup whenever another connection writes, and under steady ingestion it might
never finish. The copy is written beside the target under a temporary name, synced, and
moved into place, so that the target path never holds half a copy.

PostgreSQL has its own tools (pg_dump, pg_basebackup): docs/operations.md.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from ivrlog.storage import sqlite_path

STEP_PAGES: Final = 1024  # pages a step: 4 MiB of the default 4 KiB pages

# Called after each step with (pages copied, pages in all).
BackupProgress = Callable[[int, int], None]


class BackupRefused(Exception):
    """Nothing was copied: the source or the target cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    source: str
    target: str
    pages: int
    bytes: int
    seconds: float


def _source_path(database: str) -> Path:
    path = sqlite_path(database)
    if path is None:
        raise BackupRefused(
            "ivrlog backup copies SQLite databases only; for PostgreSQL use pg_dump -Fc "
            "(see docs/operations.md, Backups)."
        )
    if not path or not Path(path).is_file():
        raise BackupRefused(f"No SQLite database at {path!r}: --db must name an existing file.")
    return Path(path)


def _target_path(target: str, source: Path, force: bool) -> Path:
    path = Path(target)
    if not path.parent.is_dir():
        raise BackupRefused(f"PATH {target!r}: its directory does not exist.")
    if path.exists():
        if path.is_dir():
            raise BackupRefused(f"PATH {target!r} is a directory: name a file.")
        if path.samefile(source):
            raise BackupRefused(f"PATH {target!r} is the database itself: name another file.")
        if not force:
            raise BackupRefused(f"PATH {target!r} exists: pass --force to replace it.")
    return path


def _open_source(path: Path) -> sqlite3.Connection:
    """A read-only connection to the source (never creates a file), checked to be an
    ivrlog database."""
    uri = f"file:{quote(str(path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise BackupRefused(f"{str(path)!r} is not a SQLite database ({exc}).") from None
    if found is None:
        conn.close()
        raise BackupRefused(f"{str(path)!r} is not an ivrlog database (no schema_version table).")
    return conn


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_sqlite(
    database: str,
    target: str,
    *,
    force: bool = False,
    progress: BackupProgress | None = None,
    step_pages: int = STEP_PAGES,
    clock: Callable[[], float] = time.monotonic,
) -> BackupReport:
    """Copy the SQLite database `database` (a path or sqlite:/// URL) to the file `target`.

    Raises BackupRefused before copying anything when `database` is not an existing
    SQLite ivrlog database (a PostgreSQL URL included) or when `target` exists (unless
    `force`), is the database itself, or is in no directory. sqlite3.Error may escape
    during the copy; the target is then left as it was."""
    source_path = _source_path(database)
    target_path = _target_path(target, source_path, force)
    began = clock()
    source = _open_source(source_path)
    fd, partial = tempfile.mkstemp(
        dir=target_path.parent, prefix=f".{target_path.name}.", suffix=".partial"
    )
    os.close(fd)
    try:
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            # one snapshot for every step: the copy is the database as of this read
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM schema_version").fetchone()

            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            source.backup(copy, pages=step_pages, progress=step)
            (pages,) = copy.execute("PRAGMA page_count").fetchone()
            (page_size,) = copy.execute("PRAGMA page_size").fetchone()
            # a copy that needs nothing beside it: its journal folded in and gone
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
        _sync(Path(partial))
        os.replace(partial, target_path)
        _sync(target_path.parent)
    except BaseException:
        for leftover in (partial, partial + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        raise
    finally:
        source.close()
    return BackupReport(
        source=str(source_path),
        target=str(target_path),
        pages=int(pages),
        bytes=int(pages) * int(page_size),
        seconds=clock() - began,
    )
