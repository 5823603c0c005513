"""Durability under faults: the server is killed (SIGKILL) while clients ingest.

Several threads post bulk batches and live updates to a real server process; once enough
of them have been answered, the process is killed mid-stream; that is done three times on
one file, each server recovering what the last kill left. A last server on the file must
then show every call that was answered 200, whole; every request whose answer never came
either whole or not at all; and nothing else. The file itself must pass SQLite's integrity
and foreign key checks.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson
import psycopg
import pytest

from ivrlog.core.accounts import Credentials
from tests.e2e.serving import account, serving

pytestmark = pytest.mark.e2e

EMAIL = "ops@example.com"
BULK_WRITERS = 4
LIVE_WRITERS = 4
CALLS_PER_BATCH = 5
KILL_AFTER = 40  # requests answered 200 before the server is killed
ROUNDS = 3  # kills, each on the file the previous one left
GIVE_UP = 60.0  # seconds: a safety net against a hang, never an assertion

OK = "ok"  # answered 200
NOT_SENT = "not sent"  # the connection was refused: the server never saw the request
UNKNOWN = "unknown"  # sent (maybe partly), but no answer came


@dataclass
class Sent:
    """One request and what became of it."""

    outcome: str = UNKNOWN
    status: int | None = None


@dataclass
class Batch(Sent):
    calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Update(Sent):
    entries: list[dict[str, Any]] = field(default_factory=list)
    completes: bool = False


@dataclass
class LiveCall:
    session_id: str
    src: str
    start: int  # its first entry's timestamp
    end: int  # what its completing update says
    updates: list[Update] = field(default_factory=list)


@dataclass
class Traffic:
    """Everything the writer threads of one round sent, and how many answers of 200 came
    back."""

    kill_round: int
    batches: list[Batch] = field(default_factory=list)
    live_calls: list[LiveCall] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def settle(self, request: Sent, client: httpx.Client, url: str, body: Any) -> bool:
        """Post a request, record its outcome; whether the writer may go on."""
        try:
            response = client.post(url, json=body)
        except httpx.ConnectError:
            request.outcome = NOT_SENT
            return False
        except httpx.TransportError:
            request.outcome = UNKNOWN
            return False
        request.status = response.status_code
        if response.status_code != 200:
            request.outcome = f"refused ({response.status_code}: {response.text[:200]})"
            with self.lock:
                self.failures.append(request.outcome)
            return False
        request.outcome = OK
        with self.lock:
            self.answered += 1
        return True


def entry(line: str, timestamp: int, step: int) -> dict[str, Any]:
    return {
        "event": {
            "line": line,
            "data": {
                "module_type": "prompt" if step % 2 else "input",
                "result_variable": f"var_{step}",
                "attempt": step,
                "choices": ["yes", "no", {"say": line}],
            },
        },
        "class": "info",
        "timestamp": timestamp,
    }


def bulk_writer(traffic: Traffic, base_url: str, token: str, writer: int, now: int) -> None:
    rng = random.Random(f"bulk {traffic.kill_round} {writer}")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=15) as client:
        request = 0
        while not traffic.stop.is_set():
            calls = []
            for number in range(CALLS_PER_BATCH):
                session_id = f"r{traffic.kill_round}-bulk-{writer}-{request}-{number}"
                start = now - 3600 + rng.randrange(1800)
                detail = [
                    entry(f"{session_id} entry {i}", start + i, i)
                    for i in range(rng.randint(3, 20))
                ]
                calls.append(
                    {
                        "session_id": session_id,
                        "src": f"617555{writer:04d}",
                        "dest": "6177123001",
                        "type": "inbound",
                        "start": start,
                        "end": start + len(detail) + 5,
                        "detail": detail,
                    }
                )
            batch = Batch(calls=calls)
            with traffic.lock:
                traffic.batches.append(batch)
            if not traffic.settle(batch, client, "/ingest/v1/calls", calls):
                return
            request += 1


def live_writer(traffic: Traffic, base_url: str, token: str, writer: int, now: int) -> None:
    rng = random.Random(f"live {traffic.kill_round} {writer}")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=15) as client:
        number = 0
        while not traffic.stop.is_set():
            start = now - 1800 + rng.randrange(600)
            updates = rng.randint(2, 6)
            call = LiveCall(
                f"r{traffic.kill_round}-live-{writer}-{number}",
                src=f"617666{writer:04d}",
                start=start,
                end=start + 3 * updates + 5,  # after the last entry
            )
            with traffic.lock:
                traffic.live_calls.append(call)
            url = f"/ingest/v1/calls/{quote(call.session_id, safe='')}/entries"
            step = 0
            for index in range(updates):
                entries = []
                for _ in range(rng.randint(1, 3)):
                    entries.append(entry(f"{call.session_id} entry {step}", start + step, step))
                    step += 1
                body: dict[str, Any] = {"entries": entries}
                if index == 0:
                    body.update(src=call.src, dest="6177123002", type="inbound")
                if index == updates - 1:
                    body["end"] = call.end
                update = Update(entries=entries, completes="end" in body)
                call.updates.append(update)
                if not traffic.settle(update, client, url, body):
                    return
            number += 1


def guarded(target: Any, traffic: Traffic, *args: Any) -> threading.Thread:
    """A thread running a writer; an unexpected exception is recorded, not lost."""

    def run() -> None:
        try:
            target(traffic, *args)
        except Exception as exc:
            with traffic.lock:
                traffic.failures.append(f"{target.__name__}{args[2:3]}: {exc!r}")

    return threading.Thread(target=run, daemon=True)


def ingest_until_killed(
    db: str, log: Path, creds: Credentials, now: int, kill_round: int
) -> Traffic:
    """Run the writers against a server and kill it with SIGKILL while they post."""
    traffic = Traffic(kill_round)
    with serving(db, log, log_level="warning") as server:
        base_url, process = server.url, server.process
        try:
            threads = [
                guarded(bulk_writer, traffic, base_url, creds.ingest_token, writer, now)
                for writer in range(BULK_WRITERS)
            ] + [
                guarded(live_writer, traffic, base_url, creds.ingest_token, writer, now)
                for writer in range(LIVE_WRITERS)
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + GIVE_UP
            while traffic.answered < KILL_AFTER and not traffic.failures:
                assert time.monotonic() < deadline, f"only {traffic.answered} answers came"
                assert all(t.is_alive() for t in threads), traffic.failures
                time.sleep(0.01)
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(timeout=20) == -signal.SIGKILL
            for thread in threads:
                thread.join(timeout=GIVE_UP)
            assert not any(t.is_alive() for t in threads), "a writer did not stop after the kill"
        finally:
            traffic.stop.set()
    return traffic


def stored_detail(client: httpx.Client, session_id: str) -> list[dict[str, Any]] | None:
    """A call's entries as the server gives them, None when it has no such call."""
    response = client.get(f"/api/call/{quote(session_id, safe='')}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    detail: list[dict[str, Any]] = orjson.loads(response.content)
    return detail


def listed_calls(client: httpx.Client, now: int) -> tuple[list[dict[str, Any]], int]:
    calls: list[dict[str, Any]] = []
    while True:
        response = client.get(
            f"/api/calls/0/{now + 86_400}", params={"limit": 10_000, "offset": len(calls)}
        )
        assert response.status_code == 200, response.text
        page = orjson.loads(response.content)
        calls.extend(page["calls"])
        if not page["calls"] or len(calls) >= page["total_calls"]:
            return calls, int(page["total_calls"])


def check_batches(client: httpx.Client, batches: list[Batch]) -> set[str]:
    """Every batch is on the server whole or not at all, and whole when it was answered;
    the session ids of the calls that are there."""
    present: set[str] = set()
    for batch in batches:
        found = {c["session_id"]: stored_detail(client, c["session_id"]) for c in batch.calls}
        whole = all(found[c["session_id"]] == c["detail"] for c in batch.calls)
        absent = all(detail is None for detail in found.values())
        ids = sorted(found)
        if batch.outcome == OK:
            assert whole, f"a batch answered 200 is not whole after the restart: {ids}"
        elif batch.outcome == NOT_SENT:
            assert absent, f"a batch the server never received was stored: {ids}"
        else:
            assert whole or absent, (
                f"a batch without an answer is half there: {ids} -> "
                f"{ {sid: None if d is None else len(d) for sid, d in found.items()} }"
            )
        if whole:
            present.update(found)
    return present


def check_live_calls(client: httpx.Client, calls: list[LiveCall], listed: set[str]) -> set[str]:
    """Every answered update of a live call is there, in order; an unanswered one is there
    whole or not at all; a call is listed exactly when its completing update was applied.
    The session ids of the completed calls."""
    completed: set[str] = set()
    for call in calls:
        answered = [u for u in call.updates if u.outcome == OK]
        pending = [u for u in call.updates if u.outcome != OK]
        assert call.updates[: len(answered)] == answered  # a writer stops at its first miss
        assert len(pending) <= 1
        kept = [e for u in answered for e in u.entries]
        found = stored_detail(client, call.session_id) or []
        if pending and pending[0].outcome == UNKNOWN and found != kept:
            update = pending[0]
            assert found == kept + update.entries, (
                f"{call.session_id}: after {len(kept)} answered entries the unanswered update"
                f" of {len(update.entries)} is half there: {len(found)} entries stored"
            )
            applied = [*answered, update]
        else:
            assert found == kept, (
                f"{call.session_id}: {len(kept)} entries were answered 200,"
                f" {len(found)} are stored, or they differ"
            )
            applied = answered
        if any(u.completes for u in applied):
            completed.add(call.session_id)
        is_listed = call.session_id in listed
        assert is_listed == (call.session_id in completed), (
            f"{call.session_id}: {len(found)} entries stored, listed={is_listed}, but its"
            f" completing update is {'' if call.session_id in completed else 'not '}applied"
        )
    return completed


def test_calls_answered_200_survive_a_kill_and_nothing_is_half_written(
    tmp_path: Path, db_url: str, backend: str
) -> None:
    db = db_url
    log = tmp_path / "server.log"
    creds = account(db, EMAIL)
    now = int(time.time())

    batches: list[Batch] = []
    live_calls: list[LiveCall] = []
    for kill_round in range(ROUNDS):  # each round recovers the file the previous kill left
        traffic = ingest_until_killed(db, log, creds, now, kill_round)
        assert not traffic.failures, traffic.failures
        updates = [u for c in traffic.live_calls for u in c.updates]
        outcomes = [r.outcome for r in [*traffic.batches, *updates]]
        assert outcomes.count(OK) >= KILL_AFTER
        # every writer ran until the kill cut it off, so each has one request left open
        assert len(outcomes) - outcomes.count(OK) == BULK_WRITERS + LIVE_WRITERS
        batches += traffic.batches
        live_calls += traffic.live_calls

    with (
        serving(db, log, log_level="warning") as server,
        httpx.Client(
            base_url=server.url, auth=(creds.email, creds.developer_key), timeout=15
        ) as client,
    ):
        listing, total = listed_calls(client, now)
        listed = [c["session_id"] for c in listing]
        assert len(listed) == len(set(listed)) == total
        bulk_present = check_batches(client, batches)
        live_completed = check_live_calls(client, live_calls, set(listed))
        assert set(listed) == bulk_present | live_completed
        sent = {
            c["session_id"]: (c["src"], c["dest"], c["start"], c["end"])
            for b in batches
            for c in b.calls
        }
        sent.update((c.session_id, (c.src, "6177123002", c.start, c.end)) for c in live_calls)
        for row in listing:
            assert (row["src"], row["dest"], row["start"], row["end"]) == sent[row["session_id"]]

    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        return
    with psycopg.connect(db) as pg:
        # no call twice (there is no unique index across partitions), no orphan detail
        assert (
            pg.execute(
                "SELECT account_id, session_id FROM calls GROUP BY 1, 2 HAVING count(*) > 1"
            ).fetchall()
            == []
        )
        assert pg.execute(
            "SELECT count(*) FROM call_details d"
            " WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.id = d.call_id)"
        ).fetchone() == (0,)
