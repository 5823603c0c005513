"""`ivrlog erase`: erase one call, or every call of a number, on the database of `--db`;
a thin wrapper of core/erasure.py, as `DELETE /v1/calls/{id}` and `POST /v1/erasures`
are."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from ivrlog.cli_accounts import EmailArg
from ivrlog.cli_base import JsonFlag, err, fail, opened_store, out, with_settings
from ivrlog.core.accounts import account_named
from ivrlog.core.erasure import check_number, erase_call, erase_number
from ivrlog.core.errors import IvrlogError
from ivrlog.core.when import iso_utc, parse_when
from ivrlog.settings import Settings

DECLINED = 1  # exit code when the confirmation is declined: nothing was erased


def _what(email: str, session_id: str | None, number: str | None, before: int | None) -> str:
    if session_id is not None:
        return f"the call {session_id!r} of {email} (completed or in progress)"
    since = "" if before is None else f" started before {iso_utc(before)}"
    return f"every call of {email} to or from {number!r}{since}"


@with_settings("database")
def erase(
    email: EmailArg,
    session_id: Annotated[
        str | None, typer.Option(help="Erase the call of this session id.")
    ] = None,
    number: Annotated[
        str | None,
        typer.Option(help="Erase every call whose src or dest is exactly this number."),
    ] = None,
    before: Annotated[
        str | None,
        typer.Option(
            help="With --number: only calls that started before this time (UNIX seconds, "
            "ISO 8601 with an offset, or before now: -30d)."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Erase without asking for confirmation.")
    ] = False,
    as_json: JsonFlag = False,
    *,
    settings: Settings,
) -> None:
    """Erase a call, or every call to or from a number, for good: the calls, their detail and search words, and calls in progress.

    Give exactly one of --session-id and --number. Without --yes it says what it will erase and asks first (exit code 1 on no: nothing erased). Prints how many calls were erased; an audit row keeps when, how many and a keyed hash of the selector, never the number (docs/privacy.md). On SQLite the erased content is cleared from the database files at once (unless a reader holds the write-ahead log: then at the next purge).
    """  # noqa: E501
    if (session_id is None) == (number is None):
        raise fail("Give exactly one of --session-id ID and --number N.", 2)
    now = int(time.time())
    try:
        moment = None if before is None else parse_when("--before", before, now)
        if number is not None:
            check_number(number)
        elif before is not None:
            raise fail("--before goes with --number only.", 2)
    except IvrlogError as exc:
        raise fail(exc.message, 2) from None
    with opened_store(settings) as store:
        account = account_named(store, email)
        what = _what(account.email, session_id, number, moment)
        if not yes and not typer.confirm(f"Erase {what}, for good?", default=False, err=True):
            err.print("Nothing was erased.")
            raise typer.Exit(DECLINED)
        try:
            if session_id is not None:
                count = erase_call(store, account.id, session_id, now)
            else:
                count = erase_number(store, account.id, str(number), moment, now)
        except IvrlogError as exc:
            raise fail(exc.message) from None
    if as_json:
        out.print(orjson.dumps({"email": account.email, "erased": count}).decode(), markup=False)
    else:
        out.print(f"Erased {count} call{'' if count == 1 else 's'}: {escape(what)}.")
