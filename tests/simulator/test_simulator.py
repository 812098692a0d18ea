"""The vendor simulator over real HTTP: raw requests and the real adapters.

No Django, no database: the simulator runs in a thread on an ephemeral port.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
import requests

from providers import ADAPTERS, ApiCredential, Category, OutgoingMessage, get_adapter_class, transport
from providers.simulator import SimulatorState, make_app, start_in_thread

KINDS = ("23telecom", "telephonyio", "8x8", "telnxo", "textingblue")
PREFIX = {"23telecom": "/api/v1", "telephonyio": "/api", "8x8": "/api/v1", "telnxo": "/v1", "textingblue": "/v1"}
SENDER = {"23telecom": "Acme", "telephonyio": "Acme", "8x8": "Acme", "telnxo": "ACMEIN", "textingblue": "+14155550199"}
OPTIONS = {"8x8": {"account_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "subaccount_id": "acme_hq"}}
MONEY_KINDS = ("23telecom", "telephonyio", "8x8")
QUOTA_KINDS = ("telnxo", "textingblue")
MESSAGE_ID = {
    "23telecom": r"api_\d+_\d{19}_[0-9a-f]{16}",
    "telephonyio": r"sms_[0-9a-f]{16}",
    "8x8": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "telnxo": r"msg_[0-9a-f]{16}",
    "textingblue": r"msg_[0-9a-f]{12}",
}
UUID = re.compile(MESSAGE_ID["8x8"])
# What a wrong key comes back as, per vendor.
INVALID_KEY_CODE = {
    "23telecom": "INVALID_API_KEY",
    "telephonyio": "unauthorized",
    "8x8": "1200",
    "telnxo": "invalid_api_key",
    "textingblue": "unauthorized",
}
MISSING_KEY_CODE = {
    "23telecom": "UNAUTHORIZED",
    "telephonyio": "unauthorized",
    "8x8": "1200",
    "telnxo": "authentication_required",
    "textingblue": "unauthorized",
}
EXPIRED_KEY_CODE = {**INVALID_KEY_CODE, "23telecom": "API_KEY_EXPIRED", "telnxo": "api_key_expired"}
OUTAGE = {
    "23telecom": ("INTERNAL_ERROR", 500, Category.SERVER),
    "telephonyio": ("http_500", 500, Category.SERVER),
    "8x8": ("2000", 500, Category.SERVER),
    "telnxo": ("service_unavailable", 503, Category.UNAVAILABLE),
    "textingblue": ("internal_error", 500, Category.SERVER),
}
RATE_LIMIT_CODE = {
    "23telecom": "RATE_LIMIT_EXCEEDED",
    "telephonyio": "http_429",
    "8x8": "429",
    "telnxo": "rate_limit_exceeded",
    "textingblue": "rate_limited",
}
AUTH_HEADER = {
    "23telecom": ("X-API-Key", "{}"),
    "telephonyio": ("Authorization", "Bearer {}"),
    "8x8": ("Authorization", "Bearer {}"),
    "telnxo": ("Authorization", "Bearer {}"),
    "textingblue": ("x-api-key", "{}"),
}
REPO = Path(__file__).resolve().parents[2]


class Sim:
    """Helpers around one running simulator."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def vendor_url(self, kind: str, account: str) -> str:
        return f"{self.base_url}/{kind}/{account}{PREFIX[kind]}"

    def adapter(self, kind: str, account: str, key: str = "sk_test_key_0001", **kwargs: Any):
        cls = get_adapter_class(kind)
        # The simulator listens on 127.0.0.1, which a bare adapter's guarded session refuses.
        kwargs.setdefault("allow_private_hosts", ("127.0.0.1",))
        return cls(self.vendor_url(kind, account), ApiCredential(key), options=OPTIONS.get(kind, {}), **kwargs)

    def send(self, kind: str, account: str, recipients: tuple[str, ...] = ("+447700900001",), **kwargs: Any):
        idempotency_key = kwargs.pop("idempotency_key", None)
        body = kwargs.pop("body", "Your code is 1234")
        message = OutgoingMessage(
            recipients=recipients, body=body, sender=SENDER[kind], idempotency_key=idempotency_key
        )
        return self.adapter(kind, account, **kwargs).send(message)

    def balance(self, kind: str, account: str, **kwargs: Any):
        return self.adapter(kind, account, **kwargs).fetch_balance()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.base_url}/_sim/{path}", json=body, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def configure(self, kind: str, account: str, **config: Any) -> Any:
        return self.control("PATCH", f"{kind}/{account}", config)

    def fail_next(self, kind: str, account: str, code: str, count: int = 1, **extra: Any) -> Any:
        return self.control("POST", f"{kind}/{account}/fail_next", {"code": code, "count": count, **extra})

    def config(self, kind: str, account: str) -> dict[str, Any]:
        return self.control("GET", f"{kind}/{account}")["config"]

    def messages(self, kind: str, account: str) -> list[dict[str, Any]]:
        return self.control("GET", f"{kind}/{account}/messages")["messages"]

    def raw(self, kind: str, account: str, method: str, path: str, key: str | None = "sk_test_key_0001", **kw):
        headers = dict(kw.pop("headers", {}))
        if key is not None:
            name, template = AUTH_HEADER[kind]
            headers[name] = template.format(key)
        return self.http.request(method, self.vendor_url(kind, account) + path, headers=headers, timeout=5, **kw)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class ScriptedSleeps(SimulatorState):
    """A simulator whose sleeps (latency, the timeout fault) follow the test, not the wall clock.

    Every sleep is recorded. By default it passes at once and moves ``clock`` on by its length. With
    ``hold`` it lasts until the server shuts down: an answer waiting on it never comes while the test runs.
    """

    def __init__(self, clock: FakeClock | None = None, *, hold: bool = False) -> None:
        super().__init__()
        self.fake_clock = clock or FakeClock()
        self.hold = hold
        self.sleeps: list[float] = []
        self.started = threading.Semaphore(0)
        self.woken = 0

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        if not self.hold:
            self.fake_clock.now += seconds
            return True
        self.started.release()
        answered = super().sleep(3600)  # shutdown interrupts it long before
        self.woken += 1
        return answered


