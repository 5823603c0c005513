"""Reports (/v1/reports/*, the reports page): call volume, the distribution of durations
and the drop-off funnel of an application, over any window of the call retention.

They are read from aggregates that the stores keep as calls are written (ingestion,
replacement, live completion) and erased: one row an hour and one a day for each
application and call type (volume, durations) or module (funnel), so that a report over
a year costs about what one over a day costs. The stores apply the changes that
`deltas` computes, in the transaction that writes or erases the calls; the purge drops
the rows of hours past call retention. docs/api.md (reports) documents the figures.

Seconds (a call's duration, the time a caller spent in a module) are counted on a
fixed scale (SCALE): exact up to 10 s, then in steps that grow with the value. A
median is the lower median of the values rounded down to the scale.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

import orjson

from ivrlog.core.model import CALL_TYPES, Step, StoredCall, module_key

HOUR: Final = 3600
DAY: Final = 86_400
# the lower bounds of the bins seconds are counted in; the last is open-ended
SCALE: Final[tuple[int, ...]] = (
    *range(11),
    *(12, 15, 20, 25, 30, 40, 50, 60, 75, 90, 120, 150, 180, 240, 300, 450, 600, 900),
    *(1200, 1800, 3600),
)
BINS: Final = len(SCALE)
NO_APP: Final = ""  # the application of a call whose entries name none, as aggregates keep it

Span = Literal[3600, 86400]


def bin_of(seconds: int) -> int:
    """The bin of SCALE that holds `seconds` (negative counts as 0)."""
    return bisect_right(SCALE, seconds) - 1 if seconds > 0 else 0


class CallFacts(NamedTuple):
    """What the aggregates count of one call."""

    app: str
    type: str
    start: int
    duration: int
    steps: tuple[Step, ...]


def call_steps(entries: Sequence[dict[str, object]], end: int) -> tuple[Step, ...]:
    """The steps of a call whose stored entries are `entries` (any order: taken by
    timestamp, then as given) and whose end is `end`."""
    ordered = sorted(entries, key=lambda e: e["timestamp"])  # type: ignore[arg-type,return-value]
    seconds: dict[str, int] = {}
    errors: set[str] = set()
    current: str | None = None
    since = 0
    for entry in ordered:
        data = entry["event"]["data"]  # type: ignore[index]
        key = module_key(data["module_type"], data["result_variable"])
        at: int = entry["timestamp"]  # type: ignore[assignment]
        if key != current:
            if current is not None:
                seconds[current] += max(at - since, 0)
            seconds.setdefault(key, 0)
            current, since = key, at
        if entry["class"] == "error":
            errors.add(key)
    if current is not None:
        seconds[current] += max(end - since, 0)
    return tuple(Step(key, spent, key in errors, key == current) for key, spent in seconds.items())


def call_facts(call: StoredCall) -> CallFacts:
    """What the aggregates count of a call about to be stored."""
    app = call.summary.app or NO_APP
    return CallFacts(app, call.type, call.start, call.end - call.start, call.steps)


def path_steps(path: Sequence[str]) -> tuple[Step, ...]:
    """The steps of a call known only by its path (module keys, a visit each): a call
    stored before reports were kept whose detail is gone. Seconds and errors unknown."""
    last = path[-1] if path else None
    return tuple(Step(key, None, False, key == last) for key in dict.fromkeys(path))


def steps_json(steps: Sequence[Step]) -> str:
    """Steps as a call's row keeps them: a JSON array of [module, seconds, error, ended]
    (seconds null when unknown, the flags 0 or 1)."""
    return orjson.dumps([[s.module, s.seconds, int(s.error), int(s.ended)] for s in steps]).decode()


def steps_from_json(text: str) -> tuple[Step, ...]:
    return tuple(Step(m, s, bool(e), bool(end)) for m, s, e, end in orjson.loads(text))


def row_facts(
    app: str | None, call_type: str, start: int, end: int, steps: str | None
) -> CallFacts | None:
    """The facts of a stored call from its row; None when its steps are not set (a call
    of a backfill not yet done: the aggregates do not count it yet)."""
    if steps is None:
        return None
    return CallFacts(app or NO_APP, call_type, start, end - start, steps_from_json(steps))


class VolumeKey(NamedTuple):
    account_id: int
    span: int
    at: int
    app: str
    type: str


class ModuleKey(NamedTuple):
    account_id: int
    app: str
    span: int
    at: int
    module: str


# a volume row's counts: calls, then a bin each of durations
VOLUME_COUNTS: Final = 1 + BINS
# a module row's counts: reached, ended, errors, the sum of its places in the calls'
# flows (0 for the first module a call reached), then a bin each of seconds
MODULE_COUNTS: Final = 4 + BINS


@dataclass
class Deltas:
    """Changes to the aggregates, by row: counts to add (negative to take away)."""

    volume: dict[VolumeKey, list[int]] = field(default_factory=dict)
    modules: dict[ModuleKey, list[int]] = field(default_factory=dict)

    def add(self, account_id: int, facts: CallFacts, sign: int) -> None:
        # what a step adds is the same in both spans: worked out once
        steps = [
            (
                step.module,
                sign if step.ended else 0,
                sign if step.error else 0,
                sign * place,
                None if step.seconds is None else 4 + bin_of(step.seconds),
            )
            for place, step in enumerate(facts.steps)
        ]
        duration = 1 + bin_of(facts.duration)
        for span in (HOUR, DAY):
            at = facts.start - facts.start % span
            key = VolumeKey(account_id, span, at, facts.app, facts.type)
            counts = self.volume.setdefault(key, [0] * VOLUME_COUNTS)
            counts[0] += sign
            counts[duration] += sign
            for module, ended, error, place, seconds in steps:
                mkey = ModuleKey(account_id, facts.app, span, at, module)
                row = self.modules.setdefault(mkey, [0] * MODULE_COUNTS)
                row[0] += sign
                row[1] += ended
                row[2] += error
                row[3] += place
                if seconds is not None:
                    row[seconds] += sign

    def sorted_volume(self) -> list[tuple[VolumeKey, list[int]]]:
        """The rows that change, in key order (the order a store locks them in)."""
        return sorted((k, v) for k, v in self.volume.items() if any(v))

    def sorted_modules(self) -> list[tuple[ModuleKey, list[int]]]:
        return sorted((k, v) for k, v in self.modules.items() if any(v))


def deltas(
    account_id: int, removed: Iterable[CallFacts | None], added: Iterable[CallFacts]
) -> Deltas:
    """The changes to the aggregates when `removed` calls leave the account's calls (a
    replacement's old calls, an erasure; None: not counted) and `added` ones arrive."""
    changes = Deltas()
    for facts in removed:
        if facts is not None:
            changes.add(account_id, facts, -1)
    for facts in added:
        changes.add(account_id, facts, 1)
    return changes


