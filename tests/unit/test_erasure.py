"""core/erasure.py on the in-memory store: the keyed selector hash, erasing a call or a
number (counts, 404, audit rows, calls in progress, the change sequence), and the POST
body's checks."""

from __future__ import annotations

from typing import Any

import pytest

from ivrlog.core.erasure import (
    ErasureNotFound,
    erase_call,
    erase_number,
    parse_erasure,
    selector_hash,
    selector_text,
)
from ivrlog.core.errors import BadRequest
from ivrlog.core.ingest import ingest_calls
from ivrlog.core.live import append_entries
from ivrlog.core.model import Erasure
from tests.factories import DAY, NOW, call, entry
from tests.fake_store import MemoryStore
from tests.unit.conftest import listed

NUMBER = "6175550123"
OTHER = "6175550999"
KEY = b"k" * 32


def _calls(fake: MemoryStore, account_id: int, *calls: dict[str, Any]) -> None:
    assert ingest_calls(fake, account_id, list(calls)) == len(calls)


def _live(fake: MemoryStore, account_id: int, session_id: str, src: str = NUMBER) -> None:
    update = {"src": src, "dest": OTHER, "type": "inbound", "entries": [entry(timestamp=NOW)]}
    append_entries(fake, account_id, session_id, update, now=NOW)


def _audit(fake: MemoryStore) -> list[tuple[int, int, int, str]]:
    return list(fake._tables.erasures)


# ---------------------------------------------------------------- the selector's hash


def test_the_selector_hash_is_stable_per_key_and_selector() -> None:
    selector = Erasure(number=NUMBER, before=NOW)
    assert selector_hash(KEY, selector) == selector_hash(KEY, Erasure(number=NUMBER, before=NOW))
    assert len(selector_hash(KEY, selector)) == 64
    int(selector_hash(KEY, selector), 16)  # hex
    # any text hashes, even one no database would take (a lone surrogate)
    assert len(selector_hash(KEY, Erasure(session_id="\ud800"))) == 64


def test_the_selector_hash_differs_per_key_and_per_selector() -> None:
    selectors = [
        Erasure(number=NUMBER),
        Erasure(number=NUMBER, before=NOW),
        Erasure(number=NUMBER, before=NOW + 1),
        Erasure(number=OTHER),
        Erasure(session_id=NUMBER),
    ]
    hashes = {selector_hash(KEY, s) for s in selectors}
    assert len(hashes) == len(selectors)
    assert selector_hash(b"x" * 32, selectors[0]) != selector_hash(KEY, selectors[0])


def test_the_canonical_text_cannot_make_two_selectors_one() -> None:
    # the number comes last: `before` cannot be forged from inside it
    forged = Erasure(number=f"{NUMBER};before=5")
    assert selector_text(forged) != selector_text(Erasure(number=NUMBER, before=5))
    assert selector_text(Erasure(session_id="x")) == "session;x"
    assert selector_text(Erasure(number="x", before=7)) == "number;before=7;x"


def test_the_selector_hash_never_holds_the_number() -> None:
    for erasure in (Erasure(number=NUMBER), Erasure(session_id=NUMBER)):
        digest = selector_hash(KEY, erasure)
        assert NUMBER not in digest


# ---------------------------------------------------------------- erasing one call


def test_erase_call_erases_one_call_and_keeps_an_audit_row(
    fake: MemoryStore, account_id: int
) -> None:
    _calls(fake, account_id, call("a"), call("b"))
    assert erase_call(fake, account_id, "a", NOW + 5) == 1
    assert set(listed(fake, account_id)) == {"b"}
    digest = selector_hash(fake.audit_key(), Erasure(session_id="a"))
    assert _audit(fake) == [(account_id, NOW + 5, 1, digest)]


def test_erase_call_of_an_unknown_session_id_is_404_and_audits_nothing(
    fake: MemoryStore, account_id: int
) -> None:
    _calls(fake, account_id, call("a"))
    for unknown in ("nope", "a\x00", "A"):
        with pytest.raises(ErasureNotFound) as raised:
            erase_call(fake, account_id, unknown, NOW)
        assert raised.value.status == 404
        assert raised.value.message == "No call or call in progress with that session id."
    assert set(listed(fake, account_id)) == {"a"}
    assert _audit(fake) == []


def test_erase_call_never_reaches_another_account(fake: MemoryStore, account_id: int) -> None:
    other = fake.create_account("other@example.com", "k2", "t2", NOW).id
    _calls(fake, other, call("a"))
    with pytest.raises(ErasureNotFound):
        erase_call(fake, account_id, "a", NOW)
    assert set(listed(fake, other)) == {"a"}


def test_erase_call_erases_a_call_in_progress(fake: MemoryStore, account_id: int) -> None:
    _live(fake, account_id, "live")
    assert fake.call_detail(account_id, "live", "json", 0).found
    assert erase_call(fake, account_id, "live", NOW) == 1
    assert not fake.call_detail(account_id, "live", "json", 0).found
    with pytest.raises(ErasureNotFound):
        erase_call(fake, account_id, "live", NOW)


def test_an_erased_call_takes_an_erased_place_in_the_change_sequence(
    fake: MemoryStore, account_id: int
) -> None:
    _calls(fake, account_id, call("a"), call("b"))
    erase_call(fake, account_id, "a", NOW)
    changes = fake.changes(account_id, 0, 10, 0)
    assert [(c.change, c.session_id, c.call) for c in changes][-1] == ("erased", "a", None)
    assert [c.session_id for c in changes].count("a") == 1


