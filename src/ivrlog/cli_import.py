"""`ivrlog import twilio-studio|connect-flow-logs PATH... --into EMAIL`: another
platform's call logs read (core/import_twilio.py, core/import_connect.py), then stored
through ingestion (core/bringing.py). Input that cannot be read stops the import before
anything is stored; a call the local rules refuse is skipped, and said so."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.progress import Progress

from ivrlog.cli_base import err, fail, opened_store, out, with_settings
from ivrlog.core.accounts import account_named
from ivrlog.core.bringing import ImportFailed, Skipped, Target
from ivrlog.core.import_connect import connect_calls, read_records
from ivrlog.core.import_twilio import read_documents, studio_calls
from ivrlog.core.patterns import Redactors
from ivrlog.core.when import utc_text
from ivrlog.settings import Settings

import_app = typer.Typer(
    help="Import another platform's call logs into an account (docs/import.md).",
    no_args_is_help=True,
)

UNREADABLE = 1  # exit code of input that cannot be read (nothing imported)
Parse = Callable[[list[tuple[str, bytes]]], tuple[list[dict[str, Any]], list[Skipped]]]

PathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Files, or folders of them (read whole, in name order; .gz files are unpacked).",
        show_default=False,
    ),
]
IntoOpt = Annotated[
    str,
    typer.Option("--into", help="The account (its email) the calls go into.", show_default=False),
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON object: imported, files, skipped (each with why)."),
]


def _files(paths: Iterable[Path], suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        elif path.is_file():
            found.append(path)
        else:
            raise fail(f"{path}: no such file or folder.", UNREADABLE)
    if not found:
        raise fail(f"No {' or '.join(suffixes)} file in {', '.join(map(str, paths))}.", UNREADABLE)
    return found


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0  # said when it is read


def _read(files: list[Path], quiet: bool) -> list[tuple[str, bytes]]:
    documents = []
    with Progress(console=err, disable=quiet, transient=True) as progress:
        task = progress.add_task("reading", total=sum(map(_size, files)))
        for file in files:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise fail(f"{file}: cannot be read ({exc.strerror}).", UNREADABLE) from None
            progress.advance(task, len(data))
            if file.name.endswith(".gz"):
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError, zlib.error) as exc:
                    raise fail(f"{file}: not a gzip file ({exc}).", UNREADABLE) from None
            documents.append((str(file), data))
    return documents


def _import(
    kind: str,
    paths: list[Path],
    suffixes: tuple[str, ...],
    parse: Parse,
    into: str,
    as_json: bool,
    settings: Settings,
) -> None:
    files = _files(paths, suffixes)
    try:
        calls, skipped = parse(_read(files, as_json))
    except ImportFailed as exc:
        raise fail(f"{exc.message} Nothing was imported.", UNREADABLE) from None
    with opened_store(settings) as store:
        account = account_named(store, into)
        detail_cutoff, call_cutoff = settings.retention.cutoffs(time.time())
        redactor = Redactors(store, builtin=settings.redaction).for_account(account.id)
        target = Target(store, account.id, redactor, detail_cutoff, call_cutoff)
        checked = []
        for call in calls:
            refusal = target.refusal(call)
            if refusal is None and call["start"] < call_cutoff:
                refusal = (
                    f"started before {utc_text(call_cutoff)}, past call_retention_days"
                    f" ({settings.call_retention_days}): it would not be kept"
                )
            if refusal is None:
                checked.append(call)
            else:
                skipped.append(Skipped(call["session_id"], refusal))
        with Progress(console=err, disable=as_json, transient=True) as progress:
            task = progress.add_task("importing", total=len(checked))
            target.write(checked, lambda n: progress.advance(task, n))
    no_detail = sum(1 for c in checked if c["detail"] and c["start"] < detail_cutoff)
    if as_json:
        document = {
            "imported": len(checked),
            "files": len(files),
            "skipped": [{"where": s.where, "reason": s.reason} for s in skipped],
            "detail_not_kept": no_detail,
        }
        out.file.write(orjson.dumps(document).decode() + "\n")
        return
    for item in skipped:
        err.print(f"[yellow]skipped[/] {escape(item.where)}: {escape(item.reason)}")
    out.print(
        f"Imported {len(checked)} {kind} calls into {account.email} from {len(files)}"
        f" file{'s' if len(files) != 1 else ''};"
        f" {len(skipped)} skipped."
    )
    if no_detail:
        out.print(
            f"{no_detail} of them started before {utc_text(detail_cutoff)}: their entries are"
            f" past detail_retention_days ({settings.detail_retention_days}) and were not kept."
        )


def _studio(documents: list[tuple[str, bytes]]) -> tuple[list[dict[str, Any]], list[Skipped]]:
    return studio_calls(read_documents(documents))


def _connect(documents: list[tuple[str, bytes]]) -> tuple[list[dict[str, Any]], list[Skipped]]:
    return connect_calls(read_records(documents)), []


SETTINGS = ("database", "detail_retention_days", "call_retention_days", "redaction")


@import_app.command("twilio-studio")
@with_settings(*SETTINGS)
def twilio_studio(
    paths: PathsArg, into: IntoOpt, as_json: JsonOpt = False, *, settings: Settings
) -> None:
    """Twilio Studio Executions with their Steps (and Contexts), as the Studio REST API v2
    returns them: JSON files, or folders of them."""
    _import("Twilio Studio", paths, (".json", ".json.gz"), _studio, into, as_json, settings)


@import_app.command("connect-flow-logs")
@with_settings(*SETTINGS)
def connect_flow_logs(
    paths: PathsArg, into: IntoOpt, as_json: JsonOpt = False, *, settings: Settings
) -> None:
    """Amazon Connect contact flow logs as exported from CloudWatch Logs: JSON lines (one
    block a line), `aws logs filter-log-events` JSON, or S3 export files."""
    suffixes = (".jsonl", ".json", ".log", ".gz", ".txt")
    _import("Amazon Connect", paths, suffixes, _connect, into, as_json, settings)
