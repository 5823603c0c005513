"""render/calls.py: ivrlog's own call list as JSON, NDJSON and CSV, parsed back by the
standard parsers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from ivrlog.core.model import ChangeRow, SummaryRow
from ivrlog.core.records import CALL_COLUMNS
from ivrlog.render.calls import (
    CSV,
    ENTRY_COLUMNS,
    NDJSON,
    call_json,
    changes_json,
    csv_header,
    csv_rows,
    json_export,
    json_page,
    ndjson_lines,
)
from tests.factories import entry

PATH = '["start:start","menu:choice","card:card_number"]'
DETAIL = orjson.dumps(
    [
        entry('Executing application "Main, IVR" version "2.1"', timestamp=100),
        entry(
            'He said "yes",\r\nthen "no"',
            cls="event",
            timestamp=105,
            module_type="menu",
            result_variable="choice",
            extra=[1, {"b": None}],
        ),
        entry("Zoë à Paris, №7 ☎", cls="error", timestamp=130, module_type="card"),
    ]
).decode()


def row(
    session_id: str = "100035;000;1575898377",
    *,
    src: str = "+16177123000",
    dest: str = "6177123001",
    call_type: str = "inbound",
    start: int = 100,
    end: int = 137,
    log: int = 1,
    app: str | None = "Main, IVR",
    version: str | None = "2.1",
    path: str = PATH,
    ended_in: str | None = "card:card_number",
    has_error: int = 1,
    detail: str | None = None,
) -> SummaryRow:
    return (
        session_id,
        src,
        dest,
        call_type,
        start,
        end,
        log,
        app,
        version,
        path,
        ended_in,
        has_error,
        detail,
    )


BARE = row(
    "bare",
    call_type="outbound",
    log=0,
    app=None,
    version=None,
    path="[]",
    ended_in=None,
    has_error=0,
)


def test_call_json_exact_bytes_and_key_order() -> None:
    assert call_json(row()) == (
        b'{"session_id":"100035;000;1575898377","src":"+16177123000","dest":"6177123001",'
        b'"type":"inbound","start":100,"end":137,"duration":37,"app":"Main, IVR",'
        b'"app_version":"2.1","ended_in":"card:card_number","has_error":true,'
        b'"path":["start:start","menu:choice","card:card_number"],"log":true}'
    )


def test_call_json_without_app_or_path_shows_nulls_and_the_number_itself() -> None:
    assert call_json(BARE) == (
        b'{"session_id":"bare","src":"+16177123000","dest":"6177123001","type":"outbound",'
        b'"start":100,"end":137,"duration":37,"app":null,"app_version":null,"ended_in":null,'
        b'"has_error":false,"path":[],"log":false}'
    )


def test_call_json_splices_the_detail_last_and_as_stored() -> None:
    shown = call_json(row(detail=DETAIL))
    assert shown.endswith(b',"log":true,"detail":' + DETAIL.encode() + b"}")
    parsed = orjson.loads(shown)
    assert list(parsed) == [*CALL_COLUMNS, "detail"]
    assert parsed["detail"] == orjson.loads(DETAIL)
    assert parsed["path"] == ["start:start", "menu:choice", "card:card_number"]


def test_json_page_and_json_export_are_one_document() -> None:
    rows = [row(f"s{i}", start=1_795_000_000 - i, end=1_795_000_000) for i in range(5)]
    page = orjson.loads(json_page(1_794_913_600, 1_795_000_001, rows, None))
    assert list(page) == ["from", "to", "calls", "next"]
    assert page["from"] == "2026-11-17T11:06:40Z"
    assert page["to"] == "2026-11-18T11:06:41Z"
    assert [c["session_id"] for c in page["calls"]] == [f"s{i}" for i in range(5)]
    assert page["calls"][3]["duration"] == 3
    chunks = list(json_export(1_794_913_600, 1_795_000_001, [rows[:2], [], rows[2:]]))
    assert len(chunks) == 4  # the head, one chunk a non-empty batch, the tail
    assert orjson.loads(b"".join(chunks)) == page


def test_json_page_next_url_and_empty_pages() -> None:
    url = "https://logs.example/v1/calls?from=0&to=10&cursor=WzUsImEiXQ"
    assert orjson.loads(json_page(0, 10, [row()], url))["next"] == url
    assert json_page(0, 10, [], None) == (
        b'{"from":"1970-01-01T00:00:00Z","to":"1970-01-01T00:00:10Z","calls":[],"next":null}'
    )
    assert b"".join(json_export(0, 10, [])) == json_page(0, 10, [], None)


def test_ndjson_one_call_a_line() -> None:
    rows = [row(), BARE, row("d", detail=DETAIL)]
    text = ndjson_lines(rows)
    assert text.endswith(b"\n")
    lines = text.decode().split("\n")
    assert lines[-1] == ""
    assert [orjson.loads(line) for line in lines[:-1]] == [orjson.loads(call_json(r)) for r in rows]
    assert ndjson_lines([]) == b""
    assert NDJSON == "application/x-ndjson"


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


NASTY = row(
    'a,"b"\r\nc',
    src="=cmd|' /C calc'!A0",
    app='App "quoted", with\nnewline',
    version="ß-1",
    path='["m, 1:\\"r\\"","Zoë:☎"]',
    ended_in="Zoë:☎",
)


def test_csv_rows_parse_back_with_header() -> None:
    data = csv_header(False) + csv_rows([row(), BARE, NASTY], False)
    assert b"\r\n" in data
    records = parse_csv(data)
    assert records[0] == list(CALL_COLUMNS)
    assert records[1] == [
        "100035;000;1575898377",
        "+16177123000",
        "6177123001",
        "inbound",
        "100",
        "137",
        "37",
        "Main, IVR",
        "2.1",
        "card:card_number",
        "true",
        PATH,
        "true",
    ]
    bare = dict(zip(CALL_COLUMNS, records[2], strict=True))
    assert (bare["app"], bare["app_version"], bare["ended_in"]) == ("", "", "")
    assert (bare["has_error"], bare["log"], bare["path"]) == ("false", "false", "[]")
    assert bare["src"] == "+16177123000"  # the number itself, never Outbound
    nasty = dict(zip(CALL_COLUMNS, records[3], strict=True))
    assert nasty["session_id"] == 'a,"b"\r\nc'
    assert nasty["src"] == "=cmd|' /C calc'!A0"  # exact data, no spreadsheet escaping
    assert nasty["app"] == 'App "quoted", with\nnewline'
    assert orjson.loads(nasty["path"]) == ['m, 1:"r"', "Zoë:☎"]
    assert len(records) == 4


def test_csv_detail_one_record_an_entry() -> None:
    data = csv_header(True) + csv_rows([row(detail=DETAIL), BARE], True)
    records = parse_csv(data)
    assert records[0] == [*CALL_COLUMNS, *ENTRY_COLUMNS]
    entries = orjson.loads(DETAIL)
    assert len(records) == 1 + len(entries) + 1
    for index, (record, stored) in enumerate(zip(records[1:4], entries, strict=True)):
        shown: dict[str, Any] = dict(zip(records[0], record, strict=True))
        assert shown["session_id"] == "100035;000;1575898377"
        assert shown["duration"] == "37"
        assert shown["entry"] == str(index)
        assert shown["timestamp"] == str(stored["timestamp"])
        assert shown["class"] == stored["class"]
        assert shown["module_type"] == stored["event"]["data"]["module_type"]
        assert shown["result_variable"] == stored["event"]["data"]["result_variable"]
        assert shown["line"] == stored["event"]["line"]
        assert orjson.loads(shown["data"]) == stored["event"]["data"]
        assert list(orjson.loads(shown["data"])) == list(stored["event"]["data"])
    assert records[2][CALL_COLUMNS.index("log") + 1 + ENTRY_COLUMNS.index("line")] == (
        'He said "yes",\r\nthen "no"'
    )
    no_entries = records[4]
    assert no_entries[: len(CALL_COLUMNS)] == parse_csv(csv_rows([BARE], False))[0]
    assert no_entries[len(CALL_COLUMNS) :] == [""] * len(ENTRY_COLUMNS)


def test_csv_media_type_and_empty_rows() -> None:
    assert CSV == "text/csv; charset=utf-8; header=present"
    assert csv_rows([], False) == b""
    assert csv_rows([], True) == b""
    assert csv_header(False) == (",".join(CALL_COLUMNS) + "\r\n").encode()


@pytest.mark.parametrize("after", [0, 41])
def test_changes_json(after: int) -> None:
    rows = [
        ChangeRow(42, "completed", "a", row("a")),
        ChangeRow(43, "erased", "b;1", None),
        ChangeRow(45, "replaced", "c", BARE),
    ]
    shown = orjson.loads(changes_json(rows, after))
    assert list(shown) == ["changes", "after"]
    assert shown["after"] == 45
    assert shown["changes"][0] == {
        "seq": 42,
        "change": "completed",
        "session_id": "a",
        "call": orjson.loads(call_json(row("a"))),
    }
    assert shown["changes"][1] == {"seq": 43, "change": "erased", "session_id": "b;1"}
    assert list(shown["changes"][2]) == ["seq", "change", "session_id", "call"]
    assert shown["changes"][2]["call"]["session_id"] == "bare"


def test_changes_json_with_nothing_new_resumes_where_asked() -> None:
    assert changes_json([], 17) == b'{"changes":[],"after":17}'


def test_json_export_reads_one_batch_at_a_time() -> None:
    read: list[int] = []

    def batches() -> Iterator[list[SummaryRow]]:
        for i in range(3):
            read.append(i)
            yield [row(f"s{i}")]

    chunks = json_export(0, 10, batches())
    assert next(chunks).startswith(b'{"from":')
    assert read == []
    assert orjson.loads(b"[" + next(chunks) + b"]")[0]["session_id"] == "s0"
    assert read == [0]