@pytest.fixture(scope="module")
def sim():
    server, base_url = start_in_thread()
    try:
        yield Sim(base_url)
    finally:
        server.shutdown()


@pytest.fixture
def account() -> str:
    """A fresh simulated account per test (accounts are created on first use)."""
    return f"acct-{uuid.uuid4().hex[:12]}"


def single_error(outcome):
    assert outcome.results == [], outcome.results
    assert outcome.error is not None
    return outcome.error


# ---- success paths ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_send_succeeds_with_vendor_message_ids(sim, account, kind):
    outcome = sim.send(kind, account)
    assert outcome.error is None, outcome.error
    assert outcome.http_status == (202 if kind == "textingblue" else 200)
    (result,) = outcome.results
    assert result.accepted and result.recipient == "+447700900001"
    assert re.fullmatch(MESSAGE_ID[kind], result.vendor_message_id)
    (recorded,) = sim.messages(kind, account)
    assert recorded["vendor_message_id"] == result.vendor_message_id
    assert recorded["recipient"] == "+447700900001"
    assert recorded["body"] == "Your code is 1234"


@pytest.mark.parametrize("kind", ["23telecom", "8x8"])
def test_multi_recipient_send_returns_an_id_per_recipient(sim, account, kind):
    recipients = ("+447700900001", "+447700900002", "+447700900003")
    outcome = sim.send(kind, account, recipients)
    assert outcome.error is None
    assert [r.recipient for r in outcome.results] == list(recipients)
    ids = [r.vendor_message_id for r in outcome.results]
    assert all(r.accepted for r in outcome.results)
    assert len(set(ids)) == 3 and all(re.fullmatch(MESSAGE_ID[kind], i) for i in ids)
    assert sorted(m["vendor_message_id"] for m in sim.messages(kind, account)) == sorted(ids)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("23telecom", {"amount": Decimal("100"), "currency": "EUR"}),
        ("telephonyio", {"amount": Decimal("100"), "currency": "USD"}),
        ("8x8", {"amount": Decimal("100"), "currency": "USD"}),
        ("telnxo", {"used": 0, "limit": 50_000}),
        ("textingblue", {"used": None, "limit": 10_000}),
    ],
)
def test_balance_and_usage_read(sim, account, kind, expected):
    result = sim.balance(kind, account)
    assert result.error is None, result.error
    assert result.http_status == 200
    for name, value in expected.items():
        assert getattr(result, name) == value, name
    assert not result.blocked and not result.unavailable


@pytest.mark.parametrize("kind", MONEY_KINDS)
def test_money_balance_drains_per_send_and_topup_restores(sim, account, kind):
    cost = Decimal(str(sim.config(kind, account)["cost_per_message"]))
    for _ in range(3):
        assert sim.send(kind, account).error is None
    assert sim.balance(kind, account).amount == Decimal("100") - 3 * cost
    sim.control("POST", f"{kind}/{account}/topup", {"amount": 50})
    assert sim.balance(kind, account).amount == Decimal("150") - 3 * cost


def test_cost_follows_segments_and_recipients(sim, account):
    long_text = "x" * 161  # two GSM-7 segments
    assert sim.send("23telecom", account, ("+447700900001", "+447700900002"), body=long_text).error is None
    assert sim.balance("23telecom", account).amount == Decimal("100") - 4 * Decimal("0.035")
    response = sim.raw(
        "23telecom",
        account,
        "POST",
        "/sms/send",
        json={"to": ["+447700900001"], "message": "Grüße ☃", "sender_id": "Acme"},
    )
    assert response.json()["summary"]["encoding"] == "UCS-2"


def test_telnxo_usage_counts_sends_and_topup_resets(sim, account):
    for _ in range(2):
        assert sim.send("telnxo", account).error is None
    usage = sim.balance("telnxo", account)
    assert (usage.used, usage.limit, usage.unit) == (2, 50_000, "messages")
    sim.control("POST", f"telnxo/{account}/topup", {})
    assert sim.balance("telnxo", account).used == 0


def test_textingblue_quota_counts_sends_and_topup_resets(sim, account):
    for _ in range(2):
        assert sim.send("textingblue", account).error is None
    assert sim.config("textingblue", account)["quota_used"] == 2
    sim.control("POST", f"textingblue/{account}/topup", {})
    assert sim.config("textingblue", account)["quota_used"] == 0


# ---- balance edge cases ---------------------------------------------------------------


def test_23telecom_degraded_balance_is_unavailable(sim, account):
    sim.configure("23telecom", account, degraded_balance=True)
    raw = sim.raw("23telecom", account, "GET", "/user/balance")
    assert raw.status_code == 200
    assert raw.headers["X-Sms-Gateway-Status"] == "unavailable"
    assert raw.json() == {"balance": 0, "currency": "EUR", "unavailable": True, "reason": "cache_miss_refresh_failed"}
    result = sim.balance("23telecom", account)
    assert result.error is None
    assert result.unavailable is True and result.amount is None
    assert result.details["reason"] == "cache_miss_refresh_failed"


def test_23telecom_setup_in_progress(sim, account):
    sim.configure("23telecom", account, setup_in_progress=True)
    result = sim.balance("23telecom", account)
    assert result.error is None and result.unavailable and result.details["state"] == "setup"


