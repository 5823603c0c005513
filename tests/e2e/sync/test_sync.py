"""`ivrlog sync` end to end: a real ivrlog server stands in for the Plum Fuse account, the
sync runs as a real process into a local database; runs twice, resumes after a kill of
either side, rides a throttling source, and never shows the source's key."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from tests.e2e.scripted import Answer, Received, scripted_server
from tests.e2e.sync.helpers import (
    DAY,
    KEY_ENV,
    NOW,
    SOURCE_DETAIL_DAYS,
    Source,
    checkpoint,
    json_lines,
    local_changes,
    local_holds,
    make_local,
    make_source,
    run_sync,
    spread_calls,
    sync_args,
    sync_env,
    sync_process,
)
from tests.factories import call, database_text, entry

pytestmark = pytest.mark.e2e


def test_a_sync_copies_the_account_and_a_second_run_adds_nothing(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    with source.serve():
        with source.client() as client:
            client.ingest(spread_calls(120))
        wanted = source.holds()
        first = run_sync(local, source, "--json")
        assert first.returncode == 0, first.stderr
        held = local_holds(local)
        seq = local_changes(local)
        second = run_sync(local, source, "--json")
    assert held == wanted
    # the source's quirks: outbound calls as `Outbound`, detail past its window not given
    assert {v[0] for k, v in held.items() if v[2] == "outbound"} == {"Outbound"}
    old = [v for v in held.values() if v[3] < NOW - SOURCE_DETAIL_DAYS * DAY]
    assert old
    assert all(v[5] is None for v in old)
    assert sum(v[5] is not None for v in held.values()) > 40
    done = json_lines(first.stdout)[-1]
    assert done["event"] == "done"
    assert done["added"] == len(wanted) == 120
    again = json_lines(second.stdout)[-1]
    assert (again["added"], again["updated"], again["skipped"]) == (0, 0, 0)
    assert local_holds(local) == held
    assert local_changes(local) == seq  # nothing replaced either


def test_a_call_given_detail_later_is_completed_not_duplicated(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    bare = call("late;1", NOW - 3600, detail=[])
    with source.serve():
        with source.client() as client:
            client.ingest([bare])
            assert run_sync(local, source).returncode == 0
            assert local_holds(local)["late;1"][5] is None
            client.ingest([{**bare, "detail": [entry("Now with entries", timestamp=NOW - 3600)]}])
        result = run_sync(local, source, "--json")
    assert json_lines(result.stdout)[-1]["updated"] == 1
    held = local_holds(local)
    assert list(held) == ["late;1"]
    assert held["late;1"][5][0]["event"]["line"] == "Now with entries"


def test_windows_larger_than_the_page_limit(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    crowded = [call(f"same;{n:02d}", NOW - DAY + 7) for n in range(12)]  # one second, 12 calls
    with source.serve():
        with source.client() as client:
            client.ingest([*spread_calls(40, days=1), *crowded])
        result = run_sync(local, source, "--page-size", "5", "--json")
        wanted = source.holds()
    assert result.returncode == 0, result.stderr
    assert local_holds(local) == wanted
    assert len(wanted) == 52
    windows = [e for e in json_lines(result.stdout) if e["event"] == "window"]
    assert max(w["listed"] for w in windows) == 12  # the crowded second, paged by offset
    assert all(w["listed"] <= 5 for w in windows if w["to"] - w["from"] > 1)


def test_a_sync_killed_mid_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    with source.serve():
        with source.client() as client:
            client.ingest(spread_calls(600))
        wanted = source.holds()
        options = ("--page-size", "5", "--overlap", "2h", "--json")
        with sync_process(local, source, *options) as process:
            assert process.stdout is not None
            for line in process.stdout:
                event = orjson.loads(line)
                if event["event"] == "window" and event["added"]:
                    break
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        stopped_at = checkpoint(local, source)
        partial = local_holds(local)
        assert stopped_at is not None
        assert stopped_at < NOW
        assert 0 < len(partial) < len(wanted)
        resumed = run_sync(local, source, *options)
    assert resumed.returncode == 0, resumed.stderr
    events = json_lines(resumed.stdout)
    first_window = next(e for e in events if e["event"] == "window")
    assert first_window["from"] == stopped_at - 2 * 3600  # the checkpoint, less the overlap
    assert local_holds(local) == wanted


def test_a_source_killed_mid_run_fails_the_run_cleanly_and_the_next_resumes(
    tmp_path: Path,
) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    with source.serve() as server:
        with source.client() as client:
            client.ingest(spread_calls(600))
        wanted = source.holds()
        with sync_process(local, source, "--page-size", "5", "--retries", "2", "--json") as process:
            assert process.stdout is not None
            for line in process.stdout:
                if '"event":"window"' in line:
                    break
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=60)
            code = process.wait(timeout=120)
            rest = json_lines(process.stdout.read())
    assert code == 1
    assert rest[-1]["event"] == "error"
    assert "could not reach" in rest[-1]["message"]
    assert checkpoint(local, source) is not None
    with source.serve():
        resumed = run_sync(local, source, "--page-size", "5", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert local_holds(local) == wanted


def test_a_short_outage_of_the_source_is_ridden_through(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    with source.serve():
        with source.client() as client:
            client.ingest(spread_calls(600))
        wanted = source.holds()
    with sync_process(local, source, "--page-size", "5", "--retries", "20", "--json") as process:
        # the source is down when the sync starts, and comes back while it retries
        assert process.stdout is not None
        with source.serve():
            code = process.wait(timeout=120)
            output = process.stdout.read()
    assert code == 0, output
    assert json_lines(output)[-1]["event"] == "done"
    assert local_holds(local) == wanted


def test_a_throttling_source_is_waited_for(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    throttled = 0

    with source.serve():
        with source.client() as client:
            client.ingest(spread_calls(60))
        wanted = source.holds()
        upstream = httpx.Client(base_url=source.url)

        def every_third_throttled(request: Received) -> Answer:
            nonlocal throttled
            if (throttled := throttled + 1) % 3 == 0:
                return Answer(429, b'{"error":"Slow down."}', {"Retry-After": "1"})
            answer = upstream.get(
                request.path, headers={"authorization": request.headers["authorization"]}
            )
            return Answer(answer.status_code, answer.content)

        with scripted_server(every_third_throttled) as proxy:
            proxied = Source(source.db, source.creds, int(proxy.url.rsplit(":", 1)[1]), source.log)
            result = run_sync(local, proxied, "--page-size", "20", "--json")
        upstream.close()
    assert result.returncode == 0, result.stderr
    assert throttled >= 3
    assert local_holds(local) == wanted
    limits = [int(p.split("limit=")[1].split("&")[0]) for p in (r.path for r in proxy.received)]
    assert max(limits) <= 20  # detail pages too keep to the source's page size


def test_the_source_key_is_never_shown_or_kept(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    key = source.creds.developer_key
    with source.serve():
        with source.client() as client:
            client.ingest(spread_calls(30))
        with sync_process(local, source, "--every", "1h") as process:
            assert process.stderr is not None
            assert process.stdout is not None
            summary = process.stdout.readline()  # the first run's summary, then it sleeps
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()  # what ps shows
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
            errors = process.stderr.read()
    assert b"--key-env" in cmdline
    assert code == 0
    assert summary.startswith("Synced ")
    assert "Stopped" in errors
    assert key.encode() not in cmdline
    assert key not in summary + errors
    assert key not in database_text(local)
    assert len(local_holds(local)) == 30


def test_failed_runs_do_not_show_the_key_either(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    key = source.creds.developer_key
    down = run_sync(local, source, "--retries", "1")  # nobody listens on its port yet
    assert down.returncode == 1
    assert "could not reach" in down.stderr
    with source.serve():
        wrong = subprocess.run(
            sync_args(local, source, "--json"),
            env={**sync_env(source), KEY_ENV: key[:-4] + "XXXX"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert wrong.returncode == 1
    assert json_lines(wrong.stdout)[-1] == {
        "event": "error",
        "message": "Authentication headers invalid or the account is inactive.",
    }
    for output in (down.stdout, down.stderr, wrong.stdout, wrong.stderr):
        assert key not in output
        assert key[:-4] not in output


def test_bad_options_are_clear(tmp_path: Path) -> None:
    source, local = make_source(tmp_path), make_local(tmp_path)
    missing = run_sync(local, source, "--every", "soon")
    assert missing.returncode == 2
    assert "Invalid --every 'soon'" in missing.stderr
    unknown = run_sync(local, source, "--into", "nobody@example.com")
    assert unknown.returncode != 0
    assert "nobody@example.com" in unknown.stderr
