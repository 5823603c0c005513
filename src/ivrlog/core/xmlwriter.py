"""XML written as text, without a DOM: the leaf that ingestion (which stores each call's
detail as ready `<item>` elements) and the XML renderer share. It imports nothing from
ivrlog.

The shape follows the Plum pages: an object's keys as child elements in order, a list as
repeated `<item>` children, `true`/`false` for booleans and an empty element for null.
Text is escaped, characters XML 1.0 cannot carry become U+FFFD, and a key that is not a
safe XML name is encoded deterministically: every character other than an ASCII letter,
digit, `_`, `-` or `.` (and a leading digit, `-` or `.`) becomes `_xHHHH_`, its code point
in hex; so that no two keys share a name, the `_` that starts a literal `_xHHHH_` (or
`_x_`) in a key is encoded too (`_x005F_`); the empty key becomes `_x_`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import orjson

_NOT_XML_CHAR = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NEEDS_ESCAPE = re.compile("[&<>\r]")
_CLEAN = re.compile("[\t\n\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NAME_CHAR = re.compile(r"[A-Za-z0-9_.\-]")
_LITERAL_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]*_)")


def escape_text(text: str) -> str:
    """Text content that any XML 1.0 parser reads back (control characters aside)."""
    if _CLEAN.fullmatch(text):  # most text: nothing to escape or replace, one scan
        return text
    if _NEEDS_ESCAPE.search(text):
        text = _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()], text)
    if _NOT_XML_CHAR.search(text):
        text = _NOT_XML_CHAR.sub("\ufffd", text)
    return text


def plain_json(text: str) -> bool:
    """Whether every string of a JSON text written by orjson is XML text as it stands
    (escape_text would return it unchanged): none holds `&`, `<`, `>`, U+FFFE or U+FFFF,
    and the only escape in the text is `\\"`: every other character XML cannot carry
    (control characters, `\\r`) is written escaped by JSON. One scan of the text at C
    speed decides for a whole call's detail instead of a scan of each string."""
    return (
        "&" not in text
        and "<" not in text
        and ">" not in text
        and "\ufffe" not in text
        and "\uffff" not in text
        # every backslash starts a `\\"`: none escapes a control character or itself
        and text.count("\\") == text.count('\\"')
    )


def _encode_char(char: str) -> str:
    return f"_x{ord(char):04X}_"


@lru_cache(maxsize=4096)
def xml_name(key: str) -> str:
    """The element name for an object key (see the module docstring)."""
    if not key:
        return "_x_"
    if _SAFE_NAME.fullmatch(key) and "_x" not in key:
        return key
    literal = {m.start() for m in _LITERAL_ESCAPE.finditer(key)}
    return "".join(
        _encode_char(c)
        if i in literal
        or not _NAME_CHAR.match(c)
        or (i == 0 and not (c.isascii() and (c.isalpha() or c == "_")))
        else c
        for i, c in enumerate(key)
    )


def write_value(value: Any, out: list[str]) -> None:
    """Append the content of an element holding `value` (not the element's own tags)."""
    kind = type(value)
    if kind is str:
        out.append(escape_text(value))
    elif kind is dict:
        for key, item in value.items():
            write_element(xml_name(key), item, out)
    elif kind is list:
        for item in value:
            write_element("item", item, out)
    elif kind is bool:
        out.append("true" if value else "false")
    elif value is None:
        return
    else:
        out.append(orjson.dumps(value).decode())


def write_element(name: str, value: Any, out: list[str]) -> None:
    """Append the element `name` holding `value`."""
    kind = type(value)
    if kind is str:  # the usual case first, in one piece
        out.append(f"<{name}>{escape_text(value)}</{name}>")
    elif value is None or ((kind is dict or kind is list) and not value):
        out.append(f"<{name}/>")
    else:
        out.append(f"<{name}>")
        write_value(value, out)
        out.append(f"</{name}>")