def test_23telecom_credit_blocked_and_insufficient_balance_breakdown(sim, account):
    sim.configure("23telecom", account, balance=0)
    result = sim.balance("23telecom", account)
    assert result.blocked is True and result.amount == 0
    assert sim.raw("23telecom", account, "GET", "/user/balance").json()["credit_blocked"] is True
    error = single_error(sim.send("23telecom", account, ("+447700900001", "+447700900002")))
    assert (error.provider_code, error.category, error.http_status) == ("INSUFFICIENT_BALANCE", Category.BALANCE, 402)
    assert error.details == {
        "balance": "0.0",
        "estimated_cost": "0.07",
        "currency": "EUR",
        "total_recipients": 2,
        "billable_recipients": 2,
        "segments": 2,
    }
    assert sim.messages("23telecom", account) == []
    sim.control("POST", f"23telecom/{account}/topup", {"amount": 10})
    assert sim.balance("23telecom", account).blocked is False
    assert sim.send("23telecom", account).error is None


def test_23telecom_send_is_atomic_when_funds_cover_only_part(sim, account):
    sim.configure("23telecom", account, balance=0.05)  # one message of 0.035, not two
    error = single_error(sim.send("23telecom", account, ("+447700900001", "+447700900002")))
    assert error.provider_code == "INSUFFICIENT_BALANCE"
    assert sim.messages("23telecom", account) == []
    assert sim.config("23telecom", account)["balance"] == 0.05


def test_telephonyio_insufficient_balance(sim, account):
    sim.configure("telephonyio", account, balance=0.01)
    raw = sim.raw("telephonyio", account, "POST", "/sms/send", json={"to": "+61400000000", "message": "hi"})
    assert raw.status_code == 402
    assert raw.json() == {
        "error": "Insufficient credits to complete this request",
        "code": "insufficient_balance",
        "required_credits": 0.05,
        "current_balance": 0.01,
    }
    error = single_error(sim.send("telephonyio", account))
    assert (error.provider_code, error.category) == ("insufficient_balance", Category.BALANCE)
    assert error.details == {"required_credits": "0.05", "current_balance": "0.01"}


def test_8x8_empty_wallet_rejects_messages(sim, account):
    sim.configure("8x8", account, balance=0.05)  # one message of 0.045
    outcome = sim.send("8x8", account, ("+6590000001", "+6590000002"))
    assert outcome.error is None
    first, second = outcome.results
    assert first.accepted and not second.accepted
    assert second.error.provider_code == "REJECTED" and second.error.message == "Insufficient balance"
    assert len(sim.messages("8x8", account)) == 1


def test_8x8_postpaid_balance_is_1201(sim, account):
    sim.configure("8x8", account, postpaid=True)
    result = sim.balance("8x8", account)
    assert (result.error.provider_code, result.error.http_status) == ("1201", 403)
    assert result.error.message == "Account not in prepaid mode"


def test_textingblue_plan_limit(sim, account):
    sim.configure("textingblue", account, quota_limit=3, quota_used=3)
    raw = sim.raw(
        "textingblue",
        account,
        "POST",
        "/messages/send",
        json={"to": "+14155550100", "from": "+14155550199", "content": "hi"},
    )
    assert raw.status_code == 402
    assert raw.json() == {
        "error": {
            "code": "plan_limit_exceeded",
            "message": "Monthly message limit reached (3/3). Upgrade your plan.",
            "limit": 3,
            "current": 3,
            "upgrade_url": "https://app.texting.blue/billing",
        }
    }
    error = single_error(sim.send("textingblue", account))
    assert (error.provider_code, error.category) == ("plan_limit_exceeded", Category.QUOTA)
    assert error.details == {"limit": 3, "current": 3, "upgrade_url": "https://app.texting.blue/billing"}


def test_telnxo_quota_exceeded(sim, account):
    sim.configure("telnxo", account, quota_limit=1)
    assert sim.send("telnxo", account).error is None
    error = single_error(sim.send("telnxo", account))
    assert (error.provider_code, error.category, error.http_status) == ("quota_exceeded", Category.QUOTA, 402)
    assert sim.balance("telnxo", account).used == 1


# ---- every catalogue code of every vendor -------------------------------------------------


def _catalogue_cases():
    for kind in KINDS:
        for code in get_adapter_class(kind).errors:
            yield pytest.param(kind, code, id=f"{kind}-{code}")


@pytest.mark.parametrize(("kind", "code"), list(_catalogue_cases()))
def test_every_catalogue_code_round_trips_through_the_adapter(sim, account, kind, code):
    entry = get_adapter_class(kind).errors[code]
    sim.fail_next(kind, account, code)
    outcome = sim.send(kind, account)
    if entry.http_status < 300:
        # A per-recipient status inside a 200 answer (23 Telecom results[], 8x8 status.code).
        assert outcome.error is None and outcome.http_status == 200
        (result,) = outcome.results
        assert not result.accepted
        assert result.vendor_status == code
        error = result.error
    else:
        error = single_error(outcome)
        assert error.http_status == entry.http_status
    assert error.provider_code == code
    assert error.category == entry.category
    assert error.known is True
    assert sim.messages(kind, account) == []  # a forced failure sends nothing
    # The queue is drained: the next request is normal again.
    assert sim.send(kind, account).results[0].accepted


@pytest.mark.parametrize("kind", KINDS)
def test_fail_next_count_and_balance_scope(sim, account, kind):
    code = OUTAGE[kind][0]
    sim.fail_next(kind, account, code, count=2)
    assert sim.balance(kind, account).error.provider_code == code
    assert single_error(sim.send(kind, account)).provider_code == code
    assert sim.send(kind, account).error is None
    sim.fail_next(kind, account, code, scope="send")
    assert sim.balance(kind, account).error is None
    assert single_error(sim.send(kind, account)).provider_code == code


def test_per_recipient_codes_wait_for_a_send(sim, account):
    sim.fail_next("23telecom", account, "queue_error")
    assert sim.balance("23telecom", account).error is None
    outcome = sim.send("23telecom", account, ("+447700900001", "+447700900002"))
    assert [r.vendor_status for r in outcome.results] == ["queue_error", "queue_error"]
    assert all(r.vendor_message_id is None and r.error.retryable for r in outcome.results)


