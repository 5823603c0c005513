"""`ivrlog import twilio-studio`: Twilio Studio Executions and their Steps, as the Studio
REST API (v2) returns them, as ivrlog calls. docs/import.md has the mapping as a table.

Documents read (each file one JSON document, or an array of them):
- an Execution (`FN...`), or a page of them (`{"executions": [...], "meta": ...}`);
- a Step (`FT...`), or a page of an execution's Steps (`{"steps": [...], "meta": ...}`);
- an Execution Context (`.../Executions/{sid}/Context`): the call's numbers and direction,
  and each widget's output; a Step Context is read for its widget outputs too.

An execution is a call (`session_id` its sid); each step one entry, of the widget the
step leaves (`transitioned_from`): the event that moved the flow on (`name`) is the
entry's outcome. Steps share whole seconds, and a page lists them newest first: the page
order breaks ties."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ivrlog.core.bringing import ImportFailed, Skipped, iso_seconds, parsed_json

ERROR_EVENTS: Final = frozenset(
    {"failed", "fail", "deliveryFailure", "failedToEnqueue", "callFailure", "noAnswer", "busy"}
)
INPUT_EVENTS: Final = frozenset({"keypress", "speech"})
TRIGGER: Final = "Trigger"


@dataclass
class _Read:
    """Everything the input holds, by execution."""

    executions: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    steps: dict[str, list[tuple[int, Mapping[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    contexts: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    step_contexts: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    step_sids: set[str] = field(default_factory=set)
    read: int = 0  # steps read, for their order


def _object(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ImportFailed(f"{where}: must be a JSON object, not {type(value).__name__}.")
    return value


def _text(where: str, item: Mapping[str, Any], name: str, prefix: str = "") -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.startswith(prefix) or not value:
        wanted = f"a {prefix}... sid" if prefix else "a string"
        raise ImportFailed(f"{where}.{name}: must be {wanted}, not {value!r}.")
    return value


def _time(where: str, item: Mapping[str, Any], name: str) -> int:
    seconds = iso_seconds(item.get(name))
    if seconds is None:
        raise ImportFailed(
            f"{where}.{name}: must be an ISO 8601 time (2024-03-12T14:05:31Z),"
            f" not {item.get(name)!r}."
        )
    return seconds


def _take(where: str, document: Any, read: _Read) -> None:
    item = _object(where, document)
    if isinstance(item.get("executions"), list):
        for n, execution in enumerate(item["executions"]):
            _execution(
                f"{where}: executions[{n}]", _object(f"{where}: executions[{n}]", execution), read
            )
    elif isinstance(item.get("steps"), list):
        for n, step in enumerate(item["steps"]):
            _step(f"{where}: steps[{n}]", _object(f"{where}: steps[{n}]", step), read)
    elif "step_sid" in item and "context" in item:
        read.step_contexts[_text(where, item, "step_sid", "FT")] = _object(
            f"{where}.context", item["context"]
        )
    elif "execution_sid" in item and "context" in item and "sid" not in item:
        read.contexts[_text(where, item, "execution_sid", "FN")] = _object(
            f"{where}.context", item["context"]
        )
    elif str(item.get("sid", "")).startswith("FN"):
        _execution(where, item, read)
    elif str(item.get("sid", "")).startswith("FT"):
        _step(where, item, read)
    else:
        keys = ", ".join(list(item)[:8]) or "none"
        raise ImportFailed(
            f"{where}: not a Studio Execution, Step, Context or a page of them (keys: {keys})."
        )


def _execution(where: str, item: Mapping[str, Any], read: _Read) -> None:
    sid = _text(where, item, "sid", "FN")
    _text(where, item, "flow_sid", "FW")
    _time(where, item, "date_created")
    read.executions[sid] = item
    if isinstance(item.get("context"), dict) and item["context"]:
        read.contexts.setdefault(sid, item["context"])


def _step(where: str, item: Mapping[str, Any], read: _Read) -> None:
    _text(where, item, "sid", "FT")
    execution = _text(where, item, "execution_sid", "FN")
    for name in ("name", "transitioned_from", "transitioned_to"):
        _text(where, item, name)
    _time(where, item, "date_created")
    if item["sid"] in read.step_sids:
        return  # the same step in two files (overlapping pages)
    read.step_sids.add(item["sid"])
    read.read += 1
    read.steps[execution].append((read.read, item))


def read_documents(documents: Iterable[tuple[str, bytes]]) -> _Read:
    """Every document of the input, checked; ImportFailed at the first that is not one
    this importer knows (naming its file and place)."""
    read = _Read()
    for where, data in documents:
        document = parsed_json(where, data)
        if isinstance(document, list):
            for n, item in enumerate(document):
                _take(f"{where}: [{n}]", item, read)
        else:
            _take(where, document, read)
    return read


def _get(value: Any, *path: str) -> Any:
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _numbers(
    item: Mapping[str, Any], context: Mapping[str, Any], outbound: bool
) -> tuple[str, str]:
    """(src, dest): the trigger call's From and To; else the contact's address and the
    flow's number, the contact being the caller of an inbound call, the called party of
    an outbound one."""
    call = _get(context, "trigger", "call")
    if (
        isinstance(call, dict)
        and isinstance(call.get("From"), str)
        and isinstance(call.get("To"), str)
    ):
        return call["From"], call["To"]
    contact = item.get("contact_channel_address") or ""
    ours = _get(context, "flow", "channel", "address") or ""
    contact, ours = str(contact), str(ours)
    return (ours, contact) if outbound else (contact, ours)


def _outbound(context: Mapping[str, Any], steps: list[Mapping[str, Any]]) -> bool:
    direction = _get(context, "trigger", "call", "Direction")
    if isinstance(direction, str):
        return direction.startswith("outbound")
    if _get(context, "trigger", "request") is not None:
        return True  # started by the REST API: Studio placed the call
    return bool(steps) and steps[0].get("name") == "incomingRequest"


def _widget_output(
    widget: str, context: Mapping[str, Any], step_context: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What the widget stored in the flow's context, without the call's own parameters
    (which every voice widget repeats)."""
    output = _get(step_context, "widgets", widget) if step_context else None
    if not isinstance(output, dict):
        output = _get(context, "widgets", widget)
    if not isinstance(output, dict):
        return {}
    call = _get(context, "trigger", "call")
    repeated = set(call) if isinstance(call, dict) else set()
    return {key: value for key, value in output.items() if key not in repeated}


