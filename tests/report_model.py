"""What the reports mean, in plain Python over the calls an account holds now: the model
that tests/integration/test_report_model.py holds the stores' aggregates to. It reads
each call's entries as they were ingested, and shares nothing with core/reports.py but
the scale seconds are counted on (SCALE) and the type of the stored call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ivrlog.core.model import CALL_TYPES, StoredCall
from ivrlog.core.reports import SCALE

HOUR, DAY = 3600, 86400


@dataclass(frozen=True)
class Held:
    """A call as stored, with the entries it was ingested with ([] when private)."""

    call: StoredCall
    entries: list[dict[str, Any]]


def window(start: int, end: int, call_cutoff: int) -> tuple[int, int]:
    first = max(start // HOUR * HOUR, -(-call_cutoff // HOUR) * HOUR)
    last = -(-end // HOUR) * HOUR
    return min(first, last), last


def _in(held: Iterable[Held], app: str | None, start: int, end: int) -> list[Held]:
    return [
        h
        for h in held
        if start <= h.call.start < end and (app is None or (h.call.summary.app or "") == app)
    ]


def _floor(seconds: int) -> int:
    """Seconds rounded down to the scale."""
    return max(low for low in SCALE if low <= max(seconds, 0))


def _median(values: Sequence[int]) -> int | None:
    ordered = sorted(_floor(v) for v in values)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


def volume(held: Iterable[Held], app: str | None, start: int, end: int, by: int) -> list[Any]:
    counts: dict[int, dict[str, int]] = {
        at: dict.fromkeys(CALL_TYPES, 0) for at in range(start // by * by, end, by)
    }
    for h in _in(held, app, start, end):
        counts[h.call.start // by * by][h.call.type] += 1
    return [{"at": at, "calls": sum(c.values()), **c} for at, c in counts.items()]


def durations(held: Iterable[Held], app: str | None, start: int, end: int) -> dict[str, Any]:
    lasted = [h.call.end - h.call.start for h in _in(held, app, start, end)]
    counts = [sum(1 for d in lasted if _floor(d) == low) for low in SCALE]
    return {"calls": len(lasted), "median_seconds": _median(lasted), "counts": counts}


def _walk(entries: list[dict[str, Any]], end: int) -> list[tuple[str, int, bool]]:
    """(module, seconds spent, had an error) of each module the call reached, in the order
    it first reached them."""
    ordered = sorted(entries, key=lambda e: e["timestamp"])  # stable: arrival order kept
    names = [
        f"{e['event']['data']['module_type']}:{e['event']['data']['result_variable']}"
        for e in ordered
    ]
    reached: list[str] = []
    spent: dict[str, int] = {}
    for i, name in enumerate(names):
        if name not in spent:
            reached.append(name)
            spent[name] = 0
        following = ordered[i + 1]["timestamp"] if i + 1 < len(ordered) else end
        if i + 1 == len(ordered) or names[i + 1] != name:  # a visit ends here
            begun = i
            while begun > 0 and names[begun - 1] == name:
                begun -= 1
            spent[name] += max(following - ordered[begun]["timestamp"], 0)
    errors = {n for n, e in zip(names, ordered, strict=True) if e["class"] == "error"}
    return [(n, spent[n], n in errors) for n in reached]


def funnel(held: Iterable[Held], app: str, start: int, end: int) -> list[dict[str, Any]]:
    places: dict[str, list[int]] = {}
    ended: dict[str, int] = {}
    errors: dict[str, int] = {}
    seconds: dict[str, list[int]] = {}
    for h in _in(held, app, start, end):
        walked = _walk(h.entries, h.call.end)
        for place, (name, spent, error) in enumerate(walked):
            places.setdefault(name, []).append(place)
            seconds.setdefault(name, []).append(spent)
            errors[name] = errors.get(name, 0) + error
        if walked:
            last = [name for name, _, _ in walked]
            # the module it ended in: the last visit's (not the last reached first)
            ordered = sorted(h.entries, key=lambda e: e["timestamp"])
            data = ordered[-1]["event"]["data"]
            final = f"{data['module_type']}:{data['result_variable']}"
            assert final in last
            ended[final] = ended.get(final, 0) + 1
    order = sorted(places, key=lambda n: (sum(places[n]) / len(places[n]), n))
    return [
        {
            "module": n,
            "reached": len(places[n]),
            "ended": ended.get(n, 0),
            "errors": errors.get(n, 0),
            "median_seconds": _median(seconds[n]),
        }
        for n in order
    ]