def test_23telecom_blocked_prefixes(sim, account):
    sim.configure("23telecom", account, blocked_prefixes=["+49"])
    outcome = sim.send("23telecom", account, ("+447700900001", "+4930000000"))
    accepted, blocked = outcome.results
    assert accepted.accepted and not blocked.accepted
    assert (blocked.error.provider_code, blocked.error.category) == ("blocked_country", Category.COMPLIANCE)
    assert sim.balance("23telecom", account).amount == Decimal("100") - Decimal("0.035")
    summary = sim.raw(
        "23telecom", account, "POST", "/sms/send", json={"to": ["+4930000001"], "message": "hi", "sender_id": "Acme"}
    ).json()["summary"]
    assert (summary["accepted_count"], summary["blocked_count"], summary["total_cost"]) == (0, 1, 0.0)


# ---- rate limiting, outage, broken answers ----------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_rate_limit_returns_429_with_the_vendor_shape(sim, account, kind):
    sim.configure(kind, account, rate_limit_per_second=0.2)  # one token per 5 s: robust on a slow machine
    assert sim.send(kind, account).error is None
    outcome = sim.send(kind, account)
    error = single_error(outcome)
    assert (error.provider_code, error.category, error.http_status) == (RATE_LIMIT_CODE[kind], Category.RATE_LIMIT, 429)
    assert error.retryable is True
    if kind == "23telecom":  # only its login limiter sends Retry-After
        assert error.retry_after is None
    else:
        assert error.retry_after == 5.0
    assert len(sim.messages(kind, account)) == 1


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("telephonyio", "/account/balance"),
        ("8x8", "/accounts/x1/balance"),
        ("telnxo", "/account/usage"),
        ("textingblue", "/team"),
    ],
)
def test_rate_limit_headers(sim, account, kind, path):
    sim.configure(kind, account, rate_limit_per_second=0.2)
    assert sim.raw(kind, account, "GET", path).status_code == 200
    raw = sim.raw(kind, account, "GET", path)
    assert raw.status_code == 429
    seconds = int(raw.headers["Retry-After"])
    assert seconds == 5
    body = raw.json()
    if kind == "textingblue":
        assert body == {"error": {"code": "rate_limited", "message": "Rate limit exceeded. Retry after 5 seconds."}}
        assert raw.headers["x-ratelimit-remaining"] == "0"
    if kind == "telnxo":
        assert raw.headers["X-RateLimit-Remaining"] == "0"
        assert int(raw.headers["X-RateLimit-Limit"]) == 12
        assert int(raw.headers["X-RateLimit-Reset"]) > time.time()
        assert body["error"] == "rate_limit_exceeded" and body["code"] == 429
    if kind == "8x8":
        assert body["code"] == 429 and body["message"] == "Quota exceeded. Please try again in 5 second(s)."
    if kind == "telephonyio":
        assert "code" not in body and body["error"]


@pytest.mark.parametrize(
    ("style", "content_type", "body_format"),
    [("account", "application/json", "json"), ("ip", None, "empty"), ("edge", "text/html", "html")],
)
def test_23telecom_rate_limit_styles(sim, account, style, content_type, body_format):
    sim.configure("23telecom", account, rate_limit_per_second=0.2, rate_limit_style=style)
    sim.raw("23telecom", account, "GET", "/user/balance")
    raw = sim.raw("23telecom", account, "GET", "/user/balance")
    assert raw.status_code == 429 and "Retry-After" not in raw.headers
    if content_type is None:
        assert raw.content == b""
    else:
        assert raw.headers["Content-Type"].startswith(content_type)
    error = get_adapter_class("23telecom").parse_error(429, raw.content, raw.headers)
    assert error.category == Category.RATE_LIMIT
    assert error.provider_code == ("RATE_LIMIT_EXCEEDED" if style == "account" else "http_429")
    if style != "account":
        assert error.details["body_format"] == body_format


@pytest.mark.parametrize("kind", KINDS)
def test_outage(sim, account, kind):
    code, status, category = OUTAGE[kind]
    sim.configure(kind, account, outage=True)
    for result in (single_error(sim.send(kind, account)), sim.balance(kind, account).error):
        assert (result.provider_code, result.http_status, result.category) == (code, status, category)
    assert sim.messages(kind, account) == []
    sim.configure(kind, account, outage=False)
    assert sim.send(kind, account).error is None


@pytest.mark.parametrize("kind", KINDS)
def test_garbage_body(sim, account, kind):
    sim.fail_next(kind, account, "garbage")
    error = single_error(sim.send(kind, account))
    assert (error.provider_code, error.category, error.http_status) == (
        "invalid_response",
        Category.INVALID_RESPONSE,
        200,
    )
    assert error.details["body_format"] == "html"
    sim.fail_next(kind, account, "garbage", status=502)
    error = sim.balance(kind, account).error
    assert (error.provider_code, error.category) == ("http_502", Category.UNAVAILABLE)


def test_garbage_is_html_plus_random_bytes(sim, account):
    sim.fail_next("8x8", account, "garbage", status=503)
    raw = sim.raw("8x8", account, "GET", "/accounts/x/balance")
    assert raw.status_code == 503 and raw.headers["Content-Type"].startswith("text/html")
    assert raw.content.startswith(b"<!DOCTYPE html>")
    with pytest.raises(UnicodeDecodeError):
        raw.content.decode("utf-8")


@pytest.mark.parametrize("kind", ["23telecom", "textingblue"])
def test_empty_body(sim, account, kind):
    sim.fail_next(kind, account, "empty")
    assert single_error(sim.send(kind, account)).category == Category.INVALID_RESPONSE
    sim.fail_next(kind, account, "empty", status=500)
    error = sim.balance(kind, account).error
    assert (error.provider_code, error.category, error.details["body_format"]) == ("http_500", Category.SERVER, "empty")


