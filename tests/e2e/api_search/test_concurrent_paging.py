"""Cursor paging while calls arrive, against a real `ivrlog serve`: a thread ingests new
calls (newer and older than the cursor, inside the paged window) and replaces listed
ones while the test walks the pages with a small limit. Every call present at the first
request appears exactly once, none twice, in order."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from ivrlog.core.accounts import Credentials
from tests.conftest import BACKENDS, fresh_database
from tests.e2e.serving import Serving, account, serving
from tests.factories import call

pytestmark = pytest.mark.e2e

PRESENT = 120  # calls stored before the first page
LIMIT = 7


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Serving, Credentials]]:
    with fresh_database(request, str(request.param), tmp_path) as db:
        creds = account(db)
        with serving(db, tmp_path / "server.log") as running:
            yield running, creds


def post(client: httpx.Client, creds: Credentials, calls: list[dict[str, Any]]) -> None:
    response = client.post(
        "/ingest/v1/calls",
        json=calls,
        headers={"Authorization": f"Bearer {creds.ingest_token}"},
    )
    assert response.status_code == 200, response.text


class Arrivals(threading.Thread):
    """Ingests a small batch at a time until stopped: new calls anywhere in the window
    (so newer and older than wherever the cursor is) and replacements of present ones."""

    def __init__(self, url: str, creds: Credentials, window: tuple[int, int], present: list[str]):
        super().__init__(daemon=True)
        self.url, self.creds, self.window, self.present = url, creds, window, present
        self.stop = threading.Event()
        self.batches = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        chooser = random.Random(15)
        try:
            with httpx.Client(base_url=self.url, timeout=30) as client:
                while not self.stop.is_set():
                    fresh = [
                        call(f"new;{self.batches};{n}", chooser.randrange(*self.window))
                        for n in range(3)
                    ]
                    replaced = chooser.choice(self.present)
                    start = int(replaced.split(";")[1])
                    post(client, self.creds, [*fresh, call(replaced, start, src="replaced")])
                    self.batches += 1
                    time.sleep(0.005)
        except BaseException as exc:  # reported by the test
            self.failure = exc


def test_no_call_is_repeated_or_skipped_while_calls_arrive(
    server: tuple[Serving, Credentials],
) -> None:
    running, creds = server
    now = int(time.time())
    window = (now - 7200, now - 60)
    chooser = random.Random(3)
    starts = chooser.sample(range(*window), PRESENT - 10) + [window[0] + 500] * 10  # ties
    present = [f"old;{start};{n}" for n, start in enumerate(starts)]
    reader = (creds.email, creds.developer_key)
    with httpx.Client(base_url=running.url, timeout=30) as client:
        post(client, creds, [call(s, int(s.split(";")[1])) for s in present])
        arrivals = Arrivals(running.url, creds, window, present)
        params = {"from": str(window[0]), "to": str(window[1]), "limit": str(LIMIT)}
        response = client.get("/v1/calls", params=params, auth=reader)
        arrivals.start()
        seen: list[tuple[int, str]] = []
        pages = 0
        try:
            while True:
                assert response.status_code == 200, response.text
                body = response.json()
                seen += [(c["start"], c["session_id"]) for c in body["calls"]]
                pages += 1
                if body["next"] is None:
                    break
                # at least one batch lands between any two pages (the thread ingests
                # freely meanwhile; this only makes sure it is not starved)
                landed = arrivals.batches
                deadline = time.monotonic() + 30
                while arrivals.batches == landed and arrivals.is_alive():
                    assert time.monotonic() < deadline, "no batch landed"
                    time.sleep(0.002)
                response = client.get(body["next"], auth=reader)
        finally:
            arrivals.stop.set()
            arrivals.join(timeout=60)
    assert arrivals.failure is None, arrivals.failure
    assert arrivals.batches >= pages - 1  # calls did arrive between every two pages
    ids = [session_id for _, session_id in seen]
    assert len(ids) == len(set(ids)), "a call was listed twice"
    assert set(present) <= set(ids), "a call present at the first request was skipped"
    assert seen == sorted(seen, reverse=True), "the pages left the newest-first order"
    assert pages >= PRESENT // LIMIT
