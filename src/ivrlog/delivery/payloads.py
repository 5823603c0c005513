"""A delivery's body, read from the store when it is sent: the Standard Webhooks shape,
`{"type", "timestamp", "data"}`, where `data` is the call as /v1/calls shows it (with
`detail`, its redacted entries, when the endpoint asked for them and they are still
kept), or `{"session_id"}` for an erasure. Read at sending time, never copied into the
outbox: a call erased before its delivery is sent is not sent at all (the delivery is
`gone`), and the outbox holds no call data for erasure or retention to chase."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from ivrlog.core.ports import Store
from ivrlog.core.search import one_call
from ivrlog.core.webhooks import ERASED, Claimed, iso_ms
from ivrlog.render.calls import call_json


def payloads(
    store: Store, cutoffs: Callable[[int], tuple[int, int]]
) -> Callable[[Claimed, int], bytes | None]:
    """The dispatcher's Payload over `store`; `cutoffs(now)` gives the call and detail
    retention cutoffs (UNIX seconds) at `now` (ms)."""

    def payload(claimed: Claimed, now: int) -> bytes | None:
        event = {"type": claimed.event, "timestamp": iso_ms(claimed.created_at)}
        if claimed.event == ERASED:
            return orjson.dumps({**event, "data": {"session_id": claimed.session_id}})
        call_cutoff, detail_cutoff = cutoffs(now)
        query = one_call(
            claimed.account_id,
            claimed.session_id,
            call_cutoff=call_cutoff,
            detail_cutoff=detail_cutoff,
        )
        rows = store.search_calls(query, None, 1, detail=claimed.entries)
        if not rows:
            return None
        return orjson.dumps({**event, "data": orjson.Fragment(call_json(rows[0]))})

    return payload
