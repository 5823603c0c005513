"""Webhooks when things go wrong, end to end (a real server, its dispatcher, a real
receiver): a receiver that fails then recovers, one that is down for a while, 410,
redirects, a URL that points inside at sending time; the delivery log and replay through
the CLI. Both backends."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from ivrlog.core.accounts import Credentials
from tests.e2e.serving import account, serving
from tests.e2e.webhooks.helpers import FAST, add_endpoint, ingest, recent_call
from tests.e2e.webhooks.receiver import Receiver, receiving


def cli(db: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "ivrlog", "webhooks", *args, "--db", db],
        capture_output=True,
        check=True,
        env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"},
    )
    return orjson.loads(done.stdout) if "--json" in args else done.stdout.decode()


def log(db: str, creds: Credentials, *options: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = cli(db, "log", creds.email, "--json", *options)
    return entries


def wait_log(
    db: str, creds: Credentials, done: Any, what: str, *options: str
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        entries = log(db, creds, *options)
        if done(entries):
            return entries
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {log(db, creds, *options)}")


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    db_url: str, tmp_path: Path
) -> None:
    creds = account(db_url)
    with (
        receiving(lambda n: 500 if n < 2 else 204) as receiver,
        serving(db_url, tmp_path / "server.log", *FAST, log_level="debug") as server,
    ):
        receiver.secret = add_endpoint(db_url, creds.email, receiver.url)["secret"]
        ingest(server, creds, [recent_call("only")])
        got = receiver.wait_for(lambda got: len(got) >= 3, "the third attempt")
        entries = wait_log(db_url, creds, lambda e: e and e[0]["state"] == "delivered", "delivered")
    assert [d.status for d in got] == [500, 500, 204]
    assert all(d.document is not None for d in got)
    assert len({d.headers["webhook-id"] for d in got}) == 1  # one delivery, three attempts
    # the backoff: 1 s less up to half, then 2 s less up to half
    first, second = got[1].at - got[0].at, got[2].at - got[1].at
    assert first >= 0.5, first
    assert second >= 1.0, second
    [delivery] = entries
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 204]
    assert delivery["attempts"][0]["error"] == "status 500"
    assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])
    failed = log(db_url, creds, "--failed")
    assert [d["id"] for d in failed] == [delivery["id"]]  # it failed twice on the way
    # the server's log (its dispatcher's with it, at debug) never holds the secret
    text = (tmp_path / "server.log").read_text()
    assert "webhook" in text  # the dispatcher logged
    assert receiver.secret.removeprefix("whsec_") not in text


def test_a_receiver_down_for_a_while_gets_every_event(db_url: str, tmp_path: Path) -> None:
    creds = account(db_url)
    receiver = Receiver()  # not started: down
    with serving(db_url, tmp_path / "server.log", *FAST) as server:
        receiver.secret = add_endpoint(db_url, creds.email, receiver.url)["secret"]
        ingest(server, creds, [recent_call(f"c{i}", ago=900 - i) for i in range(30)])
        wait_log(
            db_url,
            creds,
            lambda e: len(e) == 30 and all(d["attempts"] for d in e),
            "a failed attempt of each",
        )
        receiver.start()
        try:
            got = receiver.wait_for(lambda got: len(got) >= 30, "every event")
        finally:
            receiver.stop()
    assert sorted(d.document["data"]["session_id"] for d in got) == sorted(
        f"c{i}" for i in range(30)
    )
    assert all(d.document is not None for d in got)


def test_410_disables_the_endpoint_and_enable_sends_again(db_url: str, tmp_path: Path) -> None:
    creds = account(db_url)
    with (
        receiving(lambda n: 410 if n == 0 else 204) as receiver,
        serving(db_url, tmp_path / "server.log", *FAST) as server,
    ):
        endpoint = add_endpoint(db_url, creds.email, receiver.url)
        receiver.secret = endpoint["secret"]
        ingest(server, creds, [recent_call("first")])
        receiver.wait_for(lambda got: len(got) == 1, "the 410")
        deadline = time.monotonic() + 60
        while cli(db_url, "list", creds.email, "--json")[0]["enabled"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        [shown] = cli(db_url, "list", creds.email, "--json")
        assert shown["disabled_reason"] == "the receiver answered 410 Gone"
        ingest(server, creds, [recent_call("while-off")])  # nothing is queued for it
        cli(db_url, "enable", creds.email, str(endpoint["id"]))
        ingest(server, creds, [recent_call("after")])
        got = receiver.wait_for(lambda got: len(got) == 2, "the call after")
        time.sleep(1.5)  # nothing else comes
    assert [d.document["data"]["session_id"] for d in receiver.deliveries()] == [
        "first",
        "after",
    ]
    assert got[1].status == 204


def test_redirects_are_not_followed(db_url: str, tmp_path: Path) -> None:
    creds = account(db_url)
    with receiving() as target, serving(db_url, tmp_path / "server.log", *FAST) as server:
        redirecting = Receiver(behaviour=lambda n: 307, location=target.url)
        redirecting.start()
        try:
            add_endpoint(db_url, creds.email, redirecting.url)
            ingest(server, creds, [recent_call("moved")])
            redirecting.wait_for(lambda got: len(got) >= 1, "the attempt")
            [delivery] = wait_log(
                db_url, creds, lambda e: e and e[0]["attempts"], "the logged attempt"
            )
        finally:
            redirecting.stop()
    assert delivery["attempts"][0]["status"] == 307
    assert delivery["attempts"][0]["error"] == (
        f"status 307: redirect to {target.url} not followed"
    )
    assert delivery["state"] == "waiting"
    assert target.deliveries() == []


def test_a_private_address_is_refused_at_sending_time(db_url: str, tmp_path: Path) -> None:
    """An endpoint registered while private addresses (and http) were allowed, served by
    a server that refuses them: the attempt is not sent, and says why."""
    creds = account(db_url)
    with (
        receiving() as receiver,
        serving(db_url, tmp_path / "server.log", "--webhook-backoff", "1") as server,
    ):
        add_endpoint(db_url, creds.email, receiver.url)
        ingest(server, creds, [recent_call("inside")])
        [delivery] = wait_log(db_url, creds, lambda e: e and e[0]["attempts"], "the attempt")
    assert receiver.deliveries() == []
    attempt = delivery["attempts"][0]
    assert attempt["status"] is None
    # an http:// endpoint is refused first (a name resolving inside: test_poster.py)
    assert attempt["error"] == "http:// is not allowed (the setting webhook_allow_private is off)"


def test_replay_of_a_delivery_and_of_a_range(db_url: str, tmp_path: Path) -> None:
    creds = account(db_url)
    with receiving() as receiver, serving(db_url, tmp_path / "server.log", *FAST) as server:
        endpoint = add_endpoint(db_url, creds.email, receiver.url)
        receiver.secret = endpoint["secret"]
        now = int(time.time())
        ingest(server, creds, [recent_call("old", ago=7200), recent_call("new", ago=60)])
        receiver.wait_for(lambda got: len(got) == 2, "both calls")
        delivered = wait_log(
            db_url, creds, lambda e: all(d["state"] == "delivered" for d in e), "delivered"
        )
        new = next(d for d in delivered if d["session_id"] == "new")
        cli(db_url, "replay", creds.email, "--delivery", str(new["id"]))
        again = receiver.wait_for(lambda got: len(got) == 3, "the replayed delivery")
        assert again[2].headers["webhook-id"] == f"msg_{new['id']}"
        assert again[2].document["data"]["session_id"] == "new"
        out = cli(
            db_url,
            "replay",
            creds.email,
            "--endpoint",
            str(endpoint["id"]),
            "--from",
            str(now - 3600),
        )
        assert "Queued 1 call.completed delivery" in out
        ranged = receiver.wait_for(lambda got: len(got) == 4, "the range")
    assert ranged[3].document["data"]["session_id"] == "new"
    assert ranged[3].headers["webhook-id"] not in {d.headers["webhook-id"] for d in ranged[:3]}
