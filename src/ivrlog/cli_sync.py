"""`ivrlog sync`: a Fuse-compatible account's calls copied into a local account
(core/sync.py), through ivrlog.client; once, or every `--every` as a service."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ivrlog.cli_base import err, fail, opened_store, out, with_settings
from ivrlog.client import Client, ClientError, Retry
from ivrlog.core.accounts import account_named, normalize_email
from ivrlog.core.bringing import Target
from ivrlog.core.errors import AccountError, BadRequest
from ivrlog.core.patterns import Redactors
from ivrlog.core.sync import (
    DETAIL_PAGE,
    OVERLAP,
    PAGE_LIMIT,
    SyncPlan,
    SyncReport,
    WindowDone,
    source_name,
    sync,
)
from ivrlog.core.when import parse_duration, parse_when, utc_text
from ivrlog.settings import Settings

BAD_FLAG = 2
SOURCE_FAILED = 1


class Stopped(BaseException):  # not an Exception: a service's error handling lets it through
    """SIGTERM or SIGINT: stop between two windows (every window done is kept)."""


def _emit(as_json: bool, event: str, **fields: Any) -> None:
    if as_json:
        out.file.write(orjson.dumps({"event": event, **fields}).decode() + "\n")
        out.file.flush()


def _totals(report: SyncReport) -> dict[str, int]:
    return {
        "from": report.start,
        "to": report.until,
        "windows": report.windows,
        "listed": report.listed,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "skipped": report.skipped,
    }


def _run(client: Client, target: Target, plan: SyncPlan, now: int, as_json: bool) -> SyncReport:
    """One sync run, its progress shown as a bar (stderr) or as JSON lines."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err,
        disable=as_json,
        transient=True,
    ) as progress:
        task = progress.add_task("syncing", total=None)

        def on_window(window: WindowDone, report: SyncReport) -> None:
            progress.update(
                task,
                total=max(1, report.until - report.start),
                completed=window.end - report.start,
                description=f"{utc_text(window.end)}: {report.added} added,"
                f" {report.updated} updated, {report.unchanged} unchanged",
            )
            for skipped in window.skipped:
                if as_json:
                    _emit(True, "skipped", session_id=skipped.where, reason=skipped.reason)
                else:
                    err.print(
                        f"[yellow]skipped[/] {escape(skipped.where)}: {escape(skipped.reason)}"
                    )
            _emit(
                as_json,
                "window",
                **{"from": window.start, "to": window.end},
                listed=window.listed,
                added=window.added,
                updated=window.updated,
                unchanged=window.unchanged,
                skipped=len(window.skipped),
            )

        return sync(client, target, plan, now, on_window)


def _show(report: SyncReport, as_json: bool) -> None:
    if as_json:
        _emit(True, "done", **_totals(report))
        return
    out.print(
        f"Synced {utc_text(report.start)} to {utc_text(report.until)} in {report.windows}"
        f" windows: {report.listed} calls listed, {report.added} added, {report.updated}"
        f" updated, {report.unchanged} unchanged, {report.skipped} skipped."
    )


def _error(message: str, as_json: bool) -> None:
    if as_json:
        _emit(True, "error", message=message)
    else:
        err.print(f"[bold red]Error:[/] {escape(message)}")


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped


