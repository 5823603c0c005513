"""docs/cli.md, generated from the commands themselves (`make docs-cli`; a test checks it)."""

from __future__ import annotations

import inspect
from typing import Any

import typer

from ivrlog.cli import app


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _param_row(param: Any) -> str:
    if _is_argument(param):
        name = f"`{param.name.upper()}`"
        help_text = getattr(param, "help", None) or ""
        return f"| {name} | argument | {help_text} |"
    flags = " / ".join(f"`{flag}`" for flag in [*param.opts, *param.secondary_opts])
    details = []
    if param.envvar:
        details.append(f"env `{param.envvar}`")
    if param.default is not None and not param.is_flag:
        details.append(f"default `{param.default}`")
    elif param.is_flag and param.secondary_opts and param.default is not None:
        details.append(f"default `{param.opts[0] if param.default else param.secondary_opts[0]}`")
    extra = f" ({'; '.join(details)})" if details else ""
    return f"| {flags} | option | {(param.help or '').strip()}{extra} |"


def _command(path: str, command: Any, out: list[str]) -> None:
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            _command(f"{path} {name}", sub, out)
        return
    params = [p for p in command.params if p.name != "help"]
    usage = " ".join([path, *(p.name.upper() for p in params if _is_argument(p))])
    out += [
        f"## `{path}`",
        "",
        inspect.cleandoc(command.help or ""),
        "",
        f"    {usage} [OPTIONS]",
        "",
    ]
    out += ["| name | kind | meaning |", "| --- | --- | --- |"]
    out += [_param_row(p) for p in params]
    out.append("")


def render() -> str:
    out = [
        "# The `ivrlog` command",
        "",
        "Generated from the commands by `make docs-cli`; a test fails when it is out of date.",
        "Every setting option also reads its `IVRLOG_` environment variable (see settings.md).",
        "",
    ]
    _command("ivrlog", typer.main.get_command(app), out)
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