class Piece(NamedTuple):
    """Rows of one span with `first <= at < end`, added (`sign` 1) or taken away (-1)."""

    span: int
    first: int
    end: int
    sign: int = 1


def floor_to(t: int, span: int) -> int:
    return t - t % span


def ceil_to(t: int, span: int) -> int:
    return -(-t // span) * span


def _part_of_day(day: int, start: int, end: int, whole_from: int | None) -> list[Piece]:
    """The rows of [start, end), a part of the UTC day `day`: its hours, or, when it
    holds more than half the day and the day is wholly kept (from `whole_from` on), the
    day's row less the hours left out: at most 12 hour rows either way."""
    if start >= end:
        return []
    if whole_from is None or day < whole_from or end - start <= DAY // 2:
        return [Piece(HOUR, start, end)]
    left_out = [Piece(HOUR, day, start, -1), Piece(HOUR, end, day + DAY, -1)]
    return [Piece(DAY, day, day + DAY), *(p for p in left_out if p.first < p.end)]


def pieces(start: int, end: int, whole_from: int | None = None) -> list[Piece]:
    """The rows that cover [start, end) (whole hours): the whole days from the days'
    rows, a day at either edge from its hours' rows or, from `whole_from` on (a day
    none of whose calls the purge can have taken), from its day's row less the hours
    outside the window, whichever reads fewer rows."""
    first_day, last_day = ceil_to(start, DAY), floor_to(end, DAY)
    if first_day > last_day:  # within one day
        return _part_of_day(last_day, start, end, whole_from)
    out = _part_of_day(first_day - DAY, start, first_day, whole_from)
    if first_day < last_day:
        out.append(Piece(DAY, first_day, last_day))
    return out + _part_of_day(last_day, last_day, end, whole_from)


def report_window(start: int, end: int, call_cutoff: int) -> tuple[int, int]:
    """The window a report covers for a request of [start, end): whole hours, from the
    hour holding `start` to the end of the hour holding `end - 1`, but no hour that held
    a call past call retention (it may be purged in part)."""
    first = max(floor_to(start, HOUR), ceil_to(call_cutoff, HOUR))
    last = ceil_to(end, HOUR)
    return min(first, last), last


class ReportRow(NamedTuple):
    """Aggregate rows summed: by `at` (0 when not asked), and by call type (volume) or
    module (funnel)."""

    at: int
    key: str
    counts: tuple[int, ...]


def median_bin(bins: Sequence[int]) -> int | None:
    """The lower median of counted seconds, as the lower bound of its bin; None when no
    value is counted."""
    total = sum(bins)
    if total <= 0:
        return None
    wanted = (total - 1) // 2  # the lower median's index among the sorted values
    seen = 0
    for index, count in enumerate(bins):
        seen += count
        if seen > wanted:
            return SCALE[index]
    return None  # pragma: no cover  (sum(bins) > wanted)


class FunnelModule(NamedTuple):
    module: str
    reached: int
    ended: int
    errors: int
    median_seconds: int | None


def funnel(rows: Iterable[ReportRow]) -> list[FunnelModule]:
    """The modules of summed module rows in flow order: by the mean place where calls
    first reached them, then by name. A module no call reaches now is left out."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        sums = totals.setdefault(row.key, [0] * MODULE_COUNTS)
        for i, value in enumerate(row.counts):
            sums[i] += value
    kept = [(key, c) for key, c in totals.items() if c[0] > 0]
    kept.sort(key=lambda kc: (kc[1][3] / kc[1][0], kc[0]))
    return [FunnelModule(key, c[0], c[1], c[2], median_bin(c[4:])) for key, c in kept]


class VolumeBucket(NamedTuple):
    at: int
    calls: int
    by_type: tuple[int, ...]  # in CALL_TYPES order


def volume(rows: Iterable[ReportRow], start: int, end: int, by: int) -> list[VolumeBucket]:
    """Calls by `by` (HOUR or DAY, UTC) and call type over [start, end), every bucket
    listed (0 when none)."""
    first = floor_to(start, by)
    counts: dict[int, list[int]] = {at: [0] * len(CALL_TYPES) for at in range(first, end, by)}
    for row in rows:
        bucket = counts.get(floor_to(row.at, by))
        if bucket is not None and row.key in CALL_TYPES:
            bucket[CALL_TYPES.index(row.key)] += row.counts[0]
    return [VolumeBucket(at, sum(c), tuple(c)) for at, c in counts.items()]


class Durations(NamedTuple):
    calls: int
    median_seconds: int | None
    bins: tuple[int, ...]


def durations(rows: Iterable[ReportRow]) -> Durations:
    """The distribution of call durations over summed volume rows."""
    bins = [0] * BINS
    for row in rows:
        for i, value in enumerate(row.counts[1:]):
            bins[i] += value
    return Durations(sum(bins), median_bin(bins), tuple(bins))
