"""`ivrlog webhooks ...`: an account's webhook endpoints, their delivery log and replay,
and a one-off run of the dispatcher; thin over core/webhook_endpoints.py, as
/v1/webhooks is (docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from ivrlog.cli_accounts import EmailArg
from ivrlog.cli_base import JsonFlag, err, fail, opened_store, out, with_settings
from ivrlog.core import webhook_endpoints as service
from ivrlog.core.accounts import account_named
from ivrlog.core.errors import IvrlogError
from ivrlog.core.webhooks import COMPLETED, EVENTS, HOUR_MS, Endpoint, iso_ms, now_ms
from ivrlog.core.when import parse_when
from ivrlog.render.webhooks import delivery_doc, endpoint_doc
from ivrlog.settings import Settings

webhooks_app = typer.Typer(
    help="Webhooks: endpoints an account's completed and erased calls are posted to "
    "(docs/webhooks.md).",
    no_args_is_help=True,
)
EndpointArg = Annotated[int, typer.Argument(help="The endpoint's id (see `webhooks list`).")]
WEBHOOK_SETTINGS = (
    "database",
    "detail_retention_days",
    "call_retention_days",
    "log_level",
    "webhook_allow_private",
    "webhook_timeout",
    "webhook_backoff",
    "webhook_retry_hours",
    "webhook_concurrency",
    "webhook_log_days",
)


def _print_json(document: Any) -> None:
    out.print(orjson.dumps(document).decode(), markup=False)


def _describe(endpoint: Endpoint) -> str:
    state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
    entries = ", with entries" if endpoint.entries else ""
    events = escape(f"[{', '.join(endpoint.events)}{entries}]")
    return f"#{endpoint.id} {escape(endpoint.url)} {events} {escape(state)}"


@webhooks_app.command("add")
@with_settings("database", "webhook_allow_private")
def webhooks_add(
    email: EmailArg,
    url: Annotated[str, typer.Argument(help="Where to post: https://... (see docs/webhooks.md).")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            help=f"An event to send ({', '.join(EVENTS)}); repeat it for both. Default: both."
        ),
    ] = None,
    entries: Annotated[
        bool,
        typer.Option(help="Put the call's (redacted) entries in call.completed payloads."),
    ] = False,
    as_json: JsonFlag = False,
    *,
    settings: Settings,
) -> None:
    """Register an endpoint; prints its secret (whsec_...), which is shown this once.

    With --json: {"id", "url", "secret"} on one line. The URL must be https:// and its host must resolve to public addresses, unless the setting webhook_allow_private is on.
    """  # noqa: E501
    from ivrlog.delivery.poster import resolve

    with opened_store(settings) as store:
        account = account_named(store, email)
        try:
            made = service.add_endpoint(
                store,
                account.id,
                url,
                event or list(EVENTS),
                entries=entries,
                allow_private=settings.webhook_allow_private,
                resolve=resolve,
                now=now_ms(),
            )
        except IvrlogError as exc:
            raise fail(exc.message, 2) from None
    if as_json:
        _print_json({"id": made.endpoint.id, "url": made.endpoint.url, "secret": made.secret})
        return
    out.print(f"Added endpoint {_describe(made.endpoint)} for {escape(account.email)}.")
    out.print(f"  secret: [bold]{made.secret}[/] (shown this once: verify signatures with it)")


@webhooks_app.command("list")
@with_settings("database")
def webhooks_list(email: EmailArg, as_json: JsonFlag = False, *, settings: Settings) -> None:
    """List an account's endpoints (never their secrets)."""
    with opened_store(settings) as store:
        account = account_named(store, email)
        endpoints = store.endpoints(account.id)
    if as_json:
        _print_json([endpoint_doc(e) for e in endpoints])
        return
    if not endpoints:
        out.print(f"{escape(account.email)} has no webhook endpoint.")
    for endpoint in endpoints:
        out.print(_describe(endpoint))


