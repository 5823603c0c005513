"""core/xmlwriter.py and render/xml.py: text escaping, element names for keys, elements
for JSON values."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivrlog.core.ingest import render_detail, render_entries
from ivrlog.core.model import CallRow
from ivrlog.core.xmlwriter import escape_text, plain_json, write_element, xml_name
from ivrlog.render import xml
from ivrlog.render.xml import render_document

DECLARATION = '<?xml version="1.0"?>\n'
ASCII_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)


def parse_xml(text: str | bytes) -> ET.Element:
    """Parse our own output (trusted), failing the test when it is not well-formed."""
    return ET.fromstring(text)


def element(name: str, value: Any) -> str:
    out: list[str] = []
    write_element(name, value, out)
    return "".join(out)


def parsed_text(escaped: str) -> str:
    return parse_xml(f"<a>{escaped}</a>").text or ""


# escape_text


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain text", "plain text"),
        ("", ""),
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("\r", "&#13;"),
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("&amp;", "&amp;amp;"),
        ("]]>", "]]&gt;"),
        ("line\r\nnext", "line&#13;\nnext"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("\"quoted\" 'single'", "\"quoted\" 'single'"),
    ],
)
def test_escape_text(raw: str, escaped: str) -> None:
    assert escape_text(raw) == escaped
    assert parsed_text(escape_text(raw)) == raw


@pytest.mark.parametrize(
    "char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f", "\ufffe", "\uffff"]
)
def test_characters_xml_cannot_carry_become_replacement(char: str) -> None:
    assert escape_text(f"a{char}b") == "a\ufffdb"
    assert escape_text(char * 3) == "\ufffd" * 3
    assert parsed_text(escape_text(f"a{char}b")) == "a\ufffdb"


def test_lone_surrogate_becomes_replacement() -> None:
    assert escape_text("a\ud800b\udfff") == "a\ufffdb\ufffd"


@pytest.mark.parametrize(
    "text",
    [
        "😀",
        "𝄞 clef",
        "\U00010000",
        "\U0010ffff",
        "\ud7ff\ue000\ufffd",
        "número ☎ 日本語",
        "\x7f\x85\x9f",
        "\u2028\u2029",
    ],
)
def test_characters_xml_can_carry_are_kept(text: str) -> None:
    assert escape_text(text) == text
    assert parsed_text(escape_text(text)) == text


def test_escaping_and_replacement_together() -> None:
    assert escape_text("<\x00&\r\U0001f600>") == "&lt;\ufffd&amp;&#13;\U0001f600&gt;"


@PROPERTY
@given(st.text())
def test_any_text_reads_back_with_only_impossible_characters_replaced(text: str) -> None:
    assert parsed_text(escape_text(text)) == NOT_XML_CHAR.sub("\ufffd", text)


# xml_name


@pytest.mark.parametrize(
    "key",
    ["module_type", "result_variable", "a", "_", "_xy", "a_x12", "A1.b-c", "camelCase", "xml"],
)
def test_safe_names_are_unchanged(key: str) -> None:
    assert xml_name(key) == key


@pytest.mark.parametrize(
    ("key", "name"),
    [
        # the examples of docs/api.md
        ("caller id", "caller_x0020_id"),
        ("2fa", "_x0032_fa"),
        ("número", "n_x00FA_mero"),
        ("", "_x_"),
        ("caller_x0020_id", "caller_x005F_x0020_id"),
        # the rules of the module docstring
        ("a:b", "a_x003A_b"),
        ("ns:tag", "ns_x003A_tag"),
        ("-dash", "_x002D_dash"),
        (".dot", "_x002E_dot"),
        ("9", "_x0039_"),
        ("a b c", "a_x0020_b_x0020_c"),
        (" ", "_x0020_"),
        ("é", "_x00E9_"),
        ("café", "caf_x00E9_"),
        ("日本", "_x65E5__x672C_"),
        ("😀", "_x1F600_"),
        ("a😀b", "a_x1F600_b"),
        ("a<b>", "a_x003C_b_x003E_"),
        ("a&b", "a_x0026_b"),
        ("a\x00b", "a_x0000_b"),
        ("a/b", "a_x002F_b"),
        ("key=value", "key_x003D_value"),
        ("\ufffe", "_xFFFE_"),
        ("ǅ", "_x01C5_"),
        ("_x0020_", "_x005F_x0020_"),
        ("_x_", "_x005F_x_"),
        ("a_xBEEF_b c", "a_x005F_xBEEF_b_x0020_c"),
    ],
)
def test_unsafe_names_are_encoded(key: str, name: str) -> None:
    assert xml_name(key) == name
    assert parse_xml(f"<{name}/>").tag == name


@PROPERTY
@given(st.text(max_size=8), st.text(max_size=8))
def test_different_keys_never_share_a_name(first: str, second: str) -> None:
    if first != second:
        assert xml_name(first) != xml_name(second)


def test_names_are_deterministic() -> None:
    keys = ["caller id", "2fa", "número", "", "😀", "a:b"]
    first = [xml_name(k) for k in keys]
    xml_name.cache_clear()
    assert [xml_name(k) for k in keys] == first
    assert [xml_name(k) for k in reversed(keys)] == list(reversed(first))


@PROPERTY
@given(st.text())
def test_any_key_gives_a_valid_ascii_name(key: str) -> None:
    name = xml_name(key)
    assert ASCII_NAME.fullmatch(name)
    assert parse_xml(f"<{name}/>").tag == name
    assert xml_name(key) == name
    if ASCII_NAME.fullmatch(key) and "_x" not in key:  # "_x" starts an escape: escaped
        assert name == key


# plain_json: one scan of a JSON text stands for escape_text on each of its strings


def strings_of(value: Any) -> Iterator[str]:
    """Every string of a JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@PROPERTY