def _entry(step: Mapping[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    event, widget, to = step["name"], step["transitioned_from"], step["transitioned_to"]
    kind = step.get("type") if isinstance(step.get("type"), str) else None
    said = output.get("Digits", output.get("SpeechResult"))
    if event in INPUT_EVENTS and isinstance(said, str | int):
        cls, line = "event", f"User input: {said}"
    elif event in ERROR_EVENTS:
        cls, line = "error", f"Widget {widget}: {event}"
    else:
        cls, line = "info", f"Widget {widget}: {event}"
    data: dict[str, Any] = {
        "module_type": kind or ("trigger" if widget == TRIGGER else "widget"),
        "result_variable": widget,
        "event": event,
        "next": to,
        "step_sid": step["sid"],
    }
    if output:
        data["output"] = output
    return {
        "event": {"line": f"{line} (next: {to})", "data": data},
        "class": cls,
        "timestamp": iso_seconds(step["date_created"]),
    }


def studio_calls(read: _Read) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """The calls of the input's executions, and what was skipped (with why)."""
    calls: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for execution, read_steps in read.steps.items():
        if execution not in read.executions:
            skipped.append(
                Skipped(
                    execution, f"{len(read_steps)} steps of an execution the input does not hold"
                )
            )
    for sid, item in read.executions.items():
        if item.get("status") != "ended":
            skipped.append(
                Skipped(sid, f"status {item.get('status')!r}: import it once it has ended")
            )
            continue
        context = read.contexts.get(sid, {})
        # oldest first; a page lists them newest first, so for one second the later read is older
        steps = [
            s
            for _, s in sorted(
                read.steps.get(sid, ()), key=lambda p: (iso_seconds(p[1]["date_created"]), -p[0])
            )
        ]
        outbound = _outbound(context, steps)
        src, dest = _numbers(item, context, outbound)
        start = iso_seconds(item["date_created"])
        assert start is not None  # checked when read
        times = [iso_seconds(s["date_created"]) or start for s in steps]
        end = max([start, iso_seconds(item.get("date_updated")) or start, *times])
        first = {
            "event": {
                "line": f'Executing application "{item["flow_sid"]}"',
                "data": {"module_type": "start", "result_variable": "start", "execution_sid": sid},
            },
            "class": "info",
            "timestamp": start,
        }
        detail = [first]
        for step in steps:
            output = _widget_output(
                step["transitioned_from"], context, read.step_contexts.get(step["sid"])
            )
            detail.append(_entry(step, output))
        calls.append(
            {
                "session_id": sid,
                "src": src,
                "dest": dest,
                "type": "outbound" if outbound else "inbound",
                "start": start,
                "end": end,
                "detail": detail,
            }
        )
    return calls, skipped
