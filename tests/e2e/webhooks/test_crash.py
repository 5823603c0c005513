"""Webhooks through crashes: the server and its dispatcher killed (SIGKILL) while
deliveries are in flight, then started again: every completed call arrives at least once,
a repeat with the same `webhook-id` (both backends); and two servers on one PostgreSQL
database: each delivery sent once."""

from __future__ import annotations

import collections
import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.serving import Serving, account, serving
from tests.e2e.webhooks.helpers import FAST, add_endpoint, ingest, recent_call
from tests.e2e.webhooks.receiver import receiving


def children(process_id: int) -> list[int]:
    text = Path(f"/proc/{process_id}/task/{process_id}/children").read_text()
    return [int(pid) for pid in text.split()]


def kill_hard(server: Serving) -> None:
    """SIGKILL the server and its dispatcher at once: neither gets to clean up."""
    dispatchers = children(server.process.pid)
    assert dispatchers, "the server runs no dispatcher"
    for pid in [server.process.pid, *dispatchers]:
        os.kill(pid, signal.SIGKILL)
    server.process.wait()
    for pid in dispatchers:
        while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
            time.sleep(0.01)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (FileNotFoundError, IndexError):
        return "zombie"


def slow(_: int) -> int:
    time.sleep(0.05)  # deliveries take a while: the kill finds some in flight
    return 204


def test_a_killed_server_delivers_every_completed_call_after_its_restart(
    db_url: str, tmp_path: Path
) -> None:
    creds = account(db_url)
    calls = [recent_call(f"c{i}", ago=3000 - i) for i in range(120)]
    with receiving(slow) as receiver:
        receiver.secret = add_endpoint(db_url, creds.email, receiver.url)["secret"]
        with serving(db_url, tmp_path / "first.log", *FAST) as server:
            for batch in range(0, 120, 20):
                ingest(server, creds, calls[batch : batch + 20])
            receiver.wait_for(lambda got: len(got) >= 10, "some deliveries")
            kill_hard(server)
        before = len(receiver.deliveries())
        assert before < 120, "everything was delivered before the kill: nothing was tested"
        with serving(db_url, tmp_path / "second.log", *FAST):
            got = receiver.wait_for(
                lambda got: (
                    {d.document["data"]["session_id"] for d in got}
                    >= {c["session_id"] for c in calls}
                ),
                "every call",
            )
    assert all(d.document is not None for d in got)
    ids: dict[str, set[str]] = collections.defaultdict(set)
    for delivery in got:
        ids[delivery.document["data"]["session_id"]].add(delivery.headers["webhook-id"])
    assert all(len(seen) == 1 for seen in ids.values()), "a repeat came with another id"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_servers_on_one_database_send_each_delivery_once(db_url: str, tmp_path: Path) -> None:
    creds = account(db_url)
    calls = [recent_call(f"c{i}", ago=3000 - i) for i in range(300)]
    with (
        receiving() as receiver,
        serving(db_url, tmp_path / "one.log", *FAST) as one,
        serving(db_url, tmp_path / "two.log", *FAST) as two,
    ):
        receiver.secret = add_endpoint(db_url, creds.email, receiver.url)["secret"]
        for batch in range(0, 300, 25):
            ingest(one if batch % 50 else two, creds, calls[batch : batch + 25])
        got = receiver.wait_for(lambda got: len(got) >= 300, "every call")
        time.sleep(1.0)  # a second copy would come now
        got = receiver.deliveries()
    counts = collections.Counter(d.headers["webhook-id"] for d in got)
    assert len(counts) == 300
    assert set(counts.values()) == {1}, "a delivery was sent twice"
    assert {d.document["data"]["session_id"] for d in got} == {c["session_id"] for c in calls}
