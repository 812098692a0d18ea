"""A local simulator of the five messaging vendors Sendwatch talks to.

A plain WSGI application (stdlib only, plus the adapters' error catalogues) that
speaks each vendor's send and balance API with the vendor's exact error
envelopes, HTTP statuses and headers, so adapters, dashboards and delivery
pipelines can be exercised without real accounts.

The vendors it simulates are the ones in :mod:`providers.registry`: each
adapter is paired there with its simulated twin, one module per vendor under
:mod:`providers.simulator.vendors`, and an account holds money or a quota as
the adapter's ``balance_kind`` says. A vendor registered at run time (tests)
is served at once.

Run it::

    python -m providers.simulator --host 127.0.0.1 --port 8025

or in-process (tests)::

    server, base_url = start_in_thread()          # port 0 = ephemeral
    ...                                            # base_url + "/23telecom/acme/api/v1"
    server.shutdown()

or mount ``make_app()`` under a prefix in another WSGI host: routing reads
``PATH_INFO`` only, ``SCRIPT_NAME`` is left to the host.
``SimulatorState.load({"accounts": [{"kind", "account", "config"}, ...]})`` sets many
accounts at once (Sendwatch's demo carries its generated history on this way).

URL scheme: ``/{kind}/{account}/<vendor path>``. Adapter base URLs:

==============  ===========================================  =============================================
kind            adapter base URL                             endpoints
==============  ===========================================  =============================================
23telecom       ``{root}/23telecom/{account}/api/v1``        ``POST /sms/send``, ``GET /user/balance``
telephonyio     ``{root}/telephonyio/{account}/api``         ``POST /sms/send``, ``GET /account/balance``
8x8             ``{root}/8x8/{account}/api/v1``              ``POST /subaccounts/{sub}/messages[/batch]``,
                                                             ``GET /accounts/{accountId}/balance``
telnxo          ``{root}/telnxo/{account}/v1``               ``POST /sms/send``, ``GET /account/usage``
textingblue     ``{root}/textingblue/{account}/v1``          ``POST /messages/send`` (202), ``GET /team``
==============  ===========================================  =============================================

Accounts are created on first use with their kind's defaults (100.00 EUR for
23 Telecom, 100.00 USD for Telephony.io and 8x8, a 50,000 monthly quota for
Telnxo, plan "pro" with 10,000 messages a month for texting.blue) and are
scripted through the JSON control API under ``/_sim/`` (see :mod:`.app`):
balance, quota, per-message cost, a steady drain (``drain_per_hour`` of money or
``quota_per_hour`` of plan messages from ``drain_since``, applied lazily on every read
and reset with the calendar month for quotas), valid / expired keys, an ``error_mix`` of
catalogue codes and pseudo-codes (``garbage``, ``empty``, ``timeout``,
``disconnect``, ``accept_then_disconnect``), a token-bucket rate limit, outage,
latency, 23 Telecom's degraded balance and blocked prefixes, a seed, and
``fail_next`` to force the next N requests to one code.

Where it follows the vendor documentation (shared/vendors/*.md, seeds 000-004)
------------------------------------------------------------------------------
- Auth headers and the missing / invalid / expired key answers: 23 Telecom
  ``X-API-Key`` -> 401 ``UNAUTHORIZED`` / ``INVALID_API_KEY`` / ``API_KEY_EXPIRED``;
  Telephony.io Bearer -> 401 ``{"error": {"code": "unauthorized", "message"}}``
  (the authentication page's shape); 8x8 Bearer -> 401 code 1200; Telnxo
  Bearer -> 401 ``authentication_required`` / ``invalid_api_key`` /
  ``api_key_expired``; texting.blue ``x-api-key`` -> 401 ``unauthorized``.
- Error envelopes: 23 Telecom ``{"status": false, "error_code", "description"}``
  (the 402 with balance / estimated_cost / currency / total_recipients /
  billable_recipients / segments); Telephony.io ``{"error", "code"}`` (402 with
  required_credits / current_balance); 8x8 ``{"code": <int>, "message",
  "errorId": <uuid>, "timestamp": "yyyy-MM-ddTHH:mm:ss.ffZ"}``; Telnxo
  ``{"success": false, "error", "message", "code": <status>, "field"?}``;
  texting.blue ``{"error": {"code", "message", "param"?}}`` (402 with limit /
  current / upgrade_url and "Monthly message limit reached (N/N). Upgrade your
  plan.", 429 with "Rate limit exceeded. Retry after N seconds.").
- 23 Telecom send: 1-100 E.164 recipients, INVALID_BODY / INVALID_TO /
  INVALID_MESSAGE / INVALID_SENDER / TOO_MANY_RECIPIENTS, GSM-7 / UCS-2
  segment counting, atomic balance pre-check, per-recipient ``results[]`` with
  ``accepted`` / ``blocked_country`` / ``queue_error`` / ``config_error``,
  ``messages[]`` and ``summary``, ids ``api_{user}_{ns}_{16hex}``. Balance with
  ``credit_blocked`` at <= 0, the degraded 200 (``unavailable: true``,
  ``reason``, ``X-Sms-Gateway-Status/Reason`` headers) and the onboarding
  ``{"status": false, "error": "Account is in setup process"}``. Its 429s: the
  account limiter's JSON ``RATE_LIMIT_EXCEEDED`` (no Retry-After), the per-IP
  limiter's bodiless 429 and the edge proxy's HTML page (``rate_limit_style``).
- 8x8 single and batch send (destination ``^\\+?[1-9][0-9]{6,14}$`` else 1002,
  sub-account ids, 1003/1004/1005/1009, 3012/3013/3014), ``umid`` UUIDs,
  ``QUEUED`` / ``REJECTED``, batch ``messages`` null unless
  ``includeMessagesInResponse``; balance, post-paid 1201; 429 with ``"code":
  429``, "Quota exceeded. Please try again in N second(s)." and Retry-After.
- Telnxo ``X-Idempotency-Key`` (reuse within 24 h -> 409
  ``duplicate_idempotency_key``), ``X-Request-ID: req_<16hex>`` and
  ``X-RateLimit-Limit/Remaining/Reset`` on every response, 429 with
  Retry-After, 400 ``invalid_json``, 422 ``invalid_phone_number`` /
  ``missing_required_field`` with ``field``, 402 ``quota_exceeded``, outage 503
  ``service_unavailable``.
- texting.blue 202 send (``msg_…``), E.164 checks with ``param``, registered /
  paused ``from`` numbers, ``x-ratelimit-remaining`` on every response,
  ``GET /team`` with plan and ``monthly_message_limit``.

Where it follows the notes' documented assumptions (the vendor docs are silent)
------------------------------------------------------------------------------
- Telephony.io ``POST /sms/send`` ``{"to", "from", "message"}`` ->
  ``{"success": true, "messageId": "sms_…", "status": "queued", "creditsUsed"}``
  and balance ``{"balance", "currency"}``. Its 429 / 500 bodies have no
  documented code, so they are ``{"error": "<text>"}`` without one (the
  adapters read them as ``http_429`` / ``http_500``); 429 carries Retry-After.
- Telnxo ``POST /sms/send`` ``{"to", "sender_id", "message"}`` ->
  ``{"success": true, "message_id": "msg_…", "status": "queued"}`` and
  ``GET /account/usage`` ``{"plan", "period_start", "period_end", "sms":
  {"monthly_quota", "used", "hourly_limit", "daily_limit"}}``; message length
  limit 1600 characters.
- 8x8's single-send answer has the batch item shape; an empty prepaid wallet
  makes a message ``REJECTED`` ("Insufficient balance") rather than an API
  error; statuses of numeric codes not given by the docs come from the
  adapter's catalogue.
- 23 Telecom ``results[]`` items for ``queue_error`` / ``config_error`` carry
  no ``message_id``; ``blocked_country`` ones do (as in the docs' example).
- Costs: money vendors drain ``cost_per_message`` per segment per accepted
  recipient; quota vendors count one message per accepted send. The texting.blue
  team answer has no usage counter (as documented): read ``quota_used`` from
  the control API.

Fault injection order for a vendor request: ``fail_next`` (deterministic),
then outage, token bucket, auth, then (sends only) ``error_mix``. A forced code
renders with the status of the adapter catalogue entry (falling back to the
seeds); status-derived codes (``http_429``) render as a bare status; per-recipient
codes (23 Telecom ``blocked_country`` / ``queue_error`` / ``config_error``, 8x8
``REJECTED``) render inside a 200 send answer. ``timeout`` processes the
request and answers ``timeout_seconds`` later; ``disconnect`` closes the
connection without processing; ``accept_then_disconnect`` processes, then closes.
"""

from __future__ import annotations

import threading

from providers.simulator.app import SimulatorApp, SimulatorServer, make_app, make_server, start_in_thread
from providers.simulator.state import KINDS, AccountConfig, ConfigError, SimulatorState

_shared: SimulatorState | None = None
_shared_lock = threading.Lock()


def shared_state() -> SimulatorState:
    """One state per process, for a host that mounts the simulator (Sendwatch's /sim/)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SimulatorState()
        return _shared


__all__ = [
    "KINDS",
    "AccountConfig",
    "ConfigError",
    "SimulatorApp",
    "SimulatorServer",
    "SimulatorState",
    "make_app",
    "make_server",
    "shared_state",
    "start_in_thread",
]
