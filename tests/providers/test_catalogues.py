"""Every vendor catalogue against the vendor's own error document, and every entry round-tripped."""

from __future__ import annotations

import json
import re

import pytest

from providers import ADAPTERS, Category, OutgoingMessage
from tests.providers.fixtures import (
    PER_RECIPIENT_STATUSES,
    make_adapter,
    render_error_body,
    seed_text,
    vendor_text,
)

# -- what each seed documents, read from the seed files themselves -----------------------


def _seed_23telecom() -> dict[str, int]:
    rows = re.findall(r"^\| (\d{3}) \| `([A-Z_]+)` \|", seed_text(0), re.M)
    return {code: int(status) for status, code in rows}


def _seed_telephonyio() -> dict[str, int | None]:
    codes: dict[str, int | None] = {code: None for code in re.findall(r'"code": "([a-z_]+)"', seed_text(1))}
    statuses = [int(s) for s in re.findall(r"^(\d{3}) - ", seed_text(1), re.M)]
    codes.update({f"http_{status}": status for status in statuses if status >= 400})
    return codes


def _seed_8x8() -> dict[str, int | None]:
    text = seed_text(2)
    codes: dict[str, int | None] = {code: None for code in re.findall(r"^\| (\d{4}) \| ", text, re.M)}
    for status in re.findall(r"^\| (\d{3}) \| \*\*", text, re.M):
        if int(status) >= 400:
            codes[status] = int(status)
    return codes


def _seed_telnxo() -> dict[str, int]:
    return {code: int(status) for code, status in re.findall(r"^\| ([a-z_]+) \| (\d{3}) \|", seed_text(3), re.M)}


def _seed_textingblue() -> dict[str, int]:
    # The seed's table lost its cell separators: "400invalid_requestMalformed request ..."
    return {code: int(status) for status, code in re.findall(r"^(\d{3})([a-z_]+?)(?=[A-Z])", seed_text(4), re.M)}


def test_seed_parsers_find_the_documented_counts():
    assert len(_seed_23telecom()) == 30
    assert len(_seed_telephonyio()) == 2 + 5  # two codes printed in examples + five code-less statuses
    eight = _seed_8x8()
    assert len([c for c in eight if len(c) == 4]) == 75
    assert len([c for c in eight if len(c) == 3]) == 8
    assert len(_seed_telnxo()) == 32
    assert len(_seed_textingblue()) == 8


def _documented_extras_23telecom() -> set[str]:
    text = vendor_text("23telecom")
    extras = set(re.findall(r"`503 ([A-Z_]+)`", text))  # sandbox outage
    statuses = re.search(r"`results\[\]\.status` values:(.*?)\n\n", text, re.S).group(1)
    extras |= set(re.findall(r"`([a-z_]+)`", statuses)) - {"accepted"}
    return extras | {"http_429"}  # bare / HTML 429s (§7)


def _documented_extras_telephonyio() -> set[str]:
    # The authentication page's code, quoted in the vendor notes.
    return set(re.findall(r'"code": "([a-z_]+)"', vendor_text("telephonyio"))) - set(_seed_telephonyio())


EXPECTED = {
    "23telecom": (_seed_23telecom, _documented_extras_23telecom),
    "telephonyio": (_seed_telephonyio, _documented_extras_telephonyio),
    "8x8": (_seed_8x8, lambda: {"REJECTED"}),
    "telnxo": (_seed_telnxo, set),
    "textingblue": (_seed_textingblue, set),
}


@pytest.mark.parametrize("kind", ADAPTERS)
def test_catalogue_holds_exactly_the_documented_codes(kind):
    seed, extras = EXPECTED[kind]
    documented = set(seed()) | extras()
    assert set(ADAPTERS[kind].errors) == documented


@pytest.mark.parametrize("kind", ADAPTERS)
def test_catalogue_statuses_match_the_seed_where_it_gives_one(kind):
    seed, _ = EXPECTED[kind]
    catalogue = ADAPTERS[kind].errors
    mismatched = {
        code: (status, catalogue[code].http_status)
        for code, status in seed().items()
        if status is not None and catalogue[code].http_status != status
    }
    assert mismatched == {}


def test_documented_extras_are_what_the_vendor_notes_name():
    assert _documented_extras_23telecom() == {
        "SANDBOX_UNAVAILABLE",
        "blocked_country",
        "queue_error",
        "config_error",
        "http_429",
    }
    assert _documented_extras_telephonyio() == {"unauthorized"}


# -- every entry: complete, in our own words, and parsed back from the vendor's envelope ---

ALL_ENTRIES = [(kind, entry) for kind, cls in ADAPTERS.items() for entry in cls.errors.values()]
ERROR_BODY_ENTRIES = [(k, e) for k, e in ALL_ENTRIES if e.code not in PER_RECIPIENT_STATUSES.get(k, set())]
RECIPIENT_ENTRIES = [(k, e) for k, e in ALL_ENTRIES if e.code in PER_RECIPIENT_STATUSES.get(k, set())]
SOURCES = {"23telecom": 0, "telephonyio": 1, "8x8": 2, "telnxo": 3, "textingblue": 4}


def _id(param):
    return f"{param[0]}:{param[1].code}"


@pytest.mark.parametrize("kind_entry", ALL_ENTRIES, ids=_id)
def test_entry_is_complete_and_not_copied_from_the_vendor(kind_entry):
    kind, entry = kind_entry
    assert isinstance(entry.category, Category)
    assert 100 <= entry.http_status <= 599
    assert entry.description.strip() and entry.resolution.strip()
    assert entry.description != entry.resolution
    if entry.ambiguous:
        assert not entry.retryable, "an ambiguous error must be reconciled, not retried"
    seed = " ".join(seed_text(SOURCES[kind]).lower().split())
    for sentence in (entry.description, entry.resolution):
        assert sentence.lower().rstrip(".") not in seed


@pytest.mark.parametrize("kind_entry", ERROR_BODY_ENTRIES, ids=_id)
def test_every_catalogued_code_parses_back_from_the_vendor_envelope(kind_entry):
    kind, entry = kind_entry
    body = render_error_body(kind, entry.code, entry.http_status)
    error = ADAPTERS[kind].parse_error(entry.http_status, body, {})
    assert error.provider_code == entry.code
    assert error.category is entry.category
    assert error.http_status == entry.http_status
    assert error.known is True
    assert (error.retryable, error.ambiguous) == (entry.retryable, entry.ambiguous)
    assert (error.description, error.resolution) == (entry.description, entry.resolution)


def _send_answer_with_status(kind: str, status: str) -> dict:
    if kind == "23telecom":
        return {"status": True, "results": [{"dnis": "+447700900001", "segments": 1, "status": status}]}
    return {"umid": "u-1", "destination": "+6590000001", "status": {"code": status, "description": "Reason given"}}


@pytest.mark.parametrize("kind_entry", RECIPIENT_ENTRIES, ids=_id)
def test_every_per_recipient_status_is_reported_on_the_recipient(kind_entry):
    kind, entry = kind_entry
    adapter, transport = make_adapter(kind)
    transport.reply(200, json.dumps(_send_answer_with_status(kind, entry.code)))
    outcome = adapter.send(OutgoingMessage(recipients=("+447700900001",), body="Hi", sender="Acme"))
    assert outcome.error is None
    (result,) = outcome.results
    assert result.accepted is False
    assert result.vendor_status == entry.code
    assert result.error.provider_code == entry.code
    assert result.error.category is entry.category
    assert result.error.http_status == entry.http_status == 200
    assert result.error.known is True
    assert result.error.retryable is entry.retryable