@pytest.mark.parametrize("kind", KINDS)
def test_timeout_is_ambiguous_for_a_send(kind):
    state = ScriptedSleeps(hold=True)
    server, base_url = start_in_thread(state=state)
    try:
        local = Sim(base_url)
        local.configure(kind, "acct", timeout_seconds=60)
        local.fail_next(kind, "acct", "timeout")
        outcome = local.send(kind, "acct", timeout=(1, 0.5))
        # The adapter gave up while the simulator was still holding the answer back for its 60 s.
        assert state.started.acquire(timeout=5)
        assert state.sleeps == [60.0] and state.woken == 0
        error = single_error(outcome)
        assert (error.provider_code, error.category) == ("read_timeout", Category.TIMEOUT)
        assert error.ambiguous is True and error.retryable is False
        # The vendor did process it: exactly the case a blind resend would duplicate.
        assert len(local.messages(kind, "acct")) == 1
    finally:
        server.shutdown()


def test_timeout_on_balance_is_not_ambiguous(sim, account):
    sim.configure("telephonyio", account, timeout_seconds=1.5)
    sim.fail_next("telephonyio", account, "timeout")
    error = sim.balance("telephonyio", account, timeout=(1, 0.3)).error
    assert error.category == Category.TIMEOUT and error.ambiguous is False


@pytest.mark.parametrize("kind", KINDS)
def test_disconnect_is_a_network_error(sim, account, kind):
    sim.fail_next(kind, account, "disconnect")
    error = single_error(sim.send(kind, account))
    assert (error.provider_code, error.category, error.ambiguous) == ("connection_dropped", Category.NETWORK, True)
    assert sim.messages(kind, account) == []
    sim.fail_next(kind, account, "accept_then_disconnect")
    error = single_error(sim.send(kind, account))
    assert error.category == Category.NETWORK
    assert len(sim.messages(kind, account)) == 1
    sim.fail_next(kind, account, "disconnect")
    assert sim.balance(kind, account).error.ambiguous is False


