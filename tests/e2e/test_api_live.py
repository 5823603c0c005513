"""POST /ingest/v1/calls/{session_id}/entries: a call ingested as it happens."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.limits import MAX_ENTRIES
from ivrlog.core.live import append_entries
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.web import create_app
from tests.factories import DAY, NOW, basic, call, database_text, entry, ingest

SID = "100035;000;1575898377"
T0 = NOW - 600
WINDOW = f"0/{NOW + DAY}"


def post_live(client: TestClient, creds: Credentials, session_id: str, body: Any) -> httpx.Response:
    return client.post(
        f"/ingest/v1/calls/{quote(session_id, safe='')}/entries",
        content=orjson.dumps(body),
        headers={"Authorization": f"Bearer {creds.ingest_token}"},
    )


def new_call(entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "src": "6177123000",
        "dest": "6177123001",
        "type": "inbound",
        "entries": entries,
        **extra,
    }


def lines_of(client: TestClient, creds: Credentials, session_id: str = SID) -> list[str]:
    response = client.get(f"/api/call/{quote(session_id, safe='')}", auth=basic(creds))
    assert response.status_code == 200, response.text
    return [e["event"]["line"] for e in orjson.loads(response.content)]


def listed(client: TestClient, creds: Credentials) -> list[dict[str, Any]]:
    response = client.get(f"/api/calls/{WINDOW}", auth=basic(creds))
    assert response.status_code == 200, response.text
    calls: list[dict[str, Any]] = orjson.loads(response.content)["calls"]
    return calls


def test_entries_append_in_order_and_the_call_is_readable_but_not_listed(
    client: TestClient, account: Credentials
) -> None:
    first = post_live(client, account, SID, new_call([entry("one", timestamp=T0)]))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "session_id": SID,
        "appended": 1,
        "out_of_order": 0,
        "entries": 1,
        "complete": False,
    }
    second = post_live(
        client,
        account,
        SID,
        {"entries": [entry("two", timestamp=T0 + 5), entry("three", timestamp=T0 + 5)]},
    )
    assert second.json() == {
        "session_id": SID,
        "appended": 2,
        "out_of_order": 0,
        "entries": 3,
        "complete": False,
    }
    assert lines_of(client, account) == ["one", "two", "three"]
    assert listed(client, account) == []
    xml = client.get(
        f"/api/call/{quote(SID, safe='')}",
        auth=basic(account),
        headers={"Accept": "application/xml"},
    )
    assert xml.status_code == 200
    assert xml.text.count("<item>") == 3
    assert "<line>two</line>" in xml.text


def test_end_completes_the_call_which_is_then_listed_with_its_detail(
    client: TestClient, account: Credentials
) -> None:
    post_live(client, account, SID, new_call([entry("hello", timestamp=T0)]))
    done = post_live(
        client, account, SID, {"entries": [entry("bye", timestamp=T0 + 30)], "end": T0 + 31}
    )
    assert done.json() == {
        "session_id": SID,
        "appended": 1,
        "out_of_order": 0,
        "entries": 2,
        "complete": True,
    }
    [summary] = listed(client, account)
    assert summary == {
        "dest": "6177123001",
        "src": "6177123000",
        "start": T0,
        "end": T0 + 31,
        "session_id": SID,
        "type": "inbound",
        "log": True,
    }
    assert lines_of(client, account) == ["hello", "bye"]
    # the completed call reads the same as one ingested in bulk
    ingest(
        client,
        account,
        [
            call(
                "bulk",
                start=T0,
                end=T0 + 31,
                detail=[entry("hello", timestamp=T0), entry("bye", timestamp=T0 + 30)],
            )
        ],
    )
    live_body = client.get(f"/api/call/{quote(SID, safe='')}", auth=basic(account)).content
    bulk_body = client.get("/api/call/bulk", auth=basic(account)).content
    assert live_body == bulk_body


def test_a_call_can_be_created_and_completed_in_one_update_with_its_own_start(
    client: TestClient, account: Credentials
) -> None:
    response = post_live(
        client, account, "one-shot", new_call([entry(timestamp=T0 + 2)], start=T0, end=T0 + 9)
    )
    assert response.json()["complete"] is True
    [summary] = listed(client, account)
    assert (summary["start"], summary["end"]) == (T0, T0 + 9)


def test_summary_fields_may_change_while_the_call_runs(
    client: TestClient, account: Credentials
) -> None:
    post_live(client, account, SID, new_call([entry(timestamp=T0)]))
    post_live(client, account, SID, {"type": "transfer", "dest": "6170000000", "end": T0 + 60})
    [summary] = listed(client, account)
    assert (summary["type"], summary["dest"]) == ("transfer", "6170000000")


def test_entries_for_a_completed_call_are_refused_and_change_nothing(
    client: TestClient, account: Credentials
) -> None:
    post_live(client, account, SID, new_call([entry("a", timestamp=T0)], end=T0 + 1))
    late = post_live(client, account, SID, {"entries": [entry("late", timestamp=T0 + 2)]})
    assert late.status_code == 409
    assert "is complete" in late.json()["error"]
    assert lines_of(client, account) == ["a"]
    # a completed call from the bulk endpoint is complete too
    ingest(client, account, [call("bulk")])
    assert post_live(client, account, "bulk", {"entries": [entry()]}).status_code == 409


def test_an_entry_older_than_stored_ones_is_placed_by_its_timestamp_and_counted(
    client: TestClient, account: Credentials
) -> None:
    post_live(client, account, SID, new_call([entry("a", timestamp=T0 + 10)]))
    post_live(client, account, SID, {"entries": [entry("c", timestamp=T0 + 20)]})
    late = post_live(
        client,
        account,
        SID,
        {"entries": [entry("b", timestamp=T0 + 15), entry("a2", timestamp=T0 + 10)]},
    )
    assert late.status_code == 200, late.text
    assert (late.json()["appended"], late.json()["out_of_order"]) == (2, 2)
    assert lines_of(client, account) == ["a", "a2", "b", "c"]  # ties keep arrival order
    done = post_live(
        client, account, SID, {"entries": [entry("d", timestamp=T0 + 30)], "end": T0 + 40}
    )
    assert done.json()["out_of_order"] == 0
    assert lines_of(client, account) == ["a", "a2", "b", "c", "d"]
    [summary] = listed(client, account)
    assert (summary["start"], summary["end"]) == (T0 + 10, T0 + 40)


def test_entries_out_of_order_within_one_update_are_sorted_and_the_start_is_the_earliest(
    client: TestClient, account: Credentials
) -> None:
    response = post_live(
        client,
        account,
        SID,
        new_call([entry("late", timestamp=T0 + 9), entry("early", timestamp=T0)], end=T0 + 10),
    )
    assert response.status_code == 200
    assert response.json()["out_of_order"] == 1
    assert lines_of(client, account) == ["early", "late"]
    assert listed(client, account)[0]["start"] == T0


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"entries": [entry()]}, ["src", "dest", "type"]),
        ({"src": "1", "dest": "2", "type": "inbound"}, ["start"]),
        (new_call([entry()], end=T0 - 99999, start=T0), ["end"]),
        (
            new_call([{"event": {"line": 1}}]),
            [
                "entries[0].event.line",
                "entries[0].event.data",
                "entries[0].class",
                "entries[0].timestamp",
            ],
        ),
        (new_call([], start=T0, colour="red"), ["colour"]),
        (new_call([], start=T0, type="sideways"), ["type"]),
        (new_call([], start=-1), ["start"]),
        (new_call([], start=T0, private="yes"), ["private"]),
        (new_call({"not": "a list"}, start=T0), ["entries"]),  # type: ignore[arg-type]
    ],
)
def test_invalid_updates_name_every_problem_and_store_nothing(
    client: TestClient, account: Credentials, body: dict[str, Any], paths: list[str]
) -> None:
    response = post_live(client, account, SID, body)
    assert response.status_code == 422, response.text
    assert sorted(e["path"] for e in response.json()["errors"]) == sorted(paths)
    assert client.get(f"/api/call/{quote(SID, safe='')}", auth=basic(account)).status_code == 404


def test_bad_bodies_and_credentials(client: TestClient, account: Credentials) -> None:
    url = f"/ingest/v1/calls/{quote(SID, safe='')}/entries"
    auth = {"Authorization": f"Bearer {account.ingest_token}"}
    assert client.post(url, content=b"{nope", headers=auth).status_code == 400
    assert client.post(url, content=b"[1]", headers=auth).status_code == 400
    typed = client.post(url, content=b"{}", headers={**auth, "Content-Type": "text/plain"})
    assert typed.status_code == 415
    anonymous = client.post(url, content=orjson.dumps(new_call([entry()])))
    assert anonymous.status_code == 401
    as_reader = client.post(url, content=orjson.dumps(new_call([entry()])), auth=basic(account))
    assert as_reader.status_code == 401
    assert client.get(url).status_code == 405


def test_a_call_holds_at_most_max_entries(client: TestClient, account: Credentials) -> None:
    many = [entry(timestamp=T0)] * MAX_ENTRIES
    assert post_live(client, account, SID, new_call(many)).status_code == 200
    over = post_live(client, account, SID, {"entries": [entry(timestamp=T0)]})
    assert over.status_code == 413
    assert str(MAX_ENTRIES) in over.json()["error"]


def test_a_call_made_private_mid_way_drops_and_keeps_no_entries(
    client: TestClient, account: Credentials, db_url: str
) -> None:
    marker = "zq-live-private-4411"
    post_live(client, account, SID, new_call([entry(marker, timestamp=T0)]))
    response = post_live(
        client, account, SID, {"private": True, "entries": [entry(marker, timestamp=T0 + 1)]}
    )
    assert response.json()["entries"] == 0
    # private is sticky: a later "private": false does not bring entries back
    post_live(
        client,
        account,
        SID,
        {"private": False, "entries": [entry(marker, timestamp=T0 + 2)], "end": T0 + 3},
    )
    [summary] = listed(client, account)
    assert summary["log"] is False
    assert client.get(f"/api/call/{quote(SID, safe='')}", auth=basic(account)).status_code == 404
    assert marker not in database_text(db_url)


def test_bulk_ingest_replaces_a_call_in_progress(client: TestClient, account: Credentials) -> None:
    post_live(client, account, SID, new_call([entry("live", timestamp=T0)]))
    ingest(client, account, [call(SID, start=T0, detail=[entry("bulk", timestamp=T0)])])
    assert lines_of(client, account) == ["bulk"]
    assert (
        post_live(client, account, SID, {"entries": [entry(timestamp=T0 + 1)]}).status_code == 409
    )


def test_accounts_do_not_share_calls_in_progress(
    client: TestClient, account: Credentials, other_account: Credentials
) -> None:
    post_live(client, account, SID, new_call([entry("mine", timestamp=T0)]))
    theirs = post_live(client, other_account, SID, new_call([entry("theirs", timestamp=T0 - 50)]))
    assert theirs.status_code == 200
    assert lines_of(client, account) == ["mine"]
    assert lines_of(client, other_account) == ["theirs"]


def test_a_silent_call_is_completed_by_the_server_after_the_timeout(
    store: Store, account: Credentials
) -> None:
    now = [float(NOW)]
    settings = Settings(database="unused.db", open_call_timeout=3600, purge_interval=0)
    app = create_app(settings, store=store, clock=lambda: now[0])
    with TestClient(app) as client:
        post_live(client, account, SID, new_call([entry(timestamp=T0), entry(timestamp=T0 + 40)]))
        post_live(client, account, "fresh", new_call([entry(timestamp=T0)]))
        now[0] += 1800
        post_live(client, account, "fresh", {"entries": [entry(timestamp=T0 + 1800)]})
        now[0] += 1801  # SID silent for 3601 s, "fresh" for 1801 s
        report = app.state.ctx.purge()
        assert report.open_calls_completed == 1
        [summary] = listed(client, account)
        assert (summary["session_id"], summary["start"], summary["end"]) == (SID, T0, T0 + 40)
        assert summary["log"] is True
        late = post_live(client, account, SID, {"entries": [entry(timestamp=T0 + 50)]})
        assert late.status_code == 409


def test_concurrent_appends_lose_no_entry(store: Store, account: Credentials) -> None:
    """Writers race on one call with interleaved timestamps: every entry lands, in time order."""
    stored = store.account_by_email(account.email)
    assert stored is not None
    append_entries(store, stored.id, SID, new_call([entry("start", timestamp=T0)]), now=NOW)
    threads, per_thread = 8, 25
    errors: list[BaseException] = []
    answers: list[int] = []

    def worker(number: int) -> None:
        try:
            for i in range(per_thread):
                stamp = T0 + 1 + i * threads + number  # writer n owns every n-th second
                update = {"entries": [entry(f"t{number}-{i}", timestamp=stamp)]}
                answers.append(append_entries(store, stored.id, SID, update, now=NOW).appended)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert answers == [1] * threads * per_thread
    result = append_entries(store, stored.id, SID, {"end": T0 + 10_000}, now=NOW)
    assert result.entries == 1 + threads * per_thread
    found, fragment = store.call_detail(stored.id, SID, "json", 0)
    assert found
    assert fragment is not None
    entries = orjson.loads(fragment)
    expected = ["start"] + [f"t{n}-{i}" for i in range(per_thread) for n in range(threads)]
    assert [e["event"]["line"] for e in entries] == expected
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps)


def test_only_entries_restart_the_open_call_timeout(store: Store, account: Credentials) -> None:
    now = [float(NOW)]
    settings = Settings(database="unused.db", open_call_timeout=3600, purge_interval=0)
    app = create_app(settings, store=store, clock=lambda: now[0])
    with TestClient(app) as client:
        post_live(client, account, SID, new_call([entry(timestamp=T0)]))
        now[0] += 3000
        post_live(client, account, SID, {"type": "transfer"})  # no entry: no new life
        now[0] += 601
        assert app.state.ctx.purge().open_calls_completed == 1
        [summary] = listed(client, account)
        assert (summary["type"], summary["end"]) == ("transfer", T0)


def test_an_open_call_older_than_the_detail_window_is_completed_and_its_entries_purged(
    store: Store, account: Credentials, db_url: str
) -> None:
    marker = "zq-old-open-call-5120"
    old = NOW - 6 * DAY
    settings = Settings(database="unused.db", purge_interval=0)
    app = create_app(settings, store=store, clock=lambda: NOW)
    with TestClient(app) as client:
        post_live(client, account, SID, new_call([entry(marker, timestamp=old)]))
        assert marker in database_text(db_url)
        report = app.state.ctx.purge()
        # completed without its detail, which is past the window: nothing to delete after
        assert (report.open_calls_completed, report.details_deleted) == (1, 0)
        [summary] = listed(client, account)
        assert (summary["session_id"], summary["log"]) == (SID, False)
        assert marker not in database_text(db_url)


def test_the_openapi_reference_documents_the_live_endpoint(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/ingest/v1/calls/{session_id}/entries"]["post"]
    assert operation["security"] == [{"ingestToken": []}]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/LiveUpdate"}
    assert {"200", "400", "401", "409", "413", "415", "422", "500"} <= set(operation["responses"])
    update = document["components"]["schemas"]["LiveUpdate"]
    assert "required" not in update
    assert set(update["properties"]) == {
        "src",
        "dest",
        "type",
        "start",
        "private",
        "entries",
        "end",
    }


def test_a_late_entry_moves_the_start_back_unless_the_start_was_given(
    client: TestClient, account: Credentials
) -> None:
    post_live(client, account, "follows", new_call([entry("b", timestamp=T0 + 10)]))
    post_live(client, account, "follows", {"entries": [entry("a", timestamp=T0)], "end": T0 + 20})
    post_live(client, account, "given", new_call([entry("b", timestamp=T0 + 10)], start=T0 + 5))
    post_live(client, account, "given", {"entries": [entry("a", timestamp=T0)], "end": T0 + 20})
    starts = {c["session_id"]: c["start"] for c in listed(client, account)}
    assert starts == {"follows": T0, "given": T0 + 5}


def test_a_null_start_is_refused(client: TestClient, account: Credentials) -> None:
    response = post_live(client, account, SID, new_call([entry(timestamp=T0)], start=None))
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["start"]
