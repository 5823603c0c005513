"""The meaning of /v1/calls' filters, in plain Python over StoredCall: the in-memory store
answers search_calls with it, and the tests hold the SQL stores' answers against it
(tests/integration/test_search_model.py)."""

from __future__ import annotations

from ivrlog.core.model import CallFilter, NumberMatch, StoredCall, SummaryRow
from ivrlog.core.summary import path_json


def _number(match: NumberMatch | None, number: str) -> bool:
    if match is None:
        return True
    return number.startswith(match.value) if match.prefix else number == match.value


def readable(call: StoredCall, detail_cutoff: int) -> bool:
    """Whether the call's detail can be read: stored, and not past its retention."""
    return call.entry_count > 0 and call.detail_json is not None and call.start >= detail_cutoff


def matches(query: CallFilter, call: StoredCall) -> bool:
    """Whether a completed call of query.account_id is one /v1/calls lists for `query`."""
    summary = call.summary
    duration = call.end - call.start
    ended = summary.ended_in
    if query.words:
        if not readable(call, query.detail_cutoff):
            return False
        indexed = set(summary.words.split(" "))
        if not all(word in indexed for word in query.words):
            return False
    return (
        query.start <= call.start < query.end
        and _number(query.src, call.src)
        and _number(query.dest, call.dest)
        and (query.type is None or call.type == query.type)
        and (query.min_duration is None or duration >= query.min_duration)
        and (query.max_duration is None or duration <= query.max_duration)
        and (query.app is None or summary.app == query.app)
        and (
            query.reached is None
            or any(query.reached in (m.result_variable, m.key) for m in summary.visits)
        )
        and (
            query.ended_in is None
            or (ended is not None and query.ended_in in (ended.result_variable, ended.key))
        )
        and (query.has_error is None or summary.has_error == query.has_error)
        and (query.session_id is None or call.session_id == query.session_id)
    )


def summary_row(call: StoredCall, detail_cutoff: int, detail: bool) -> SummaryRow:
    """The row search_calls yields for a call (core/model.SummaryRow)."""
    summary = call.summary
    log = int(readable(call, detail_cutoff))
    ended = summary.ended_in
    return (
        call.session_id,
        call.src,
        call.dest,
        call.type,
        call.start,
        call.end,
        log,
        summary.app,
        summary.app_version,
        path_json(summary),
        None if ended is None else ended.key,
        int(summary.has_error),
        call.detail_json if detail and log else None,
    )