@given(JSON_VALUES)
def test_plain_json_means_no_string_needs_escaping(value: Any) -> None:
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # a lone surrogate: never stored
        return
    if plain_json(text):
        assert all(escape_text(s) == s for s in strings_of(value))


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"line": 'Executing "Billing" version "39"', "n": 1}, True),
        (["plain", "text", 12, True, None], True),
        ("ends with a backslash \\", False),
        ('a backslash then a quote \\"', False),
        ("a & b", False),
        ("<", False),
        (">", False),
        ("line\r\n", False),
        ("tab\tnewline\n", False),  # carried by XML, but the JSON escape is not `\"`
        ("\x00", False),
        ("\ufffe", False),
        ("\uffff", False),
        ({"<key>": 1}, False),  # a key is a name, but the scan does not tell keys apart
    ],
)
def test_plain_json(value: Any, plain: bool) -> None:
    assert plain_json(orjson.dumps(value).decode()) is plain


# the stored detail: written in one piece when plain, as write_element writes it

TEXTS = st.text() | st.sampled_from(["", "plain", 'say "hi"', "a\\b", "<&>", "\r\n", "\ufffe"])
STORED_ENTRIES = st.lists(
    st.builds(  # normalize_entry's shape and key order
        lambda line, data, kind, timestamp: {
            "event": {"line": line, "data": data},
            "class": kind,
            "timestamp": timestamp,
        },
        TEXTS,
        st.dictionaries(TEXTS, JSON_VALUES | st.floats(allow_nan=False)),
        st.sampled_from(["info", "prompt"]) | st.none() | st.booleans(),  # only text valid
        st.integers(0, 2**40),
    ),
    max_size=4,
)


def written_items(entries: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for entry in entries:
        write_element("item", entry, out)
    return "".join(out)


@PROPERTY
@given(STORED_ENTRIES)
def test_the_stored_detail_is_what_write_element_writes(entries: list[dict[str, Any]]) -> None:
    try:
        text = orjson.dumps(entries).decode()
    except orjson.JSONEncodeError:  # a lone surrogate: never stored
        return
    assert render_detail(entries) == (text, written_items(entries))
    fragments = render_entries(entries)
    assert [f.json for f in fragments] == [orjson.dumps(e).decode() for e in entries]
    assert [f.xml for f in fragments] == [written_items([e]) for e in entries]


def test_plain_and_escaped_detail() -> None:
    entry: dict[str, Any] = {
        "event": {"line": 'say "hi"', "data": {"n": 1, "ok": True, "x": 1.5, "l": [], "o": {}}},
        "class": "info",
        "timestamp": 7,
    }
    plain = (
        '<item><event><line>say "hi"</line><data><n>1</n><ok>true</ok><x>1.5</x><l/><o/>'
        "</data></event><class>info</class><timestamp>7</timestamp></item>"
    )
    assert render_detail([entry])[1] == plain
    entry["event"]["line"] = "a < b"
    assert render_detail([entry])[1] == plain.replace('say "hi"', "a &lt; b")
    entry["event"]["data"] = {}
    assert "<line>a &lt; b</line><data/></event>" in render_detail([entry])[1]


# write_element and documents


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (None, "<x/>"),
        ({}, "<x/>"),
        ([], "<x/>"),
        ("", "<x></x>"),
        ("text", "<x>text</x>"),
        ("<&>", "<x>&lt;&amp;&gt;</x>"),
        (True, "<x>true</x>"),
        (False, "<x>false</x>"),
        (0, "<x>0</x>"),
        (0.0, "<x>0.0</x>"),
        (-0.0, "<x>-0.0</x>"),
        (1.5, "<x>1.5</x>"),
        (-42, "<x>-42</x>"),
        (9_223_372_036_854_775_807, "<x>9223372036854775807</x>"),
        (1e16, "<x>1e+16</x>"),
        ([None], "<x><item/></x>"),
        ([[]], "<x><item/></x>"),
        ([0, False, ""], "<x><item>0</item><item>false</item><item></item></x>"),
        (
            [[1, 2], [], [[3]]],
            "<x><item><item>1</item><item>2</item></item><item/>"
            "<item><item><item>3</item></item></item></x>",
        ),
        ({"b": 1, "a": None}, "<x><b>1</b><a/></x>"),
        ({"list": [{"k": "v"}, {}]}, "<x><list><item><k>v</k></item><item/></list></x>"),
        (
            {"caller id": "x", "2fa": True},
            "<x><caller_x0020_id>x</caller_x0020_id><_x0032_fa>true</_x0032_fa></x>",
        ),
    ],
)
def test_write_element(value: Any, written: str) -> None:
    assert element("x", value) == written
    assert parse_xml(written).tag == "x"


