"""The `ivrlog` command: thin wrappers around the core functions."""

from __future__ import annotations

import functools
import inspect
import os
import secrets
import shlex
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from ivrlog.core import accounts as account_service
from ivrlog.core import patterns as pattern_service
from ivrlog.core import sensitive as sensitive_service
from ivrlog.core.demo import DEMO_EMAIL, demo_calls
from ivrlog.core.errors import AccountError, IvrlogError
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.limits import MAX_TIME
from ivrlog.core.pattern_check import PatternRefused
from ivrlog.core.patterns import Redactors
from ivrlog.core.ports import Store
from ivrlog.core.retention import BATCH_SECONDS, PurgeReport, purge_expired
from ivrlog.settings import SETTINGS_ENV, Settings, SettingsError, describe
from ivrlog.storage import StoreOpenError, open_store
from ivrlog.storage.backup import BackupRefused, backup_sqlite

app = typer.Typer(
    help="ivrlog: self-hosted call logs for IVR applications, "
    "compatible with the Plum Fuse Logs API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
accounts_app = typer.Typer(help="Manage accounts and their credentials.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
redaction_app = typer.Typer(
    help="Manage an account's own redaction patterns (applied to ingested entries besides "
    "the built-in card number and SSN rules).",
    no_args_is_help=True,
)
app.add_typer(redaction_app, name="redaction")
sensitive_app = typer.Typer(
    help="Manage an account's sensitive modules: result variables and module types whose "
    "every entry is stored as a private one (line and data values \\[private]).",
    no_args_is_help=True,
)
app.add_typer(sensitive_app, name="sensitive")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

DEMO_DATABASE = "ivrlog-demo.db"
PURGE_NOT_SCRUBBED = 3  # exit code of `purge` when the journal could not be cleared yet


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {escape(message)}")
    return typer.Exit(code)


def with_settings(
    *names: str, defaults: dict[str, Any] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command one option per named setting (flag and IVRLOG_ variable), and pass
    the command a validated `settings: Settings` in their place."""
    infos = [s for s in describe() if s.name in names]
    defaults = defaults or {}

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "settings"]
        added = [
            inspect.Parameter(
                info.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=defaults.get(info.name, info.default),
                annotation=Annotated[
                    info.type,
                    typer.Option(info.flag, envvar=info.env, help=info.help, show_default=True),
                ],
            )
            for info in infos
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            values = {info.name: kwargs.pop(info.name) for info in infos}
            try:
                settings = Settings(**values)
            except SettingsError as exc:
                raise _fail(str(exc), 2) from None
            return command(settings=settings, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {}
        return wrapper

    return decorate


@contextmanager
def _store(settings: Settings) -> Iterator[Store]:
    try:
        store = open_store(settings.database)
    except StoreOpenError as exc:
        raise _fail(str(exc), 2) from None
    try:
        yield store
    except (AccountError, PatternRefused) as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()


def _show_credentials(credentials: account_service.Credentials, as_json: bool, title: str) -> None:
    if as_json:
        out.print(orjson.dumps(credentials.as_dict()).decode(), markup=False)
        return
    out.print(f"[bold]{title}[/] {credentials.email}")
    out.print(f"  developer key (read, HTTP Basic password): [bold]{credentials.developer_key}[/]")
    out.print(f"  ingest token  (write, Bearer token):       [bold]{credentials.ingest_token}[/]")
    out.print("[dim]They are shown once: ivrlog keeps only their hashes.[/]")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
EmailArg = Annotated[str, typer.Argument(help="The account's email address.")]


@accounts_app.command("add")
@with_settings("database")
def accounts_add(email: EmailArg, as_json: JsonFlag = False, *, settings: Settings) -> None:
    """Add an account and print its new developer key and ingest token (once)."""
    with _store(settings) as store:
        credentials = account_service.add_account(store, email)
    _show_credentials(credentials, as_json, "Account added:")


@accounts_app.command("rotate")
@with_settings("database")
def accounts_rotate(email: EmailArg, as_json: JsonFlag = False, *, settings: Settings) -> None:
    """Replace an account's developer key and ingest token; the old ones stop working."""
    with _store(settings) as store:
        credentials = account_service.rotate_account(store, email)
    _show_credentials(credentials, as_json, "New credentials for")


@accounts_app.command("list")
@with_settings("database")
def accounts_list(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object a line, one per account.")
    ] = False,
    *,
    settings: Settings,
) -> None:
    """List every account with its state."""
    with _store(settings) as store:
        rows = store.list_accounts()
    if as_json:
        for account in rows:
            out.print(
                orjson.dumps(
                    {
                        "email": account.email,
                        "active": account.active,
                        "created_at": account.created_at,
                    }
                ).decode(),
                markup=False,
            )
        return
    table = Table("email", "state", "created (UTC)")
    for account in rows:
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(account.created_at))
        table.add_row(Text(account.email), "active" if account.active else "disabled", created)
    out.print(table)


def _set_active(email: str, active: bool, as_json: bool, settings: Settings) -> None:
    with _store(settings) as store:
        account = account_service.set_active(store, email, active)
    if as_json:
        out.print(
            orjson.dumps({"email": account.email, "active": account.active}).decode(), markup=False
        )
    else:
        out.print(f"{account.email} is now {'active' if active else 'disabled'}.")


@accounts_app.command("disable")
@with_settings("database")
def accounts_disable(email: EmailArg, as_json: JsonFlag = False, *, settings: Settings) -> None:
    """Disable an account: its credentials stop working (its calls are kept)."""
    _set_active(email, False, as_json, settings)


@accounts_app.command("enable")
@with_settings("database")
def accounts_enable(email: EmailArg, as_json: JsonFlag = False, *, settings: Settings) -> None:
    """Enable a disabled account again."""
    _set_active(email, True, as_json, settings)


@redaction_app.command("add")
@with_settings("database")
def redaction_add(
    email: EmailArg,
    pattern: Annotated[
        str,
        typer.Argument(
            help="A regular expression (RE2 syntax, see docs/privacy.md); what it matches is "
            "redacted."
        ),
    ],
    label: Annotated[
        str, typer.Option(help="A name for the pattern, unique in the account (for remove).")
    ],
    as_json: JsonFlag = False,
    *,
    settings: Settings,
) -> None:
    """Add a pattern to an account: text of ingested entries that it matches is stored as \\[redacted].

    A pattern that is not a valid regular expression, uses syntax RE2 does not have (lookarounds, backreferences), is too costly or matches the empty string is refused with the reason; patterns run on RE2, in time linear in the text, whatever their shape. It applies to calls ingested from then on (within a second on a running server), not to stored ones.
    """  # noqa: E501
    with _store(settings) as store:
        added = pattern_service.add_pattern(store, email, label, pattern)
    if as_json:
        out.print(
            orjson.dumps({"label": added.label, "pattern": added.pattern}).decode(), markup=False
        )
    else:
        out.print(f"Pattern {added.label!r} added: {added.pattern}", markup=False)


@redaction_app.command("list")
@with_settings("database")
def redaction_list(
    email: Annotated[
        str | None, typer.Argument(help="Only this account's patterns (default: every account).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object a line, one per pattern.")
    ] = False,
    *,
    settings: Settings,
) -> None:
    """List accounts' own redaction patterns."""
    with _store(settings) as store:
        rows = pattern_service.list_patterns(store, email)
    if as_json:
        for owner, p in rows:
            out.print(
                orjson.dumps({"email": owner, "label": p.label, "pattern": p.pattern}).decode(),
                markup=False,
            )
        return
    table = Table("email", "label", "pattern")
    for owner, p in rows:
        table.add_row(Text(owner), Text(p.label), Text(p.pattern))
    out.print(table)


@redaction_app.command("remove")
@with_settings("database")
def redaction_remove(
    email: EmailArg,
    label: Annotated[str, typer.Argument(help="The label the pattern was added with.")],
    *,
    settings: Settings,
) -> None:
    """Remove a pattern from an account (calls stored meanwhile stay redacted)."""
    with _store(settings) as store:
        pattern_service.remove_pattern(store, email, label)
    out.print(f"Pattern {label!r} removed.", markup=False)


ResultVariableOpt = Annotated[
    str | None,
    typer.Option(help="A result variable: entries whose data.result_variable is this name."),
]
ModuleTypeOpt = Annotated[
    str | None, typer.Option(help="A module type: entries whose data.module_type is this name.")
]


def _module(result_variable: str | None, module_type: str | None) -> tuple[str, str]:
    if (result_variable is None) == (module_type is None):
        raise _fail("Give exactly one of --result-variable NAME and --module-type NAME.", 2)
    if result_variable is not None:
        return "result_variable", result_variable
    return "module_type", str(module_type)


@sensitive_app.command("add")
@with_settings("database")
def sensitive_add(
    email: EmailArg,
    result_variable: ResultVariableOpt = None,
    module_type: ModuleTypeOpt = None,
    as_json: JsonFlag = False,
    *,
    settings: Settings,
) -> None:
    """Make a result variable or a module type sensitive: every entry of the account that carries it is stored as a private entry, whatever its text (built-in redaction on or off).

    The name matches the entry's value exactly, ignoring case. It applies to calls ingested from then on (within a second on a running server), not to stored ones.
    """  # noqa: E501
    field, name = _module(result_variable, module_type)
    with _store(settings) as store:
        added = sensitive_service.add_sensitive(store, email, field, name)
    if as_json:
        shown = {"email": account_service.normalize_email(email), "field": added.field}
        shown["name"] = added.name
        out.print(orjson.dumps(shown).decode(), markup=False)
    else:
        out.print(f"Sensitive {added.field} {added.name!r} added.", markup=False)


@sensitive_app.command("list")
@with_settings("database")
def sensitive_list(
    email: Annotated[
        str | None, typer.Argument(help="Only this account's modules (default: every account).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object a line, one per module.")
    ] = False,
    *,
    settings: Settings,
) -> None:
    """List accounts' sensitive result variables and module types."""
    with _store(settings) as store:
        rows = sensitive_service.list_sensitive(store, email)
    if as_json:
        for owner, m in rows:
            shown = {"email": owner, "field": m.field, "name": m.name}
            out.print(orjson.dumps(shown).decode(), markup=False)
        return
    table = Table("email", "field", "name")
    for owner, m in rows:
        table.add_row(Text(owner), m.field, Text(m.name))
    out.print(table)


@sensitive_app.command("remove")
@with_settings("database")
def sensitive_remove(
    email: EmailArg,
    result_variable: ResultVariableOpt = None,
    module_type: ModuleTypeOpt = None,
    *,
    settings: Settings,
) -> None:
    """Make a result variable or module type ordinary again (calls stored meanwhile stay private)."""  # noqa: E501
    field, name = _module(result_variable, module_type)
    with _store(settings) as store:
        removed = sensitive_service.remove_sensitive(store, email, field, name)
    out.print(f"Sensitive {removed.field} {removed.name!r} removed.", markup=False)


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
    with _store(settings) as store:
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
            raise _fail(str(exc), 2) from None
        except sqlite3.Error as exc:
            raise _fail(f"The backup failed, PATH is unchanged: {exc}.") from None
    out.print(
        f"[bold]Backed up[/] {escape(report.source)} to {escape(report.target)}: "
        f"{report.pages} pages ({report.bytes / 2**20:.1f} MiB) in {report.seconds:.1f} s."
    )


SERVER_SETTINGS = (
    "database",
    "host",
    "port",
    "detail_retention_days",
    "call_retention_days",
    "purge_interval",
    "open_call_timeout",
    "redaction",
    "log_level",
    "workers",
    "auth_failures_per_address",
    "auth_failures_per_account",
    "metrics",
    "log_format",
    "max_header_size",
    "header_timeout",
    "body_timeout",
    "send_timeout",
    "max_connections",
    "ingest_buffer_mib",
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
        raise _fail(str(exc), 2) from None
    if settings.workers == 1:
        try:
            application = create_app(settings)
        except StoreOpenError as exc:
            raise _fail(str(exc), 2) from None
        freeze_startup_objects()
        uvicorn.run(application, **options)
        return
    # several processes: the schema is brought up to date once, here, and each worker
    # builds its own app (and its own connections) from the settings in its environment
    with _store(settings):
        pass
    os.environ[SETTINGS_ENV] = settings.to_json()
    with multiprocess_dir():  # the workers' metrics, added up by /-/metrics
        uvicorn.run("ivrlog.web.app:worker_app", factory=True, workers=settings.workers, **options)


@app.command()
@with_settings(*SERVER_SETTINGS)
def serve(*, settings: Settings) -> None:
    """Start the server."""
    _serve(settings)


def curl_lines(
    settings: Settings, email: str, key: str, session_id: str, number: str, now: int
) -> list[str]:
    """Ready-to-paste curl commands for the three read endpoints."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    base = f"http://{host}:{settings.port}"
    user = shlex.quote(f"{email}:{key}")
    start = now - settings.detail_retention_days * 86_400
    end = now + 3600
    urls = [
        f"{base}/api/calls/{start}/{end}?limit=5",
        f"{base}/api/all_logs/{start}/{end}?number={number}&limit=2",
        f"{base}/api/call/{quote(session_id, safe='')}",
    ]
    lines = [f"curl -u {user} {shlex.quote(url)}" for url in urls]
    lines.append(f"curl -u {user} -H 'Accept: application/xml' {shlex.quote(urls[2])}")
    return lines


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
    moment = int(time.time()) if now is None else now
    the_seed = seed if seed is not None else secrets.randbits(32)
    generated = demo_calls(calls, seed=the_seed, now=moment)
    with _store(settings) as store:
        if store.account_by_email(DEMO_EMAIL) is None:
            credentials = account_service.add_account(store, DEMO_EMAIL, now=moment)
        else:
            credentials = account_service.rotate_account(store, DEMO_EMAIL)
        account = store.account_by_email(DEMO_EMAIL)
        assert account is not None
        store.delete_account_calls(account.id)
        rules = Redactors(store, builtin=settings.redaction).for_account(account.id)
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("Storing demo calls", total=len(generated))
            for first in range(0, len(generated), 500):
                batch = generated[first : first + 500]
                ingest_calls(store, account.id, batch, rules)
                progress.advance(task, len(batch))
    cutoff = moment - settings.detail_retention_days * 86_400
    readable = [
        c
        for c in generated
        if not c["private"] and c["detail"] and c["start"] >= cutoff and c["type"] == "inbound"
    ]
    sample = max(readable or generated, key=lambda c: (len(c["detail"]) >= 10, c["start"]))
    out.print(
        f"[bold]Demo database[/] {settings.database}: {len(generated)} calls (seed {the_seed})."
    )
    out.print(f"  email:         [bold]{DEMO_EMAIL}[/]")
    out.print(f"  developer key: [bold]{credentials.developer_key}[/]")
    out.print(f"  ingest token:  [bold]{credentials.ingest_token}[/]")
    out.print("\nTry these once the server is up:\n")
    for line in curl_lines(
        settings,
        DEMO_EMAIL,
        credentials.developer_key,
        sample["session_id"],
        sample["dest"],
        moment,
    ):
        out.print(line, markup=False)
    out.print(f"\nAPI reference: http://{settings.host}:{settings.port}/docs\n")
    if serve:
        _serve(settings)


def main() -> None:
    try:
        app()
    except IvrlogError as exc:  # pragma: no cover - a core error that escaped a command
        err.print(f"[bold red]Error:[/] {exc.message}")
        sys.exit(1)
