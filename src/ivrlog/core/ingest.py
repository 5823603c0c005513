"""Bulk ingestion: validate every call of a batch, render its detail once, store.

A batch is all or nothing: every problem is collected and reported by index and path
(core/validation.py), and nothing is written unless the whole batch is valid. The calls
arrive as parsed documents: reading and parsing a request body is the web layer's
(web/documents.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import orjson

from ivrlog.core.model import Fragments, StoredCall
from ivrlog.core.ports import Store
from ivrlog.core.redact import BUILTIN_RULES, Redactor
from ivrlog.core.reports import call_steps
from ivrlog.core.sensitive import NONE
from ivrlog.core.summary import PRIVATE_LINE, summarize
from ivrlog.core.validation import KEPT_DATA, validate_batch
from ivrlog.core.xmlwriter import plain_json, write_element, xml_name

PRIVATE: Final = PRIVATE_LINE


def normalize_entry(entry: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """An entry in the stored shape and key order: private content replaced (a private
    entry's, or one of the account's sensitive modules), then sensitive values redacted."""
    event = entry["event"]
    data = event["data"]
    line = event["line"]
    sensitive = redactor.sensitive
    if entry.get("private", False) or (sensitive is not NONE and sensitive.match(data)):
        line = PRIVATE
        data = {key: value if key in KEPT_DATA else PRIVATE for key, value in data.items()}
    if redactor.active:
        line = redactor.text(line)
        data = redactor.value(data)
    return {
        "event": {"line": line, "data": data},
        "class": entry["class"],
        "timestamp": entry["timestamp"],
    }


def _plain_item(entry: dict[str, Any]) -> str:
    """The `<item>` of a stored entry (normalize_entry's shape) whose strings need no
    escaping (plain_json): what write_element writes, in one piece, without a call a
    value for the usual flat data (strings and whole numbers)."""
    event = entry["event"]
    line, data, level, timestamp = event["line"], event["data"], entry["class"], entry["timestamp"]
    if (
        type(line) is not str
        or type(data) is not dict
        or type(level) is not str
        or type(timestamp) is not int
    ):
        out: list[str] = []
        write_element("item", entry, out)
        return "".join(out)
    parts = [f"<item><event><line>{line}</line>"]
    if data:
        parts.append("<data>")
        for key, value in data.items():
            name = xml_name(key)
            kind = type(value)
            if kind is str or kind is int:
                parts.append(f"<{name}>{value}</{name}>")
            else:
                write_element(name, value, parts)
        parts.append("</data>")
    else:
        parts.append("<data/>")
    parts.append(f"</event><class>{level}</class><timestamp>{timestamp}</timestamp></item>")
    return "".join(parts)


def _items(entries: list[dict[str, Any]], text: str) -> list[str]:
    """The `<item>` of each entry, given the entries' JSON `text`."""
    if plain_json(text):
        return [_plain_item(entry) for entry in entries]
    items = []
    for entry in entries:
        out: list[str] = []
        write_element("item", entry, out)
        items.append("".join(out))
    return items


def render_detail(entries: list[dict[str, Any]]) -> tuple[str, str]:
    """The stored fragments of a call's entries: a JSON array and a run of `<item>`s."""
    text = orjson.dumps(entries).decode()
    return text, "".join(_items(entries, text))


def render_entries(entries: list[dict[str, Any]]) -> list[Fragments]:
    """Each entry's stored fragments: its JSON text and its `<item>` element."""
    texts = [orjson.dumps(entry).decode() for entry in entries]
    return [
        Fragments(text, _items([entry], text)[0])
        for entry, text in zip(entries, texts, strict=True)
    ]


def prepare_call(call: dict[str, Any], redactor: Redactor = BUILTIN_RULES) -> StoredCall:
    """A validated call object as it will be stored."""
    private = bool(call.get("private", False))
    entries = [] if private else [normalize_entry(e, redactor) for e in call.get("detail", [])]
    detail_json, detail_xml = render_detail(entries) if entries else (None, None)
    return StoredCall(
        session_id=call["session_id"],
        src=call["src"],
        dest=call["dest"],
        type=call["type"],
        start=call["start"],
        end=call["end"],
        private=private,
        entry_count=len(entries),
        detail_json=detail_json,
        detail_xml=detail_xml,
        summary=summarize(entries),
        steps=call_steps(entries, call["end"]),
    )


def past_detail_retention(call: StoredCall, detail_cutoff: int) -> StoredCall:
    """`call` without its detail when it started before `detail_cutoff`: that detail could
    never be read, and the purge may be dropping the place it would be written to (a
    PostgreSQL day partition)."""
    if call.start >= detail_cutoff or call.detail_json is None:
        return call
    # the summary stays (it is kept as long as the call), but not the search words of a
    # detail that is not stored
    summary = dataclasses.replace(call.summary, words="")
    return dataclasses.replace(
        call, entry_count=0, detail_json=None, detail_xml=None, summary=summary
    )


def ingest_calls(
    store: Store,
    account_id: int,
    calls: list[Any],
    redactor: Redactor | None = None,
    *,
    cutoffs: tuple[int, int] | None = None,
) -> int:
    """Validate, redact and store a batch atomically; the number of calls accepted.

    Without a redactor the built-in rules (card numbers, SSNs) apply. With `cutoffs`
    (the detail and call cutoffs of retention, now), what retention has already removed
    is not written: a call started before the call cutoff is accepted but not stored, the
    detail of one started before the detail cutoff is dropped (both would read as gone)."""
    validate_batch(calls)
    rules = BUILTIN_RULES if redactor is None else redactor
    detail_cutoff, call_cutoff = (0, 0) if cutoffs is None else cutoffs
    prepared = [
        past_detail_retention(prepare_call(call, rules), detail_cutoff)
        for call in calls
        if call["start"] >= call_cutoff
    ]
    if prepared:
        store.put_calls(account_id, prepared)
    return len(calls)
