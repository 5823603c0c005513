"""`ivrlog webhooks ...` in-process with Typer's runner on real databases: every command,
its text and JSON output, its refusals; `deliver` as a one-off run against a real
receiver. Both backends."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from ivrlog.cli import app
from ivrlog.core.accounts import Credentials, add_account
from ivrlog.core.live import append_entries
from ivrlog.storage import open_store
from tests.e2e.webhooks.helpers import recent_call
from tests.e2e.webhooks.receiver import receiving
from tests.factories import entry

EMAIL = "hooks@example.com"
WIDE = {"COLUMNS": "400"}


@pytest.fixture
def creds(db_url: str) -> Credentials:
    store = open_store(db_url)
    try:
        return add_account(store, EMAIL)
    finally:
        store.close()


def run(db: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, ["webhooks", *args, "--db", db], env=WIDE)
    assert result.exit_code == code, result.output
    return result


def as_json(result: Result) -> Any:
    return orjson.loads(result.stdout)


def test_endpoints_from_add_to_remove(db_url: str, creds: Credentials) -> None:
    made = as_json(
        run(db_url, "add", EMAIL, "http://127.0.0.1:9/in", "--json", "--webhook-allow-private")
    )
    assert set(made) == {"id", "url", "secret"}
    assert made["secret"].startswith("whsec_")
    text = run(
        db_url,
        "add",
        EMAIL,
        "http://127.0.0.1:9/two",
        "--event",
        "call.erased",
        "--entries",
        "--webhook-allow-private",
    ).stdout
    assert "[call.erased, with entries] enabled" in text
    assert "secret: whsec_" in text

    listed = run(db_url, "list", EMAIL).stdout
    assert f"#{made['id']} http://127.0.0.1:9/in [call.completed, call.erased] enabled" in listed
    assert made["secret"] not in listed
    off = as_json(run(db_url, "disable", EMAIL, str(made["id"]), "--json"))
    assert (off["enabled"], off["disabled_reason"]) == (False, "disabled by the account")
    assert "disabled (disabled by the account)" in run(db_url, "list", EMAIL).stdout
    assert "enabled" in run(db_url, "enable", EMAIL, str(made["id"])).stdout

    rotated = as_json(run(db_url, "rotate", EMAIL, str(made["id"]), "--json"))
    assert rotated["secret"] != made["secret"]
    assert (
        "the old secret signs too for 3 h"
        in run(db_url, "rotate", EMAIL, str(made["id"]), "--grace-hours", "3").stdout
    )

    assert "Removed endpoint" in run(db_url, "remove", EMAIL, str(made["id"])).stdout
    gone = run(db_url, "remove", EMAIL, str(made["id"]), code=1)
    assert "No webhook endpoint with this id." in gone.stderr
    assert len(as_json(run(db_url, "list", EMAIL, "--json"))) == 1


def test_refusals_name_the_problem(db_url: str, creds: Credentials) -> None:
    http = run(db_url, "add", EMAIL, "http://hooks.example.com/", code=2)
    assert "must start with https://" in http.stderr
    loopback = run(db_url, "add", EMAIL, "https://127.0.0.1/", code=2)
    assert "127.0.0.1 is a loopback address; set webhook_allow_private" in loopback.stderr
    metadata = run(db_url, "add", EMAIL, "https://169.254.169.254/latest", code=2)
    assert "link-local" in metadata.stderr
    event = run(db_url, "add", EMAIL, "https://x.example/", "--event", "call.begun", code=2)
    assert "'call.begun' is not one of call.completed, call.erased" in event.stderr
    unknown = run(db_url, "list", "nobody@example.com", code=1)
    assert "nobody@example.com" in unknown.stderr
    assert "--delivery" in run(db_url, "replay", EMAIL, code=2).stderr
    assert "--from" in run(db_url, "replay", EMAIL, "--endpoint", "1", code=2).stderr
    assert "No webhook endpoint" in run(db_url, "log", EMAIL, "--endpoint", "77", code=1).stderr


def test_deliver_sends_what_is_due_and_the_log_shows_it(db_url: str, creds: Credentials) -> None:
    with receiving(lambda n: 204 if n else 503) as receiver:
        made = as_json(run(db_url, "add", EMAIL, receiver.url, "--json", "--webhook-allow-private"))
        receiver.secret = made["secret"]
        store = open_store(db_url)
        try:
            account = store.account_by_email(EMAIL)
            assert account is not None
            call = recent_call("live")
            body = {**{k: call[k] for k in ("src", "dest", "type")}, "entries": [entry()]}
            append_entries(store, account.id, "live", body, now=call["start"])
            append_entries(store, account.id, "live", {"end": call["end"]}, now=call["end"])
        finally:
            store.close()
        first = as_json(run(db_url, "deliver", "--json", "--webhook-allow-private"))
        assert first == {
            "delivered": 0,
            "retrying": 1,
            "failed": 0,
            "gone": 0,
            "disabled_endpoints": [],
        }
        assert receiver.deliveries()[0].status == 503
        log = run(db_url, "log", EMAIL, "--failed").stdout
        assert "503" in log
        assert "waiting (next" in log
        [delivery] = as_json(run(db_url, "log", EMAIL, "--json"))
        run(db_url, "replay", EMAIL, "--delivery", str(delivery["id"]))  # due now
        second = run(db_url, "deliver", "--webhook-allow-private").stdout
        assert "Delivered 1;" in second
    got = receiver.deliveries()
    assert [d.status for d in got] == [503, 204]
    assert got[1].document["data"]["session_id"] == "live"
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    [done] = as_json(run(db_url, "log", EMAIL, "--json", "--endpoint", str(made["id"])))
    assert done["state"] == "delivered"
    assert [a["status"] for a in done["attempts"]] == [503, 204]