@with_settings("database", "detail_retention_days", "call_retention_days", "redaction")
def sync_command(
    source_url: Annotated[
        str,
        typer.Option(
            "--from",
            help="The source server's root URL: https://fuse.plumvoice.com, or an ivrlog's.",
            show_default=False,
        ),
    ],
    email: Annotated[
        str, typer.Option("--email", help="The source account's email.", show_default=False)
    ],
    key_env: Annotated[
        str,
        typer.Option(
            "--key-env",
            help="The name of the environment variable that holds the source account's"
            " developer key (never the key itself: an argument is visible to every user).",
            show_default=False,
        ),
    ],
    into: Annotated[
        str,
        typer.Option(
            "--into", help="The local account (its email) the calls go into.", show_default=False
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Where the first run starts: UNIX seconds, ISO 8601 with an offset, or a"
            " time before now (-30d). Default: as far back as call_retention_days keeps.",
            show_default=False,
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            help="Keep running: a run every this long (15m, 1h, 1d) until stopped (SIGTERM).",
            show_default=False,
        ),
    ] = None,
    overlap: Annotated[
        str,
        typer.Option(
            "--overlap",
            help="How far before the checkpoint a run starts again, to see calls that finished"
            " or gained their detail late.",
        ),
    ] = f"{OVERLAP // 86_400}d",
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Walk from --since again, whatever the checkpoint says."),
    ] = False,
    page_size: Annotated[
        int,
        typer.Option(
            "--page-size",
            min=1,
            max=PAGE_LIMIT,
            help="Calls a list request asks for: the source's largest `limit`.",
        ),
    ] = PAGE_LIMIT,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=1,
            max=100,
            help="Attempts of a request before a run gives up (connection errors, 5xx and 429"
            " are retried, with backoff and Retry-After).",
        ),
    ] = 8,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for each answer.")
    ] = 60.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines (window, skipped, done, error).")
    ] = False,
    *,
    settings: Settings,
) -> None:
    """Copy a Fuse-compatible account's calls and their detail into a local account:
    resumable (a checkpoint per source in the database), idempotent (a second run adds
    nothing), with --every as a service. docs/sync.md."""
    key = os.environ.get(key_env)
    if not key:
        raise fail(
            f"The environment variable {key_env} is not set: it holds the source account's"
            " developer key.",
            BAD_FLAG,
        )
    try:
        email = normalize_email(email)
        period = None if every is None else parse_duration("--every", every)
        back = parse_duration("--overlap", overlap)
        client = Client(
            source_url,
            email=email,
            key=key,
            timeout=timeout,
            retry=Retry(attempts=retries, max_backoff=60.0, max_retry_after=900.0),
        )
    except (AccountError, BadRequest, ValueError) as exc:
        raise fail(getattr(exc, "message", str(exc)), BAD_FLAG) from None
    if period is not None and period < 1:
        raise fail("Invalid --every: must be at least 1s.", BAD_FLAG)
    signal.signal(signal.SIGTERM, _stop)
    wake = threading.Event()
    with client, opened_store(settings) as store:
        account = account_named(store, into)
        redactors = Redactors(store, builtin=settings.redaction)
        try:
            while True:
                now = int(time.time())
                detail_cutoff, call_cutoff = settings.retention.cutoffs(now)
                try:
                    first = call_cutoff if since is None else parse_when("--since", since, now)
                except BadRequest as exc:
                    raise fail(exc.message, BAD_FLAG) from None
                target = Target(
                    store, account.id, redactors.for_account(account.id), detail_cutoff, call_cutoff
                )
                plan = SyncPlan(
                    source_name(client.base_url, email),
                    since=first,
                    until=now,
                    overlap=back,
                    restart=restart,
                    page_limit=page_size,
                    detail_page=min(DETAIL_PAGE, page_size),
                )
                try:
                    _show(_run(client, target, plan, now, as_json), as_json)
                except ClientError as exc:
                    _error(exc.message, as_json)
                    if period is None:
                        raise typer.Exit(SOURCE_FAILED) from None
                except Exception as exc:
                    if period is None:
                        raise
                    # a service outlives a failure of its own side too (a database that
                    # restarts, a disk that fills): said, then the next run at its time
                    _error(f"{type(exc).__name__}: {exc}", as_json)
                if period is None:
                    return
                restart = False  # a service restarts once, not every run
                wake.wait(period)
        except (Stopped, KeyboardInterrupt):
            if not as_json:
                err.print("Stopped; the next run resumes at the last window done.")
            _emit(as_json, "stopped")
