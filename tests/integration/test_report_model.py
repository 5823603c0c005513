"""The reports' aggregates on every store against their meaning in plain Python
(tests/report_model.py): random calls over three days (of two applications and none,
entries of a small vocabulary of modules, revisits, errors, private calls and entries,
detail past retention), written in batches that replace earlier calls, erased by
session id or by number, purged at random cutoffs, and the rows written so far folded
(PostgreSQL appends them; a read sums the folded and the pending); after each step, random windows
(cut anywhere, so that whole days and edge hours both count) give the volume, the
durations and the funnel the model gives. Each example writes to an account of its own."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrlog.core.ingest import past_detail_retention, prepare_call
from ivrlog.core.model import Erasure
from ivrlog.core.ports import Store
from ivrlog.core.report_requests import (
    durations_report,
    funnel_report,
    parse_report,
    volume_report,
)
from tests import report_model as model
from tests.conftest import STORE_BACKENDS
from tests.factories import NOW, entry

T0 = NOW - NOW % 86400 - 86400  # midnight UTC, a day before NOW's
SPAN = 3 * 86400
MODULES = [("menu", "main"), ("getdigits", "card_number"), ("survey", "q2"), ("exit", "bye")]
APPS = ['Executing application "Bank" version "2"', 'Executing application "Poll"', "hello"]
NUMBERS = ["617", "618", "619"]
SESSIONS = ["s1", "s2", "s;3", "s4", "s5"]
counter = itertools.count()


@st.composite
def a_call(draw: st.DrawFn) -> dict[str, Any]:
    start = T0 + draw(st.integers(0, SPAN - 1))
    first = draw(st.sampled_from(APPS))
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(MODULES),
                st.integers(0, 700),
                st.sampled_from(["info", "info", "event", "error"]),
                st.booleans(),
            ),
            max_size=6,
        )
    )
    detail, at = [], start
    if steps:
        detail.append(entry(first, "info", start, *steps[0][0]))
    for module, gap, cls, private in steps:
        at += gap
        detail.append({**entry("step", cls, at, *module), **({"private": True} if private else {})})
    return {
        "session_id": draw(st.sampled_from(SESSIONS)),
        "src": draw(st.sampled_from(NUMBERS)),
        "dest": draw(st.sampled_from(NUMBERS)),
        "type": draw(st.sampled_from(["inbound", "outbound", "transfer"])),
        "start": start,
        "end": at + draw(st.integers(0, 4000)),
        "private": draw(st.integers(0, 5)) == 0,
        "detail": detail,
    }


operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.lists(a_call(), min_size=1, max_size=6)),
        st.tuples(st.just("erase"), st.sampled_from(SESSIONS + NUMBERS)),
        st.tuples(st.just("purge"), st.integers(0, SPAN)),
        st.tuples(st.just("fold"), st.none()),
    ),
    min_size=2,
    max_size=5,
)
windows = st.lists(
    st.tuples(st.integers(-3600, SPAN), st.integers(1, SPAN + 7200), st.sampled_from(APPS[:2])),
    min_size=1,
    max_size=3,
)


def _check(
    store: Store, account_id: int, held: dict[str, model.Held], cutoff: int, win: Any
) -> None:
    start, length, line = win
    app = line.split('"')[1]
    params = [("from", str(T0 + start)), ("to", str(T0 + start + length))]
    first, last = model.window(T0 + start, T0 + start + length, cutoff)
    calls = list(held.values())
    for app_param in (app, None):
        extra = [("app", app_param)] if app_param is not None else []
        for by in ("hour", "day"):
            asked = parse_report(
                "volume",
                [*params, *extra, ("by", by)],
                account_id=account_id,
                now=NOW,
                call_cutoff=cutoff,
            )
            got = volume_report(store, asked)
            assert (got["from"], got["to"]) == (first, last)
            step = 3600 if by == "hour" else 86400
            assert got["buckets"] == model.volume(calls, app_param, first, last, step), by
        asked = parse_report(
            "durations", [*params, *extra], account_id=account_id, now=NOW, call_cutoff=cutoff
        )
        got = durations_report(store, asked)
        expected = model.durations(calls, app_param, first, last)
        assert got["calls"] == expected["calls"]
        assert got["median_seconds"] == expected["median_seconds"]
        assert [b["calls"] for b in got["buckets"]] == expected["counts"]
    asked = parse_report(
        "funnel", [*params, ("app", app)], account_id=account_id, now=NOW, call_cutoff=cutoff
    )
    assert funnel_report(store, asked)["modules"] == model.funnel(calls, app, first, last)


@pytest.mark.parametrize("backend", STORE_BACKENDS)
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations, looks=windows, detail_cutoff=st.integers(0, SPAN))
def test_reports_are_the_model(
    store: Store, steps: list[Any], looks: list[Any], detail_cutoff: int
) -> None:
    account_id = store.create_account(
        f"r{next(counter)}@example.com", "k", f"t{next(counter)}", NOW
    ).id
    # another account's calls, which no report of this one counts
    other = store.create_account(f"o{next(counter)}@example.com", "k", f"u{next(counter)}", NOW)
    held: dict[str, model.Held] = {}
    cutoff = 0
    for kind, what in steps:
        if kind == "put":
            batch = {c["session_id"]: c for c in what}  # a batch holds a session id once
            stored = [
                past_detail_retention(prepare_call(c), T0 + detail_cutoff)
                for c in batch.values()
                if c["start"] >= cutoff
            ]
            store.put_calls(account_id, stored)
            store.put_calls(other.id, stored[:1])
            for c, s in zip(
                [c for c in batch.values() if c["start"] >= cutoff], stored, strict=True
            ):
                held[c["session_id"]] = model.Held(s, [] if c["private"] else c["detail"])
        elif kind == "erase":
            if what in NUMBERS:
                store.erase(account_id, Erasure(number=what), "h", NOW)
                held = {k: h for k, h in held.items() if what not in (h.call.src, h.call.dest)}
            else:
                store.erase(account_id, Erasure(session_id=what), "h", NOW)
                held.pop(what, None)
        elif kind == "fold":
            store.fold_reports()
        else:
            cutoff = max(cutoff, T0 + what)
            while store.delete_calls_before(cutoff, 1000) >= 1000:
                pass
            held = {k: h for k, h in held.items() if h.call.start >= cutoff}
        # the whole span (its days and edge hours), then the drawn windows
        for win in [(-1800, SPAN + 3600, APPS[0]), (0, SPAN, APPS[1]), *looks]:
            _check(store, account_id, held, cutoff, win)
