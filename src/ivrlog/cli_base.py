"""What the command modules share: the consoles, the error exit, the store of a command,
and options made from the settings' own declaration (ivrlog.settings)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ivrlog.core.errors import AccountError
from ivrlog.core.pattern_check import PatternRefused
from ivrlog.core.ports import Database
from ivrlog.settings import Settings, SettingsError, describe
from ivrlog.storage import StoreOpenError, open_store

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error; the exit (code 2: a bad setting or database) to raise."""
    err.print(f"[bold red]Error:[/] {escape(message)}")
    return typer.Exit(code)


def with_settings(
    *names: str, defaults: dict[str, Any] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command one option per named setting, built from its declaration (flag,
    IVRLOG_ variable, type, default unless `defaults` names another, help), and pass the
    command a validated `settings: Settings` in their place."""
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
                raise fail(str(exc), 2) from None
            return command(settings=settings, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {}
        return wrapper

    return decorate


@contextmanager
def opened_store(settings: Settings) -> Iterator[Database]:
    """The store of `settings.database`, closed after the block; an account or pattern
    error inside the block becomes an error exit."""
    try:
        store = open_store(settings.database)
    except StoreOpenError as exc:
        raise fail(str(exc), 2) from None
    try:
        yield store
    except (AccountError, PatternRefused) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
