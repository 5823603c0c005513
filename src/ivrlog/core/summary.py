"""A call's summary, derived from its stored entries when it completes (bulk ingestion,
live completion, the sweep of stale calls, and migration 6 for calls stored before).

docs/api.md (call summaries) documents the derivation; /v1/calls lists and filters by it.
The entries are the stored ones: redacted, and with a private entry's line replaced by
`[private]` (core/ingest.normalize_entry), so nothing private or redacted reaches a
summary or the search index.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from ivrlog.core.model import NO_SUMMARY, CallSummary, Module, module_key

PRIVATE_LINE: Final = "[private]"
APPLICATION = re.compile(r'Executing application "(?P<name>.*?)"(?: version "(?P<version>.*)")?')
APPLICATION_PREFIX: Final = 'Executing application "'
INPUT_PREFIX: Final = "User input"
# A word is a run of letters and digits (Unicode); `_` and everything else separate words.
WORD = re.compile(r"[^\W_]+")
# Words longer than this are not indexed (and a search for one is refused): no caller
# says them, and PostgreSQL takes lexemes of at most 2 KB.
MAX_WORD: Final = 64
# The search text of one call stops growing at this many characters (PostgreSQL takes a
# tsvector of at most 1 MB): the words of later entries are then not indexed.
MAX_WORDS_CHARS: Final = 200_000


# ASCII text lowercased with every byte that is not a letter or a digit made a space: its
# words are then what str.split() finds, some three times faster than WORD's scan (B3)
_ASCII_WORDS: Final = bytes(
    ord(chr(b).lower()) if chr(b).isalnum() else 32 if b < 128 else b for b in range(256)
)


def _all_words(text: str) -> list[str]:
    """Every word (WORD) of `text`, lowercased, in order, repeats and long ones kept."""
    if text.isascii():
        return text.encode().translate(_ASCII_WORDS).decode().split()
    return WORD.findall(text.lower())


def words(text: str) -> list[str]:
    """The words of `text` as the search index keeps them: lowercase, in order, repeats
    kept; a word longer than MAX_WORD is left out."""
    return [w for w in _all_words(text) if len(w) <= MAX_WORD]


def _distinct_words(lines: list[str]) -> str:
    """The distinct words (`words()`) of `lines`, in order of appearance, joined by
    spaces, up to MAX_WORDS_CHARS characters: the first word that would pass the limit
    ends the text. The lines are scanned as one text (a line break separates words), so
    a call's words take one scan and one de-duplication at C speed."""
    found = [w for w in dict.fromkeys(_all_words("\n".join(lines))) if len(w) <= MAX_WORD]
    if sum(map(len, found)) + len(found) - 1 <= MAX_WORDS_CHARS:
        return " ".join(found)
    size = -1
    for count, word in enumerate(found):
        size += len(word) + 1
        if size > MAX_WORDS_CHARS:
            return " ".join(found[:count])
    return " ".join(found)  # not reached: the sum above is the last `size`


def _timestamp(entry: Mapping[str, Any]) -> Any:
    return entry["timestamp"]


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
    app: str | None = None
    version: str | None = None
    has_error = False
    inputs = 0
    lines: list[str] = []
    path: list[Module] = []
    last: tuple[str, str] | None = None
    for entry in sorted(entries, key=_timestamp):
        event = entry["event"]
        data = event["data"]
        module = (data["module_type"], data["result_variable"])
        if module != last:
            path.append(Module(*module))
            last = module
        line = event["line"]
        kind = entry["class"]
        if kind == "error":
            has_error = True
        if line == PRIVATE_LINE:
            continue
        if kind == "event" and line.startswith(INPUT_PREFIX):
            inputs += 1
        if app is None and line.startswith(APPLICATION_PREFIX):
            found = APPLICATION.fullmatch(line)
            if found is not None:
                app, version = found["name"], found["version"]
        lines.append(line)
    return CallSummary(
        app=app,
        app_version=version,
        visits=tuple(path),
        has_error=has_error,
        inputs=inputs,
        words=_distinct_words(lines),
    )


def summarize_detail(detail_json: str | None) -> CallSummary:
    """The summary of a call from its stored detail (a JSON array), NO_SUMMARY without."""
    return NO_SUMMARY if detail_json is None else summarize(orjson.loads(detail_json))


def path_json(summary: CallSummary) -> str:
    """The path as /v1/calls shows it and the stores keep it: a JSON array text of
    `module_type:result_variable` strings."""
    return orjson.dumps([module_key(*m) for m in summary.visits]).decode()


MODULES_SEPARATOR: Final = "\x01"
_BETWEEN: Final = f'"{MODULES_SEPARATOR}"'


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
    for module_type, result_variable in summary.visits:
        names[result_variable] = None
        names[module_key(module_type, result_variable)] = None
    if not names:
        return ""
    listed = orjson.dumps(list(names)).decode()
    if listed.count(",") == len(names) - 1:  # no name holds a comma: the usual names
        # then each `","` of the JSON array stands between two names: one replace
        return MODULES_SEPARATOR + listed[1:-1].replace('","', _BETWEEN) + MODULES_SEPARATOR
    texts = (orjson.dumps(name).decode() for name in names)
    return MODULES_SEPARATOR + MODULES_SEPARATOR.join(texts) + MODULES_SEPARATOR
