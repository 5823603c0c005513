"""The OpenAPI reference of GET /v1/reports/volume, /durations and /funnel: their
parameters (checked by core/report_requests.py) and the shapes of their answers. The
handlers return ready bytes, never these models."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, Field

from ivrlog.core.search import MAX_NAME
from ivrlog.web.calls_doc import (
    COMMON_ERRORS,
    NAME_SCHEMA,
    WHEN_FORMS,
    WHEN_PATTERN,
    query_parameter,
)
from ivrlog.web.schemas import error_doc

WINDOW: Final = (
    "The report covers whole hours: from the hour holding `from` to the end of the hour "
    "holding the second before `to` (UTC), and no hour older than `call_retention_days`."
)
FROM: Final = query_parameter(
    "from",
    "Window start: " + WHEN_FORMS + " Default: 7 days before now. Must be before `to`.",
    {"type": "string", "pattern": WHEN_PATTERN},
)
TO: Final = query_parameter(
    "to",
    "Window end, exclusive: " + WHEN_FORMS + " Default: the second after now.",
    {"type": "string", "pattern": WHEN_PATTERN},
)


def _app(required: bool) -> dict[str, Any]:
    what = "The application" if required else "Only calls of this application (default: all)"
    parameter = query_parameter(
        "app",
        f"{what}: its name as its `Executing application` line gives it, 1 to {MAX_NAME} "
        "characters.",
        NAME_SCHEMA,
    )
    parameter["required"] = required
    return parameter


VOLUME_PARAMETERS: Final = [
    _app(False),
    FROM,
    TO,
    query_parameter(
        "by",
        "Buckets of an hour or a UTC day. Default: hour for a window shorter than 3 days, "
        "else day.",
        {"type": "string", "enum": ["hour", "day"]},
    ),
]
DURATIONS_PARAMETERS: Final = [_app(False), FROM, TO]
FUNNEL_PARAMETERS: Final = [_app(True), FROM, TO]


class Window(BaseModel):
    app: str | None = Field(description="The application asked for; null for every one.")
    from_: int = Field(alias="from", description="The window's start (UNIX seconds).")
    to: int = Field(description="The window's end, exclusive (UNIX seconds).")


class VolumeBucket(BaseModel):
    at: int = Field(description="The bucket's start (UNIX seconds).")
    calls: int
    inbound: int
    outbound: int
    transfer: int


class Volume(Window):
    by: Literal["hour", "day"]
    buckets: list[VolumeBucket] = Field(description="Every bucket of the window, oldest first.")


class DurationBucket(BaseModel):
    min_seconds: int
    max_seconds: int | None = Field(description="The last second it holds; null: no bound.")
    calls: int


class Durations(Window):
    calls: int
    median_seconds: int | None = Field(
        description="The lower median duration, to the bucket's `min_seconds`; null: no call."
    )
    buckets: list[DurationBucket]


class FunnelModule(BaseModel):
    module: str = Field(description="`module_type:result_variable`.")
    reached: int = Field(description="Calls that reached it.")
    ended: int = Field(description="Calls that ended in it (their last module).")
    errors: int = Field(description="Calls with an `error` entry in it.")
    median_seconds: int | None = Field(
        description="The lower median of the seconds calls spent in it, to the scale's "
        "step; null when none is known."
    )


class Funnel(BaseModel):
    app: str
    from_: int = Field(alias="from")
    to: int
    modules: list[FunnelModule] = Field(
        description="In flow order: by the mean place where calls first reached them."
    )


def responses(model: type[BaseModel], example: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"model": model, "description": "The report. " + WINDOW},
        400: error_doc(
            "An unknown parameter, one given twice, or a bad value (the message names it "
            "and says what is allowed).",
            example,
        ),
        **COMMON_ERRORS,
    }
