"""The `ivrlog` command: thin wrappers around the core functions.

The account commands are in cli_accounts.py; what every command module shares (the
consoles, the store, options made from the settings' declaration) in cli_base.py.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
import sys
import time
from collections.abc import Iterator
from typing import Annotated, Any, Final
from urllib.parse import quote

import orjson
import typer
from rich.markup import escape
from rich.progress import Progress

from ivrlog.cli_accounts import accounts_app, redaction_app, sensitive_app
from ivrlog.cli_base import err, fail, opened_store, out, with_settings
from ivrlog.cli_calls import calls_app
from ivrlog.cli_erase import erase
from ivrlog.cli_import import import_app
from ivrlog.cli_sync import sync_command
from ivrlog.cli_webhooks import webhooks_app
from ivrlog.core.demo import DAY, DEMO_EMAIL
from ivrlog.core.demo_database import DEMO_DATABASE, fill_demo_database
from ivrlog.core.errors import IvrlogError
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.retention import BATCH_SECONDS, PurgeReport, purge_expired
from ivrlog.settings import SETTINGS_ENV, Settings, names
from ivrlog.storage import StoreOpenError
from ivrlog.storage.backup import BackupRefused, backup_sqlite

app = typer.Typer(
    help="ivrlog: self-hosted call logs for IVR applications, "
    "compatible with the Plum Fuse Logs API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(accounts_app, name="accounts")
app.add_typer(redaction_app, name="redaction")
app.add_typer(sensitive_app, name="sensitive")
app.add_typer(calls_app, name="calls")
app.command()(erase)
app.command("sync")(sync_command)
app.add_typer(import_app, name="import")
app.add_typer(webhooks_app, name="webhooks")

PURGE_NOT_SCRUBBED = 3  # exit code of `purge` when the journal could not be cleared yet
SERVER_SETTINGS = names()  # the server takes every declared setting


def _when(moment: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))


def _show_purge(report: PurgeReport, settings: Settings) -> None:
    out.print(f"[bold]Purged[/] {settings.database}:")
    out.print(
        f"  open calls completed: {report.open_calls_completed:>9}"
        f"  (no new entry for {settings.open_call_timeout} s, or older than the detail window)"
    )
    out.print(
        f"  call details deleted: {report.details_deleted:>9}"
        f"  (calls started before {_when(report.detail_cutoff)})"
    )
    out.print(
        f"  calls deleted:        {report.calls_deleted:>9}"
        f"  (started before {_when(report.call_cutoff)})"
    )
    if report.scrubbed:
        out.print("  Deleted content was cleared from the database files.")
    else:
        out.print("  [yellow]The journal could not be cleared yet (readers busy): run it again.[/]")


@app.command()
@with_settings("database", "detail_retention_days", "call_retention_days", "open_call_timeout")
def purge(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the counts.")
    ] = False,
    now: Annotated[
        int | None,
        typer.Option(min=0, max=MAX_TIME, help="Pretend it is this UNIX time (default: now)."),
    ] = None,
    *,
    settings: Settings,
) -> None:
    """Apply the retention rules now (the server also does every purge_interval) and print what was removed.

    Completes calls left open past open_call_timeout (or older than the detail window), deletes the detail of calls older than detail_retention_days and calls older than call_retention_days, in short batches, then clears deleted content from the database files. Exit code 3: everything expired was deleted, but readers kept the journal from being cleared; run it again.
    """  # noqa: E501
    moment = int(time.time()) if now is None else now
    retention = settings.retention
    with opened_store(settings) as store:
        details, calls = store.count_expired(*retention.purge_cutoffs(store, moment))
        with Progress(console=err, transient=True, disable=as_json) as progress:
            tasks = {
                "details": progress.add_task("Deleting expired call details", total=details),
                "calls": progress.add_task("Deleting expired calls", total=calls),
            }
            report = purge_expired(
                store,
                retention,
                now=moment,
                target=BATCH_SECONDS,
                progress=lambda step, count: progress.advance(tasks[step], count),
            )
    if as_json:
        out.print(orjson.dumps(report.as_dict()).decode(), markup=False)
    else:
        _show_purge(report, settings)
    if not report.scrubbed:
        raise typer.Exit(PURGE_NOT_SCRUBBED)


@app.command()
@with_settings("database")
def backup(
    path: Annotated[str, typer.Argument(help="The file to write the copy to.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it exists.")] = False,
    *,
    settings: Settings,
) -> None:
    """Copy a SQLite database to PATH, consistently, while servers go on using it.

    The copy is the database as it was when the backup began (SQLite's online backup, read in one snapshot), a valid ivrlog database that `ivrlog serve --db PATH` opens; it is written under a temporary name beside PATH and moved into place when complete. Refused (exit code 2, nothing written) when PATH exists (unless --force) or is the database itself, or when --db is not a SQLite ivrlog database: for PostgreSQL use pg_dump (docs/operations.md).
    """  # noqa: E501
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Copying the database", total=None)
        try:
            report = backup_sqlite(
                settings.database,
                path,
                force=force,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except BackupRefused as exc:
            raise fail(str(exc), 2) from None
        except sqlite3.Error as exc:
            raise fail(f"The backup failed, PATH is unchanged: {exc}.") from None
    out.print(
        f"[bold]Backed up[/] {escape(report.source)} to {escape(report.target)}: "
        f"{report.pages} pages ({report.bytes / 2**20:.1f} MiB) in {report.seconds:.1f} s."
    )


def _serve(settings: Settings) -> None:
    import uvicorn

    from ivrlog.web import create_app
    from ivrlog.web.app import freeze_startup_objects
    from ivrlog.web.logs import log_config
    from ivrlog.web.metrics import multiprocess_dir
    from ivrlog.web.server import LimitError, server_options

    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "log_config": log_config(settings.log_level, settings.log_format),
        # uvicorn formats each access line before its logger drops it: below info, don't
        "access_log": settings.log_level in ("info", "debug"),
    }
    try:
        options.update(server_options(settings))  # the server's limits (docs/operations.md)
    except LimitError as exc:
        raise fail(str(exc), 2) from None
    if settings.workers == 1:
        try:
            application = create_app(settings)
        except StoreOpenError as exc:
            raise fail(str(exc), 2) from None
        freeze_startup_objects()
        with _dispatching(settings):
            uvicorn.run(application, **options)
        return
    # several processes: the schema is brought up to date once, here, and each worker
    # builds its own app (and its own connections) from the settings in its environment
    with opened_store(settings):
        pass
    os.environ[SETTINGS_ENV] = settings.to_json()
    with multiprocess_dir(), _dispatching(settings):  # the workers' metrics, added up
        uvicorn.run("ivrlog.web.app:worker_app", factory=True, workers=settings.workers, **options)


@contextlib.contextmanager
def _dispatching(settings: Settings) -> Iterator[None]:
    """The webhook dispatcher's process beside the server (docs/webhooks.md), unless
    the setting `webhooks` is off; the schema is migrated already."""
    if not settings.webhooks:
        yield
        return
    from ivrlog.delivery import runner

    process = runner.start(settings)
    try:
        yield
    finally:
        runner.stop(process, settings)


@app.command()
@with_settings(*SERVER_SETTINGS)
def serve(*, settings: Settings) -> None:
    """Start the server."""
    _serve(settings)


@app.command()
@with_settings(*SERVER_SETTINGS, defaults={"database": DEMO_DATABASE})
def demo(
    seed: Annotated[
        int | None, typer.Option(help="Random seed: the same seed gives the same calls.")
    ] = None,
    calls: Annotated[int, typer.Option(min=1, max=100_000, help="How many calls to make.")] = 1500,
    now: Annotated[
        int | None, typer.Option(help="Pretend it is this UNIX time (for reproducible output).")
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the server afterwards.")
    ] = True,
    *,
    settings: Settings,
) -> None:
    """Fill a database with a week of realistic demo calls, print the demo account's credentials and ready-to-paste curl lines, then serve.

    Only the demo account (demo@ivrlog.example) is touched: its calls are replaced and its credentials rotated on every run.
    """  # noqa: E501
    with opened_store(settings) as store, Progress(console=err, transient=True) as progress:
        task = progress.add_task("Storing demo calls", total=calls)
        made = fill_demo_database(
            store,
            calls,
            seed=seed,
            now=now,
            redaction=settings.redaction,
            detail_retention_days=settings.detail_retention_days,
            progress=lambda count: progress.advance(task, count),
        )
    credentials = made.credentials
    out.print(
        f"[bold]Demo database[/] {settings.database}: {len(made.calls)} calls (seed {made.seed})."
    )
    out.print(f"  email:         [bold]{DEMO_EMAIL}[/]")
    out.print(f"  developer key: [bold]{credentials.developer_key}[/]")
    out.print(f"  ingest token:  [bold]{credentials.ingest_token}[/]")
    out.print("\nTry these once the server is up:\n")
    for line in curl_lines(
        host=settings.host,
        port=settings.port,
        email=DEMO_EMAIL,
        key=credentials.developer_key,
        session_id=made.sample["session_id"],
        number=made.sample["dest"],
        now=made.now,
        detail_retention_days=settings.detail_retention_days,
    ):
        out.print(line, markup=False)
    web = f"http://{reachable(settings.host)}:{settings.port}"
    out.print(f"\nAPI reference: {web}/docs")
    out.print(f"\n[bold]Web pages:[/] {web}/sign-in")
    out.print(f"  sign in with the email {DEMO_EMAIL} and the developer key above;")
    out.print(f"  where callers drop off: {web}/reports?app=Acme%20Utilities%20Payments&from=-7d\n")
    if serve:
        _serve(settings)


ANY_ADDRESS: Final = ("0.0.0.0", "::", "")  # a server there is reached at 127.0.0.1


def reachable(host: str) -> str:
    """The address a browser on this machine reaches a server listening on `host` at."""
    return "127.0.0.1" if host in ANY_ADDRESS else host


def curl_lines(
    *,
    host: str,
    port: int,
    email: str,
    key: str,
    session_id: str,
    number: str,
    now: int,
    detail_retention_days: int,
) -> list[str]:
    """Ready-to-paste curl commands for the three compatible read endpoints (one asking
    for XML), over the readable detail window at `now`, then one of ivrlog's own list:
    the calls that hung up in the card-number step."""
    base = f"http://{reachable(host)}:{port}"
    user = shlex.quote(f"{email}:{key}")
    start = now - detail_retention_days * DAY
    end = now + 3600
    urls = [
        f"{base}/api/calls/{start}/{end}?limit=5",
        f"{base}/api/all_logs/{start}/{end}?number={number}&limit=2",
        f"{base}/api/call/{quote(session_id, safe='')}",
    ]
    lines = [f"curl -u {user} {shlex.quote(url)}" for url in urls]
    lines.append(f"curl -u {user} -H 'Accept: application/xml' {shlex.quote(urls[2])}")
    own = f"{base}/v1/calls?from=-{detail_retention_days}d&ended_in=card_number&limit=5"
    lines.append(f"curl -u {user} {shlex.quote(own)}")
    return lines


def main() -> None:
    try:
        app()
    except IvrlogError as exc:  # pragma: no cover - a core error that escaped a command
        err.print(f"[bold red]Error:[/] {exc.message}")
        sys.exit(1)