def test_write_element_appends() -> None:
    out = ["<result>"]
    write_element("a", 1, out)
    write_element("b", [True], out)
    out.append("</result>")
    assert "".join(out) == "<result><a>1</a><b><item>true</item></b></result>"


def test_document_has_declaration_and_result_root() -> None:
    assert render_document({"error": "No call log was found."}) == (
        f"{DECLARATION}<result><error>No call log was found.</error></result>".encode()
    )
    assert render_document([]) == f"{DECLARATION}<result/>".encode()
    assert render_document([{"a": 1}, {"a": 2}]) == (
        f"{DECLARATION}<result><item><a>1</a></item><item><a>2</a></item></result>".encode()
    )


def test_document_of_a_validation_error() -> None:
    body = {"error": "1 problem found", "errors": [{"index": 0, "path": "", "message": "x"}]}
    root = parse_xml(render_document(body))
    assert [child.tag for child in root] == ["error", "errors"]
    assert root.findtext("errors/item/index") == "0"
    assert root.find("errors/item/path") is not None
    assert root.findtext("errors/item/path", default=None) == ""


# pages


class FakePage:
    def __init__(self, batches: list[list[CallRow]], total: int) -> None:
        self._batches = batches
        self.total = total
        self.closed = False

    def batches(self) -> Iterator[Sequence[CallRow]]:
        yield from self._batches

    def close(self) -> None:
        self.closed = True


ROWS: list[CallRow] = [
    ("6177123001", "6177123000", 200, 237, "a;1", "inbound", 1, "<item><x>1</x></item>"),
    ("6177123001", "6177123000", 100, 137, "b<&>;2", "outbound", 0, None),
]


def test_calls_page() -> None:
    page = FakePage([ROWS[:1], ROWS[1:]], total=5)
    root = parse_xml(b"".join(xml.calls_page(page)))
    assert root.findtext("total_calls") == "5"
    items = root.findall("calls/item")
    assert [[child.tag for child in item] for item in items] == [
        ["dest", "src", "start", "end", "session_id", "type", "log"]
    ] * 2
    assert [item.findtext("session_id") for item in items] == ["a;1", "b<&>;2"]
    assert [item.findtext("src") for item in items] == ["6177123000", "Outbound"]
    assert [item.findtext("log") for item in items] == ["true", "false"]
    assert [item.findtext("start") for item in items] == ["200", "100"]


def test_all_logs_page() -> None:
    page = FakePage([ROWS], total=2)
    body = b"".join(xml.all_logs_page(page))
    assert body.startswith(f"{DECLARATION}<result><calls>".encode())
    root = parse_xml(body)
    items = root.findall("calls/item")
    assert [[child.tag for child in item] for item in items] == [
        ["dest", "src", "start", "end", "session_id", "detail", "type", "log"]
    ] * 2
    assert items[0].findtext("detail/item/x") == "1"
    detail = items[1].find("detail")
    assert detail is not None
    assert list(detail) == []


def test_empty_page() -> None:
    root = parse_xml(b"".join(xml.calls_page(FakePage([], total=0))))
    assert root.findall("calls/item") == []
    assert root.findtext("total_calls") == "0"


def test_detail_document() -> None:
    assert xml.detail("<item><a>1</a></item>") == (
        f"{DECLARATION}<result><item><a>1</a></item></result>".encode()
    )
