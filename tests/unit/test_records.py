"""core/records.py: a call's record stem is its CSV record (as render/calls.csv_rows
writes it) but for `log` and the line end, whatever its fields hold (commas, quotes, line
breaks, NUL, non-ASCII, nothing), so that a store appending `true` or `false` and CRLF
answers the same bytes."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from ivrlog.core.model import SummaryRow
from ivrlog.core.records import CALL_COLUMNS, call_fields, csv_text, record_stem
from ivrlog.render.calls import csv_rows

TEXT = st.text(alphabet=st.sampled_from(["a", ",", '"', "\r", "\n", "\x00", "é", " ", "\t"]))
OPTIONAL = st.none() | TEXT


@st.composite
def rows(draw: st.DrawFn) -> SummaryRow:
    start = draw(st.integers(0, 2**40))
    return (
        draw(TEXT),
        draw(TEXT),
        draw(TEXT),
        draw(st.sampled_from(["inbound", "outbound", "transfer"])),
        start,
        start + draw(st.integers(0, 10**6)),
        draw(st.integers(0, 1)),
        draw(OPTIONAL),
        draw(OPTIONAL),
        draw(TEXT),
        draw(OPTIONAL),
        draw(st.integers(0, 1)),
        None,
    )


@given(rows())
def test_a_stem_and_its_log_are_the_record(row: SummaryRow) -> None:
    stem = record_stem(row)
    assert stem.endswith(",")
    record = stem + ("false", "true")[row[6]] + "\r\n"
    assert record.encode() == csv_rows([row], False)
    # and it reads back as the call's fields (None as an empty field)
    parsed = next(csv.reader(io.StringIO(record, newline="")))
    assert parsed == ["" if field is None else str(field) for field in call_fields(row)]


def test_the_columns_and_their_order() -> None:
    row: SummaryRow = ("s;1", "617", "800", "inbound", 10, 70, 1, "Bank", None, "[]", None, 0, None)
    assert len(CALL_COLUMNS) == len(call_fields(row)) == 13
    fields = dict(zip(CALL_COLUMNS, call_fields(row), strict=True))
    assert fields["duration"] == 60
    assert (fields["has_error"], fields["log"], fields["app_version"]) == ("false", "true", None)
    assert csv_text([call_fields(row)]) == "s;1,617,800,inbound,10,70,60,Bank,,,false,[],true\r\n"
    assert record_stem(row) == "s;1,617,800,inbound,10,70,60,Bank,,,false,[],"
