"""Shared test material: a mock HTTP transport, vendor error-body renderers and golden bodies.

Golden bodies are copied from the vendors' own documents in the sibling ``shared/`` folder
(``shared/seeds/00N_*.txt`` and ``shared/vendors/*.md``); each names its source.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter as TransportAdapter
from requests.structures import CaseInsensitiveDict

from providers import ADAPTERS, ApiCredential, BaseAdapter, Category

SHARED_DIR = Path(__file__).resolve().parents[2] / ".." / "shared"
KINDS = tuple(ADAPTERS)
# One fake key for every vendor; long enough for parsing.scrub() to act on.
API_KEY = "sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
OPTIONS = {"8x8": {"account_id": "0f0e0d0c-0b0a-0908-0706-050403020100", "subaccount_id": "acme_hq"}}


def seed_text(number: int) -> str:
    (path,) = (SHARED_DIR / "seeds").glob(f"{number:03d}_*.txt")
    return path.read_text(encoding="utf-8")


def vendor_text(name: str) -> str:
    return (SHARED_DIR / "vendors" / f"{name}.md").read_text(encoding="utf-8")


# -- a transport that answers from a queue and records what was sent -----------------


class MockTransport(TransportAdapter):
    """Mounted on a requests.Session: replays queued answers, or raises queued exceptions."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []
        self._replies: list[Any] = []

    def reply(self, status: int, body: bytes | str | Any = b"", headers: dict[str, str] | None = None) -> MockTransport:
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        self._replies.append((status, body, headers or {}))
        return self

    def fail(self, exc: Exception) -> MockTransport:
        self._replies.append(exc)
        return self

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        reply = self._replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        status, body, headers = reply
        response = requests.Response()
        response.status_code = status
        response.raw = io.BytesIO(body)
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass

    @property
    def last(self) -> requests.PreparedRequest:
        return self.sent[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.body)


def make_adapter(kind: str, *, base_url: str = "", **options: Any) -> tuple[BaseAdapter, MockTransport]:
    """An adapter of ``kind`` whose HTTP calls go to a fresh MockTransport."""
    transport = MockTransport()
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    options = {**OPTIONS.get(kind, {}), **options}
    adapter = ADAPTERS[kind](base_url, ApiCredential(API_KEY), options=options, session=session)
    return adapter, transport


# -- one error body per vendor envelope, modelled on each seed ------------------------

# Statuses a vendor reports per recipient inside a 2xx send answer, not as an error body.
PER_RECIPIENT_STATUSES = {"23telecom": {"blocked_country", "queue_error", "config_error"}, "8x8": {"REJECTED"}}


def _telecom23(code: str, status: int) -> bytes:
    if code.startswith("http_"):
        return b""  # per-IP 429s come with no body at all (23telecom.md §7)
    return json.dumps({"status": False, "error_code": code, "description": f"Human-readable text for {code}"}).encode()


def _telephonyio(code: str, status: int) -> bytes:
    if code.startswith("http_"):
        return json.dumps({"error": f"HTTP {status} happened"}).encode()  # documented statuses without a code
    return json.dumps({"error": f"Human-readable text for {code}", "code": code}).encode()


def _eightxeight(code: str, status: int) -> bytes:
    return json.dumps(
        {
            "code": int(code),
            "message": f"Human-readable text for {code}",
            "errorId": "1cc1eda1-f5dd-ea11-8288-0263195dd35a",
            "timestamp": "2020-12-22T05:52:01.85Z",
        }
    ).encode()


def _telnxo(code: str, status: int) -> bytes:
    return json.dumps({"success": False, "error": code, "message": f"Text for {code}", "code": status}).encode()


def _textingblue(code: str, status: int) -> bytes:
    return json.dumps({"error": {"code": code, "message": f"Human-readable text for {code}"}}).encode()


RENDERERS = {
    "23telecom": _telecom23,
    "telephonyio": _telephonyio,
    "8x8": _eightxeight,
    "telnxo": _telnxo,
    "textingblue": _textingblue,
}


def render_error_body(kind: str, code: str, status: int) -> bytes:
    return RENDERERS[kind](code, status)


# -- golden bodies printed in the vendors' documents -----------------------------------


@dataclass(frozen=True)
class Golden:
    name: str
    kind: str
    status: int
    body: str
    expected: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


