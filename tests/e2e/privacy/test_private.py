"""SPEC 4: private calls keep their summary and no entry; private entries keep only
module_type and result_variable."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from ivrlog.core.accounts import Credentials
from ivrlog.core.redact import REDACTED
from tests.e2e.privacy.helpers import (
    CARD_DASHED,
    MODES,
    PRIVATE,
    T0,
    call_path,
    send,
    stored_entries,
    views,
)
from tests.factories import DAY, NOW, basic, database_text, entry

# ---------------------------------------------------------------- private calls and entries


@MODES
def test_a_private_entry_keeps_only_module_type_and_result_variable(
    client: TestClient, account: Credentials, db_url: str, live: bool
) -> None:
    public = entry("zq-public-line", timestamp=T0, note="zq-public-data")
    hidden = {
        **entry(
            "zq-secret-line",
            timestamp=T0,
            module_type=f"zq-module-kept {CARD_DASHED}",  # kept, but still redacted
            result_variable="zq-result-kept",
            secret="zq-secret-data",
            nested={"deep": ["zq-secret-nested"]},
            count=7,
            flag=False,
            nothing=None,
        ),
        "private": True,
    }
    send(client, account, "masked", [public, hidden], live=live)
    first, second = stored_entries(client, account, "masked")
    assert first["event"]["line"] == "zq-public-line"
    assert first["event"]["data"]["note"] == "zq-public-data"
    assert "private" not in second
    assert second["event"] == {
        "line": PRIVATE,
        "data": {
            "secret": PRIVATE,
            "nested": PRIVATE,
            "count": PRIVATE,
            "flag": PRIVATE,
            "nothing": PRIVATE,
            "module_type": f"zq-module-kept {REDACTED}",
            "result_variable": "zq-result-kept",
        },
    }
    shown = views(client, account, "masked")
    assert f"<line>{PRIVATE}</line>" in shown["call xml"]
    assert "<result_variable>zq-result-kept</result_variable>" in shown["call xml"]
    on_disk = database_text(db_url)
    for text in [*shown.values(), on_disk]:
        assert "zq-secret" not in text
        assert CARD_DASHED not in text
        assert "zq-public-line" in text
        assert "zq-module-kept" in text  # the private entry's own kept values


@MODES
def test_a_private_call_keeps_its_summary_and_no_entry(
    client: TestClient, account: Credentials, db_url: str, live: bool
) -> None:
    entries = [entry("zq-secret-call-line", timestamp=T0, secret="zq-secret-call-data")]
    send(client, account, "hush", entries, live=live, private=True, src="zq-src-summary")
    response = client.get(f"/api/calls/0/{NOW + DAY}", auth=basic(account))
    [summary] = orjson.loads(response.content)["calls"]
    assert summary["session_id"] == "hush"
    assert summary["src"] == "zq-src-summary"
    assert summary["log"] is False
    assert client.get(call_path("hush"), auth=basic(account)).status_code == 404
    page = client.get(f"/api/all_logs/0/{NOW + DAY}", auth=basic(account)).text
    assert "zq-src-summary" in page
    on_disk = database_text(db_url)
    assert "zq-src-summary" in on_disk  # the summary is stored, the entries are not
    for text in (page, on_disk):
        assert "zq-secret-call" not in text
