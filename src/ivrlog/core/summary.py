"""A call's summary, derived from its stored entries when it completes (bulk ingestion,
live completion, the sweep of stale calls, and migration 6 for calls stored before).

docs/api.md (call summaries) documents the derivation; /v1/calls lists and filters by it.
The entries are the stored ones: redacted, and with a private entry's line replaced by
`[private]` (core/ingest.normalize_entry), so nothing private or redacted reaches a
summary or the search index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from ivrlog.core.model import NO_SUMMARY, CallSummary, Module

PRIVATE_LINE: Final = "[private]"
APPLICATION = re.compile(r'Executing application "(?P<name>.*?)"(?: version "(?P<version>.*)")?')
INPUT_PREFIX: Final = "User input"
# A word is a run of letters and digits (Unicode); `_` and everything else separate words.
WORD = re.compile(r"[^\W_]+")
# Words longer than this are not indexed (and a search for one is refused): no caller
# says them, and PostgreSQL takes lexemes of at most 2 KB.
MAX_WORD: Final = 64
# The search text of one call stops growing at this many characters (PostgreSQL takes a
# tsvector of at most 1 MB): the words of later entries are then not indexed.
MAX_WORDS_CHARS: Final = 200_000


def words(text: str) -> list[str]:
    """The words of `text` as the search index keeps them: lowercase, in order, repeats
    kept; a word longer than MAX_WORD is left out."""
    return [w for w in WORD.findall(text.lower()) if len(w) <= MAX_WORD]


def _visits(entries: Iterable[Mapping[str, Any]]) -> tuple[Module, ...]:
    path: list[Module] = []
    for entry in entries:
        data = entry["event"]["data"]
        module = Module(data["module_type"], data["result_variable"])
        if not path or path[-1] != module:
            path.append(module)
    return tuple(path)


def summarize(entries: list[dict[str, Any]]) -> CallSummary:
    """The summary of a call whose stored entries are `entries` (any order: they are
    taken by timestamp, then as given).

    - `app`, `app_version`: from the first line `Executing application "NAME" version
      "V"` (version None when the line has none); None when no line says it;
    - `visits`: each run of consecutive entries of one module (`module_type` and
      `result_variable`) is one visit; private entries count, as their module is kept;
    - `has_error`: an entry of class `error`, private or not;
    - `inputs`: entries of class `event` whose line starts with `User input`;
    - `words`: the distinct words (`words()`) of the lines that are not `[private]`,
      in order of appearance, up to MAX_WORDS_CHARS characters.
    """
    if not entries:
        return NO_SUMMARY
    ordered = sorted(entries, key=lambda e: e["timestamp"])
    app: str | None = None
    version: str | None = None
    has_error = False
    inputs = 0
    seen: dict[str, None] = {}
    size = 0
    for entry in ordered:
        line = entry["event"]["line"]
        kind = entry["class"]
        if kind == "error":
            has_error = True
        if line == PRIVATE_LINE:
            continue
        if kind == "event" and line.startswith(INPUT_PREFIX):
            inputs += 1
        if app is None:
            found = APPLICATION.fullmatch(line)
            if found is not None:
                app, version = found["name"], found["version"]
        for word in words(line) if size <= MAX_WORDS_CHARS else ():
            if word not in seen:
                size += len(word) + (1 if seen else 0)
                if size > MAX_WORDS_CHARS:
                    break
                seen[word] = None
    return CallSummary(
        app=app,
        app_version=version,
        visits=_visits(ordered),
        has_error=has_error,
        inputs=inputs,
        words=" ".join(seen),
    )


def summarize_detail(detail_json: str | None) -> CallSummary:
    """The summary of a call from its stored detail (a JSON array), NO_SUMMARY without."""
    return NO_SUMMARY if detail_json is None else summarize(orjson.loads(detail_json))


def path_json(summary: CallSummary) -> str:
    """The path as /v1/calls shows it and the stores keep it: a JSON array text of
    `module_type:result_variable` strings."""
    return orjson.dumps([m.key for m in summary.visits]).decode()


MODULES_SEPARATOR: Final = "\x01"


def module_needle(value: str) -> str:
    """What a store looks for in a call's `modules` text (modules_text) to find a module
    whose result_variable or module_type:result_variable is `value`."""
    return MODULES_SEPARATOR + orjson.dumps(value).decode() + MODULES_SEPARATOR


def modules_text(summary: CallSummary) -> str:
    """Every distinct `result_variable` and `module_type:result_variable` of the path, each
    as a JSON string, between separators (\\x01, which a JSON string never holds raw): a
    store finds a module with one substring search (module_needle), whatever characters
    the names hold. "" for an empty path."""
    names: dict[str, None] = {}
    for module in summary.visits:
        names[module.result_variable] = None
        names[module.key] = None
    if not names:
        return ""
    return (
        MODULES_SEPARATOR
        + MODULES_SEPARATOR.join(orjson.dumps(n).decode() for n in names)
        + MODULES_SEPARATOR
    )
