r"""The safety check of an account's own redaction patterns, and how they are compiled.

Account patterns run on every ingested string, so one that runs away would stall
ingestion. Two layers keep that from happening:

1. `check_pattern` refuses, with the reason, a pattern that is empty or longer than
   MAX_PATTERN_LENGTH, is not a valid regular expression, nests groups and repeats more
   than 64 deep, uses a backreference or can match the empty string; and, because it would
   backtrack catastrophically in a backtracking engine (Python's, PCRE, JavaScript's), a
   repeat that nests a variable repeat (unless each pass needs a character the inner
   repeats cannot take, as the `-` in `(\d+-)+`), repeats something that can match the
   empty string, repeats a choice whose alternatives can begin alike, or follows another
   open-ended repeat over overlapping characters with only optional parts between them
   (unless the first must end, or the second begin, with a character the other cannot
   take, as in `(\d+-)+\d+`). This is a static look at Python's parse tree (no timing),
   so it answers the same every time. Python's parser rewrites some alternations (`a|ab`
   becomes `a(?:|b)`), so an alternation with an empty branch counts as an ambiguous
   choice too; one-character alternatives (`\w|\d`) become a set, which is safe.
   Characters are compared on a sample: ASCII and a few non-ASCII letters, digits, spaces.
2. What passes is compiled and run by RE2 (google-re2), whose matching time is linear in
   the text: no pattern, even one the check lets through, can run away. RE2 has no
   lookarounds, backreferences, possessive repeats or atomic groups; a pattern using them
   is refused with RE2's reason.
"""

from __future__ import annotations

import importlib
import itertools
import re
import warnings
from collections.abc import Iterator
from typing import Any, Final

import re2

from ivrlog.core.redact import REDACTED, CompiledPattern

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

MAX_PATTERN_LENGTH: Final = 500
MAX_PROGRAM_SIZE: Final = 1000  # RE2 instructions: what a match costs per character of text


class PatternRefused(ValueError):
    """A custom pattern ivrlog will not run; str(exc) is a clear message for the operator
    saying what is wrong and, where possible, which part of the pattern."""


_REPEATS: Final = (_c.MAX_REPEAT, _c.MIN_REPEAT)  # the repeats that can backtrack
_ALL_REPEATS: Final = (*_REPEATS, _c.POSSESSIVE_REPEAT)
_MAX_NESTING: Final = 64  # groups and repeats inside each other; keeps the analysis shallow
_CATASTROPHIC: Final = "which can backtrack catastrophically"
_ONE_CHAR: Final = (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN)
_SAMPLE: Final = frozenset(map(chr, range(128))) | frozenset("éßÅ٣\u00a0\u2003中")
_CATEGORIES: Final = {
    _c.CATEGORY_DIGIT: re.compile(r"\d"),
    _c.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    _c.CATEGORY_SPACE: re.compile(r"\s"),
    _c.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    _c.CATEGORY_WORD: re.compile(r"\w"),
    _c.CATEGORY_NOT_WORD: re.compile(r"\W"),
}
_TOKEN: Final = re.compile(  # enough of the syntax to find where each quantifier's atom starts
    r"""(?P<escape>\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}
                      |0[0-7]{0,2}|[1-7][0-7]{2}|(?P<ref>[1-9][0-9]?)|.))
      |(?P<set>\[\^?\]?(?:\\.|[^]\\])*\])
      |(?P<comment>\(\?\#[^)]*\))
      |(?P<open>\(\??)
      |(?P<close>\))
      |(?P<quantifier>(?:[*+?]|\{(?:[0-9]+(?:,[0-9]*)?|,[0-9]*)\})[?+]?)
      |(?P<atom>.)""",
    re.VERBOSE | re.DOTALL,
)


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-sequences of one parse-tree item."""
    if op in _ALL_REPEATS:
        return [av[2]]
    if op is _c.SUBPATTERN:
        return [av[3]]
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        return [av[1]]
    if op is _c.ATOMIC_GROUP:
        return [av]
    if op is _c.BRANCH:
        return list(av[1])
    if op is _c.GROUPREF_EXISTS:
        return [av[1], av[2] or []]
    return []


def _can_backtrack(op: Any) -> bool:
    return op not in (_c.POSSESSIVE_REPEAT, _c.ATOMIC_GROUP)


def _items(seq: Any, *, all_: bool = True) -> Iterator[Any]:
    """Items at any depth, each after those inside it (so repeats come in the order of their
    quantifiers); without `all_`, not inside possessive repeats and atomic groups."""
    for item in seq:
        if all_ or _can_backtrack(item[0]):
            for child in _children(*item):
                yield from _items(child, all_=all_)
        yield item


def _sequences(seq: Any) -> Iterator[Any]:
    """`seq` and every sequence inside it."""
    yield seq
    for item in seq:
        for child in _children(*item):
            yield from _sequences(child)


def _nullable(seq: Any) -> bool:
    """Whether a sequence can match the empty string."""
    return all(_item_nullable(op, av) for op, av in seq)


def _item_nullable(op: Any, av: Any) -> bool:
    if op in _ONE_CHAR:
        return False
    if op in _ALL_REPEATS:
        return av[0] == 0 or _nullable(av[2])
    if op in (_c.SUBPATTERN, _c.ATOMIC_GROUP, _c.BRANCH, _c.GROUPREF_EXISTS):
        return any(_nullable(child) for child in _children(op, av))
    return True  # anchors, lookarounds and backreferences may match nothing


def _nesting(tree: Any) -> int:
    """How many groups and repeats deep the parse tree goes (found without recursion)."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        seq, depth = stack.pop()
        deepest = max(deepest, depth)
        stack += [(child, depth + 1) for item in seq for child in _children(*item)]
    return deepest


