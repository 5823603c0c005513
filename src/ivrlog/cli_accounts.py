"""`ivrlog accounts`, `ivrlog redaction` and `ivrlog sensitive`: an account, its
credentials and its own privacy rules, each command a thin wrapper of a core function."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
import typer
from rich.table import Table
from rich.text import Text

from ivrlog.cli_base import JsonFlag, fail, opened_store, out, with_settings
from ivrlog.core import accounts as account_service
from ivrlog.core import patterns as pattern_service
from ivrlog.core import sensitive as sensitive_service
from ivrlog.settings import Settings

accounts_app = typer.Typer(help="Manage accounts and their credentials.", no_args_is_help=True)
redaction_app = typer.Typer(
    help="Manage an account's own redaction patterns (applied to ingested entries besides "
    "the built-in card number and SSN rules).",
    no_args_is_help=True,
)
sensitive_app = typer.Typer(
    help="Manage an account's sensitive modules: result variables and module types whose "
    "every entry is stored as a private one (line and data values \\[private]).",
    no_args_is_help=True,
)


def _show_credentials(credentials: account_service.Credentials, as_json: bool, title: str) -> None:
    if as_json:
        out.print(orjson.dumps(credentials.as_dict()).decode(), markup=False)
        return
    out.print(f"[bold]{title}[/] {credentials.email}")
    out.print(f"  developer key (read, HTTP Basic password): [bold]{credentials.developer_key}[/]")
    out.print(f"  ingest token  (write, Bearer token):       [bold]{credentials.ingest_token}[/]")
    out.print("[dim]They are shown once: ivrlog keeps only their hashes.[/]")


EmailArg = Annotated[str, typer.Argument(help="The account's email address.")]


@accounts_app.command("add")
@with_settings("database")
def accounts_add(email: EmailArg, as_json: JsonFlag = False, *, settings: Settings) -> None:
    """Add an account and print its new developer key and ingest token (once)."""
    with opened_store(settings) as store:
        credentials = account_service.add_account(store, email)
    _show_credentials(credentials, as_json, "Account added:")


@accounts_app.command("rotate")
@with_settings("database")
def accounts_rotate(email: EmailArg, as_json: JsonFlag = False, *, settings: Settings) -> None:
    """Replace an account's developer key and ingest token; the old ones stop working."""
    with opened_store(settings) as store:
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
    with opened_store(settings) as store:
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
    with opened_store(settings) as store:
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
    with opened_store(settings) as store:
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
    with opened_store(settings) as store:
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
    with opened_store(settings) as store:
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
        raise fail("Give exactly one of --result-variable NAME and --module-type NAME.", 2)
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
    with opened_store(settings) as store:
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
    with opened_store(settings) as store:
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
    with opened_store(settings) as store:
        removed = sensitive_service.remove_sensitive(store, email, field, name)
    out.print(f"Sensitive {removed.field} {removed.name!r} removed.", markup=False)
