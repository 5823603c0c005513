"""The async lookup's statement in a raw cursor's form (storage/postgres_lookups.py)."""

from __future__ import annotations

import pytest

from ivrlog.storage.postgres_lookups import STATEMENTS, positional
from ivrlog.storage.sql import POSTGRES


def test_named_parameters_become_numbered_in_the_given_order() -> None:
    query = "SELECT %(b)s, %(a)s WHERE x = %(b)s"
    assert positional(query, ("a", "b")) == "SELECT $2, $1 WHERE x = $2"


def test_a_parameter_not_named_is_refused() -> None:
    with pytest.raises(ValueError, match="not in"):
        positional("SELECT %(a)s, %(c)s", ("a", "b"))


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_lookup_keeps_the_stores_statement_with_its_four_parameters(fmt: str) -> None:
    raw = STATEMENTS[fmt]
    assert "%(" not in raw
    assert all(f"${n}" in raw for n in (1, 2, 3, 4))
    assert "$5" not in raw
    # the rest of the text is the store's own statement
    assert raw.split("$")[0] == POSTGRES.completed_detail[fmt].split("%(")[0]
