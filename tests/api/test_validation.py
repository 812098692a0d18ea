"""A bad payload gets 400 with every problem's path, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from messaging.traffic import ingest
from tests.api import bodies
from tests.api.conftest import counts

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
GOOD = {"http_status": 402, "body": bodies.T23_INSUFFICIENT_BALANCE}


@pytest.fixture(autouse=True)
def _fixed_now(monkeypatch):
    monkeypatch.setattr(ingest.timezone, "now", lambda: NOW)


def _event(**fields):
    event = {**GOOD, **fields}
    return {k: v for k, v in event.items() if v is not ...}


def _payload(*events, provider="t23"):
    return {"provider": provider, "events": list(events)}


def _problems(response) -> list[dict]:
    assert response.status_code == 400, response.content
    document = response.json()
    assert set(document) == {"errors"}
    for problem in document["errors"]:
        assert set(problem) == {"path", "message"} and problem["message"]
    return document["errors"]


def _paths(response) -> list[str]:
    return [problem["path"] for problem in _problems(response)]


CASES = [
    # (id, payload, expected paths)
    ("status as string at index 3", _payload(GOOD, GOOD, GOOD, _event(http_status="402")), ["events[3].http_status"]),
    ("status as bool", _payload(_event(http_status=True)), ["events[0].http_status"]),
    ("status as float", _payload(_event(http_status=402.0)), ["events[0].http_status"]),
    ("status below range", _payload(_event(http_status=99)), ["events[0].http_status"]),
    ("status above range", _payload(_event(http_status=600)), ["events[0].http_status"]),
    ("missing status and body", _payload({"recipient": "+447700900001"}), ["events[0].http_status", "events[0].body"]),
    ("body is an object", _payload(_event(body={"status": False})), ["events[0].body"]),
    ("body is null", _payload(_event(body=None)), ["events[0].body"]),
    ("naive occurred_at", _payload(_event(occurred_at="2026-11-22T10:00:00")), ["events[0].occurred_at"]),
    ("occurred_at as epoch number", _payload(_event(occurred_at=1795000000)), ["events[0].occurred_at"]),
    ("occurred_at not a date", _payload(_event(occurred_at="yesterday")), ["events[0].occurred_at"]),
    (
        "occurred_at 10 minutes ahead",
        _payload(_event(occurred_at=(NOW + timedelta(minutes=10)).isoformat())),
        ["events[0].occurred_at"],
    ),
    (
        "occurred_at year 1 at +14:00",
        _payload(_event(occurred_at="0001-01-01T00:00:00+14:00")),
        ["events[0].occurred_at"],
    ),
    ("occurred_at before 2000", _payload(_event(occurred_at="1999-12-31T23:59:59Z")), ["events[0].occurred_at"]),
    ("unknown event field", _payload(_event(status_code=402)), ["events[0].status_code"]),
    ("unknown top-level field", {**_payload(GOOD), "token": "x"}, ["token"]),
    ("headers as a list", _payload(_event(headers=[["Retry-After", "15"]])), ["events[0].headers"]),
    ("header value a number", _payload(_event(headers={"Retry-After": 15})), ['events[0].headers["Retry-After"]']),
    ("header value null", _payload(_event(headers={"X": None})), ["events[0].headers.X"]),
    ("channel unknown", _payload(_event(channel="pigeon")), ["events[0].channel"]),
    ("recipient a number", _payload(_event(recipient=447700900001)), ["events[0].recipient"]),
    ("recipient with NUL", _payload(_event(recipient="+44\u0000")), ["events[0].recipient"]),
    ("idempotency key empty", _payload(_event(idempotency_key="")), ["events[0].idempotency_key"]),
    ("idempotency key too long", _payload(_event(idempotency_key="k" * 129)), ["events[0].idempotency_key"]),
    ("message id too long", _payload(_event(message_id="m" * 129)), ["events[0].message_id"]),
    ("event not an object", _payload("402"), ["events[0]"]),
    ("no events", _payload(), ["events"]),
    ("events not a list", {"provider": "t23", "events": GOOD}, ["events"]),
    ("too many events", _payload(*[GOOD] * 1001), ["events"]),
    ("provider missing", {"events": [GOOD]}, ["provider"]),
    ("provider not a string", _payload(GOOD, provider=7), ["provider"]),
    ("provider not a slug", _payload(GOOD, provider="t23; drop"), ["provider"]),
    ("body over 64 KiB", _payload(_event(body="x" * (64 * 1024 + 1))), ["events[0].body"]),
    # 22,000 euro signs are 22,000 characters but 66,000 bytes.
    ("multibyte body over 64 KiB", _payload(_event(body="€" * 22_000)), ["events[0].body"]),
    ("root is a list", [GOOD], [""]),
    ("root is null", None, [""]),
]


@pytest.mark.parametrize(("payload", "paths"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_payloads_are_400_with_paths_and_write_nothing(post, vendors, payload, paths):
    assert _paths(post(payload)) == paths
    assert counts() == (0, 0)


def test_every_problem_is_listed_and_valid_events_beside_them_are_not_written(post, vendors):
    payload = _payload(
        GOOD,
        _event(http_status=True, channel="fax"),
        GOOD,
        _event(body=..., occurred_at="2026-11-22T10:00:00", surprise=1),
    )
    problems = _problems(post(payload))
    assert [p["path"] for p in problems] == [
        "events[1].http_status",
        "events[1].channel",
        "events[3].body",
        "events[3].occurred_at",
        "events[3].surprise",
    ]
    messages = {p["path"]: p["message"] for p in problems}
    assert messages["events[3].body"] == "This field is required."
    assert messages["events[3].surprise"] == "Unknown field."
    assert "timezone" in messages["events[3].occurred_at"]
    assert "integer" in messages["events[1].http_status"]
    assert counts() == (0, 0)


def test_limits_are_inclusive(post, vendors):
    edge = _event(
        body="€" * (64 * 1024 // 3) + "x",  # 65,536 bytes exactly
        occurred_at=(NOW + timedelta(minutes=4)).isoformat(),
        idempotency_key="k" * 128,
    )
    assert len(edge["body"].encode()) == 64 * 1024
    response = post(_payload(edge, *[_event(http_status=200, body="")] * 999))
    assert response.status_code == 200, response.content[:500]
    assert counts() == (1000, 1)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b'{"provider": "t23", "events": [', b"\xff\xfe{}", b'{"provider": "t23"} trailing'],
)
def test_a_body_that_is_not_json_is_400(post, vendors, raw):
    problems = _problems(post(raw=raw))
    assert [p["path"] for p in problems] == [""]
    assert problems[0]["message"].startswith("The request body is not valid JSON")
    assert counts() == (0, 0)


def test_a_shape_error_wins_over_an_unknown_provider(post, vendors):
    # 400 for the body's shape first; only a valid body gets its slug looked up (404).
    assert _paths(post(_payload(_event(http_status="x"), provider="nobody"))) == ["events[0].http_status"]


def test_a_flood_of_unknown_fields_is_capped(post, vendors):
    event = {**GOOD, **{f"f{n}": n for n in range(ingest.MAX_PROBLEMS + 50)}}
    problems = _problems(post(_payload(event)))
    assert len(problems) == ingest.MAX_PROBLEMS + 1
    assert problems[-1] == {"path": "", "message": "... and 50 more problems"}