def test_latency(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(transport, "perf_counter", clock)  # the adapter times its call on the same fake clock
    state = ScriptedSleeps(clock)
    server, base_url = start_in_thread(state=state)
    try:
        local = Sim(base_url)
        local.configure("textingblue", "acct", latency_ms=250)
        result = local.balance("textingblue", "acct")
    finally:
        server.shutdown()
    assert result.error is None
    # The simulator waited the configured latency before answering, and the adapter's latency includes it.
    assert state.sleeps == [0.25]
    assert result.latency_ms == 250


def test_error_mix_is_seeded_and_only_hits_sends(sim, account):
    mix = {"INVALID_TO": 0.3, "DB_ERROR": 0.3}
    sequences = []
    for suffix in ("a", "b"):
        name = f"{account}-{suffix}"
        sim.configure("23telecom", name, error_mix=mix, seed=42)
        codes = []
        for _ in range(20):
            outcome = sim.send("23telecom", name)
            codes.append(outcome.error.provider_code if outcome.error else "ok")
        sequences.append(codes)
        assert all(sim.balance("23telecom", name).error is None for _ in range(3))
    assert sequences[0] == sequences[1]
    assert {"INVALID_TO", "DB_ERROR", "ok"} == set(sequences[0])
    sim.configure("23telecom", account, error_mix={"garbage": 1.0})
    assert single_error(sim.send("23telecom", account)).category == Category.INVALID_RESPONSE


# ---- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_key_is_auth(sim, account, kind):
    sim.configure(kind, account, valid_keys=["sk_live_good_0001"])
    assert sim.send(kind, account, key="sk_live_good_0001").error is None
    error = single_error(sim.send(kind, account, key="sk_live_bad_00002"))
    assert (error.provider_code, error.category, error.http_status) == (INVALID_KEY_CODE[kind], Category.AUTH, 401)
    assert "sk_live_bad_00002" not in error.raw_body
    assert sim.balance(kind, account, key="sk_live_bad_00002").error.category == Category.AUTH


@pytest.mark.parametrize("kind", KINDS)
def test_missing_key(sim, account, kind):
    raw = sim.raw(kind, account, "GET", PREFIX_BALANCE[kind], key=None)
    assert raw.status_code == 401
    error = get_adapter_class(kind).parse_error(raw.status_code, raw.content, raw.headers)
    assert (error.provider_code, error.category) == (MISSING_KEY_CODE[kind], Category.AUTH)


PREFIX_BALANCE = {
    "23telecom": "/user/balance",
    "telephonyio": "/account/balance",
    "8x8": "/accounts/x1/balance",
    "telnxo": "/account/usage",
    "textingblue": "/team",
}


@pytest.mark.parametrize("kind", KINDS)
def test_expired_key(sim, account, kind):
    sim.configure(kind, account, expired_keys=["sk_live_old_00001"])
    error = single_error(sim.send(kind, account, key="sk_live_old_00001"))
    assert (error.provider_code, error.category) == (EXPIRED_KEY_CODE[kind], Category.AUTH)
    assert sim.send(kind, account, key="sk_live_new_00001").error is None


def test_error_envelopes_of_auth_failures(sim, account):
    assert (
        sim.raw("telephonyio", account, "GET", "/account/balance", key=None).json()["error"]["code"] == "unauthorized"
    )
    body = sim.raw("8x8", account, "GET", "/accounts/x/balance", key=None).json()
    assert body["code"] == 1200 and body["message"] == "Unauthorized Access" and UUID.fullmatch(body["errorId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ", body["timestamp"])
    raw = sim.raw("telnxo", account, "GET", "/account/usage", headers={"Authorization": "Basic abc"}, key=None)
    assert raw.json()["error"] == "invalid_api_key"
    assert sim.raw("23telecom", account, "GET", "/user/balance", key=None).json() == {
        "status": False,
        "error_code": "UNAUTHORIZED",
        "description": "Missing or unrecognized credentials",
    }


# ---- Telnxo idempotency and headers --------------------------------------------------------


def test_telnxo_idempotency_key_reuse_is_409(sim, account):
    first = sim.send("telnxo", account, idempotency_key="order-42")
    assert first.error is None
    second = sim.send("telnxo", account, idempotency_key="order-42")
    error = single_error(second)
    assert (error.provider_code, error.category, error.http_status) == (
        "duplicate_idempotency_key",
        Category.CONFLICT,
        409,
    )
    assert re.fullmatch(r"req_[0-9a-f]{16}", error.request_id)
    assert sim.send("telnxo", account, idempotency_key="order-43").error is None
    recorded = sim.messages("telnxo", account)
    assert [(m["idempotency_key"], m["vendor_message_id"]) for m in recorded] == [
        ("order-42", first.results[0].vendor_message_id),
        ("order-43", recorded[1]["vendor_message_id"]),
    ]


def test_telnxo_resend_after_timeout_with_same_key_is_409(sim, account):
    sim.configure("telnxo", account, timeout_seconds=1.5)
    sim.fail_next("telnxo", account, "timeout")
    assert single_error(sim.send("telnxo", account, idempotency_key="k-1", timeout=(1, 0.5))).ambiguous
    assert single_error(sim.send("telnxo", account, idempotency_key="k-1")).provider_code == "duplicate_idempotency_key"
    assert len(sim.messages("telnxo", account)) == 1


def test_idempotency_window_is_24_hours():
    clock = [1_000_000.0]
    server, base_url = start_in_thread(state=SimulatorState(clock=lambda: clock[0]))
    try:
        local = Sim(base_url)
        assert local.send("telnxo", "a", idempotency_key="k").error is None
        clock[0] += 24 * 3600 - 1
        assert single_error(local.send("telnxo", "a", idempotency_key="k")).provider_code == "duplicate_idempotency_key"
        clock[0] += 2
        assert local.send("telnxo", "a", idempotency_key="k").error is None
    finally:
        server.shutdown()


def test_vendor_headers_on_every_response(sim, account):
    ok = sim.raw("telnxo", account, "POST", "/sms/send", json={"to": "+919876543210", "sender_id": "A", "message": "x"})
    bad = sim.raw("telnxo", account, "POST", "/sms/send", data=b"{nope", headers={"Content-Type": "application/json"})
    missing = sim.raw("telnxo", account, "GET", "/nowhere")
    for raw in (ok, bad, missing):
        assert re.fullmatch(r"req_[0-9a-f]{16}", raw.headers["X-Request-ID"])
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(raw.headers)
    assert ok.headers["X-RateLimit-Limit"] == "300" and missing.headers["X-RateLimit-Limit"] == "60"
    assert int(bad.headers["X-RateLimit-Remaining"]) == 298
    assert len({r.headers["X-Request-ID"] for r in (ok, bad, missing)}) == 3
    for raw in (
        sim.raw("textingblue", account, "GET", "/team"),
        sim.raw("textingblue", account, "GET", "/team", key=None),
    ):
        assert "x-ratelimit-remaining" in raw.headers
    for kind in ("23telecom", "8x8", "telephonyio"):
        assert "X-RateLimit-Remaining" not in sim.raw(kind, account, "GET", PREFIX_BALANCE[kind]).headers


# ---- request validation like the vendors ----------------------------------------------------


def _post(sim, kind, account, path, body):
    if isinstance(body, bytes):
        return sim.raw(kind, account, "POST", path, data=body, headers={"Content-Type": "application/json"})
    return sim.raw(kind, account, "POST", path, json=body)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "INVALID_BODY"),
        ({"to": [], "message": "hi", "sender_id": "Acme"}, "INVALID_TO"),
        ({"message": "hi", "sender_id": "Acme"}, "INVALID_TO"),
        ({"to": ["12345"], "message": "hi", "sender_id": "Acme"}, "INVALID_TO"),
        ({"to": [f"+4477009{i:05d}" for i in range(101)], "message": "hi", "sender_id": "Acme"}, "TOO_MANY_RECIPIENTS"),
        ({"to": ["+447700900001"], "message": "", "sender_id": "Acme"}, "INVALID_MESSAGE"),
        ({"to": ["+447700900001"], "message": "hi"}, "INVALID_SENDER"),
        ({"to": ["+447700900001"], "message": "hi", "sender_id": "1abc"}, "INVALID_SENDER"),
    ],
)
def test_23telecom_validation(sim, account, body, code):
    raw = _post(sim, "23telecom", account, "/sms/send", body)
    assert raw.status_code == 400
    data = raw.json()
    assert data["status"] is False and data["error_code"] == code and data["description"]
    assert sim.messages("23telecom", account) == []


def test_23telecom_accepts_100_recipients(sim, account):
    to = [f"+4477009{i:05d}" for i in range(100)]
    raw = _post(sim, "23telecom", account, "/sms/send", {"to": to, "message": "hi", "sender_id": "Acme"})
    assert raw.status_code == 200 and raw.json()["summary"]["accepted_count"] == 100


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{oops", 400, "invalid_json", None),
        ({"to": "9876543210", "sender_id": "ACMEIN", "message": "x"}, 422, "invalid_phone_number", "to"),
        ({"sender_id": "ACMEIN", "message": "x"}, 422, "missing_required_field", "to"),
        ({"to": "+919876543210", "message": "x"}, 422, "missing_required_field", "sender_id"),
        ({"to": "+919876543210", "sender_id": "ACMEIN", "message": "x" * 1601}, 422, "field_too_long", "message"),
    ],
)
def test_telnxo_validation(sim, account, body, status, code, field):
    raw = _post(sim, "telnxo", account, "/sms/send", body)
    assert raw.status_code == status
    data = raw.json()
    assert data["success"] is False and data["error"] == code and data["code"] == status and data["message"]
    assert data.get("field") == field


