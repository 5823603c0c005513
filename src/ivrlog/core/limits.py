"""Every bound of the API in one place: what a request may hold and ask for.

Validation (core/validation.py), the read side (core/query.py), the body reader
(web/bodies.py) and the OpenAPI shapes (web/schemas.py) take their limits from here, so
that the documented and the enforced bounds cannot drift apart (docs/api.md, limits).
"""

from __future__ import annotations

from typing import Final

# ingestion: a request body
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
# JSON values a body may hold, counted before parsing as its `{`, `[`, `,` and `:` (those
# inside strings too): a parsed value costs up to ~100 bytes of memory, so a body of
# `[{},{},...]` would take 30 times its size (docs/api.md, limits)
MAX_BODY_VALUES: Final = 8_000_000
MAX_CALLS: Final = 10_000  # calls a bulk request
MAX_ENTRIES: Final = 10_000  # entries a call (and a live update)
MAX_ERASURE_BODY_BYTES: Final = 4096  # the body of POST /v1/erasures

# ingestion: a call's fields
MAX_SESSION_ID: Final = 128  # characters
MAX_NUMBER: Final = 64  # characters of src and dest
MAX_TIME: Final = 253_402_300_799  # 9999-12-31T23:59:59Z, the latest UNIX time accepted
MAX_DEPTH: Final = 64  # objects and lists nested in an entry's data

# ingestion: the answer of an invalid request
MAX_REPORTED_ERRORS: Final = 1_000

# the read side: paging
DEFAULT_LIMIT: Final = 1000
MAX_LIMIT: Final = 10_000
MAX_OFFSET: Final = 2**63 - 1  # the largest integer a database takes