def _open_ended(op: Any, av: Any) -> bool:
    return op in _REPEATS and av[1] == _c.MAXREPEAT


def _scan(pattern: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Source spans of the quantified atoms, in order, and where backreferences are."""
    repeats: list[tuple[int, int]] = []
    backrefs: list[int] = []
    opens: list[int] = []
    atom = 0
    for token in _TOKEN.finditer(pattern):
        kind, start = token.lastgroup, token.start()
        if kind == "quantifier":
            repeats.append((atom, token.end()))
        elif kind == "open":
            opens.append(start)
            if pattern.startswith(("(?P=", "(?("), start):
                backrefs.append(start)
        elif kind == "close":
            atom = opens.pop() if opens else start
        elif kind != "comment":
            atom = start
            if token.group("ref"):
                backrefs.append(start)
    return repeats, backrefs


class _Check:
    """The analysis behind check_pattern, for one valid pattern."""

    def __init__(self, pattern: str, tree: Any) -> None:
        self.pattern = pattern
        self.tree = tree
        flags = [self.tree.state.flags] + [
            av[1] for op, av in _items(self.tree) if op is _c.SUBPATTERN
        ]
        self.fold = any(f & re.IGNORECASE for f in flags)
        repeats = [item for item in _items(self.tree) if item[0] in _ALL_REPEATS]
        spans, self.backrefs = _scan(pattern)
        self.spans: dict[int, tuple[int, int]] = {}
        if len(spans) == len(repeats) and not any(f & re.VERBOSE for f in flags):
            self.spans = {id(item): span for item, span in zip(repeats, spans, strict=True)}

    def refuse(self, problem: str) -> PatternRefused:
        return PatternRefused(f"Pattern refused: '{self.pattern}' {problem}.")

    def at(self, *items: Any) -> str:
        """' ('a+' at position 1)' for repeats whose place in the pattern is known."""
        known = [self.spans[id(item)] for item in items if id(item) in self.spans]
        parts = [f"'{self.pattern[start:end]}' at position {start}" for start, end in known]
        return f" ({' and '.join(parts)})" if parts else ""

    def chars(self, op: Any, av: Any) -> frozenset[str]:
        """Sample characters a one-character item matches (both cases under IGNORECASE)."""
        if op is _c.LITERAL:
            found = frozenset({chr(av)})
        elif op is _c.NOT_LITERAL:
            found = _SAMPLE - {chr(av)}
        elif op is _c.IN:
            found = frozenset(char for char in _SAMPLE if _in_set(char, av))
        else:
            found = _SAMPLE
        return found | {c.swapcase() for c in found} if self.fold else found

    def first(self, seq: Any) -> frozenset[str]:
        """Sample characters a match of `seq` can begin with."""
        found: frozenset[str] = frozenset()
        for op, av in seq:
            if op in _ONE_CHAR:
                return found | self.chars(op, av)
            if op not in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
                found = found.union(*(self.first(child) for child in _children(op, av)))
            if not _item_nullable(op, av):
                break
        return found

    def last(self, seq: Any) -> frozenset[str]:
        """Sample characters a match of `seq` can end with."""
        found: frozenset[str] = frozenset()
        for op, av in reversed(seq):
            if op in _ONE_CHAR:
                return found | self.chars(op, av)
            if op not in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
                found = found.union(*(self.last(child) for child in _children(op, av)))
            if not _item_nullable(op, av):
                break
        return found

    def consumed(self, seq: Any) -> frozenset[str]:
        """Sample characters a match of `seq` can consume anywhere."""
        found: frozenset[str] = frozenset()
        return found.union(*(self.chars(*i) for i in _items(seq) if i[0] in _ONE_CHAR))

    def edge_repeats(self, seq: Any, *, leading: bool) -> Iterator[Any]:
        """Open-ended repeats a match of `seq` can begin (leading) or end with."""
        for item in seq if leading else reversed(seq):
            op, av = item
            if _open_ended(op, av):
                yield item
            elif op in (*_REPEATS, _c.SUBPATTERN, _c.BRANCH, _c.GROUPREF_EXISTS):
                for child in _children(op, av):
                    yield from self.edge_repeats(child, leading=leading)
            if not _item_nullable(op, av):
                return

    def ambiguous(self, op: Any, av: Any) -> bool:
        r"""An alternation whose alternatives can match the same text. (Python's parser
        turns one-character alternatives such as `\w|\d` into a set `[\w\d]`, which
        matches one character without a choice to go back on: that is safe.)"""
        if op is not _c.BRANCH:
            return False
        if any(_nullable(branch) for branch in av[1]):
            return True  # what Python's parser leaves of `a|ab`, `ab|a` or `a|a`
        starts = [self.first(branch) for branch in av[1]]
        return any(a & b for a, b in itertools.combinations(starts, 2))

    def backreferences(self) -> None:
        if any(op in (_c.GROUPREF, _c.GROUPREF_EXISTS) for op, _ in _items(self.tree)):
            where = f" (position {self.backrefs[0]})" if self.backrefs else ""
            raise self.refuse(
                f"uses a backreference{where}, which custom patterns may not: \\1, (?P=name) "
                "and (?(1)...) are all refused; write the text out instead"
            )

    def repeats(self) -> None:
        for repeat in _items(self.tree):
            op, av = repeat
            if op not in _REPEATS or av[1] <= 1:
                continue
            where = self.at(repeat)
            body = list(_items(av[2], all_=False))
            inner = [i for i in body if i[0] in _REPEATS and i[1][0] != i[1][1] and i[1][1] > 1]
            if inner and not self.separated(av[2], inner):
                raise self.refuse(
                    f"nests a repeated part{self.at(inner[0])} inside another repeat{where}, "
                    f"{_CATASTROPHIC}; rewrite it without the nested quantifier"
                )
            if _nullable(av[2]):
                raise self.refuse(
                    f"repeats a part that can match the empty string{where}, {_CATASTROPHIC}; "
                    "make every repeated part match at least one character"
                )
            if any(self.ambiguous(*item) for item in body):
                raise self.refuse(
                    f"repeats a choice whose alternatives can match the same text{where}, "
                    f"{_CATASTROPHIC}; make the alternatives start differently or merge them"
                )

    def required_chars(self, seq: Any) -> Iterator[Any]:
        """One-character items every match of `seq` must contain."""
        for op, av in seq:
            if op in _ONE_CHAR:
                yield op, av
            elif op is _c.SUBPATTERN or (op in _ALL_REPEATS and av[0] >= 1):
                yield from self.required_chars(_children(op, av)[0])

    def separated(self, body: Any, inner: list[Any]) -> bool:
        r"""Whether every pass of a repeated `body` needs a character that none of its inner
        repeats can consume, like the `-` of `(\d+-)+`: then where each pass ends is
        decided by the text, and the nested repeats have no two ways to split it."""
        taken = self.consumed(inner)
        return any(not self.chars(op, av) & taken for op, av in self.required_chars(body))

    def neighbours(self) -> None:
        """Refuse overlapping open-ended repeats with only optional parts between them."""
        for seq in _sequences(self.tree):
            for index, item in enumerate(seq):
                for left in self.edge_repeats([item], leading=False):
                    for later in seq[index + 1 :]:
                        self.apart(left, later)
                        if not _item_nullable(*later):
                            break

    def apart(self, left: Any, later: Any) -> None:
        """Refuse if `later` can begin with an open-ended repeat overlapping `left`."""
        for right in self.edge_repeats([later], leading=True):
            left_takes, right_takes = self.consumed([left]), self.consumed([right])
            if (
                left_takes & right_takes
                # a boundary only one side can cross makes the split unique: `(\d+-)+\d+`
                and self.last([left]) & right_takes
                and self.first([right]) & left_takes
            ):
                raise self.refuse(
                    "has two open-ended repeats in a row that can match the same characters"
                    f"{self.at(left, right)}, {_CATASTROPHIC}; separate them with a required "
                    "character or merge them"
                )

    def empty_match(self) -> None:
        if _nullable(self.tree):
            raise self.refuse(
                f"can match the empty string, so it would insert {REDACTED} between every two "
                "characters; make it require at least one character"
            )


def _in_set(char: str, members: Any) -> bool:
    """Whether `char` is in a parsed character set `[...]`."""
    hit = False
    for op, av in members:
        if op is _c.LITERAL:
            hit = hit or ord(char) == av
        elif op is _c.RANGE:
            hit = hit or av[0] <= ord(char) <= av[1]
        elif op is _c.CATEGORY:
            hit = hit or _CATEGORIES[av].fullmatch(char) is not None
    return not hit if members and members[0][0] is _c.NEGATE else hit


def compile_linear(pattern: str) -> CompiledPattern:
    """An account pattern compiled by RE2 (it passed check_pattern when it was stored)."""
    options = re2.Options()
    options.log_errors = False
    compiled: CompiledPattern = re2.compile(pattern, options)
    return compiled


def check_pattern(pattern: str) -> CompiledPattern:
    """Check and compile an account pattern, or raise PatternRefused."""
    if not pattern:
        raise PatternRefused("Pattern refused: the pattern is empty; give a regular expression.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternRefused(
            f"Pattern refused: it is {len(pattern)} characters long, over the limit of "
            f"{MAX_PATTERN_LENGTH}; shorten it."
        )
    try:
        with warnings.catch_warnings():  # a FutureWarning (such as `[[`) refuses it too
            warnings.simplefilter("error")
            re.compile(pattern)
    except FutureWarning as exc:
        raise PatternRefused(f"Pattern refused: '{pattern}' is ambiguous: {exc}.") from None
    except re.error as exc:
        where = "" if exc.pos is None else f" (position {exc.pos})"
        raise PatternRefused(
            f"Pattern refused: '{pattern}' is not a valid regular expression: {exc.msg}{where}."
        ) from None
    except OverflowError as exc:  # a repeat count too large to compile
        raise PatternRefused(
            f"Pattern refused: '{pattern}' is not a valid regular expression: {exc}."
        ) from None
    _same_in_both_engines(pattern)
    tree = _parser.parse(pattern)
    depth = _nesting(tree)
    if depth > _MAX_NESTING:
        raise PatternRefused(
            f"Pattern refused: '{pattern}' nests groups and repeats {depth} deep, over the "
            f"limit of {_MAX_NESTING}; simplify it."
        )
    check = _Check(pattern, tree)
    check.backreferences()
    check.repeats()
    check.neighbours()
    check.empty_match()
    try:
        compiled = compile_linear(pattern)
    except UnicodeEncodeError:
        raise PatternRefused(
            f"Pattern refused: {pattern!r} holds a character that is not valid Unicode text."
        ) from None
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternRefused(
            f"Pattern refused: '{pattern}' uses syntax that RE2, the linear-time engine "
            f"ivrlog runs patterns with, does not have ({reason}): lookarounds, "
            "backreferences, possessive repeats and atomic groups are not available."
        ) from None
    size = int(getattr(compiled, "programsize", 0))
    if size > MAX_PROGRAM_SIZE:
        raise PatternRefused(
            f"Pattern refused: '{pattern}' is too costly to run on every ingested string "
            f"(its RE2 program has {size} instructions, over the limit of {MAX_PROGRAM_SIZE}); "
            "use smaller repeat counts such as {1,50} instead of {1,500}."
        )
    return compiled


def _same_in_both_engines(pattern: str) -> None:
    """Refuse what Python and RE2 read differently, so that the check sees what runs."""
    for token in _TOKEN.finditer(pattern):
        if token.lastgroup == "quantifier" and token.group().startswith("{,"):
            raise PatternRefused(
                f"Pattern refused: '{pattern}' writes a repeat as {token.group()} (position "
                f"{token.start()}), which RE2 reads as plain text; write "
                f"{{0,{token.group()[2:]} instead."
            )