# ---------------------------------------------------------------- erasing a number


def test_erase_number_erases_every_call_to_or_from_it(fake: MemoryStore, account_id: int) -> None:
    _calls(
        fake,
        account_id,
        call("from", src=NUMBER, dest=OTHER),
        call("to", src=OTHER, dest=NUMBER),
        call("neither", src=OTHER, dest=OTHER),
        call("prefix", src=NUMBER + "9", dest=OTHER),
    )
    _live(fake, account_id, "live", src=NUMBER)
    assert erase_number(fake, account_id, NUMBER, None, NOW + 1) == 3
    assert set(listed(fake, account_id)) == {"neither", "prefix"}
    assert not fake.call_detail(account_id, "live", "json", 0).found
    [(owner, at, count, digest)] = _audit(fake)
    assert (owner, at, count) == (account_id, NOW + 1, 3)
    assert digest == selector_hash(fake.audit_key(), Erasure(number=NUMBER))
    assert NUMBER not in repr(_audit(fake))


def test_erase_number_before_keeps_calls_started_at_or_after_it(
    fake: MemoryStore, account_id: int
) -> None:
    _calls(
        fake,
        account_id,
        call("old", start=NOW - 2 * DAY, src=NUMBER),
        call("edge", start=NOW - DAY, src=NUMBER),
        call("new", start=NOW - 60, src=NUMBER),
    )
    assert erase_number(fake, account_id, NUMBER, NOW - DAY, NOW) == 1
    assert set(listed(fake, account_id)) == {"edge", "new"}
    digest = selector_hash(fake.audit_key(), Erasure(number=NUMBER, before=NOW - DAY))
    assert _audit(fake)[0][3] == digest


def test_erase_number_with_no_call_is_0_and_audits_nothing(
    fake: MemoryStore, account_id: int
) -> None:
    _calls(fake, account_id, call("a", src=OTHER, dest=OTHER))
    assert erase_number(fake, account_id, NUMBER, None, NOW) == 0
    assert _audit(fake) == []
    assert set(listed(fake, account_id)) == {"a"}


@pytest.mark.parametrize("bad", ["", "x" * 65, "61\x0055"])
def test_erase_number_refuses_a_bad_number(fake: MemoryStore, account_id: int, bad: str) -> None:
    with pytest.raises(BadRequest, match=r"^Invalid number: must be a non-empty string"):
        erase_number(fake, account_id, bad, None, NOW)


def test_the_audit_key_is_made_once_and_kept(fake: MemoryStore) -> None:
    key = fake.audit_key()
    assert len(key) >= 16
    assert fake.audit_key() == key


# ---------------------------------------------------------------- the POST body


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"number": NUMBER}, Erasure(number=NUMBER)),
        ({"number": NUMBER, "before": None}, Erasure(number=NUMBER)),
        ({"number": NUMBER, "before": 1_700_000_000}, Erasure(number=NUMBER, before=1_700_000_000)),
        ({"number": NUMBER, "before": "1700000000"}, Erasure(number=NUMBER, before=1_700_000_000)),
        (
            {"before": "2023-11-14T22:13:20Z", "number": NUMBER},
            Erasure(number=NUMBER, before=1_700_000_000),
        ),
        (
            {"number": NUMBER, "before": "2023-11-14T23:13:20+01:00"},
            Erasure(number=NUMBER, before=1_700_000_000),
        ),
        ({"number": NUMBER, "before": "-30d"}, Erasure(number=NUMBER, before=NOW - 30 * DAY)),
        ({"number": "x" * 64}, Erasure(number="x" * 64)),
    ],
)
def test_parse_erasure_reads_number_and_before(doc: Any, expected: Erasure) -> None:
    assert parse_erasure(doc, NOW) == expected


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([NUMBER], "The body must be a JSON object"),
        (NUMBER, "The body must be a JSON object"),
        (None, "The body must be a JSON object"),
        ({}, "Missing number: must be a non-empty string of at most 64 characters"),
        ({"before": 5}, "Missing number"),
        ({"number": ""}, "Invalid number: must be a non-empty string of at most 64 characters"),
        ({"number": "1" * 65}, "Invalid number"),
        ({"number": 6175550123}, "Invalid number"),
        ({"number": None}, "Invalid number"),
        ({"number": "1\x002"}, "Invalid number"),
        ({"number": NUMBER, "src": NUMBER}, "Unknown field 'src' in the body: the fields are"),
        ({"number": NUMBER, "before": "yesterday"}, "Invalid before 'yesterday': must be UNIX"),
        ({"number": NUMBER, "before": -5}, "Invalid before '-5'"),
        ({"number": NUMBER, "before": 10**13}, "Invalid before"),
        ({"number": NUMBER, "before": 1.5}, "Invalid before: must be UNIX seconds"),
        ({"number": NUMBER, "before": True}, "Invalid before: must be UNIX seconds"),
        ({"number": NUMBER, "before": "2023-11-14T22:13:20"}, "ISO 8601 with an offset"),
    ],
)
def test_parse_erasure_refuses_a_bad_body_naming_the_field(doc: Any, message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_erasure(doc, NOW)
    assert raised.value.status == 400
    assert raised.value.message.startswith(message) or message in raised.value.message
    if isinstance(doc, dict) and isinstance(doc.get("number"), str) and len(doc["number"]) > 3:
        assert doc["number"] not in raised.value.message  # an error never quotes the number