def test_telnxo_sender_registration(sim, account):
    sim.configure("telnxo", account, senders=["OTHER"])
    error = single_error(sim.send("telnxo", account))
    assert (error.provider_code, error.category, error.param) == (
        "sender_id_not_registered",
        Category.COMPLIANCE,
        "sender_id",
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"to": "4155550100", "from": "+14155550199", "content": "hi"}, "to"),
        ({"to": "+14155550100", "from": "nope", "content": "hi"}, "from"),
        ({"to": "+14155550100", "from": "+14155550199", "content": ""}, "content"),
        ({"to": "+14155550100", "from": "+14155550199", "content": "x" * 5001}, "content"),
    ],
)
def test_textingblue_validation(sim, account, body, param):
    raw = _post(sim, "textingblue", account, "/messages/send", body)
    assert raw.status_code == 400
    error = raw.json()["error"]
    assert error["code"] == "invalid_request" and error["param"] == param
    if param == "to":
        assert error["message"] == "The 'to' field must be a valid E.164 phone number"


def test_textingblue_from_numbers(sim, account):
    sim.configure("textingblue", account, senders=["+14155550199", "+14155550198"], paused_senders=["+14155550198"])
    raw = _post(
        sim, "textingblue", account, "/messages/send", {"to": "+14155550100", "from": "+14155550111", "content": "hi"}
    )
    assert raw.json()["error"]["message"] == 'The "from" number is not registered or verified for this team'
    raw = _post(
        sim, "textingblue", account, "/messages/send", {"to": "+14155550100", "from": "+14155550198", "content": "hi"}
    )
    assert raw.json()["error"]["message"] == 'The "from" number is currently paused'
    ok = _post(
        sim, "textingblue", account, "/messages/send", {"to": "+14155550100", "from": "+14155550199", "content": "hi"}
    )
    assert ok.status_code == 202
    assert set(ok.json()) == {"id", "status", "to", "from", "content", "media_url", "created_at"}


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/subaccounts/acme_hq/messages", {"destination": "12", "text": "hi"}, 1002),
        ("/subaccounts/acme_hq/messages", {"text": "hi"}, 1002),
        ("/subaccounts/acme_hq/messages", {"destination": "+6590000000"}, 1004),
        ("/subaccounts/acme_hq/messages", {"destination": "+6590000000", "text": "hi", "encoding": "X"}, 1003),
        ("/subaccounts/acme_hq/messages", {"destination": "+6590000000", "text": "hi", "source": "x" * 17}, 1005),
        ("/subaccounts/a/messages", {"destination": "+6590000000", "text": "hi"}, 1001),
        ("/subaccounts/acme_hq/messages/batch", {"destinations": []}, 3012),
    ],
)
def test_8x8_validation(sim, account, path, body, code):
    raw = _post(sim, "8x8", account, path, body)
    assert raw.status_code == 400
    data = raw.json()
    assert data["code"] == code and data["message"]
    assert UUID.fullmatch(data["errorId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ", data["timestamp"])


def test_8x8_single_and_batch_shapes(sim, account):
    single = _post(
        sim,
        "8x8",
        account,
        "/subaccounts/acme_hq/messages",
        {"destination": "6590000000", "text": "hi", "clientMessageId": "order-42"},
    ).json()
    assert single["destination"] == "+6590000000" and single["clientMessageId"] == "order-42"
    assert single["encoding"] == "GSM7" and single["status"]["code"] == "QUEUED" and UUID.fullmatch(single["umid"])
    batch = _post(
        sim,
        "8x8",
        account,
        "/subaccounts/acme_hq/messages/batch",
        {"destinations": ["+6590000001", "bad"], "template": {"text": "hi"}, "clientBatchId": "promo-7"},
    ).json()
    assert (batch["acceptedCount"], batch["rejectedCount"], batch["messages"]) == (1, 1, None)
    assert batch["clientBatchId"] == "promo-7" and UUID.fullmatch(batch["batchId"])


def test_unknown_vendor_route_is_the_vendors_404(sim, account):
    raw = sim.raw("23telecom", account, "GET", "/sms/nothing")
    assert raw.status_code == 404 and raw.json()["error_code"] == "NOT_FOUND"
    assert sim.http.get(f"{sim.base_url}/nokind/acct/x").status_code == 404


# ---- control API ----------------------------------------------------------------------------


def test_control_api_config_roundtrip_and_validation(sim, account):
    config = sim.control("PUT", f"23telecom/{account}", {"balance": 5, "valid_keys": ["a"]})["config"]
    assert config["balance"] == 5 and config["valid_keys"] == ["a"] and config["currency"] == "EUR"
    # PUT replaces: keys not given go back to the kind's defaults.
    config = sim.control("PUT", f"23telecom/{account}", {"currency": "GBP"})["config"]
    assert (config["balance"], config["valid_keys"], config["currency"]) == (100.0, [], "GBP")
    # The GET shape can be PUT back as-is.
    current = sim.control("GET", f"23telecom/{account}")
    assert sim.control("PUT", f"23telecom/{account}", current)["config"] == current["config"]
    bad_configs = (
        {"nope": 1},
        {"error_mix": {"DB_ERROR": 2}},
        {"error_mix": {"db_error": 0.1}},  # codes are the vendor's, exactly
        {"balance": "x"},
        {"outage": "yes"},
        {"rate_limit_style": "x"},
    )
    for bad in bad_configs:
        response = sim.http.put(f"{sim.base_url}/_sim/23telecom/{account}", json=bad)
        assert response.status_code == 400 and response.json()["error"]
    assert sim.http.put(f"{sim.base_url}/_sim/23telecom/{account}", data=b"{").status_code == 400
    assert sim.http.get(f"{sim.base_url}/_sim/nokind/{account}").status_code == 404
    assert sim.http.post(f"{sim.base_url}/_sim/accounts").status_code == 405


def test_control_api_defaults_per_kind(sim, account):
    defaults = {kind: sim.config(kind, account) for kind in KINDS}
    assert (defaults["23telecom"]["balance"], defaults["23telecom"]["currency"]) == (100.0, "EUR")
    assert (defaults["telephonyio"]["currency"], defaults["8x8"]["currency"]) == ("USD", "USD")
    assert (defaults["telnxo"]["quota_limit"], defaults["telnxo"]["balance"]) == (50_000, None)
    assert (defaults["textingblue"]["plan"], defaults["textingblue"]["quota_limit"]) == ("pro", 10_000)
    assert all(d["timeout_seconds"] == 30 for d in defaults.values())


def test_control_api_fail_next_validation(sim, account):
    url = f"{sim.base_url}/_sim/telnxo/{account}/fail_next"
    assert sim.http.post(url, json={"code": "NOT_A_CODE"}).status_code == 400
    assert sim.http.post(url, json={"code": "x", "count": 0}).status_code == 400
    assert sim.http.post(url, json={}).status_code == 400
    # An uncatalogued code is allowed with an explicit status and renders in the vendor envelope.
    state = sim.fail_next("telnxo", account, "brand_new_code", status=418)
    assert state["fail_next"] == [{"code": "brand_new_code", "status": 418, "scope": "any"}]
    error = single_error(sim.send("telnxo", account))
    assert (error.provider_code, error.http_status, error.known) == ("brand_new_code", 418, False)
    sim.fail_next("telnxo", account, "internal_error", count=3)
    assert len(sim.control("DELETE", f"telnxo/{account}/fail_next")["fail_next"]) == 0


def test_control_api_accounts_snapshot_and_reset():
    server, base_url = start_in_thread()
    try:
        local = Sim(base_url)
        assert local.send("textingblue", "one").error is None
        local.configure("8x8", "two", balance=3)
        listed = local.control("GET", "accounts")["accounts"]
        assert sorted((a["kind"], a["account"]) for a in listed) == [("8x8", "two"), ("textingblue", "one")]
        assert all("messages" not in a for a in listed)
        snapshot = local.control("GET", "snapshot")
        json.dumps(snapshot)  # plain JSON
        (one,) = [a for a in snapshot["accounts"] if a["account"] == "one"]
        assert one["messages"][0]["vendor_message_id"].startswith("msg_")
        assert one["outcomes"] == {"accepted": 1} and one["requests"] == 1
        assert local.control("POST", "reset") == {"reset": True}
        assert local.control("GET", "accounts") == {"accounts": []}
        assert local.control("GET", "")["kinds"] == list(ADAPTERS)  # every registered vendor
    finally:
        server.shutdown()


def test_state_snapshot_is_json_in_process():
    state = SimulatorState()
    state.replace_config("23telecom", "x", {"balance": "12.345", "error_mix": {"DB_ERROR": 0.5}})
    snapshot = state.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["accounts"][0]["config"]["balance"] == 12.345


# ---- concurrency, mounting, CLI ---------------------------------------------------------------


def test_concurrent_sends_drain_exactly(sim, account):
    sim.configure("23telecom", account, balance=1.0, cost_per_message=0.1)  # room for exactly 10
    outcomes = []
    lock = threading.Lock()

    def worker():
        adapter = sim.adapter("23telecom", account)
        for _ in range(4):
            outcome = adapter.send(OutgoingMessage(("+447700900001",), "hi", sender="Acme"))
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [o for o in outcomes if o.error is None]
    refused = [o for o in outcomes if o.error is not None]
    assert len(accepted) == 10 and len(refused) == 14
    assert {o.error.provider_code for o in refused} == {"INSUFFICIENT_BALANCE"}
    assert len({o.results[0].vendor_message_id for o in accepted}) == 10
    assert len(sim.messages("23telecom", account)) == 10
    result = sim.balance("23telecom", account)
    assert result.amount == 0 and result.blocked


def _call_wsgi(app, method: str, script_name: str, path_info: str, body: bytes = b"", headers=None):
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": BytesIO(body),
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"], captured["headers"] = status, dict(response_headers)

    body_out = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body_out


def test_mountable_under_a_prefix():
    app = make_app()
    status, headers, body = _call_wsgi(app, "GET", "/sim", "/textingblue/acme/v1/team", headers={"x-api-key": "k"})
    assert status == "200 OK" and json.loads(body)["monthly_message_limit"] == 10_000
    assert headers["x-ratelimit-remaining"] == "999"
    status, _, body = _call_wsgi(app, "GET", "/sim", "/_sim/")
    assert json.loads(body)["vendor_base_urls"]["23telecom"] == "/sim/23telecom/{account}/api/v1"
    payload = json.dumps({"to": ["+447700900001"], "message": "hi", "sender_id": "Acme"}).encode()
    status, _, body = _call_wsgi(app, "POST", "/sim", "/23telecom/acme/api/v1/sms/send", payload, {"X-API-Key": "k"})
    assert status == "200 OK" and json.loads(body)["summary"]["accepted_count"] == 1
    assert len(app.state.accounts[("23telecom", "acme")].messages) == 1


def test_command_line_server():
    process = subprocess.Popen(
        [sys.executable, "-m", "providers.simulator", "--host", "127.0.0.1", "--port", "0", "--quiet"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stderr.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        response = requests.get(match.group(1) + "/_sim/accounts", timeout=5)
        assert response.status_code == 200 and response.json() == {"accounts": []}
    finally:
        process.terminate()
        process.wait(timeout=5)
        process.stderr.close()