def _toggle(email: str, endpoint_id: int, enabled: bool, as_json: bool, settings: Settings) -> None:
    with opened_store(settings) as store:
        account = account_named(store, email)
        try:
            endpoint = service.set_enabled(store, account.id, endpoint_id, enabled)
        except IvrlogError as exc:
            raise fail(exc.message) from None
    if as_json:
        _print_json(endpoint_doc(endpoint))
    else:
        out.print(f"Endpoint {_describe(endpoint)}.")


@webhooks_app.command("disable")
@with_settings("database")
def webhooks_disable(
    email: EmailArg, endpoint_id: EndpointArg, as_json: JsonFlag = False, *, settings: Settings
) -> None:
    """Stop sending to an endpoint: no new delivery is queued for it, and its waiting ones wait."""
    _toggle(email, endpoint_id, False, as_json, settings)


@webhooks_app.command("enable")
@with_settings("database")
def webhooks_enable(
    email: EmailArg, endpoint_id: EndpointArg, as_json: JsonFlag = False, *, settings: Settings
) -> None:
    """Send to an endpoint again (one disabled by hand, by a 410, or for failing too long): its waiting deliveries go out."""  # noqa: E501
    _toggle(email, endpoint_id, True, as_json, settings)


@webhooks_app.command("rotate")
@with_settings("database")
def webhooks_rotate(
    email: EmailArg,
    endpoint_id: EndpointArg,
    grace_hours: Annotated[
        int,
        typer.Option(
            min=0,
            max=service.MAX_ROTATION_GRACE_HOURS,
            help="Hours the old secret still signs beside the new one (0: not at all).",
        ),
    ] = 24,
    as_json: JsonFlag = False,
    *,
    settings: Settings,
) -> None:
    """Give an endpoint a new secret, shown this once; the old one keeps signing (a second signature) for --grace-hours."""  # noqa: E501
    with opened_store(settings) as store:
        account = account_named(store, email)
        try:
            made = service.rotate(
                store, account.id, endpoint_id, grace_ms=grace_hours * HOUR_MS, now=now_ms()
            )
        except IvrlogError as exc:
            raise fail(exc.message) from None
    if as_json:
        _print_json({"id": made.endpoint.id, "url": made.endpoint.url, "secret": made.secret})
        return
    out.print(f"New secret for endpoint #{made.endpoint.id}: [bold]{made.secret}[/]")
    if grace_hours:
        out.print(f"  the old secret signs too for {grace_hours} h")


@webhooks_app.command("remove")
@with_settings("database")
def webhooks_remove(email: EmailArg, endpoint_id: EndpointArg, *, settings: Settings) -> None:
    """Delete an endpoint with its waiting deliveries and its log."""
    with opened_store(settings) as store:
        account = account_named(store, email)
        try:
            service.remove(store, account.id, endpoint_id)
        except IvrlogError as exc:
            raise fail(exc.message) from None
    out.print(f"Removed endpoint #{endpoint_id} of {escape(account.email)}.")


@webhooks_app.command("log")
@with_settings("database")
def webhooks_log(
    email: EmailArg,
    endpoint: Annotated[int | None, typer.Option(help="Only this endpoint's deliveries.")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only deliveries that failed, once or for good.")
    ] = False,
    limit: Annotated[
        int, typer.Option(min=1, max=service.MAX_LOG_PAGE, help="How many deliveries.")
    ] = service.LOG_PAGE,
    before: Annotated[
        int | None, typer.Option(help="Only deliveries with a smaller id (the next page).")
    ] = None,
    as_json: JsonFlag = False,
    *,
    settings: Settings,
) -> None:
    """The delivery log, newest first: each delivery with its state and every attempt (time, status, latency, error)."""  # noqa: E501
    with opened_store(settings) as store:
        account = account_named(store, email)
        try:
            records = service.delivery_log(
                store, account.id, endpoint, failed=failed, before=before, limit=limit
            )
        except IvrlogError as exc:
            raise fail(exc.message) from None
    if as_json:
        _print_json([delivery_doc(r) for r in records])
        return
    if not records:
        out.print("No delivery.")
        return
    table = Table(
        "delivery", "endpoint", "event", "session id", "state", "attempt", "status", "ms", "error"
    )
    for record in records:
        state: str = record.state
        if record.next_at is not None:
            state += f" (next {iso_ms(record.next_at)})"
        rows = record.attempts or ()
        if not rows:
            table.add_row(
                str(record.id),
                str(record.endpoint_id),
                record.event,
                escape(record.session_id),
                state,
                "",
                "",
                "",
                "",
            )
        for attempt in rows:
            table.add_row(
                str(record.id),
                str(record.endpoint_id),
                record.event,
                escape(record.session_id),
                state,
                iso_ms(attempt.at),
                "" if attempt.status is None else str(attempt.status),
                str(attempt.latency_ms),
                escape(attempt.error or ""),
            )
    out.print(table)


