"""Property tests: no body, status or header set makes the parsers raise or break the invariants."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import providers
from providers import ADAPTERS, Category, NormalizedError, OutgoingMessage
from providers.parsing import RAW_BODY_LIMIT
from providers.types import ErrorFields
from tests.providers.fixtures import make_adapter

FAST = settings(max_examples=200, deadline=None, database=None)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=10,
)
statuses = st.none() | st.integers(min_value=100, max_value=599) | st.integers()
header_maps = st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=5) | st.fixed_dictionaries(
    {"Retry-After": st.text(max_size=40) | st.integers().map(str), "X-Request-ID": st.text(max_size=40)}
)


def _codes(kind: str, *, known_only: bool = False) -> st.SearchStrategy:
    catalogued = st.sampled_from(sorted(ADAPTERS[kind].errors))
    return catalogued if known_only else catalogued | json_values


def _eight_by_eight_code(code: str) -> st.SearchStrategy:
    """8x8 codes arrive as int, str or float; the same code in each JSON type."""
    if code.isdigit():
        return st.sampled_from([code, int(code), float(code)])
    return st.just(code)


def envelope(kind: str, *, known_only: bool = False) -> st.SearchStrategy:
    """A dict in the vendor's error envelope; with known_only, always carrying a catalogued code."""
    code = _codes(kind, known_only=known_only)
    extra = {name: json_values for name in ("balance", "estimated_cost", "currency", "segments", "limit", "current")}
    if kind == "23telecom":
        return st.fixed_dictionaries(
            {"status": st.just(False), "error_code": code},
            optional={"description": json_values, "error": json_values, **extra},
        )
    if kind == "telephonyio":
        flat = st.fixed_dictionaries(
            {"error": json_values.filter(lambda v: v is not None and not isinstance(v, dict)), "code": code},
            optional={"required_credits": json_values, "current_balance": json_values},
        )
        nested = st.fixed_dictionaries(
            {"error": st.fixed_dictionaries({"code": code}, optional={"message": json_values})}
        )
        return flat | nested
    if kind == "8x8":
        code = code.flatmap(lambda c: _eight_by_eight_code(c) if isinstance(c, str) else st.just(c))
        return st.fixed_dictionaries(
            {"code": code}, optional={"message": json_values, "errorId": json_values, "timestamp": json_values}
        )
    if kind == "telnxo":
        return st.fixed_dictionaries(
            {"error": code},
            optional={"success": st.just(False), "message": json_values, "code": json_values, "field": json_values},
        )
    return st.fixed_dictionaries(
        {
            "error": st.fixed_dictionaries(
                {"code": code}, optional={"message": json_values, "param": json_values, **extra}
            )
        }
    )


def _assert_invariants(error: NormalizedError, kind: str) -> None:
    assert isinstance(error, NormalizedError)
    assert error.kind == kind
    assert isinstance(error.provider_code, str) and error.provider_code
    assert isinstance(error.category, Category)
    assert isinstance(error.message, str)
    assert len(error.raw_body) <= RAW_BODY_LIMIT
    if error.ambiguous:
        assert not error.retryable
    json.dumps(error.as_dict(), default=str)  # storable


@pytest.mark.parametrize("kind", ADAPTERS)
@FAST
@given(body=st.none() | st.binary(max_size=300) | st.text(max_size=300), status=statuses, headers=header_maps)
def test_parse_error_never_raises_for_arbitrary_bodies(kind, body, status, headers):
    _assert_invariants(providers.parse_error(kind, status, body, headers), kind)


@pytest.mark.parametrize("kind", ADAPTERS)
@FAST
@given(data=st.data(), status=statuses, headers=header_maps, as_bytes=st.booleans())
def test_parse_error_never_raises_for_vendor_shaped_json(kind, data, status, headers, as_bytes):
    body = json.dumps(data.draw(envelope(kind) | json_values))
    _assert_invariants(providers.parse_error(kind, status, body.encode() if as_bytes else body, headers), kind)


@pytest.mark.parametrize("kind", ADAPTERS)
@FAST
@given(data=st.data(), status=st.integers(min_value=400, max_value=599))
def test_catalogued_code_in_the_vendor_envelope_is_always_recognised(kind, data, status):
    body = data.draw(envelope(kind, known_only=True))
    error = providers.parse_error(kind, status, json.dumps(body), {})
    _assert_invariants(error, kind)
    assert error.known is True
    assert error.category is ADAPTERS[kind].errors[error.provider_code].category


@pytest.mark.parametrize("kind", ADAPTERS)
@FAST
@given(value=json_values)
def test_extract_error_never_raises_and_returns_fields_or_none(kind, value):
    fields = ADAPTERS[kind].extract_error(value)
    assert fields is None or isinstance(fields, ErrorFields)
    if fields is not None:
        assert fields.code is None or (isinstance(fields.code, str) and fields.code)


@pytest.mark.parametrize("kind", ADAPTERS)
@settings(max_examples=100, deadline=None, database=None)
@given(data=st.data(), status=st.sampled_from([200, 201, 202]))
def test_any_2xx_answer_gives_results_or_an_error_never_an_exception(kind, data, status):
    payload = data.draw((envelope(kind) | json_values).map(json.dumps) | st.text(max_size=50))
    adapter, transport = make_adapter(kind)
    transport.reply(status, payload).reply(status, payload)
    outcome = adapter.send(OutgoingMessage(recipients=("+447700900001",), body="Hi", sender="Acme"))
    assert (outcome.error is None) != (outcome.results == [])
    if outcome.error is not None:
        _assert_invariants(outcome.error, kind)
    balance = adapter.fetch_balance()
    if balance.error is not None:
        _assert_invariants(balance.error, kind)
