"""Whatever arrives as the request body, the endpoint answers 200, 400, 404 or 409: never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from messaging.models import Channel, ErrorEvent, Provider, Send
from messaging.traffic.ingest import IngestResponse
from tests.api import bodies

pytestmark = pytest.mark.django_db

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=30,
)

vendor_bodies = (
    st.sampled_from(
        [
            bodies.T23_INSUFFICIENT_BALANCE,
            bodies.T23_SEND_OK,
            bodies.T23_EDGE_HTML,
            bodies.TB_RATE_LIMITED,
            bodies.E8_INVALID_MSISDN,
            bodies.TNX_MISSING_FIELD,
            "",
        ]
    )
    | st.text(max_size=200)
    | json_values.map(json.dumps)
)

times = st.sampled_from(
    ["2026-11-22T10:00:00Z", "2026-11-22T10:00:00", "2999-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "soon"]
) | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())

valid_fields = {
    "headers": st.dictionaries(st.sampled_from(["Retry-After", "X-Request-ID", "x-request-id", "Date"]), st.text()),
    "recipient": st.text(max_size=30).filter(lambda t: "\x00" not in t),
    "occurred_at": st.sampled_from(["2026-01-02T10:00:00Z", "2026-01-02T10:00:00+05:30"]),
    "message_id": st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t),
    "channel": st.sampled_from(Channel.values),
    "idempotency_key": st.sampled_from(["a", "b", "c", "d"]),
}
junk_fields = {
    "http_status": st.integers(min_value=0, max_value=700) | json_values,
    "body": json_values,
    "headers": json_values,
    "recipient": st.text(max_size=30) | json_values,
    "occurred_at": times | json_values,
    "message_id": st.text(max_size=300) | json_values,
    "channel": st.just("fax") | json_values,
    "idempotency_key": st.text(max_size=200) | json_values,
    "unexpected": json_values,
}


@st.composite
def events(draw):
    """Mostly valid events; now and then one field is junk."""
    event = {
        "http_status": draw(st.sampled_from([200, 201, 202, 204, 302, 400, 401, 402, 404, 422, 429, 500, 502, 504])),
        "body": draw(vendor_bodies),
    }
    for name in draw(st.sets(st.sampled_from(sorted(valid_fields)))):
        event[name] = draw(valid_fields[name])
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        name = draw(st.sampled_from(sorted(junk_fields)))
        event[name] = draw(junk_fields[name])
    return event


plausible_payloads = st.fixed_dictionaries(
    {
        "provider": st.sampled_from(["t23", "tblue", "e8", "tnx", "tio", "off", "nobody"]),
        "events": st.lists(events(), min_size=1, max_size=6),
    }
)
payloads = st.one_of(
    plausible_payloads,
    plausible_payloads,
    plausible_payloads,
    st.fixed_dictionaries({"provider": json_values, "events": st.lists(events(), max_size=3) | json_values}),
)


@pytest.fixture
def off(vendors):
    Provider.objects.create(name="Disabled", slug="off", kind="23telecom", enabled=False)


def _check(response) -> None:
    assert response.status_code in (200, 400, 404, 409), response.content[:500]
    event(f"HTTP {response.status_code}")  # shown by --hypothesis-show-statistics
    document = json.loads(response.content)
    if response.status_code == 200:
        IngestResponse.model_validate(document)
        assert document["recorded"] + document["duplicates"] == document["received"]
    else:
        assert set(document) == {"errors"} and document["errors"]
        assert all(set(problem) == {"path", "message"} for problem in document["errors"])


@SETTINGS
@given(value=json_values)
def test_any_json_value_is_answered_without_a_500(post, off, value):
    _check(post(value))


@SETTINGS
@given(payload=payloads)
def test_any_near_valid_payload_is_answered_without_a_500(post, off, payload):
    before = (Send.objects.count(), ErrorEvent.objects.count())
    response = post(payload)
    _check(response)
    if response.status_code != 200:
        assert (Send.objects.count(), ErrorEvent.objects.count()) == before  # nothing written


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_any_bytes_are_answered_without_a_500(post, off, raw):
    _check(post(raw=raw))
