"""Every catalogued vendor code pinned to what the vendor's own error reference says.

The tables below were written by hand from the seed documents in ``shared/seeds/``
(000 23 Telecom, 001 Telephony.io, 002 8x8, 003 MigoSMTP/Telnxo, 004 texting.blue) and,
for the codes a catalogue holds beyond its seed, from the vendor notes in
``shared/vendors/``. They are deliberately NOT derived from the catalogues under test:
a change to a code's category, retryability, ambiguity or HTTP status has to be made
here too, on purpose, with the seed in hand.

Each row: code -> (HTTP status, category, retryable, ambiguous). The HTTP status is
``None`` where the seed gives none (8x8's numeric codes); it is then not compared.
"ambiguous" means the vendor may have acted although it answered with an error, so the
send is reconciled rather than resent.

Where Sendwatch files a code differently from the seed's grouping on purpose, the row says
so in a comment next to it (Telnxo's sender-identity codes).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest

from providers import Category
from providers.registry import BUILTIN_VENDORS, import_string
from tests.providers.fixtures import seed_text, vendor_text

AUTH = Category.AUTH
PERMISSION = Category.PERMISSION
VALIDATION = Category.VALIDATION
BALANCE = Category.BALANCE
QUOTA = Category.QUOTA
RATE_LIMIT = Category.RATE_LIMIT
NOT_FOUND = Category.NOT_FOUND
CONFLICT = Category.CONFLICT
COMPLIANCE = Category.COMPLIANCE
SERVER = Category.SERVER
UNAVAILABLE = Category.UNAVAILABLE
TIMEOUT = Category.TIMEOUT


class Pin(NamedTuple):
    http_status: int | None
    category: Category
    retryable: bool
    ambiguous: bool = False


def _pins(*rows: tuple) -> dict[str, Pin]:
    table: dict[str, Pin] = {}
    for code, *values in rows:
        assert code not in table, f"{code} pinned twice"
        table[code] = Pin(*values)
    return table


# -- seed 000: 23 Telecom --------------------------------------------------------------------
TELECOM23 = _pins(
    # Authentication & authorization: every 401 is an auth failure, every 403 a permission one.
    ("UNAUTHORIZED", 401, AUTH, False),
    ("INVALID_TOKEN", 401, AUTH, False),  # "re-authenticate" means a new token, not a resend
    ("TOKEN_EXPIRED", 401, AUTH, False),
    ("INVALID_API_KEY", 401, AUTH, False),
    ("API_KEY_INACTIVE", 401, AUTH, False),
    ("API_KEY_EXPIRED", 401, AUTH, False),
    ("INVALID_CREDENTIALS", 401, AUTH, False),
    ("USER_NOT_ACTIVE", 401, AUTH, False),
    ("IP_NOT_ALLOWED", 401, AUTH, False),
    ("SIGNATURE_REQUIRED", 401, AUTH, False),
    ("INVALID_SIGNATURE", 401, AUTH, False),
    ("FORBIDDEN", 403, PERMISSION, False),
    ("NO_SMS_ACCESS", 403, PERMISSION, False),
    ("CONFIG_ERROR", 403, PERMISSION, False),
    ("CROSS_TENANT_WORKSPACE", 403, PERMISSION, False),
    ("NO_MAIN_WORKSPACE", 403, PERMISSION, False),
    ("WORKSPACE_NOT_AVAILABLE", 403, PERMISSION, False),
    # Validation ("do not blind-retry 4xx — fix the request instead").
    ("INVALID_BODY", 400, VALIDATION, False),
    ("INVALID_PARAMS", 400, VALIDATION, False),
    ("INVALID_TO", 400, VALIDATION, False),
    ("INVALID_MESSAGE", 400, VALIDATION, False),
    ("INVALID_SENDER", 400, VALIDATION, False),
    ("TOO_MANY_RECIPIENTS", 400, VALIDATION, False),
    ("INVALID_WORKSPACE_HEADER", 400, VALIDATION, False),
    ("INSUFFICIENT_BALANCE", 402, BALANCE, False),  # "Alert on 402", not retried
    # Rate limiting: "Retry 429 (after a delay)".
    ("RATE_LIMIT_EXCEEDED", 429, RATE_LIMIT, True),
    ("TOO_MANY_ATTEMPTS", 429, RATE_LIMIT, True),
    # Other.
    ("NOT_FOUND", 404, NOT_FOUND, False),
    # Only DB_ERROR is named safe to retry; an INTERNAL_ERROR leaves unsaid whether the send was queued.
    ("INTERNAL_ERROR", 500, SERVER, False, True),
    ("DB_ERROR", 500, SERVER, True),  # "atomic rollback, safe to retry"
    # Beyond the seed, from shared/vendors/23telecom.md:
    ("http_429", 429, RATE_LIMIT, True),  # §7: per-IP / edge-proxy 429 with no JSON (or HTML) body
    ("SANDBOX_UNAVAILABLE", 503, UNAVAILABLE, True),  # §1: sandbox simulator outage, never live
    # §4: per-recipient results[].status values inside a 200 send answer.
    ("blocked_country", 200, COMPLIANCE, False),  # destination country on the account's block list
    ("queue_error", 200, SERVER, True),  # internal queue failure: this recipient was not queued
    ("config_error", 200, PERMISSION, False),  # SMS not configured on the account (as 403 CONFIG_ERROR)
)

# -- seed 001: Telephony.io ------------------------------------------------------------------
TELEPHONYIO = _pins(
    # Machine codes printed in the seed's examples.
    ("invalid_parameter", 400, VALIDATION, False),  # the 400 "invalid phone number format" example
    ("insufficient_balance", 402, BALANCE, False),  # "you must top up your account balance"
    # Statuses the seed documents without a code of their own: the http_<status> pseudo-codes.
    ("http_400", 400, VALIDATION, False),
    ("http_401", 401, AUTH, False),
    ("http_402", 402, BALANCE, False),
    ("http_429", 429, RATE_LIMIT, True),  # "Handle transient errors (429, 500) with exponential backoff"
    ("http_500", 500, SERVER, True),
    # Beyond the seed: the authentication page's nested envelope (shared/vendors/telephonyio.md §2, §8).
    ("unauthorized", 401, AUTH, False),
)

# -- seed 002: 8x8 ---------------------------------------------------------------------------
# The seed gives no HTTP status for its numeric codes, so those are not pinned (None).
EIGHTXEIGHT = _pins(
    ("1000", None, VALIDATION, False),  # Invalid parameter
    ("1001", None, VALIDATION, False),  # Illegal SubAccountId
    ("1002", None, VALIDATION, False),  # Invalid MSISDN
    ("1003", None, VALIDATION, False),  # Invalid Encoding
    ("1004", None, VALIDATION, False),  # Invalid Text
    ("1005", None, VALIDATION, False),  # Invalid Source
    ("1006", None, VALIDATION, False),  # Invalid Expiry
    ("1007", None, VALIDATION, False),  # Invalid SMS Template
    ("1008", None, VALIDATION, False),  # Invalid ID
    ("1009", None, VALIDATION, False),  # Invalid Country Code
    ("1010", None, VALIDATION, False),  # Parameter out of range
    ("1011", None, VALIDATION, False),  # Invalid Schedule Time
    ("1012", None, VALIDATION, False),  # Invalid Ip Address
    ("1100", None, QUOTA, False),  # Bulk limit reached: a volume cap, not a short rate window
    ("1200", None, AUTH, False),  # Unauthorized Access
    ("1201", None, PERMISSION, False),  # Access forbidden
    ("1300", None, NOT_FOUND, False),  # Not found
    ("1400", None, RATE_LIMIT, False),  # Resending interval violation: a duplicate guard, never auto-resend
    ("2000", None, SERVER, True),  # Internal Error
    ("2001", None, SERVER, False),  # Function not implemented: retrying cannot help
    ("2002", None, NOT_FOUND, False),  # Unsupported API version: the seed's 410 "Gone" case
    ("2003", None, PERMISSION, False),  # Unsupported product (for this account)
    ("3001", None, VALIDATION, False),  # Missed User
    ("3002", None, VALIDATION, False),  # Missed MSISDN
    ("3003", None, VALIDATION, False),  # Invalid MSISDN
    ("3004", None, VALIDATION, False),  # Missed Content
    ("3005", None, VALIDATION, False),  # Missed Text
    ("3006", None, VALIDATION, False),  # Too long text
    ("3007", None, VALIDATION, False),  # Missed Media URL
    ("3008", None, VALIDATION, False),  # Invalid Media URL
    ("3009", None, VALIDATION, False),  # Too long ClientMessageId
    ("3010", None, VALIDATION, False),  # Invalid Content Type
    ("3011", None, VALIDATION, False),  # Too long SMS Source
    ("3012", None, VALIDATION, False),  # Missed messages
    ("3013", None, VALIDATION, False),  # Too much messages
    ("3014", None, VALIDATION, False),  # Too long ClientBatchId
    ("3015", None, VALIDATION, False),  # Missed UserId
    ("3016", None, VALIDATION, False),  # Missed WeChatUserId
    ("3017", None, VALIDATION, False),  # Too long Fallback text
    ("3018", None, VALIDATION, False),  # Invalid Country code
    ("3019", None, VALIDATION, False),  # Missed FacebookUserId
    ("3020", None, VALIDATION, False),  # Invalid DR Callback URL
    ("3021", None, VALIDATION, False),  # Empty or Invalid Location
    ("3022", None, VALIDATION, False),  # Invalid Fallback Channel
    ("3023", None, VALIDATION, False),  # Invalid Fallback Delay range
    ("3024", None, VALIDATION, False),  # Invalid Fallback Status
    ("3025", None, VALIDATION, False),  # Invalid Fallback Status Delivered
    ("3026", None, VALIDATION, False),  # Invalid Fallback Status Read
    ("3027", None, VALIDATION, False),  # Invalid Fallback SubAccount Channel
    ("3028", None, VALIDATION, False),  # Missed ZaloUserId
    ("3029", None, VALIDATION, False),  # Missed UMID
    ("3030", None, VALIDATION, False),  # Empty Template
    ("3031", None, VALIDATION, False),  # Invalid Template Name Length
    ("3032", None, VALIDATION, False),  # Invalid Template Name
    ("3033", None, VALIDATION, False),  # Too much template parameters passed
    ("3034", None, VALIDATION, False),  # Invalid template components combination
    ("3035", None, PERMISSION, False),  # SubAccount don't have channels, supported templates (account setup)
    ("3036", None, VALIDATION, False),  # Empty Template language
    ("3037", None, VALIDATION, False),  # Invalid Template language
    ("3038", None, VALIDATION, False),  # Template not found (a bad template reference in the request)
    ("3039", None, VALIDATION, False),  # Invalid Template Component type
    ("3040", None, VALIDATION, False),  # Empty template parameters
    ("3041", None, VALIDATION, False),  # Invalid Template parameter
    ("3042", None, VALIDATION, False),  # Invalid Template parameter type
    ("3043", None, VALIDATION, False),  # Template Text parameter length exceeded
    ("3044", None, VALIDATION, False),  # Template Location parameter empty
    ("3045", None, VALIDATION, False),  # Template parameter not allowed
    ("3046", None, VALIDATION, False),  # Template parameter URL is invalid
    ("3047", None, VALIDATION, False),  # Missed WhatsApp UserID
    ("3048", None, VALIDATION, False),  # Using ChatGroupId with UserId not allowed
    ("3049", None, VALIDATION, False),  # Invalid button parameter
    ("3050", None, VALIDATION, False),  # Missed KakaoId
    ("3051", None, VALIDATION, False),  # Invalid Fallback ChannelID
    ("3052", None, VALIDATION, False),  # Invalid Template Component SubType
    ("3053", None, VALIDATION, False),  # Invalid index
    # The seed's HTTP error-status table (a 429 body carries "code": 429, 8x8.md §5).
    ("400", 400, VALIDATION, False),  # Bad Request
    ("401", 401, AUTH, False),  # Unauthorized
    ("403", 403, PERMISSION, False),  # Forbidden
    ("404", 404, NOT_FOUND, False),  # Not Found
    ("410", 410, NOT_FOUND, False),  # Gone (retired API version)
    ("422", 422, VALIDATION, False),  # Unprocessable Entity
    ("429", 429, RATE_LIMIT, True),  # Too Many Requests (Retry-After, 8x8.md §6)
    ("500", 500, SERVER, True),  # Internal Server Error
    # Beyond the seed, shared/vendors/8x8.md §3a: per-message status refused at submission.
    ("REJECTED", 200, VALIDATION, False),
)

# -- seed 003: MigoSMTP / Telnxo -------------------------------------------------------------
TELNXO = _pins(
    # Authentication errors (401 / 403).
    ("authentication_required", 401, AUTH, False),
    ("invalid_api_key", 401, AUTH, False),
    ("api_key_expired", 401, AUTH, False),
    ("insufficient_scope", 403, PERMISSION, False),
    ("ip_not_whitelisted", 403, PERMISSION, False),
    # Account & subscription: paying (overdue invoice, renewal) clears the first two.
    ("account_suspended", 402, BALANCE, False),
    ("account_expired", 402, BALANCE, False),
    ("quota_exceeded", 402, QUOTA, False),  # monthly quota: wait for the next cycle
    # Listed twice by the seed (plan throttles and rate limits): a plan cap that resets.
    ("daily_limit_reached", 429, QUOTA, True),
    ("hourly_limit_reached", 429, QUOTA, True),
    # Validation errors (400 / 422) — the seed files every one of these under "Validation Errors".
    ("missing_required_field", 422, VALIDATION, False),
    ("invalid_email_address", 422, VALIDATION, False),
    ("invalid_phone_number", 422, VALIDATION, False),
    ("invalid_json", 400, VALIDATION, False),
    ("field_too_long", 422, VALIDATION, False),
    ("invalid_template_id", 422, VALIDATION, False),
    ("missing_template_variable", 422, VALIDATION, False),
    # Seed 003 lists these two under "Validation Errors"; Sendwatch files them as compliance on
    # purpose (providers/telnxo.py): nothing in the message is wrong, the account's sender
    # identity is not yet registered/verified, and support's fix is a registration, not a resend.
    ("domain_not_verified", 422, COMPLIANCE, False),
    ("sender_id_not_registered", 422, COMPLIANCE, False),
    # Resource errors (404 / 409).
    ("resource_not_found", 404, NOT_FOUND, False),
    ("duplicate_resource", 409, CONFLICT, False),
    ("duplicate_idempotency_key", 409, CONFLICT, False),
    ("resource_limit_reached", 409, QUOTA, False),  # "Plan limit reached for this resource type"
    # Sending / delivery errors (422): policy and regulation, not a malformed request.
    ("recipient_suppressed", 422, COMPLIANCE, False),
    ("dnd_number", 422, COMPLIANCE, False),
    ("dlt_scrubbed", 422, COMPLIANCE, False),
    ("whatsapp_template_not_approved", 422, COMPLIANCE, False),
    ("session_window_expired", 422, COMPLIANCE, False),
    # Rate limit errors (429).
    ("rate_limit_exceeded", 429, RATE_LIMIT, True),
    # Server errors.
    ("internal_error", 500, SERVER, True),  # "Retry with exponential backoff"
    ("service_unavailable", 503, UNAVAILABLE, True),  # "Retry after a short delay"
    # "may or may not have been queued — check logs before retrying to avoid duplicates"
    ("gateway_timeout", 504, TIMEOUT, False, True),
)

# -- seed 004: texting.blue ------------------------------------------------------------------
TEXTINGBLUE = _pins(
    ("invalid_request", 400, VALIDATION, False),
    ("unauthorized", 401, AUTH, False),
    ("plan_limit_exceeded", 402, QUOTA, False),  # monthly message / resource cap of the plan
    ("forbidden", 403, PERMISSION, False),
    ("not_found", 404, NOT_FOUND, False),
    ("conflict", 409, CONFLICT, False),
    ("rate_limited", 429, RATE_LIMIT, True),  # "Wait and retry"
    ("internal_error", 500, SERVER, True),  # "Retry the request"
)

SEED_PINS: dict[str, dict[str, Pin]] = {
    "23telecom": TELECOM23,
    "telephonyio": TELEPHONYIO,
    "8x8": EIGHTXEIGHT,
    "telnxo": TELNXO,
    "textingblue": TEXTINGBLUE,
}
SEED_NUMBERS = {"23telecom": 0, "telephonyio": 1, "8x8": 2, "telnxo": 3, "textingblue": 4}
VENDOR_NOTES = {kind: kind for kind in SEED_PINS}


def _catalogues() -> dict[str, dict]:
    """The built-in vendors' catalogues, straight from the registry's list (no toy vendors)."""
    adapters = [import_string(adapter_path) for adapter_path, _ in BUILTIN_VENDORS]
    return {adapter.kind: adapter.errors for adapter in adapters}


CATALOGUES = _catalogues()


def _actual(entry) -> Pin:
    return Pin(entry.http_status, entry.category, entry.retryable, entry.ambiguous)


def _comparable(expected: Pin, actual: Pin) -> Pin:
    """The catalogue's value with the HTTP status blanked where the seed gives none."""
    return actual if expected.http_status is not None else actual._replace(http_status=None)


