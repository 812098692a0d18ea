"""The one writer: any vendor answer becomes its error event, whatever bytes it holds.

On PostgreSQL (CI) these prove that NUL, lone surrogates, invalid UTF-8 and huge bodies are
stored, not lost: text and jsonb refuse NUL and the driver refuses lone surrogates, so an
uncleaned value raises DataError there. On SQLite they still check the cleaning itself.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import ErrorEvent, ErrorRollup, Provider, Send
from messaging.traffic import clean
from messaging.traffic.writer import record_batch, record_error
from providers import Category, NormalizedError

NASTY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "a", "é", "\u2028", "\ufffe"])),
    st.binary().map(lambda raw: raw.decode("utf-8", "surrogateescape")),  # lone surrogates from bad bytes
)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), NASTY_TEXT, st.decimals()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(NASTY_TEXT, inner, max_size=4)),
    max_leaves=12,
)


def storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def vendor_error(code: str, message: str, body: str, details: dict) -> NormalizedError:
    return NormalizedError(
        kind="23telecom",
        provider_code=code,
        category=Category.SERVER,
        http_status=500,
        retryable=True,
        message=message,
        param=code,
        request_id=message,
        details=details,
        raw_body=body,
    )


@given(value=NASTY_TEXT)
def test_clean_text_is_always_storable_and_keeps_clean_text_as_is(value):
    cleaned = clean.text(value)
    assert storable(cleaned)
    if storable(value):
        assert cleaned == value


@given(raw=st.binary())
def test_clean_text_decodes_any_bytes(raw):
    cleaned = clean.text(raw)
    assert storable(cleaned)
    try:
        assert cleaned == raw.decode("utf-8").replace("\x00", clean.REPLACEMENT)
    except UnicodeDecodeError:
        assert clean.REPLACEMENT in cleaned


def test_clean_json_value_turns_odd_values_into_plain_json():
    value = {"amount": Decimal("1.50"), "nan": float("nan"), "\x00key": ["\ud800", b"\xff"], "set": {1}}
    assert clean.json_value(value) == {
        "amount": "1.50",
        "nan": "nan",
        "\ufffdkey": ["\ufffd", "\ufffd"],
        "set": [1],
    }


@pytest.fixture
def provider(db):
    return Provider.objects.create(name="23 EU", slug="t23", kind="23telecom")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=NASTY_TEXT, message=NASTY_TEXT, body=NASTY_TEXT, details=st.dictionaries(NASTY_TEXT, JSONISH, max_size=4))
@pytest.mark.django_db
def test_any_vendor_answer_is_recorded_by_record_error(provider, code, message, body, details):
    before = ErrorEvent.objects.count()
    event = record_error(provider, vendor_error(code, message, body, details), source="balance")
    stored = ErrorEvent.objects.get(pk=event.pk)
    assert ErrorEvent.objects.count() == before + 1
    assert storable(stored.error_code) and storable(stored.message) and storable(stored.raw_body)
    assert len(stored.error_code) <= 100 and len(stored.message) <= 2000
    if storable(code):
        assert stored.error_code == code[:100]  # the vendor's code is kept exactly as sent


@pytest.mark.django_db
def test_a_megabyte_body_with_nul_is_recorded_and_capped(provider):
    body = ("x" * 1023 + "\x00") * 1024
    event = record_error(provider, vendor_error("E\x00", "bad\ud800", body, {"b": b"\x00\xff"}), source="verify")
    stored = ErrorEvent.objects.get(pk=event.pk)
    assert stored.error_code == "E\ufffd" and stored.message == "bad\ufffd"
    assert len(stored.raw_body) == clean.RAW_BODY_LIMIT and "\x00" not in stored.raw_body
    assert stored.details == {"b": "\ufffd\ufffd"}


@pytest.mark.django_db
def test_record_batch_writes_sends_errors_and_rollups_in_one_go(provider):
    from django.utils import timezone

    now = timezone.now()
    rows = [
        {
            "provider_id": provider.pk,
            "channel": "sms",
            "source": Send.Source.INGEST,
            "recipient": f"+4477009000{i:02d}",
            "status": "failed" if i == 1 else "accepted",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(3)
    ]
    rows = [{**_send_defaults(), **row} for row in rows]
    failure = vendor_error("\x00boom", "m", "b", {})
    send_ids, error_ids = record_batch(provider, rows, [(1, failure, "sms", now)], source="ingest")
    assert len(send_ids) == 3 and len(error_ids) == 1
    event = ErrorEvent.objects.get(pk=error_ids[0])
    assert event.send_id == send_ids[1] and event.error_code == "\ufffdboom"
    assert ErrorRollup.objects.filter(provider=provider, error_code="\ufffdboom").exists()


def _send_defaults() -> dict:
    """Column defaults of a Send row as COPY needs them (every column named)."""
    from messaging.traffic.bulk import model_values

    return {k: v for k, v in model_values(Send(provider_id=0)).items() if k not in ("id",)}
