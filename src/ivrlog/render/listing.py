"""What a listed call shows, the same in every format: the rules both renderers apply to
a stored row before writing it."""

from __future__ import annotations

from typing import Final

OUTBOUND: Final = "Outbound"


def shown_src(src: str, call_type: str) -> str:
    """The `src` a list shows: `Outbound` for an outbound call (the Plum quirk, SPEC 2);
    the number it came from is still stored."""
    return OUTBOUND if call_type == "outbound" else src
