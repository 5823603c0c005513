"""Properties of ingestion and rendering: any `data` and `line` come back exactly, and the
XML of every read endpoint is well-formed with names encoded as documented."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ivrlog.core.accounts import Credentials
from ivrlog.core.redact import Redactor
from ivrlog.core.xmlwriter import xml_name
from tests.factories import DAY, NOW, basic, call, ingest

KEPT = ("module_type", "result_variable")
CLASSES = ("info", "event", "debug", "prompt", "error")
WINDOW = f"{NOW - DAY}/{NOW + DAY}"
XML = {"Accept": "application/xml"}
# what XML 1.0 cannot carry, written as U+FFFD (core/xmlwriter.py, docs/api.md)
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# a run of digits that redaction (SPEC 4: card numbers, SSNs) may rewrite
MAYBE_REDACTED = re.compile(r"\d(?:[ -]*\d){8,}")

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# any character but lone surrogates, with the ones XML treats specially drawn often
SPECIAL = "&<>\"'\r\n\t\x00\x1b\x7f\x85\u2028\ufffe\uffff\U0001f600]]>"


# values the built-in redaction leaves alone (a random 16-digit number is a card number
# one time in ten): these properties are about shapes and encodings; tests/e2e/privacy/ and
# tests/unit/test_redact.py are about redaction
def _kept(value: Any) -> bool:
    return bool(Redactor().value(value) == value)


text = st.text(
    st.sampled_from(SPECIAL) | st.characters(exclude_categories=["Cs"]), max_size=40
).filter(_kept)
keys = st.sampled_from(["", "caller id", "2fa", "número", "a:b", "-x", ".x", "_x0020_"]) | text
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1).filter(_kept)
    | st.floats(allow_nan=False, allow_infinity=False).filter(_kept)
    | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)


@st.composite
def event_data(draw: st.DrawFn) -> dict[str, Any]:
    """Free-form keys with module_type and result_variable at any position."""
    free = draw(st.dictionaries(keys.filter(lambda k: k not in KEPT), json_values, max_size=6))
    items = list(free.items())
    for key in KEPT:
        items.insert(draw(st.integers(0, len(items))), (key, draw(text)))
    return dict(items)


entries = st.lists(
    st.builds(
        lambda line, data, cls, offset: {
            "event": {"line": line, "data": data},
            "class": cls,
            "timestamp": NOW - 3600 + offset,
        },
        text,
        event_data(),
        st.sampled_from(CLASSES),
        st.integers(0, 3600),
    ),
    min_size=1,
    max_size=3,
)

session_ids = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/"), min_size=1, max_size=128
).filter(lambda s: s.isprintable())

_serial = itertools.count()


def fresh_ids() -> tuple[str, str]:
    """A new session id and a new dest number (to filter the lists by) per example."""
    n = next(_serial)
    return f"prop;{n};1575898377", f"617{n:07}"


def parse_xml(text: str | bytes) -> ET.Element:
    """Parse our own output (trusted), failing the test when it is not well-formed."""
    return ET.fromstring(text)


def strings_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_of(item)]
    return []


def assume_not_redacted(detail: list[dict[str, Any]]) -> None:
    for item in detail:
        for string in [item["event"]["line"], *strings_of(item["event"]["data"])]:
            assume(not MAYBE_REDACTED.search(string))


def key_orders(value: Any) -> list[list[str]]:
    """The key order of every object in value, depth first."""
    if isinstance(value, dict):
        return [list(value), *(o for item in value.values() for o in key_orders(item))]
    if isinstance(value, list):
        return [o for item in value for o in key_orders(item)]
    return []


def xml_text(value: str) -> str:
    return NOT_XML_CHAR.sub("\ufffd", value)


def assert_xml_holds(element: ET.Element, value: Any) -> None:
    """The element is the documented XML form of a JSON value."""
    children = list(element)
    if value is None:
        assert children == []
        assert not element.text
    elif isinstance(value, bool):
        assert children == []
        assert element.text == ("true" if value else "false")
    elif isinstance(value, str):
        assert children == []
        assert (element.text or "") == xml_text(value)
    elif isinstance(value, int):
        assert children == []
        assert element.text is not None
        assert int(element.text) == value
    elif isinstance(value, float):
        assert children == []
        assert element.text is not None
        assert float(element.text) == value
    elif isinstance(value, list):
        assert not (element.text or "").strip()
        assert [child.tag for child in children] == ["item"] * len(value)
        for child, item in zip(children, value, strict=True):
            assert_xml_holds(child, item)
    else:
        assert isinstance(value, dict)
        assert not (element.text or "").strip()
        assert [child.tag for child in children] == [xml_name(key) for key in value]
        for child, item in zip(children, value.values(), strict=True):
            assert_xml_holds(child, item)


def get(client: TestClient, creds: Credentials, url: str, **headers: str) -> bytes:
    response = client.get(url, auth=basic(creds), headers=headers)
    assert response.status_code == 200, response.text
    return response.content


@PROPERTY
@given(detail=entries)
def test_data_and_line_come_back_unchanged(
    client: TestClient, account: Credentials, detail: list[dict[str, Any]]
) -> None:
    assume_not_redacted(detail)
    session_id, dest = fresh_ids()
    response = ingest(client, account, [call(session_id, detail=detail, dest=dest)])
    assert response.status_code == 200, response.text

    got = orjson.loads(get(client, account, f"/api/call/{quote(session_id, safe='')}"))
    assert orjson.dumps(got) == orjson.dumps(detail)
    assert key_orders(got) == key_orders(detail)
    for sent, back in zip(detail, got, strict=True):
        assert back["event"]["line"] == sent["event"]["line"]
        assert list(back["event"]["data"]) == list(sent["event"]["data"])

    page = orjson.loads(get(client, account, f"/api/all_logs/{WINDOW}?number={dest}"))
    assert page["total_calls"] == 1
    assert orjson.dumps(page["calls"][0]["detail"]) == orjson.dumps(detail)


@PROPERTY
@given(detail=entries)
def test_xml_is_well_formed_with_encoded_names(
    client: TestClient, account: Credentials, detail: list[dict[str, Any]]
) -> None:
    assume_not_redacted(detail)
    session_id, dest = fresh_ids()
    response = ingest(client, account, [call(session_id, detail=detail, dest=dest)])
    assert response.status_code == 200, response.text

    one = parse_xml(get(client, account, f"/api/call/{quote(session_id)}", **XML))
    assert one.tag == "result"
    assert_xml_holds(one, detail)

    logs = parse_xml(get(client, account, f"/api/all_logs/{WINDOW}?number={dest}", **XML))
    assert [child.tag for child in logs] == ["calls", "total_calls"]
    assert logs.findtext("total_calls") == "1"
    (listed,) = logs.findall("calls/item")
    assert listed.findtext("session_id") == session_id
    assert listed.findtext("log") == "true"
    detail_element = listed.find("detail")
    assert detail_element is not None
    assert len(detail_element.findall("item")) == len(detail)
    assert_xml_holds(detail_element, detail)

    calls = parse_xml(get(client, account, f"/api/calls/{WINDOW}?number={dest}", **XML))
    assert calls.findtext("total_calls") == "1"
    (summary,) = calls.findall("calls/item")
    assert [child.tag for child in summary] == [
        "dest",
        "src",
        "start",
        "end",
        "session_id",
        "type",
        "log",
    ]
    assert summary.findtext("session_id") == session_id


@PROPERTY
@given(session_id=session_ids)
def test_any_valid_session_id_is_stored_and_found(
    client: TestClient, account: Credentials, session_id: str
) -> None:
    assume(session_id not in (".", ".."))  # dot segments are removed by URL normalization
    _, dest = fresh_ids()
    response = ingest(client, account, [call(session_id, dest=dest)])
    assert response.status_code == 200, response.text

    got = orjson.loads(get(client, account, f"/api/call/{quote(session_id, safe='')}"))
    assert got == call(session_id)["detail"]

    page = orjson.loads(get(client, account, f"/api/calls/{WINDOW}?number={dest}"))
    assert [c["session_id"] for c in page["calls"]] == [session_id]

    xml = parse_xml(get(client, account, f"/api/calls/{WINDOW}?number={dest}", **XML))
    assert xml.findtext("calls/item/session_id") == session_id
