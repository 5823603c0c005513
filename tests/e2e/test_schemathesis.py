"""Schemathesis against the app in-process (ASGI): every check, zero failures.

Each operation of /openapi.json gets EXAMPLES requests, valid per the document and not
(schemathesis's positive and negative modes), with an account's credentials; every
built-in check runs on each answer: no 5xx, every status, content type, header and body
as documented, valid data accepted, invalid data refused, credentials enforced, other
methods answered 405 with Allow.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from ivrlog.core.accounts import Credentials, add_account
from ivrlog.core.ports import Store
from ivrlog.settings import Settings
from ivrlog.storage import open_store
from ivrlog.web import create_app
from tests.factories import NOW

EXAMPLES = 100  # per operation: some 20 s for the module on a 2-core machine


def openapi_document() -> dict[str, Any]:
    """The document, from an app whose store is never used: it needs no database."""
    app = create_app(Settings(database="unused.db", purge_interval=0), store=cast(Store, None))
    return app.openapi()


# Each check with its defaults, but for the statuses below. A request valid per the
# document may still break a rule JSON Schema cannot state (each is in the document's
# descriptions and docs/api.md), and is refused:
# - /api/: `end` after `start` (400); an unknown session id is not found (404);
# - /ingest/: `end` not before `start`, a live call's first update naming src, dest and
#   type, a session id printable beyond ASCII, whole numbers written as integers, not
#   `1.0` (422); at most 10,000 entries a call over all its updates (413); an update of a
#   completed call, or an idempotency key used with another body (409, 422); integers in
#   `data` within 64 bits (400).
# Over a size limit (maxItems) the answer is 413, as SPEC 3 says: a refusal too.
CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-path-regex": "^/(api|-)/",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]}
                },
                # the compatible API ignores query parameters it does not know, as Plum
                # Fuse does (a client may send more): an extra one is no mistake there
                "generation": {"allow-extra-parameters": False},
            },
            {
                # erasure: an unknown session id is not found (404); a `before` that is a
                # string but no time is refused (400)
                "include-tag": "Erasure",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]},
                    "negative_data_rejection": {
                        "expected-statuses": ["400", "401", "404", "405", "413", "415"]
                    },
                },
            },
            {
                # ivrlog's own read API refuses an unknown parameter (400): extra ones are
                # welcome; a few values its schema admits break a rule it cannot state
                # (from before to, number or dest, min_duration not above max_duration,
                # q holding a word, a cursor this server made), and are refused (400)
                # (the reports: from before to, as /v1/calls)
                "include-path-regex": "^/v1/(calls|changes|reports/[a-z]+)$",
                "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400"]}},
            },
            {
                # webhooks: an unknown endpoint or delivery is not found (404); a URL or a
                # time the schema admits may still be refused (400: a host that does not
                # resolve, http://, a `from` that is no time, from not before to)
                "include-tag": "Webhooks",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]},
                    "negative_data_rejection": {
                        "expected-statuses": ["400", "401", "404", "405", "413", "415"]
                    },
                },
            },
            {
                "include-path-regex": "^/ingest/",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "400", "409", "413", "422"]
                    },
                    "negative_data_rejection": {
                        "expected-statuses": ["400", "401", "404", "405", "413", "415", "422"]
                    },
                },
            },
        ],
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)
load_all_checks()
EVERY_CHECK = CHECKS.get_all()


@schemathesis.serializer("application/x-ndjson")
def ndjson(_: Any, value: Any) -> bytes:
    """An NDJSON body of bulk ingestion: its schema is one call object, sent as one line."""
    return json.dumps(value).encode() + b"\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Credentials]]:
    db = Path(tmp_path_factory.mktemp("schemathesis")) / "ivrlog.db"
    store = open_store(str(db))
    creds = add_account(store, "fuzz@example.com", now=NOW)
    # thousands of requests with wrong credentials from one address would be throttled
    # (429, documented), and schemathesis's ignored_auth check wants their 401: throttling
    # has tests of its own (tests/e2e/test_throttle.py)
    unthrottled = Settings(
        database=str(db),
        purge_interval=0,
        auth_failures_per_address="off",
        auth_failures_per_account="off",
    )
    # every webhook URL's host is public here: no lookup leaves the machine
    app = create_app(
        unthrottled, store=store, clock=lambda: NOW, resolve=lambda host, port: ["93.184.216.34"]
    )
    yield app, creds
    store.close()


@schema.parametrize()
# derandomized: every run sends the same requests, so CI cannot fail on a case never seen
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_server_does_what_its_openapi_document_says(
    case: Any, served: tuple[FastAPI, Credentials]
) -> None:
    app, creds = served
    # every request, the checks' own included, goes to the app in-process
    case.operation.app = case.operation.schema.app = app
    # the operations that take the ingest token say so (ingestion, erasure, webhooks)
    if {"ingestToken": []} in case.operation.definition.raw.get("security", []):
        auth = f"Bearer {creds.ingest_token}"
    else:
        token = base64.b64encode(f"{creds.email}:{creds.developer_key}".encode()).decode()
        auth = f"Basic {token}"
    case.call_and_validate(headers={"Authorization": auth}, checks=EVERY_CHECK)


def test_every_check_schemathesis_has_runs() -> None:
    names = {check.__name__ for check in EVERY_CHECK}
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
    } <= names