def test_every_builtin_vendor_has_a_pin_table():
    assert set(SEED_PINS) == set(CATALOGUES)


@pytest.mark.parametrize("kind", SEED_PINS)
def test_no_seed_code_is_missing_from_the_catalogue(kind):
    missing = sorted(set(SEED_PINS[kind]) - set(CATALOGUES[kind]))
    assert missing == [], f"{kind}: pinned from the vendor's documents but not catalogued"


@pytest.mark.parametrize("kind", SEED_PINS)
def test_no_catalogued_code_is_left_unpinned(kind):
    extra = sorted(set(CATALOGUES[kind]) - set(SEED_PINS[kind]))
    assert extra == [], f"{kind}: catalogued without a pin here; read the vendor's document and add one"


def _pin_params():
    for kind, table in SEED_PINS.items():
        for code in table:
            yield pytest.param(kind, code, id=f"{kind}:{code}")


@pytest.mark.parametrize(("kind", "code"), list(_pin_params()))
def test_catalogue_entry_matches_the_seed(kind, code):
    expected = SEED_PINS[kind][code]
    entry = CATALOGUES[kind].get(code)
    assert entry is not None, f"{kind}:{code} is not catalogued"
    assert entry.code == code
    assert _comparable(expected, _actual(entry)) == expected