GOLDEN = [
    # seed 000: the shared 23 Telecom error shape
    Golden(
        "23telecom-unauthorized",
        "23telecom",
        401,
        '{"status": false, "error_code": "UNAUTHORIZED", "description": "Human-readable message"}',
        {
            "provider_code": "UNAUTHORIZED",
            "category": Category.AUTH,
            "message": "Human-readable message",
            "known": True,
        },
    ),
    # vendors/23telecom.md §6: the 402 field list (values are ours, the field names theirs)
    Golden(
        "23telecom-insufficient-balance",
        "23telecom",
        402,
        '{"status": false, "error_code": "INSUFFICIENT_BALANCE", "description": "Insufficient balance",'
        ' "balance": 0.42, "estimated_cost": 1.25, "currency": "EUR", "total_recipients": 3,'
        ' "billable_recipients": 3, "segments": 1}',
        {
            "provider_code": "INSUFFICIENT_BALANCE",
            "category": Category.BALANCE,
            "retryable": False,
            "message": "Insufficient balance",
            "details": {
                "balance": "0.42",
                "estimated_cost": "1.25",
                "currency": "EUR",
                "total_recipients": 3,
                "billable_recipients": 3,
                "segments": 1,
            },
        },
    ),
    # vendors/23telecom.md §7: per-IP limiter answers 429 with no JSON body
    Golden(
        "23telecom-bare-429",
        "23telecom",
        429,
        "",
        {"provider_code": "http_429", "category": Category.RATE_LIMIT, "retryable": True, "known": True},
    ),
    # vendors/23telecom.md §7: the edge proxy answers 429 with an HTML page
    Golden(
        "23telecom-edge-429",
        "23telecom",
        429,
        "<html><head><title>429 Too Many Requests</title></head><body>Too Many Requests</body></html>",
        {
            "provider_code": "http_429",
            "category": Category.RATE_LIMIT,
            "retryable": True,
            "details": {"body_format": "html"},
        },
    ),
    # vendors/23telecom.md §1: sandbox simulator outage
    Golden(
        "23telecom-sandbox-unavailable",
        "23telecom",
        503,
        '{"status": false, "error_code": "SANDBOX_UNAVAILABLE", "description": "Sandbox unavailable", "sandbox": true}',
        {"provider_code": "SANDBOX_UNAVAILABLE", "category": Category.UNAVAILABLE, "retryable": True},
    ),
    # seed 001: error response format
    Golden(
        "telephonyio-invalid-parameter",
        "telephonyio",
        400,
        '{"error": "Invalid phone number format", "code": "invalid_parameter"}',
        {
            "provider_code": "invalid_parameter",
            "category": Category.VALIDATION,
            "message": "Invalid phone number format",
            "details": {},
        },
    ),
    # seed 001: 402 example response
    Golden(
        "telephonyio-insufficient-balance",
        "telephonyio",
        402,
        '{"error": "Insufficient credits to complete this request", "code": "insufficient_balance",'
        ' "required_credits": 1.50, "current_balance": 0.25}',
        {
            "provider_code": "insufficient_balance",
            "category": Category.BALANCE,
            "message": "Insufficient credits to complete this request",
            "details": {"required_credits": "1.5", "current_balance": "0.25"},
        },
    ),
    # vendors/telephonyio.md §8: the authentication page's nested shape (message text is ours)
    Golden(
        "telephonyio-nested-unauthorized",
        "telephonyio",
        401,
        '{"error": {"code": "unauthorized", "message": "Invalid API key"}}',
        {"provider_code": "unauthorized", "category": Category.AUTH, "message": "Invalid API key", "known": True},
    ),
    # seed 001: 429 is documented only with its Retry-After header
    Golden(
        "telephonyio-429",
        "telephonyio",
        429,
        "",
        {"provider_code": "http_429", "category": Category.RATE_LIMIT, "retryable": True, "retry_after": 30.0},
        headers={"Retry-After": "30"},
    ),
    # seed 002: example error JSON object
    Golden(
        "8x8-not-found",
        "8x8",
        404,
        '{"code": 1300, "message": "Object wasn\'t found or is already expired",'
        ' "errorId": "1cc1eda1-f5dd-ea11-8288-0263195dd35a", "timestamp": "2020-12-22T05:52:01.85Z"}',
        {
            "provider_code": "1300",
            "category": Category.NOT_FOUND,
            "message": "Object wasn't found or is already expired",
            "request_id": "1cc1eda1-f5dd-ea11-8288-0263195dd35a",
            "details": {"timestamp": "2020-12-22T05:52:01.85Z"},
        },
    ),
    # vendors/8x8.md §5: rate-limited balance call (errorId/timestamp elided there; ours)
    Golden(
        "8x8-429",
        "8x8",
        429,
        '{"code": 429, "message": "Quota exceeded. Please try again in 1 second(s).",'
        ' "errorId": "2dd2fea2-06ee-fb22-9399-1374206ee46b", "timestamp": "2021-01-05T10:00:00.00Z"}',
        {
            "provider_code": "429",
            "category": Category.RATE_LIMIT,
            "retryable": True,
            "retry_after": 1.0,
            "request_id": "2dd2fea2-06ee-fb22-9399-1374206ee46b",
        },
        headers={"Retry-After": "1"},
    ),
    # vendors/8x8.md §5: balance on a post-paid account
    Golden(
        "8x8-postpaid-balance",
        "8x8",
        403,
        '{"code": 1201, "message": "Account not in prepaid mode", "errorId": "3ee3afb3-17ff-0c33-a4aa-2485317ff57c",'
        ' "timestamp": "2021-01-05T10:00:00.00Z"}',
        {"provider_code": "1201", "category": Category.PERMISSION, "message": "Account not in prepaid mode"},
    ),
    # seed 003 envelope (success/error/message/code/field) + its X-Request-ID example
    Golden(
        "telnxo-missing-field",
        "telnxo",
        422,
        '{"success": false, "error": "missing_required_field", "message": "The to field is required",'
        ' "code": 422, "field": "to"}',
        {
            "provider_code": "missing_required_field",
            "category": Category.VALIDATION,
            "message": "The to field is required",
            "param": "to",
            "request_id": "req_8f3a2b1c9d4e7f0a",
        },
        headers={"X-Request-ID": "req_8f3a2b1c9d4e7f0a"},
    ),
    # seed 003: gateway_timeout, "may or may not have been queued"
    Golden(
        "telnxo-gateway-timeout",
        "telnxo",
        504,
        '{"success": false, "error": "gateway_timeout", "message": "Upstream did not respond in time", "code": 504}',
        {"provider_code": "gateway_timeout", "category": Category.TIMEOUT, "retryable": False, "ambiguous": True},
    ),
    # seed 003 / vendors/telnxo.md §5: 429 with Retry-After
    Golden(
        "telnxo-rate-limit",
        "telnxo",
        429,
        '{"success": false, "error": "rate_limit_exceeded", "message": "Too many requests", "code": 429}',
        {"provider_code": "rate_limit_exceeded", "category": Category.RATE_LIMIT, "retry_after": 12.0},
        headers={"Retry-After": "12", "X-RateLimit-Remaining": "0"},
    ),
    # seed 004: error response format / invalid phone number
    Golden(
        "textingblue-invalid-to",
        "textingblue",
        400,
        '{"error": {"code": "invalid_request", "message": "The \'to\' field must be a valid E.164 phone number",'
        ' "param": "to"}}',
        {
            "provider_code": "invalid_request",
            "category": Category.VALIDATION,
            "message": "The 'to' field must be a valid E.164 phone number",
            "param": "to",
        },
    ),
    # seed 004: from number not registered
    Golden(
        "textingblue-from-not-registered",
        "textingblue",
        400,
        '{"error": {"code": "invalid_request",'
        ' "message": "The \\"from\\" number is not registered or verified for this team", "param": "from"}}',
        {
            "provider_code": "invalid_request",
            "message": 'The "from" number is not registered or verified for this team',
            "param": "from",
        },
    ),
    # seed 004: from number paused
    Golden(
        "textingblue-from-paused",
        "textingblue",
        400,
        '{"error": {"code": "invalid_request", "message": "The \\"from\\" number is currently paused",'
        ' "param": "from"}}',
        {"provider_code": "invalid_request", "message": 'The "from" number is currently paused', "param": "from"},
    ),
    # seed 004: plan limit exceeded
    Golden(
        "textingblue-plan-limit",
        "textingblue",
        402,
        '{"error": {"code": "plan_limit_exceeded", "message": "Monthly message limit reached (1000/1000).'
        ' Upgrade your plan.", "limit": 1000, "current": 1000, "upgrade_url": "https://app.texting.blue/billing"}}',
        {
            "provider_code": "plan_limit_exceeded",
            "category": Category.QUOTA,
            "message": "Monthly message limit reached (1000/1000). Upgrade your plan.",
            "param": None,
            "details": {"limit": 1000, "current": 1000, "upgrade_url": "https://app.texting.blue/billing"},
        },
    ),
    # seed 004: rate limited (no Retry-After header: the wait comes from the text)
    Golden(
        "textingblue-rate-limited",
        "textingblue",
        429,
        '{"error": {"code": "rate_limited", "message": "Rate limit exceeded. Retry after 15 seconds."}}',
        {"provider_code": "rate_limited", "category": Category.RATE_LIMIT, "retryable": True, "retry_after": 15.0},
    ),
]
