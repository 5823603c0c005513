"""web/schemas.py (the shapes /openapi.json shows) and core/validation.py (what ingestion
accepts) describe the same documents. The schemas take every bound and enum from
core/limits.py and core/model.py; these tests tie the rest, reading the pydantic models
themselves: the same fields in the same order, every bound a schema states enforced by
the validator at the bound and one past it, every pattern agreeing on each Latin-1
character, and documents generated from the schemas accepted by the validator.
(tests/e2e/test_openapi_limits.py checks the same over the served document.)"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable, Iterator
from typing import Any, Literal, Union, get_args, get_origin

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ivrlog.core.errors import IvrlogError
from ivrlog.core.live import UPDATE_FIELDS, validate_update
from ivrlog.core.model import CALL_TYPES, ENTRY_CLASSES
from ivrlog.core.validation import (
    CALL_FIELDS,
    ENTRY_FIELDS,
    EVENT_FIELDS,
    KEPT_DATA,
    validate_batch,
)
from ivrlog.web.schemas import IngestCall, IngestEntry, IngestEvent, IngestEventData, LiveUpdate

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LATIN_1 = [chr(code) for code in range(256)]
ENTRY = {
    "event": {"line": "Executing", "data": {"module_type": "start", "result_variable": "s"}},
    "class": "info",
    "timestamp": 15,
}
VALID_CALL = {
    "session_id": "100035;000;1575898377",
    "src": "6177123000",
    "dest": "6177123001",
    "type": "inbound",
    "start": 10,
    "end": 20,
    "private": False,
    "detail": [ENTRY],
}
VALID_UPDATE = {"src": "6177123000", "entries": [ENTRY], "end": 20}


def _accepts_call(document: Any) -> bool:
    try:
        validate_batch([document])
    except IvrlogError:
        return False
    return True


def _accepts_update(document: Any) -> bool:
    try:
        validate_update("sid", document)
    except IvrlogError:
        return False
    return True


class Document:
    """A schema (a pydantic model) and the validator of the same document."""

    def __init__(self, model: type[BaseModel], valid: dict[str, Any], server: Any) -> None:
        self.model = model
        self.valid = valid
        self.server: Callable[[Any], bool] = server
        self.schema = jsonschema_rs.Draft202012Validator(model.model_json_schema())

    def agree(self, document: Any) -> bool:
        """Whether the schema and the validator both accept `document` (the test fails
        when one accepts and the other does not)."""
        by_schema = self.schema.is_valid(document)
        assert by_schema == self.server(document), (self.model.__name__, document)
        return by_schema


CALL = Document(IngestCall, VALID_CALL, _accepts_call)
UPDATE = Document(LiveUpdate, VALID_UPDATE, _accepts_update)
DOCUMENTS = {"call": CALL, "update": UPDATE}


def _key(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, tuple[Any, ...]]:
    """The model a field holds, and the path step to it (0 for a list's first item)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ()
    if get_origin(annotation) is list:
        [item] = get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item, (0,)
    return None, ()


def fields_of(model: type[BaseModel], path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """(path, annotation, bounds) of every field of `model` and of the models it holds."""
    for name, info in model.model_fields.items():
        at = (*path, _key(name, info))
        yield at, info.annotation, _bounds(info)
        inner, step = _nested(info.annotation)
        if inner is not None:
            yield from fields_of(inner, (*at, *step))


def _bounds(info: FieldInfo) -> dict[str, Any]:
    found = {}
    for item in info.metadata:
        for name in ("min_length", "max_length", "ge", "le", "pattern"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    return found


def _names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(_key(name, info) for name, info in model.model_fields.items())


# What the schemas say of the fields


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (IngestCall, CALL_FIELDS),
        (IngestEntry, ENTRY_FIELDS),
        (IngestEvent, EVENT_FIELDS),
        (LiveUpdate, UPDATE_FIELDS),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_schema_has_exactly_the_validator_s_fields_in_order(
    model: type[BaseModel], fields: tuple[str, ...]
) -> None:
    assert _names(model) == fields
    assert model.model_config.get("extra") == "forbid"  # an unknown field is refused


def test_an_entry_s_data_holds_the_kept_keys_and_any_other() -> None:
    assert _names(IngestEventData) == KEPT_DATA
    assert IngestEventData.model_config.get("extra") == "allow"


def test_the_enums_are_the_model_s() -> None:
    assert get_args(IngestCall.model_fields["type"].annotation) == CALL_TYPES
    assert get_args(LiveUpdate.model_fields["type"].annotation) == CALL_TYPES
    assert get_args(IngestEntry.model_fields["class_"].annotation) == ENTRY_CLASSES


# Documents at and around every bound the schemas state


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of `document` with the field at `path` set to `value` (removed for MISSING),
    `end` kept not before `start` (a rule across fields, which JSON Schema cannot say)."""
    changed = copy.deepcopy(document)
    *parents, last = path
    target = changed
    for step in parents:
        target = target[step]
    if value is MISSING:
        target.pop(last, None)
    else:
        target[last] = value
    start, end = changed.get("start"), changed.get("end")
    if type(start) is int and type(end) is int and end < start:
        changed["start" if path == ("end",) else "end"] = end if path == ("end",) else start
    return changed


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


MISSING = object()


def bound_cases() -> Iterator[Any]:
    """(document kind, path, value, valid) at and one past every bound of every field."""
    for kind, document in DOCUMENTS.items():
        for path, annotation, bounds in fields_of(document.model):
            # a list of n copies of the valid document's first item, or n digits
            filler = _get(document.valid, (*path, 0)) if get_origin(annotation) is list else None

            def make(n: int, item: Any = filler) -> Any:
                return "6" * n if item is None else [item] * n

            if "ge" in bounds:
                yield pytest.param(kind, path, bounds["ge"], True, id=f"{kind}-{path}-ge")
                yield pytest.param(kind, path, bounds["ge"] - 1, False, id=f"{kind}-{path}-ge-1")
            if "le" in bounds:
                yield pytest.param(kind, path, bounds["le"], True, id=f"{kind}-{path}-le")
                yield pytest.param(kind, path, bounds["le"] + 1, False, id=f"{kind}-{path}-le+1")
            if "min_length" in bounds:
                least = bounds["min_length"]
                yield pytest.param(kind, path, make(least), True, id=f"{kind}-{path}-min")
                yield pytest.param(kind, path, make(least - 1), False, id=f"{kind}-{path}-min-1")
            if "max_length" in bounds:
                most = bounds["max_length"]
                yield pytest.param(kind, path, make(most), True, id=f"{kind}-{path}-max")
                yield pytest.param(kind, path, make(most + 1), False, id=f"{kind}-{path}-max+1")


BOUND_CASES = list(bound_cases())


def test_the_bounds_found_are_every_limit_of_the_documents() -> None:
    """The walk reaches every bounded field: a schema that lost a bound fails here."""
    bounded = {(case.values[0], case.values[1]) for case in BOUND_CASES}
    numbers_and_times = [("src",), ("dest",), ("start",), ("end",)]
    assert bounded == {
        *(("call", path) for path in [("session_id",), *numbers_and_times, ("detail",)]),
        ("call", ("detail", 0, "timestamp")),
        *(("update", path) for path in [*numbers_and_times, ("entries",)]),
        ("update", ("entries", 0, "timestamp")),
    }


@pytest.mark.parametrize(("kind", "path", "value", "valid"), BOUND_CASES)
def test_schema_and_validator_agree_at_and_past_each_bound(
    kind: str, path: tuple[Any, ...], value: Any, valid: bool
) -> None:
    document = DOCUMENTS[kind]
    assert document.agree(_set(document.valid, path, value)) is valid


def _wrong_types(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Literal:
        return [f"{get_args(annotation)[0]} ", get_args(annotation)[0].upper(), None, 1]
    if annotation is int:
        return [True, 1.5, "1", None]
    if annotation is str:
        return [1, None, True, ["a"]]
    if annotation is bool:
        return [0, "true", None]
    if get_origin(annotation) is list:
        return [{}, "x", None]
    if get_origin(annotation) in (Union, types.UnionType):  # int | None: end
        return [True, 1.5, "1"]
    return ["x", [], None, 1]  # an object


def other_value_cases() -> Iterator[Any]:
    """(document kind, path, value): a wrong type, each enum value, or the field left out."""
    for kind, document in DOCUMENTS.items():
        for path, annotation, _ in fields_of(document.model):
            values = [*_wrong_types(annotation), MISSING]
            if get_origin(annotation) is Literal:
                values += get_args(annotation)
            for number, value in enumerate(values):
                yield pytest.param(kind, path, value, id=f"{kind}-{path}-{number}")


@pytest.mark.parametrize(("kind", "path", "value"), list(other_value_cases()))
def test_schema_and_validator_agree_on_types_enums_and_missing_fields(
    kind: str, path: tuple[Any, ...], value: Any
) -> None:
    document = DOCUMENTS[kind]
    document.agree(_set(document.valid, path, value))


def test_a_type_error_is_refused_by_both() -> None:
    """The agreement above is not agreement to accept everything."""
    assert not CALL.agree(_set(VALID_CALL, ("start",), "1"))
    assert not UPDATE.agree(_set(VALID_UPDATE, ("entries", 0, "class"), "trace"))
    assert CALL.agree(_set(VALID_CALL, ("private",), MISSING))
    assert not CALL.agree(_set(VALID_CALL, ("src",), MISSING))
    assert UPDATE.agree(_set(VALID_UPDATE, ("src",), MISSING))


def pattern_cases() -> Iterator[Any]:
    for kind, document in DOCUMENTS.items():
        for path, _, bounds in fields_of(document.model):
            if "pattern" in bounds:
                yield pytest.param(kind, path, id=f"{kind}-{path}")


@pytest.mark.parametrize(("kind", "path"), list(pattern_cases()))
def test_schema_and_validator_agree_on_each_latin_1_character(
    kind: str, path: tuple[Any, ...]
) -> None:
    """A pattern states the rule for U+0000 to U+00FF (schemas.py says so): every one of
    them inside the text, in both."""
    document = DOCUMENTS[kind]
    refused = [c for c in LATIN_1 if not document.agree(_set(document.valid, path, f"6{c}6"))]
    assert refused  # each pattern refuses something: NUL at least
    assert "\x00" in refused


# Documents generated from the schemas


def _json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=8,
    )


def _values(annotation: Any, bounds: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid per one field's schema (lists kept short)."""
    inner, _ = _nested(annotation)
    if inner is not None and get_origin(annotation) is not list:
        return model_documents(inner)
    if get_origin(annotation) is Literal:
        return st.sampled_from(get_args(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        edges = st.sampled_from([bounds.get("ge", 0), bounds.get("le", 0)])
        return edges | st.integers(bounds.get("ge"), bounds.get("le"))
    if get_origin(annotation) in (Union, types.UnionType):
        return st.none() | _values(int, bounds)
    if annotation is str:
        least, most = bounds.get("min_length", 0), bounds.get("max_length", 40)
        latin_1 = st.characters(max_codepoint=0xFF)
        if "pattern" in bounds:
            return st.from_regex(bounds["pattern"], fullmatch=True, alphabet=latin_1).filter(
                lambda text: least <= len(text) <= most
            )
        return st.text(latin_1, min_size=least, max_size=most)
    [item] = get_args(annotation)  # a list
    return st.lists(_values(item, {}), max_size=min(3, bounds.get("max_length", 3)))


def model_documents(
    model: type[BaseModel], *, all_optional: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """Documents valid per `model`'s schema, its fields drawn from their bounds."""
    required, optional = {}, {}
    for name, info in model.model_fields.items():
        values = _values(info.annotation, _bounds(info))
        if info.is_required() and not all_optional:
            required[_key(name, info)] = values
        else:
            optional[_key(name, info)] = values
    documents = st.fixed_dictionaries(required, optional=optional)
    if model.model_config.get("extra") == "allow":
        extra = st.dictionaries(st.text(max_size=6), _json_values(), max_size=3)
        return st.tuples(documents, extra).map(lambda both: {**both[1], **both[0]})
    return documents


def _not_ending_before_start(call: dict[str, Any]) -> dict[str, Any]:
    return {**call, "end": max(call["start"], call["end"])}


@given(model_documents(IngestCall).map(_not_ending_before_start))
@PROPERTY
def test_a_call_generated_from_the_schema_is_accepted(call: dict[str, Any]) -> None:
    assert CALL.agree(call)


@given(model_documents(LiveUpdate, all_optional=True))  # the schema requires none of them
@PROPERTY
def test_an_update_generated_from_the_schema_is_accepted(update: dict[str, Any]) -> None:
    assert UPDATE.agree(update)
