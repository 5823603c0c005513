"""Webhooks end to end: a real `ivrlog serve` (its dispatcher process beside it) posts to
a real receiver, which verifies every delivery with the `standardwebhooks` library; on
both backends."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx

from tests.e2e.serving import account, serving
from tests.e2e.webhooks.helpers import FAST, add_endpoint, ingest, listed, recent_call
from tests.e2e.webhooks.receiver import receiving


def test_every_completed_and_erased_call_arrives_signed_and_in_order(
    db_url: str, tmp_path: Path
) -> None:
    creds = account(db_url)
    with receiving() as receiver, serving(db_url, tmp_path / "server.log", *FAST) as server:
        endpoint = add_endpoint(db_url, creds.email, receiver.url, "--entries")
        receiver.secret = endpoint["secret"]
        assert endpoint["secret"].startswith("whsec_")
        calls = [recent_call(f"call-{i}", ago=900 - i) for i in range(20)]
        ingest(server, creds, calls[:10])
        ingest(server, creds, calls[10:])
        erased = httpx.delete(
            f"{server.url}/v1/calls/call-3",
            headers={"Authorization": f"Bearer {creds.ingest_token}"},
        )
        assert erased.status_code == 200, erased.text
        got = receiver.wait_for(
            lambda got: any(d.document["type"] == "call.erased" for d in got) and len(got) >= 20,
            "the deliveries",
        )
        shown = listed(server, creds, detail=True)

    assert all(d.document is not None for d in got), "a delivery did not verify"
    by_session: dict[str, list[str]] = {}
    for delivery in got:
        data = delivery.document["data"]
        by_session.setdefault(data["session_id"], []).append(delivery.document["type"])
        if delivery.document["type"] == "call.completed" and data["session_id"] != "call-3":
            assert data == shown[data["session_id"]]  # the call as /v1/calls shows it
            assert len(data["detail"]) == 2
        assert delivery.headers["webhook-id"].startswith("msg_")
        assert delivery.headers["content-type"] == "application/json"
    # call-3 was erased: its completion was sent before, or is not sent (its call is gone)
    assert by_session.pop("call-3") in (["call.completed", "call.erased"], ["call.erased"])
    assert by_session == {f"call-{i}": ["call.completed"] for i in range(20) if i != 3}
    assert len({d.headers["webhook-id"] for d in got}) == len(got)