@webhooks_app.command("replay")
@with_settings("database")
def webhooks_replay(
    email: EmailArg,
    delivery: Annotated[
        int | None, typer.Option(help="Send this delivery again (same webhook-id).")
    ] = None,
    endpoint: Annotated[
        int | None,
        typer.Option(help="With --from and --to: send every call of the range to it again."),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Calls that started at or after this time (UNIX seconds, "
            "ISO 8601 with an offset, or before now: -7d).",
        ),
    ] = None,
    to: Annotated[
        str | None, typer.Option(help="Calls that started before this time (default: now).")
    ] = None,
    *,
    settings: Settings,
) -> None:
    """Send one delivery again (--delivery), or a new call.completed delivery of every stored call that started in a range (--endpoint, --from, --to)."""  # noqa: E501
    if (delivery is None) == (endpoint is None):
        raise fail("Give exactly one of --delivery ID and --endpoint ID.", 2)
    moment = now_ms()
    start = end = 0
    if endpoint is not None:
        if from_ is None:
            raise fail("--endpoint needs --from (and --to, or now).", 2)
        try:
            start = parse_when("--from", from_, moment // 1000)
            end = parse_when("--to", to, moment // 1000) if to else moment // 1000 + 1
        except IvrlogError as exc:
            raise fail(exc.message, 2) from None
    elif from_ is not None or to is not None:
        raise fail("--from and --to go with --endpoint.", 2)
    with opened_store(settings) as store:
        account = account_named(store, email)
        try:
            if delivery is not None:
                service.replay_delivery(store, account.id, delivery, moment)
                out.print(f"Delivery {delivery} is queued again.")
                return
            assert endpoint is not None
            count = service.replay_calls(store, account.id, endpoint, start, end, moment)
        except IvrlogError as exc:
            raise fail(exc.message) from None
    out.print(f"Queued {count} {COMPLETED} deliver{'y' if count == 1 else 'ies'} to #{endpoint}.")


@webhooks_app.command("deliver")
@with_settings(*WEBHOOK_SETTINGS)
def webhooks_deliver(as_json: JsonFlag = False, *, settings: Settings) -> None:
    """Send every delivery that is due now, of every account, then stop (a server runs this all along unless --no-webhooks); prints what happened."""  # noqa: E501
    from ivrlog.delivery.runner import deliver_once

    with opened_store(settings) as store, err.status("Delivering webhooks"):
        tally = deliver_once(settings, store)
    disabled = sorted(set(tally.disabled))
    summary = {
        "delivered": tally.delivered,
        "retrying": tally.retrying,
        "failed": tally.failed,
        "gone": tally.gone,
        "disabled_endpoints": disabled,
    }
    if as_json:
        _print_json(summary)
        return
    out.print(
        f"Delivered {tally.delivered}; {tally.retrying} to retry later, {tally.failed} failed "
        f"for good, {tally.gone} no longer stored (not sent)."
    )
    for endpoint_id in disabled:
        err.print(f"Endpoint #{endpoint_id} was disabled (see `ivrlog webhooks list`).")