def test_ambiguous_entries_are_never_retryable():
    for table in SEED_PINS.values():
        for code, pin in table.items():
            assert not (pin.ambiguous and pin.retryable), code


def _whole(code: str) -> str:
    """The code not run into a longer one of its own kind (seed 004's table lost its separators)."""
    kind = "0-9" if code.isdigit() else "a-z_" if code.islower() else "A-Z_"
    return rf"(?<![{kind}]){re.escape(code)}(?![{kind}])"


@pytest.mark.parametrize("kind", SEED_PINS)
def test_every_pinned_code_is_named_in_the_vendors_documents(kind):
    """The table is about the vendor's words: each code appears in its seed or vendor notes."""
    seed = seed_text(SEED_NUMBERS[kind])
    notes = vendor_text(VENDOR_NOTES[kind])
    unnamed = []
    for code, pin in SEED_PINS[kind].items():
        if code.startswith("http_"):
            # A pseudo-code for a status documented without a body code of its own.
            status = code.removeprefix("http_")
            if not re.search(rf"\b{status}\b", seed + notes):
                unnamed.append(code)
            assert pin.http_status == int(status), code
        elif not re.search(_whole(code), seed + notes):
            unnamed.append(code)
    assert unnamed == []


def test_seed_tables_are_complete_where_the_seed_has_a_table():
    """Rows of the seeds' tables that were easy to miss by hand, counted from the documents."""
    telecom = set(re.findall(r"^\| \d{3} \| `([A-Z_]+)` \|", seed_text(0), re.M))
    assert telecom <= set(TELECOM23) and len(telecom) == 30
    eight = set(re.findall(r"^\| (\d{4}) \| ", seed_text(2), re.M))
    eight |= {s for s in re.findall(r"^\| (\d{3}) \| \*\*", seed_text(2), re.M) if int(s) >= 400}
    assert eight <= set(EIGHTXEIGHT) and len(eight) == 75 + 8
    telnxo = dict(re.findall(r"^\| ([a-z_]+) \| (\d{3}) \|", seed_text(3), re.M))
    assert set(telnxo) <= set(TELNXO) and len(telnxo) == 32
    assert {code: TELNXO[code].http_status for code in telnxo} == {c: int(s) for c, s in telnxo.items()}
    blue = dict(re.findall(r"^(\d{3})([a-z_]+?)(?=[A-Z])", seed_text(4), re.M))
    assert {code: TEXTINGBLUE[code].http_status for code in blue.values()} == {c: int(s) for s, c in blue.items()}
